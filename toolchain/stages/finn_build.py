"""Stage `finn_build`: a QONNX model + a build folder -> FINN dataflow accelerator files.

Runs finn-plus (`finn.builder.build_dataflow_cfg`) with the steps listed in the build folder's
`build.yaml`, the toolchain's own steps among them (toolchain.hw.finn.steps): every layer is
folded automatically to `finn.target_fps` within the board's resource budget, a hand folding
file overriding it for the model it names (toolchain.hw.finn.autofold). Where Vivado and
Vitis HLS are missing, every step up to and including HW code generation runs, and the build
stops before the first step that needs them, with exit code 0 and one line naming the skipped
steps (exit 1 before any work if `finn.require_bitstream` asks for a bitstream). The FINN models
after streamlining and after HW conversion are then checked class-exactly against the QONNX
model (and PyTorch), and `finn_report.json` + `finn_report.png` sum up estimates and checks.
Everything lands in RUN/finn_output/ (docs/finn_build.md); a failure leaves no half build (a
failed FINN step: one line naming step and layer, FINN's log kept as RUN/finn_build_failed.log).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from ..atomic import atomic_path, save_figure, write_json
from ..config import Config, text_override
from ..errors import ToolchainError
from ..rundir import ARTIFACTS, RunDir, stage_run, trained_model
from .finn_build_checks import CODE_DIR, EVENT_DRIVEN_PLOT, RTL_PROJECT, checks

SUMMARY = "FINN dataflow build: estimates, HLS code, bitstream where Vivado exists"
FAILED_LOG = "finn_build_failed.log"  # FINN's build log of a failed build, in the run directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="QONNX model (default: the run's model_export.onnx)")
    parser.add_argument("--build", metavar="DIR", help="build folder, e.g. build/vgg10-radioml (finn.build)")
    parser.add_argument("--board", help="a board of the build folder, e.g. ZCU104 (finn.board)")
    parser.add_argument("--target-fps", metavar="N|max", help="automatic folding target: frames/s, or max (the "
                        "fastest folding within the board's budget) (finn.target_fps; default: build.yaml's)")
    parser.add_argument("--budget", type=float, metavar="SHARE", help="share of each board resource the automatic "
                        "folding may use, e.g. 0.7 (finn.budget; default: the board file's)")
    parser.add_argument("--checkpoint", metavar="PTH", help="PyTorch checkpoint of the model, compared as well "
                        "(finn.checkpoint; default: the run's, when INPUT is the run's model)")
    parser.add_argument("--data", metavar="FILE", help="RadioML-format file whose test split the SNN event-driven "
                        "accelerator is C-simulated and measured on (data.path; default: the run's synthetic.h5, "
                        "else the verification frames)")
    parser.add_argument("--require-bitstream", action="store_true",
                        help="fail (exit 1) instead of stopping after HW code generation where Vivado/Vitis "
                        "are missing (finn.require_bitstream)")


def overrides(args: argparse.Namespace) -> list[str]:
    out = [text_override(f"finn.{key}", getattr(args, key)) for key in ("build", "board", "checkpoint")
           if getattr(args, key)]
    out += [f"finn.{key}={getattr(args, key)}" for key in ("target_fps", "budget") if getattr(args, key) is not None]
    out += [text_override("data.path", args.data)] if args.data else []
    return out + (["finn.require_bitstream=true"] if args.require_bitstream else [])


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..hw.finn.build_config import load_plan
    from ..hw.finn.runner import FinnStepError
    from ..hw.finn_env import missing_xilinx_tools, prepare_finn

    onnx_file, from_run = _input_model(cfg, args)
    shape, snn = _check_model(onnx_file)
    plan = load_plan(cfg.finn)
    missing = missing_xilinx_tools() + (["v++"] if plan.board.shell_flow == "vitis_alveo" and
                                        shutil.which("v++") is None else [])
    if cfg.finn.require_bitstream and missing:
        raise ToolchainError(f"finn.require_bitstream is set but {', '.join(missing)} not found on PATH: no bitstream "
                             "can be built here; nothing was run (see docs/finn_build.md, docker/Dockerfile.finn)")
    checkpoint = _checkpoint(cfg, from_run)
    data = _data_file(cfg, checkpoint) if snn else None
    with tempfile.TemporaryDirectory() as tmp:  # check step names and FINN options before writing anything
        prepare_finn(tmp)
        from ..hw.finn.runner import dataflow_config
        from ..hw.finn.steps import resolve_steps

        steps, skipped = resolve_steps(plan).split(tools_present=not missing)
        dataflow_config(plan, Path(tmp))
    if not any(n in ("step_specialize_by_structure", "step_hw_codegen") for n, _ in steps):
        raise ToolchainError(f"{plan.build_file}: the steps that can run here end before HW layers are specialised "
                             "(step_specialize_by_structure): nothing to estimate")

    inputs = [onnx_file, *plan.files] + [p for p in (checkpoint, data) if p]
    try:
        with stage_run(cfg.run.out_dir, "finn_build", cfg, inputs) as run, \
                _replacing(run.artifact("finn_output")) as out:
            report = _build(cfg, plan, onnx_file, shape, snn, checkpoint, data, steps, skipped, missing, out)
            run.outputs.update(finn_report=f"{out.name}/finn_report.json",
                               finn_report_plot=f"{out.name}/finn_report.png")
            if (out / EVENT_DRIVEN_PLOT).is_file():
                run.outputs["event_driven_plot"] = f"{out.name}/{EVENT_DRIVEN_PLOT}"
            run.extra["finn_build"] = {k: report[k] for k in ("board", "totals", "folding", "steps")}
            run.extra["verification"] = {k: v for k, v in report["verification"].items()
                                         if k not in ("kinds", "classes", "model_config")}
    except FinnStepError as exc:  # the half build is gone; its log (with the traceback) is kept
        log = Path(cfg.run.out_dir) / FAILED_LOG
        log.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(log) as tmp:
            tmp.write_text(exc.log_text)
        raise ToolchainError(f"{exc} (traceback in {log})") from None
    (Path(cfg.run.out_dir) / FAILED_LOG).unlink(missing_ok=True)
    _print_summary(report, out, missing)
    return run


def _build(cfg: Config, plan, onnx_file: Path, shape: list[int], snn: bool, checkpoint: Optional[Path],
           data: Optional[Path], steps, skipped, missing: list[str], out: Path) -> dict:
    from qonnx.core.modelwrapper import ModelWrapper

    from ..hw.finn import report as rep
    from ..hw.finn.plots import report_figure
    from ..hw.finn.runner import dataflow_config, run_build
    from ..hw.finn_env import prepare_finn

    prepare_finn(out / CODE_DIR)
    event = snn and any(name == "step_snn_event_driven" for name, _ in steps)
    c = checks(cfg, onnx_file, shape, snn, event, checkpoint, data, missing, out)
    verification, event_driven = c.verification, c.event_driven
    outcome = run_build(onnx_file, dataflow_config(plan, out, c.npy), steps, skipped, c.check)
    model = ModelWrapper(str(outcome.hw_model))
    rows = rep.layer_rows(model, plan.board.part)
    steps_per_frame = shape[0] if snn and not event else 1  # the event-driven graph's cycles are per frame
    totals = rep.totals(rows, rep.network_performance(model), plan.clock_ns, vars(plan.board.resources),
                        steps_per_frame)
    folding = _folding(model)
    if "budget" in folding:
        totals["budget_check"] = rep.budget_check(totals, folding["budget"])
    if cfg.finn.synthesize_rtl:
        from ..hw.finn.rtl_synth import synthesize_layers

        synth = synthesize_layers(model, plan.board.part, Path(cfg.run.out_dir) / "yosys_cache",
                                  lambda line: print(f"finn_build: {line}", flush=True))
        rep.add_synthesis(rows, totals, synth)
        if snn and event_driven.get("passed"):  # the event-driven kernels' own RTL and the stitched top
            from ..hw.finn.rtl_synth import family
            from ..hw.snn.event.accel_synth import synthesize_checkpoint

            depths = list(event_driven["fifo_depths"].values())
            event_driven["synthesized"] = synthesize_checkpoint(
                c.event_spec, checkpoint, depths, family(plan.board.part) or "xcup",
                Path(cfg.run.out_dir) / "yosys_cache", lambda line: print(f"finn_build: {line}", flush=True))
    report = {
        "model": str(onnx_file), "build_folder": str(plan.folder), "build": plan.spec.name,
        "board": {"name": plan.board.name, "part": plan.board.part, "shell_flow": plan.board.shell_flow,
                  "resources": vars(plan.board.resources)},
        "folding": {**folding, "details": "report/folding.json",
                    "applied": "report/applied_folding_config.json"},
        "steps": {"ran": outcome.ran, "skipped": skipped,
                  "skipped_because": f"{', '.join(missing)} not found on PATH" if skipped else None},
        "layers": rows,
        "totals": totals,
        "notes": rep.NOTES + (rep.EVENT_NOTES if event else rep.SNN_NOTES if snn else []),
        "code": _code_summary(model, out) | ({"rtl_project": RTL_PROJECT} if (out / RTL_PROJECT).is_dir() else {}),
        "verification": verification,
        "measured": _measured(out),
    }
    if snn:
        report["event_driven"] = event_driven
    write_json(out / "finn_report.json", report)
    save_figure(report_figure(report), out / "finn_report.png")
    return report


def _folding(model) -> dict:
    """What step_fold_by_structure chose and why (it leaves this in the model's metadata)."""
    text = model.get_metadata_prop("toolchain_folding")
    return json.loads(text) if text else {"mode": "none", "note": "the build has no step_fold_by_structure"}


def _input_model(cfg: Config, args) -> tuple[Path, bool]:
    run_model = Path(cfg.run.out_dir) / ARTIFACTS["model_export"]
    given = Path(args.input) if args is not None and args.input else None
    path = given or run_model
    if not path.is_file():
        if given is None:
            raise ToolchainError(f"{Path(cfg.run.out_dir)}: no {ARTIFACTS['model_export']}; give a QONNX model "
                                 "as INPUT or run export_onnx first")
        raise ToolchainError(f"{path}: no such ONNX model file")
    return path, given is None or (run_model.is_file() and path.resolve() == run_model.resolve())


def _check_model(path: Path) -> tuple[list[int], bool]:
    """(The model's input shape, whether it is an SNN): [1, C, L] for a CNN, [T, C, H, W] spike
    counts for an SNN (its LIF nodes in the domain toolchain.snn); a clear error for anything else."""
    from qonnx.core.modelwrapper import ModelWrapper

    from ..hw.finn.steps import input_quant

    try:
        model = ModelWrapper(str(path))
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for a bad file
        raise ToolchainError(f"{path}: not a loadable ONNX model ({type(exc).__name__})") from None
    shape = model.get_tensor_shape(model.graph.input[0].name)
    if any(n.domain == "toolchain.snn" for n in model.graph.node):
        if shape is None or len(shape) != 4 or not model.get_tensor_datatype(model.graph.input[0].name).is_integer():
            raise ToolchainError(f"{path}: an SNN model needs an integer input [T, C, H, W] of spike counts, "
                                 f"got {shape} (export it with toolchain export_onnx)")
        return shape, True
    if shape is None or len(shape) != 3 or shape[0] != 1:
        raise ToolchainError(f"{path}: input shape {shape}: expected [1, channels, length] (a 1-D model, batch 1)")
    try:
        input_quant(model)
    except ToolchainError as exc:
        raise ToolchainError(f"{path}: {exc}") from None
    return shape, False


def _checkpoint(cfg: Config, from_run: bool) -> Optional[Path]:
    if cfg.finn.checkpoint:
        path = Path(cfg.finn.checkpoint)
        if not path.is_file():
            raise ToolchainError(f"config key 'finn.checkpoint': {path}: no such checkpoint file")
        return path
    if not from_run:
        return None  # a checkpoint in the run dir need not belong to a model given elsewhere
    try:
        return trained_model(cfg)
    except ToolchainError:
        return None


def _data_file(cfg: Config, checkpoint: Optional[Path]) -> Optional[Path]:
    """The file whose test split the event-driven accelerator runs: data.path, else the run's
    synthetic file; None without either (it then runs the verification frames). Its frame
    length must be the checkpoint's."""
    from ..checkpoint import load_model
    from ..data.radioml import scan

    if cfg.data.path and not Path(cfg.data.path).is_file():
        raise ToolchainError(f"config key 'data.path': {cfg.data.path}: no such file")
    path = Path(cfg.data.path) if cfg.data.path else Path(cfg.run.out_dir) / ARTIFACTS["dataset"]
    if not path.is_file():
        return None
    if checkpoint is not None:
        length, expected = scan(path).frame_length, load_model(checkpoint)[1].input_length
        if length != expected:
            raise ToolchainError(f"{path}: frames of {length} samples, the checkpoint {checkpoint} takes {expected} "
                                 "(model.input_length)")
    return path


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """Build into `path`; a previous build there is kept until this one succeeds, and put back
    if it fails. (FINN stores absolute paths of generated code in its models, so the build
    cannot happen elsewhere and be renamed afterwards.)"""
    old = path.with_name(f".{path.name}.previous")
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        path.rename(old)
    try:
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        if old.exists():
            old.rename(path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _code_summary(model, out: Path) -> dict:
    """Where FINN wrote each layer's generated code (relative to finn_output)."""
    from qonnx.custom_op.registry import getCustomOp

    from ..hw.finn.structure import places

    root, where, per_layer = out.resolve(), places(model), {}
    for node in model.graph.node:
        inst = getCustomOp(node) if node.domain.startswith("finn.custom_op.fpgadataflow") else None
        if inst is None or "code_gen_dir_ipgen" not in inst.get_nodeattr_types():
            continue
        path = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
        if inst.get_nodeattr("code_gen_dir_ipgen") and path.is_relative_to(root):
            per_layer[str(where[node.name])] = str(path.relative_to(root))
    code = out / CODE_DIR
    return {"dir": CODE_DIR, "hls_cpp": len(list(code.glob("code_gen_ipgen_*/top_*.cpp"))),
            "rtl": len([p for p in code.glob("code_gen_ipgen_*/*") if p.suffix in (".v", ".sv")]),
            "per_layer": per_layer}


def _measured(out: Path) -> dict:
    """Figures of the Vivado steps, when they ran: synthesis, timing, rtlsim throughput."""
    found = {}
    for name in ("post_synth_resources.json", "ooc_synth_and_timing.json", "rtlsim_performance.json",
                 "fifo_sizing.json"):
        path = out / "report" / name
        if path.is_file():
            found[path.stem] = json.loads(path.read_text())
    return found or {"note": "no Vivado/Vitis step ran: every figure above is an estimate"}


def _print_summary(report: dict, out: Path, missing: list[str]) -> None:
    from ..hw.finn.report import folding_line, summary_line

    if report["verification"].get("event_driven"):
        from ..hw.snn.event.event_verify import summary_line as verification_line
    elif "time_steps" in report["verification"]:
        from ..hw.snn.dense.verify import summary_line as verification_line
    else:
        from ..hw.finn.verify import summary_line as verification_line
    print(f"finn_build: {summary_line(report)}")
    print(f"finn_build: {folding_line(report['folding'])}")
    print(f"finn_build: {verification_line(report['verification'])}")
    if "event_driven" in report:
        from ..hw.snn.event.accel_report import summary_line as accel_line

        print(f"finn_build: {accel_line(report['event_driven'])}")
        if "synthesized" in report["event_driven"]:
            from ..hw.snn.event.accel_synth import summary_line as synth_line

            print(f"finn_build: {synth_line(report['event_driven']['synthesized'])}")
    skipped = report["steps"]["skipped"]
    if skipped:
        if report["verification"].get("event_driven") and "rtl_project" in report["code"]:
            what = (f"Vivado's packaging and synthesis of the RTL kernels (the stitched accelerator's Vivado project: "
                    f"{out / RTL_PROJECT})")
        elif report["verification"].get("event_driven"):
            what = "Vitis HLS synthesis of the kernels (their g++ C simulation ran)"
        else:
            layers = "FINN's own HLS layers" if "csim" in report["verification"] else "HLS layers"
            what = f"the C++ simulation of {layers}"
        print(f"finn_build: {', '.join(missing)} not found on PATH: skipped {', '.join(skipped)} and {what}; "
              f"estimates, HLS/RTL code and finn_report.json are in {out}")
    else:
        print(f"finn_build: all {len(report['steps']['ran'])} steps ran; outputs in {out}")
