"""FINN builds: FINN's estimates beside the primitives counted from the generated RTL (and,
with --synthesize, Yosys' out-of-context synthesis of every RTL layer).

Part 1: VGG10 w4a4 (32 filters, the finn-examples `vgg10-radioml` model) on ZCU104 at 250 MHz,
with several foldings, each a copy of build/vgg10-radioml with edited per-board JSON: the
automatic folding (no folding file), the shipped hand folding and hand variants. Part 2: the
official baseline (64 filters, 8 bits; no folding file is written for it) folded automatically
on every board. Part 3: the w4a4 model folded automatically on the other boards. Per build:
cycles per frame, estimated fps, FINN's LUT / BRAM36 / DSP estimate and the counted BRAM36 / DSP,
whether the counted figures are within the budget, what bounds the rate and the folding, and the
wall time of the stage. finn-examples reports 231k frames/s measured on the board and ~90k LUT.

    python bench/finn.py [--variants automatic shipped ...] [--boards ZCU104 ...] [--verify-inputs 1]
                         [--synthesize] [--keep DIR]

--synthesize sets finn.synthesize_rtl for the ZCU104 builds of the automatic w4a4 folding and the
baseline (Yosys, hours on 2 cores; cached in each run's yosys_cache/, so --keep DIR reuses it).

The model is an untrained export (weights only change the accumulator widths FINN minimises,
a small effect on LUTs); the estimates are FINN's analytical models, not synthesis results.
"""

from __future__ import annotations

import argparse
import contextlib
import io
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


def automatic(fold: dict, spec: dict) -> str:
    fold.clear()  # no folding file: step_fold_by_structure folds to target_fps max within 70 % of the board
    return "automatic folding (no folding file), target max within 70 % of the board"


VARIANTS = {f.__name__: f for f in (automatic, shipped, finn_examples_pw0, hls_lut, balanced, balanced_lutram,
                                    hls_lut_balanced)}
DEFAULT_VARIANTS = ["automatic", "shipped"]
BOARDS = ["ZCU104", "Pynq-Z1", "U250"]
OFFICIAL_PTH = REPO / "models" / "reference" / "vgg10_w8a8_baseline" / "pretrained_VGG10_w8a8_20.pth"


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
    if fold:
        fpath.write_text(json.dumps(fold, indent=1))
    else:
        fpath.unlink()
    spath.write_text(json.dumps(spec, indent=1))
    return folder, what


def run_variant(model: Path, folder: Path, run: Path, verify_inputs: int, board: str = BOARD,
                synthesize: bool = False) -> tuple[dict, float]:
    from toolchain.cli import main

    t0 = time.perf_counter()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["finn_build", str(model), "--build", str(folder), "--board", board, "--out", str(run),
                   "--set", f"finn.verify_inputs={verify_inputs}", "--set", "finn.verify_synthetic=0",
                   "--set", f"finn.synthesize_rtl={str(synthesize).lower()}"])
    seconds = time.perf_counter() - t0
    if rc != 0:
        if "no folding fits" in err.getvalue():  # a finding, not a failure: the board is too small
            return {"no_fit": err.getvalue().strip().splitlines()[-1]}, seconds
        raise SystemExit(f"finn_build failed for {folder.name} (exit {rc}): {err.getvalue().strip()}")
    return json.loads((run / "finn_output" / "finn_report.json").read_text()), seconds


def row(name: str, what: str, report: dict, seconds: float) -> dict:
    t = report["totals"]
    res = t["resources"]
    folding = report["folding"]
    bound = folding["rate_bound"]
    return {"variant": name, "what": what, "cycles": t["cycles_per_frame"], "fps": t["estimated_fps"],
            "bottleneck": t["bottleneck"], "rate_bound": f"{bound['layer']} ({bound['by']})",
            "resource_bound": folding["resource_bound"]["resource"], "fits": folding["fits"],
            "LUT": res["LUT"]["estimate"], "LUT_complete": res["LUT"]["complete"],
            "LUT_missing": sorted({m.split(".")[1] for m in res["LUT"]["not_estimated"]}),
            "BRAM36": res["BRAM36"]["estimate"], "DSP": res["DSP"]["estimate"], "seconds": round(seconds, 1),
            "BRAM36_counted": res["BRAM36"]["counted"], "DSP_counted": res["DSP"]["counted"],
            "lutram": res["LUT"]["lutram_counted"], "within_budget": t["budget_check"]["within_budget"],
            "synthesized": t.get("synthesized")}


def measure(name: str, what: str, model: Path, folder: Path, run: Path, verify_inputs: int, board: str,
            synthesize: bool = False, name_key: str = "variant") -> dict:
    report, seconds = run_variant(model, folder, run, verify_inputs, board, synthesize)
    if "no_fit" in report:
        return {name_key: name, "what": what, "board": board, "no_fit": report["no_fit"], "seconds": round(seconds, 1)}
    steps = json.loads((run / "finn_output" / "report" / "time_per_step.json").read_text())
    r = row(name, what, report, seconds)
    r.update(finn_seconds=steps["total_build_time"], board=board, layers=report["layers"],
             shares={k: report["totals"]["resources"][k].get("counted_share", report["totals"]["resources"][k]["share"])
                     for k in ("LUT", "BRAM36", "DSP")})
    return r


def print_table(rows: list[dict], first: str) -> None:
    print(f"| {first} | cycles/frame | est. fps | LUT (FINN est.) | BRAM36 FINN est. / counted | "
          "DSP FINN est. / counted | counted within budget | stage s (FINN s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "no_fit" in r:
            print(f"| {r[first]} | no folding fits: {r['no_fit'].split('error: ')[-1]} | | | | | | {r['seconds']} |")
            continue
        lut = f"{r['LUT']:,.0f}" if r["LUT_complete"] else \
            f">= {r['LUT']:,.0f} (no LUT model: {', '.join(r['LUT_missing'])})"
        print(f"| {r[first]} | {r['cycles']} | {r['fps']:,.0f} | {lut} | {r['BRAM36']:g} / {r['BRAM36_counted']:g} | "
              f"{r['DSP']:g} / {r['DSP_counted']:g} | {'yes' if r['within_budget'] else 'NO'} | "
              f"{r['seconds']} ({r['finn_seconds']}) |")
    print()
    for r in rows:
        if r["synthesized"]:
            print_synthesis(r)
    for r in rows:
        if "no_fit" in r:
            continue
        fit = "" if r["fits"] else "; does NOT fit the budget"
        print(f"- {r[first]}: {r['what']}; rate bound by {r['rate_bound']}; resource bound {r['resource_bound']}"
              f"{fit}; shares of the board {r['shares']}")
    print()


def print_synthesis(r: dict) -> None:
    """Per RTL layer: FINN's estimate, the counted primitives and Yosys' synthesis."""
    s = r["synthesized"]
    print(f"{r.get('board', '')} {r.get('variant', '')}: Yosys ({s['source']}), {s['layers']} RTL layers; "
          f"HLS layers not synthesized: {', '.join(s['not_synthesized'])}\n")
    print("| layer | op | FINN LUT | Yosys LUT (LUTRAM) | Yosys FF | FINN BRAM18 / counted / Yosys | "
          "FINN DSP / counted / Yosys |")
    print("|---|---|---|---|---|---|---|")
    for layer in r["layers"]:
        y, c = layer.get("synthesized"), layer.get("counted") or {}
        if y is None:
            continue
        lut = "-" if layer["LUT"] is None else f"{layer['LUT']:,.0f}"
        print(f"| {layer['layer']} | {layer['op_type']} | {lut} | {y['LUT']:,} ({y['LUTRAM']:,}) | {y['FF']:,} | "
              f"{layer['BRAM_18K']:g} / {c.get('BRAM_18K', '-')} / {y['BRAM_18K']} | "
              f"{layer['DSP']:g} / {c.get('DSP', '-')} / {y['DSP']} |")
    print(f"| **total (RTL layers)** | | | **{s['LUT']:,}** ({s['LUTRAM']:,}) | **{s['FF']:,}** | "
          f"/ / {s['BRAM_18K']} | / / {s['DSP']} |\n")


def main() -> None:
    from toolchain.cli import main as toolchain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument("--boards", nargs="*", default=BOARDS, choices=BOARDS,
                        help="boards the official baseline is built for (automatic folding)")
    parser.add_argument("--verify-inputs", type=int, default=1, help="frames verified per build (finn.verify_inputs)")
    parser.add_argument("--keep", metavar="DIR", help="keep the runs under DIR instead of a temporary folder")
    parser.add_argument("--synthesize", action="store_true",
                        help="Yosys synthesis of every RTL layer of the ZCU104 automatic w4a4 and baseline builds")
    parser.add_argument("--w4a4-boards", nargs="*", default=["Pynq-Z1", "U250"], choices=BOARDS,
                        help="further boards the w4a4 model is folded automatically for")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        model = make_model(root)
        rows = []
        for name in args.variants:
            folder, what = variant_folder(root / "build", name)
            rows.append(measure(name, what, model, folder, root / "runs" / name, args.verify_inputs, BOARD,
                                synthesize=args.synthesize and name == "automatic"))
        others = []
        if args.w4a4_boards:
            folder, _ = variant_folder(root / "build", "automatic")
            for hand in (folder / "folding_config").glob("*.json"):  # every board folded automatically
                hand.unlink()
            others = [measure(board, "w4a4, automatic folding", model, folder, root / "runs" / f"w4a4_{board}",
                              args.verify_inputs, board, name_key="board") for board in args.w4a4_boards]
        baseline = root / "baseline.onnx"
        if args.boards and toolchain(["export_onnx", str(OFFICIAL_PTH), "--model", "vgg10", "--out", str(baseline),
                                      "--set", "export.verify_inputs=1"]) != 0:
            raise SystemExit("export_onnx of the official baseline failed")
        folder, _ = variant_folder(root / "build", "shipped")  # its folding files are for the w4a4 model only
        boards = [measure(board, "official baseline (64 filters, 8 bits), automatic folding", baseline, folder,
                          root / "runs" / f"baseline_{board}", args.verify_inputs, board,
                          synthesize=args.synthesize and board == "ZCU104", name_key="board")
                  for board in args.boards]

    print(f"\n{platform.processor() or platform.machine()} {os.cpu_count()} cores; FINN estimates (finn-plus 1.6.1)")
    print(f"finn-examples reference: {FINN_EXAMPLES['fps']:,} fps measured, ~{FINN_EXAMPLES['LUT']:,} LUT\n")
    if rows:
        print(f"VGG10 w4a4, 32 filters, {BOARD} @ 250 MHz:\n")
        print_table(rows, "variant")
    if boards:
        print("Official baseline (VGG10 w8a8, 64 filters), automatic folding:\n")
        print_table(boards, "board")
    if others:
        print("VGG10 w4a4, 32 filters, automatic folding on the other boards:\n")
        print_table(others, "board")


if __name__ == "__main__":
    main()
