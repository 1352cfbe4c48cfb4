"""FINN build estimates of VGG10 w4a4 (32 filters) on ZCU104 at 250 MHz, beside finn-examples.

finn-examples `vgg10-radioml` reports 231k frames/s measured on the board and ~90k LUT. This
runs `toolchain finn_build` (FINN estimates + HW code generation, no Vivado) on the same
topology with several foldings, each a copy of build/vgg10-radioml with edited per-board JSON,
and prints per variant: cycles per frame, estimated fps, LUT / BRAM36 / DSP (and which LUTs
FINN leaves out), plus the wall time of the stage.

    python bench/finn.py [--variants shipped hls_lut ...] [--verify-inputs 1]

The model is an untrained export (weights only change the accumulator widths FINN minimises,
a small effect on LUTs); the estimates are FINN's analytical models, not synthesis results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/finn.py`, this file's folder comes first on sys.path and the file itself
# would be imported as the `finn` package (finn-plus): take the folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "vgg10-radioml"
BOARD = "ZCU104"
FINN_EXAMPLES = {"fps": 231_000, "LUT": 90_000}


def _set(spec: dict, layer: str, role: str, **attrs) -> None:
    spec["layers"].setdefault(layer, {}).setdefault(role, {}).update(attrs)


def finn_examples_pw0(fold: dict, spec: dict) -> str:
    fold["defaults"]["swg"]["parallel_window"] = 0
    _set(fold, "conv2", "pad", SIMD=8)
    return "finn-examples' numbers verbatim (parallel_window 0, conv2.pad SIMD 8)"


def shipped(fold: dict, spec: dict) -> str:
    return "build/vgg10-radioml as shipped: RTL MVAUs (DSP), parallel_window 1"


def hls_lut(fold: dict, spec: dict) -> str:
    spec["defaults"]["mvau"] = {"preferred_impl_style": "hls"}
    fold["defaults"]["mvau"]["resType"] = "lut"
    return "same folding, HLS MVAUs multiplying in LUTs (FINN estimates their LUTs)"


def _slack(fold: dict) -> None:
    """Fold down the layers that finish early (<= 512 cycles at the shipped folding) so that
    they too take ~1024 cycles: same frame rate, fewer multipliers."""
    _set(fold, "conv6", "mvau", SIMD=48)
    _set(fold, "dense0", "mvau", PE=1)
    _set(fold, "dense1", "mvau", SIMD=16)
    _set(fold, "dense2", "mvau", SIMD=4)


def balanced(fold: dict, spec: dict) -> str:
    _slack(fold)
    return "shipped + slack layers folded down (conv6, dense0..2): same fps, fewer DSPs"


def balanced_lutram(fold: dict, spec: dict) -> str:
    _slack(fold)
    for layer in ("conv1", "conv2", "conv3"):  # weight memories 2..8 words deep: BRAMs nearly empty
        _set(fold, layer, "mvau", ram_style="distributed")
    return "balanced + shallow weight memories (conv1..3) in LUTRAM instead of BRAM"


def hls_lut_balanced(fold: dict, spec: dict) -> str:
    hls_lut(fold, spec)
    _slack(fold)
    return "HLS LUT MVAUs + slack layers folded down"


VARIANTS = {f.__name__: f for f in (finn_examples_pw0, shipped, hls_lut, balanced, balanced_lutram,
                                    hls_lut_balanced)}


def make_model(out: Path) -> Path:
    from toolchain.config import ModelConfig
    from toolchain.models import build_model
    from toolchain.models.export_qonnx import export_qonnx

    torch.manual_seed(0)
    cfg = ModelConfig(weight_bits=4, act_bits=4, filters=32)
    model = build_model(cfg)
    model.train()(torch.randn(64, 2, cfg.input_length))  # Brevitas activation scales
    path = out / "vgg10_w4a4_32.onnx"
    export_qonnx(model.eval(), cfg.input_length, path)
    return path


def variant_folder(root: Path, name: str) -> tuple[Path, str]:
    folder = root / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(BUILD, folder)
    # Estimates only, also where Vivado is installed: the steps end at HW code generation.
    head, tail = (folder / "build.yaml").read_text().split("  - step_hw_ipgen\n")
    (folder / "build.yaml").write_text(head + tail[tail.index("outputs:"):])
    fpath, spath = folder / "folding_config" / f"{BOARD}.json", folder / "specialize_layers_config" / f"{BOARD}.json"
    fold, spec = json.loads(fpath.read_text()), json.loads(spath.read_text())
    spec.setdefault("layers", {})
    what = VARIANTS[name](fold, spec)
    fpath.write_text(json.dumps(fold, indent=1))
    spath.write_text(json.dumps(spec, indent=1))
    return folder, what


def run_variant(model: Path, folder: Path, run: Path, verify_inputs: int) -> tuple[dict, float]:
    from toolchain.cli import main

    t0 = time.perf_counter()
    rc = main(["finn_build", str(model), "--build", str(folder), "--board", BOARD, "--out", str(run),
               "--set", f"finn.verify_inputs={verify_inputs}", "--set", "finn.verify_synthetic=0"])
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"finn_build failed for {folder.name} (exit {rc})")
    return json.loads((run / "finn_output" / "finn_report.json").read_text()), seconds


def lutram_luts(run: Path) -> int:
    """LUTs of the MVAU weight memories set to ram_style=distributed, by FINN's own HLS MVAU
    formula P * Q * W * ceil(depth / 64): FINN's RTL MVAU estimate has no LUT term at all."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    model = ModelWrapper(str(run / "finn_output" / "intermediate_models" / "step_hw_codegen.onnx"))
    total = 0
    for node in model.graph.node:
        inst = getCustomOp(node)
        if node.op_type.startswith("MVAU") and inst.get_nodeattr("ram_style") == "distributed":
            bits = inst.get_input_datatype(1).bitwidth()
            total += inst.get_nodeattr("PE") * inst.get_nodeattr("SIMD") * bits * -(-inst.calc_wmem() // 64)
    return total


def row(name: str, what: str, report: dict, seconds: float) -> dict:
    t = report["totals"]
    res = t["resources"]
    return {"variant": name, "what": what, "cycles": t["cycles_per_frame"], "fps": t["estimated_fps"],
            "bottleneck": t["bottleneck"], "LUT": res["LUT"]["estimate"], "LUT_complete": res["LUT"]["complete"],
            "LUT_missing": sorted({m.split(".")[1] for m in res["LUT"]["not_estimated"]}),
            "BRAM36": res["BRAM36"]["estimate"], "DSP": res["DSP"]["estimate"], "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--verify-inputs", type=int, default=1, help="frames verified per build (finn.verify_inputs)")
    parser.add_argument("--keep", metavar="DIR", help="keep the runs under DIR instead of a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        model = make_model(root)
        rows = []
        for name in args.variants:
            folder, what = variant_folder(root / "build", name)
            report, seconds = run_variant(model, folder, root / "runs" / name, args.verify_inputs)
            steps = json.loads((root / "runs" / name / "finn_output" / "report" / "time_per_step.json").read_text())
            r = row(name, what, report, seconds)
            r["finn_seconds"] = steps["total_build_time"]
            r["lutram"] = lutram_luts(root / "runs" / name)
            rows.append(r)

    print(f"\nVGG10 w4a4, 32 filters, {BOARD} @ 250 MHz; FINN estimates (finn-plus 1.6.1), {platform.processor() or ''}"
          f" {os.cpu_count()} cores")
    print(f"finn-examples reference: {FINN_EXAMPLES['fps']:,} fps measured, ~{FINN_EXAMPLES['LUT']:,} LUT\n")
    print("| variant | cycles/frame | est. fps | LUT | BRAM36 | DSP | stage s (FINN s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        lut = f"{r['LUT']:,.0f}" if r["LUT_complete"] else \
            f">= {r['LUT']:,.0f} (no LUT model: {', '.join(r['LUT_missing'])})"
        print(f"| {r['variant']} | {r['cycles']} | {r['fps']:,.0f} | {lut} | {r['BRAM36']:g} | {r['DSP']:g} | "
              f"{r['seconds']} ({r['finn_seconds']}) |")
    print()
    for r in rows:
        extra = f"; + {r['lutram']:,} LUTs of LUTRAM weights (FINN's HLS formula)" if r["lutram"] else ""
        print(f"- {r['variant']}: {r['what']}; bottleneck {r['bottleneck']}{extra}")


if __name__ == "__main__":
    main()
