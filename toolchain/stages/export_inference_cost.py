"""Stage `export_inference_cost`: `model_export.onnx` -> `model_cost.json` (+ `model_final.onnx`,
`model_cost.png`).

Costs come from `qonnx.util.inference_cost` (sparsity discounted unless `cost.discount_sparsity`
is false). Ops the counter cannot cost are an error unless `cost.allow_unsupported` is true: a
model must not look cheap by hiding work in ops nobody counts.

A spiking network's graph (LIF nodes of `toolchain.snn`) is costed by `toolchain.reports.snn_cost`:
qonnx's synapse counts plus the LIF state updates and state memory, per time step and over the
T steps of a frame; `--activity` (cost.activity) discounts the synapse work by the spike rates
measured by evaluate (docs/snn_qonnx.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..atomic import atomic_path, write_json
from ..config import Config, text_override
from ..errors import ToolchainError
from ..rundir import ARTIFACTS, RunDir, stage_run

SUMMARY = "qonnx inference cost and challenge score -> model_cost.json"
OUT_SUFFIX = ".json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="QONNX model (default: the run's model_export.onnx); "
                        "--out may name the .json file")
    parser.add_argument("--allow-unsupported", action="store_true",
                        help="report ops the counter cannot cost instead of failing (cost.allow_unsupported)")
    parser.add_argument("--activity", metavar="FILE", help="SNN only: evaluate's energy_report.json whose measured "
                        "spike rates discount the synapse work (cost.activity)")


def overrides(args: argparse.Namespace) -> list[str]:
    sets = ["cost.allow_unsupported=true"] if args.allow_unsupported else []
    if args.activity:
        sets.append(text_override("cost.activity", args.activity))
    return sets


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.inference_cost import inference_cost

    from ..reports.cost import cost_report, plot_layers

    source = Path(args.input) if args is not None and args.input else Path(cfg.run.out_dir) / ARTIFACTS["model_export"]
    wrapper = load_onnx(source)
    snn = _is_snn(wrapper)
    if cfg.cost.activity and not snn:
        raise ToolchainError(f"cost.activity: {cfg.cost.activity} gives spike rates, but {source} is not a spiking "
                             "network (no toolchain.snn LIF nodes)")
    inputs = [source] + ([Path(cfg.cost.activity)] if cfg.cost.activity and Path(cfg.cost.activity).is_file() else [])
    with stage_run(cfg.run.out_dir, "export_inference_cost", cfg, inputs) as run:
        target = getattr(args, "out_file", None) or run.artifact("model_cost")
        run.outputs["model_cost"] = Path(target).name
        final = run.artifact("model_final")
        with atomic_path(final) as tmp:
            result = inference_cost(wrapper, output_onnx=str(tmp), discount_sparsity=cfg.cost.discount_sparsity,
                                    cost_breakdown=True)
            op_types = {n.name: n.op_type for n in ModelWrapper(str(tmp)).graph.node}
        if snn:
            from ..reports.snn_cost import snn_cost_report

            try:
                report = snn_cost_report(result, ModelWrapper(str(final)), cfg.cost.activity)
            except ToolchainError:
                final.unlink()  # a bad activity file: leave no half-finished run behind
                raise
        else:
            report = cost_report(result, op_types)
        if report["unsupported"] and not cfg.cost.allow_unsupported:
            final.unlink()
            raise ToolchainError(
                f"{source}: the cost counter cannot cost these ops: {', '.join(report['unsupported'])}; "
                "their work would be left out of the score (allow with --allow-unsupported)")
        write_json(target, report)
        plot_layers(report, run.artifact("model_cost_plot"))
        print(f"wrote {target}: {report['total_bops']:,.0f} bit operations, {report['total_mem_w_bits']:,.0f} weight bits, "
              f"score {report['score']:.4f}" + (f" (unsupported ops: {report['unsupported']})" if report["unsupported"] else ""))
        if snn:
            step = report["snn"]["per_step"]
            print(f"  SNN, {report['snn']['time_steps']} time steps: per step {step['synapse_bops']:,.0f} synapse + "
                  f"{step['neuron_bops']:,.0f} LIF bit operations; {report['total_mem_state_bits']:,.0f} state bits"
                  + (f"; synapse work from the spike rates of {cfg.cost.activity}" if cfg.cost.activity else ""))
    return run


def _is_snn(wrapper) -> bool:
    """A graph with LIF nodes; importing the op module registers LIF before qonnx sees it."""
    if not any(n.domain == "toolchain.snn" for n in wrapper.graph.node):
        return False
    from ..reports.snn_cost import is_snn_graph

    return is_snn_graph(wrapper)


def load_onnx(path: Path):
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    if not path.is_file():
        raise ToolchainError(f"{path}: no such ONNX file (run export_onnx first or give the model as INPUT)")
    try:
        return ModelWrapper(onnx.load(str(path)))
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for a bad file
        raise ToolchainError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
