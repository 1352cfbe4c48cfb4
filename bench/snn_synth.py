"""The event-driven SNN accelerator's RTL synthesized by Yosys (ZCU104's family, xcup, out of
context): each kernel and the stitched top beside the formula estimates of
toolchain/hw/snn/resources.py, and (`--fit`) the formulas' fit on synthesized configurations
with the held-out check.

    python bench/snn_synth.py CHECKPOINT [--depths 2 8192 512] [--cache DIR]
    python bench/snn_synth.py --config build/snn-radioml/pipeline.yaml   # the shipped geometry, untrained
    python bench/snn_synth.py --config build/snn-radioml/pipeline.yaml --fit --no-kernels

`toolchain.hw.snn.event.accel_synth.synthesize_accelerator` is what runs (finn_build's
`finn.synthesize_rtl` calls it too); results are cached by the RTL's hash in `--cache`. The
shipped convolutions take ~10-30 min each on a loaded 2-core machine the first time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

# bench/finn.py would shadow the finn package that toolchain.hw.snn imports.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from toolchain.hw.snn import resources  # noqa: E402
from toolchain.hw.snn.event import accel_synth  # noqa: E402
from toolchain.hw.snn.event.accel_synth import Unit  # noqa: E402
from toolchain.hw.snn.event.accelerator import map_model  # noqa: E402
from toolchain.hw.snn.event.conv import rtl as conv_rtl  # noqa: E402
from toolchain.hw.snn.event.readout import rtl as dense_rtl  # noqa: E402


def load_spec(args):
    import torch

    if args.checkpoint:
        from toolchain.checkpoint import load_model

        model = load_model(args.checkpoint)[0]
    else:
        from toolchain.config import load_config
        from toolchain.models import build_model

        torch.manual_seed(0)
        model = build_model(load_config(args.config).model).eval()
    return map_model(model)


def with_weights(c, seed: int, **changes):
    """A conv variant with random weights in its weight range."""
    c = dataclasses.replace(c, **changes)
    hi = (1 << (c.weight_bits - 1)) - 1
    w = np.random.default_rng(seed).integers(-hi, hi + 1, size=(c.cin, c.kernel, c.kernel, c.cout))
    return dataclasses.replace(c, weights=w)


def fit_convs(spec) -> dict[str, object]:
    """The configurations the conv formula's scales are fitted on: the shipped convs (LUT- and
    block-RAM-held weight ROMs) and an 8 x 8 kernel-3 variant at SP 2. Held out (tests/test_snn_synth.py):
    the small network and its conv1 at SP 2."""
    c1 = spec.convs[1]
    return {**{c.name: c for c in spec.convs},
            "mid_k3": with_weights(c1, 7, name="mid_k3", height=8, width=8, cin=2, cout=8, kernel=3, in_lanes=4, sp=2)}


def fit_readouts(spec) -> dict[str, object]:
    """The readout's fit set: the shipped readout (held out: the small network's, a count readout)."""
    return {spec.dense.name: spec.dense}


def synth_conv(c, cache):
    return accel_synth.synthesize_unit(Unit(c.name, "stream_top", list(conv_rtl.SOURCES),
                                            {f"{c.name}_top.sv": conv_rtl.render_top(c)}, conv_rtl.rom_files(c)), cache)


def synth_dense(d, cache):
    roms = getattr(dense_rtl, "rom_files", None)
    return accel_synth.synthesize_unit(Unit(d.name, "stream_top", list(dense_rtl.SOURCES),
                                            {f"{d.name}_top.sv": dense_rtl.render_top(d)},
                                            roms(d) if roms is not None else {}), cache)


def fit(spec, cache) -> None:
    """The conv formula's scales: least squares of the synthesized logic LUTs (+ SRL) on the
    counted LUT-ROM and other LUTs, and of the FFs on the counted FFs, over the fit set; the
    readout's: synthesized / counted, summed over its fit set."""
    rows = []
    for name, c in fit_convs(spec).items():
        t = time.time()
        r = synth_conv(c, cache)
        parts = resources.conv_parts(c)
        rom = parts["weight_rom"].get("lut", 0)
        rows.append(("conv", name, r, rom, sum(v.get("lut", 0) for v in parts.values()) - rom,
                     sum(v.get("ff", 0) for v in parts.values()), time.time() - t))
    for name, d in fit_readouts(spec).items():
        t = time.time()
        r = synth_dense(d, cache)
        parts = resources.dense_parts(d)
        rows.append(("dense", name, r, 0, sum(v.get("lut", 0) for v in parts.values()),
                     sum(v.get("ff", 0) for v in parts.values()), time.time() - t))
    print("| kind | config | Yosys logic LUT (+ SRL) | counted ROM / other LUT | Yosys FF | counted FF | seconds |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind, name, r, rom, lut, ff, sec in rows:
        print(f"| {kind} | {name} | {r.lut + r.srl:,} | {rom:,} / {lut:,} | {r.ff:,} | {ff:,} | {sec:.0f} |")
    conv = [x for x in rows if x[0] == "conv"]
    a = np.array([[x[3], x[4]] for x in conv], float)
    y = np.array([x[2].lut + x[2].srl for x in conv], float)
    k_rom, k_lut = np.linalg.lstsq(a, y, rcond=None)[0]
    k_ff = sum(x[2].ff for x in conv) / sum(x[5] for x in conv)
    print(f"conv: CONV_ROM_LUT_SCALE {k_rom:.3f}, CONV_LUT_SCALE {k_lut:.3f}, CONV_FF_SCALE {k_ff:.3f}")
    dense = [x for x in rows if x[0] == "dense"]
    print(f"dense: DENSE_LUT_SCALE {sum(x[2].lut + x[2].srl for x in dense) / sum(x[4] for x in dense):.3f}, "
          f"DENSE_FF_SCALE {sum(x[2].ff for x in dense) / sum(x[5] for x in dense):.3f}")


def table(section: dict) -> None:
    print("| kernel | LUT (of it LUTRAM) | FF | BRAM18 + BRAM36 | URAM | DSP | LUT levels (budget) "
          "| estimate LUT / FF / BRAM18 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    budget = section["lut_level_budget"]
    for name, k in section["kernels"].items():
        e = k["estimate"]
        est = f"{e['LUT']:,} / {e['FF']:,} / {e['BRAM18']}"
        if "synthesized" not in k:
            print(f"| {name} | not synthesized: {k.get('not_synthesized')} | | | | | | {est} |")
            continue
        s = k["synthesized"]
        print(f"| {name} | {s['LUT']:,} ({s['LUTRAM']:,}) | {s['FF']:,} | {s['BRAM18']} + {s['BRAM36']} | "
              f"{s['URAM']} | "
              f"{s['DSP']} | {s['lut_levels']} ({budget}) | {est} |")
    s, e = section["sum_of_kernels"], section["estimate_total"]
    print(f"| sum of {s['kernels']} of {s['of']} kernels | {s['LUT']:,} ({s['LUTRAM']:,}) | {s['FF']:,} | "
          f"{s['BRAM18']} + {s['BRAM36']} | {s['URAM']} | {s['DSP']} | | |")
    st = section.get("stitched")
    if st is not None and "LUT" in st:
        print(f"| stitched, FIFOs {st['fifo_depths']} | {st['LUT']:,} ({st['LUTRAM']:,}) | {st['FF']:,} | "
              f"{st['BRAM18']} + {st['BRAM36']} | {st['URAM']} | {st['DSP']} | {st['lut_levels']} ({budget}) | "
              f"{e['LUT']:,} / {e['FF']:,} / {e['BRAM18']} |")
    elif st is not None:
        print(f"| stitched | not synthesized: {st['not_synthesized']} | | | | | | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", default=None)
    ap.add_argument("--config", default="build/snn-radioml/pipeline.yaml",
                    help="without a checkpoint: this config's model, untrained (seed 0)")
    ap.add_argument("--depths", type=int, nargs="+", default=None, help="FIFO depths of the stitched top")
    ap.add_argument("--cache", default="bench/results/yosys_cache")
    ap.add_argument("--fit", action="store_true", help="also the formulas' fit configurations")
    ap.add_argument("--no-kernels", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    spec = load_spec(args)
    cache = Path(args.cache)
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    if args.fit:
        fit(spec, cache)
    if not args.no_kernels:
        t = time.time()
        section = accel_synth.synthesize_accelerator(spec, args.depths, cache, stitched=args.depths is not None,
                                                     progress=lambda line: print(f"# {line}", flush=True))
        print(f"# {time.time() - t:.0f} s")
        table(section)
        if args.json:
            Path(args.json).write_text(json.dumps(section, indent=1))


if __name__ == "__main__":
    main()
