"""The event-driven SNN accelerator (toolchain/hw/snn/event/accelerator.py) on the test split, beside
the dense FINN build of the same network and the CNN.

Takes a trained `snn` checkpoint and a RadioML-format file, maps the model onto the kernels,
C-simulates the whole accelerator (g++, hls4ml's ap_types) on the test split's frames as int8
I/Q codes, checks class and final membranes against the PyTorch model (bit exact) and every
kernel's counted loop iterations against its cycle formula, and prints a Markdown table:
cycles per frame (median, p99, worst over the frames; the guaranteed bound with every input
active), frames/s at the clock, and the resource estimates (toolchain/hw/snn/resources.py).
A frame takes about the slowest kernel's iterations (the kernels run concurrently, decoupled
by FIFOs); the per-kernel rows show which one that is. FIFO depths come from the cycle model of
the RTL kernels' schedules (toolchain/hw/snn/event/accel_fifo.py) on the same frames, back to back.
`toolchain finn_build` writes the same figures for the default mapping into finn_report.json.

Then (unless --no-rtl) the same frames back to back through the stitched RTL accelerator in
Verilator (toolchain/hw/snn/event/accel_measure.py, FIFOs at the depths above, input valid every
cycle, output always ready): measured sustained frames/s, interval between class words, latency
from first sample in to class word out, each kernel's busy cycles, FIFO occupancy and each
kernel's worst-case frame, beside the formulas' figures and the C model's, at an ASSUMED clock
(nothing here checks timing); the test accuracy of the same classes beside the dense build and
the CNN (their figures quoted from bench/RESULTS.md; resources: the estimates until synthesized
figures are given with --synth JSON, a finn_report.json whose event_driven section has them).

    python bench/snn_hw.py CHECKPOINT DATA.h5 [--frames N] [--sp 2] [--mhz 250] [--no-rtl] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time

import numpy as np

# bench/finn.py would shadow the finn package that toolchain.hw.snn imports.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from toolchain.checkpoint import load_model  # noqa: E402
from toolchain.data.dataset import RadioMLDataset  # noqa: E402
from toolchain.hw.snn import resources  # noqa: E402
from toolchain.hw.snn.event import accel_fifo, accel_rtl  # noqa: E402
from toolchain.hw.snn.event.accel_csim import compile_accelerator  # noqa: E402
from toolchain.hw.snn.event.accel_verify import cycle_summary, quantize, verify_frames  # noqa: E402
from toolchain.hw.snn.event.accelerator import map_model  # noqa: E402

# The same network's dense FINN build and the CNN, ZCU104 at 250 MHz (docs/snn_hardware.md,
# bench/RESULTS.md "FINN build estimates"): FINN's estimates, not re-run here.
DENSE = {"name": "dense FINN build (MVAU + LIF), same network", "cycles": 40960, "lut": ">= 41,847", "bram36": 113,
         "dsp": 0}
VGG10 = {"name": "w4a4 VGG10, 32 filters (CNN)", "fps": 243191, "dsp": 1080, "bram36": 189.5}


def overlapped_cycles(spec, words: list[np.ndarray]) -> np.ndarray:
    """An estimate, not built: cycles per frame (the slowest kernel's) if each conv and the
    readout ran the events of step t+1 during the sweep of step t, with two current buffers
    (events of step t wait for the sweep of step t-2 to free theirs; the sweep of step t for
    the events of step t and the sweep of step t-1)."""
    per_kernel = [np.full(len(words[0]), spec.encoder.frame + 1)]
    sweeps = [c.groups for c in spec.convs] + [spec.dense.outputs]
    for it, sweep in zip(accel_fifo.input_iterations(spec, words), sweeps):
        events = it.sum(2)
        e_end = w_end = w_before = np.zeros(len(events), np.int64)
        for t in range(spec.steps):
            e_end = np.maximum(e_end, w_before) + events[:, t]
            w_before, w_end = w_end, np.maximum(e_end, w_end) + sweep
        per_kernel.append(w_end + 1)
    return np.max(per_kernel, axis=0)


def estimate(spec, words: list[np.ndarray], readout_epc: int) -> tuple[np.ndarray, dict]:
    """Cycles per frame (`overlapped_cycles`) and resources of a design not built: the overlap,
    with `readout_epc` events per cycle in the readout. LUTs: a second read port on every
    conv's accumulator banks (RAM32M16 then holds 7 bits, not 14, per 8 LUTs: their LUTs
    twice; both current buffers fit the 32 words at the shipped depth of 16); past two events
    per cycle one more copy of the readout's weight ROM (two read ports) per two events."""
    spec = dataclasses.replace(spec, dense=dataclasses.replace(spec.dense, events_per_cycle=readout_epc))
    res = resources.accelerator(spec)
    layers = res["layers"]
    extra_rom = (-(-readout_epc // 2) - 1) * layers[spec.dense.name]["bram18"]
    lut = res["total"]["lut"] + sum(layers[c.name]["parts"]["accumulators"] for c in spec.convs)
    return overlapped_cycles(spec, words), {"lut": lut, "bram18": res["total"]["bram18"] + extra_rom}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("data")
    ap.add_argument("--frames", type=int, default=0,
                    help="test frames to run, spread evenly over the split (0 = the whole test split)")
    ap.add_argument("--sp", type=int, nargs="+", default=None,
                    help="positions swept per cycle, one for every conv or one per conv (default: the mapping's)")
    ap.add_argument("--mhz", type=float, default=250.0)
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--no-rtl", action="store_true", help="skip the RTL simulation (Verilator)")
    ap.add_argument("--synth", default=None,
                    help="a finn_report.json whose event_driven section holds synthesized resources")
    args = ap.parse_args()

    model, _, _ = load_model(args.checkpoint)
    spec = map_model(model, sweep_positions=args.sp[0] if args.sp and len(args.sp) == 1 else args.sp)
    ds = RadioMLDataset.splits(args.data)["test"]
    n = len(ds) if args.frames <= 0 else min(args.frames, len(ds))
    x, labels, _ = ds.read(np.linspace(0, len(ds) - 1, n).round().astype(int))
    codes = quantize(x, spec)
    t0 = time.time()
    exe = compile_accelerator(spec)
    result, hw, words = verify_frames(model, spec, codes, exe=exe)
    seconds = time.time() - t0
    cyc = cycle_summary(spec, hw)
    bound = resources.cycle_bound(spec)
    t0 = time.time()
    sched = accel_fifo.schedules(spec, words, rtl=True)  # the depths of the RTL build (the default)
    fifo = accel_fifo.fifo_depths(sched, widths=accel_rtl.stream_widths(spec))
    fifo["cycles_hls"], _ = accel_fifo.simulate(accel_fifo.schedules(spec, words), fifo["depths"])
    fifo_seconds = time.time() - t0
    res = resources.accelerator(spec, fifo["depths"])
    hz = args.mhz * 1e6
    frame = cyc["frame"]
    print(f"# event-driven SNN accelerator, {n} test frames of {args.data}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"C simulation + check {seconds:.1f} s, FIFO model {fifo_seconds:.1f} s")
    print(f"bit exact vs PyTorch: {result['ok']} (class mismatches {result['class_mismatches']}, membrane "
          f"mismatches {result['membrane_mismatches']}, cycle-formula mismatches {result['cycle_formula_mismatches']})")
    print(f"SP per conv: {[c.sp for c in spec.convs]}\n")
    print("| kernel | median | p99 | worst | bound (all active) | LUT | FF | BRAM18 | DSP |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, s in cyc["per_kernel"].items():
        r = res["layers"][k]
        print(f"| {k} | {s['median']:,.0f} | {s['p99']:,.0f} | {s['worst']:,} | {bound[k]:,} | {r['lut']:,} | "
              f"{r['ff']:,} | {r['bram18']} | {r['dsp']} |")
    r = res["layers"]["fifos"]
    print(f"| FIFOs, depths {fifo['depths']} ({', '.join(r['storage'])}) | | | | | {r['lut']:,} | 0 | "
          f"{r['bram18']} | 0 |")
    tot = res["total"]
    worst_bound = max(bound.values())
    print(f"| **frame** (slowest kernel) | {frame['median']:,.0f} | {frame['p99']:,.0f} | {frame['worst']:,} | "
          f"{worst_bound:,} | {tot['lut']:,} | {tot['ff']:,} | {tot['bram18']} ({tot['bram36']:g} BRAM36) | 0 |\n")
    fps = {k: hz / frame[k] for k in ("median", "p99", "worst")}
    print(f"frames/s at {args.mhz:g} MHz: median {fps['median']:,.0f}, p99 {fps['p99']:,.0f}, worst "
          f"{fps['worst']:,.0f}, guaranteed {hz / worst_bound:,.0f}")
    print(f"beside: {DENSE['name']}: {hz / DENSE['cycles']:,.0f} frames/s, LUT {DENSE['lut']}, BRAM36 "
          f"{DENSE['bram36']}, DSP 0 -> {fps['median'] / (hz / DENSE['cycles']):.1f}x at the median; "
          f"{VGG10['name']}: {VGG10['fps']:,} frames/s, BRAM36 {VGG10['bram36']}, DSP {VGG10['dsp']}")
    names = ["encoder"] + [c.name for c in spec.convs]
    print(f"FIFO depths (cycle model with the RTL kernels' schedules, the {n} frames in a row, within 1 % of "
          "unbounded FIFOs): "
          + ", ".join(f"{a} -> {b}: {d}" for a, b, d in zip(names, names[1:] + [spec.dense.name], fifo["depths"]))
          + f"; streamed back to back the frames take {fifo['cycles_with_depths'] / n:,.0f} cycles each "
          f"({hz * n / fifo['cycles_with_depths']:,.0f} frames/s), "
          f"{fifo['cycles_unbounded'] / n:,.0f} with unbounded FIFOs; the HLS loops' schedule at these depths "
          f"{fifo['cycles_hls'] / n:,.0f} ({hz * n / fifo['cycles_hls']:,.0f} frames/s)")
    deep = int(np.argmax(fifo["depths"]))
    smaller = [d for d in (32, 128, 512, 2048) if d < fifo["depths"][deep]]
    if smaller:
        trials = [fifo["depths"][:deep] + [d] + fifo["depths"][deep + 1:] for d in smaller]
        runs = accel_fifo.simulate_many(sched, trials)
        print(f"the {names[deep]} -> {(names[1:] + [spec.dense.name])[deep]} FIFO shallower, cycles per frame "
              "streamed: " + ", ".join(f"depth {d}: {c / n:,.0f} ({hz * n / c:,.0f} frames/s)"
                                      for d, (c, _) in zip(smaller, runs)))
    print("\nestimates, not built: each conv and the readout run the events of step t+1 during the sweep of step t "
          "(two current buffers, a second accumulator read port), by the kernels' cycle rules on the same frames; "
          "LUT/BRAM18 without the FIFOs")
    for epc in (spec.dense.events_per_cycle, 4):
        over, r = estimate(spec, words, epc)
        print(f"- overlap, readout {epc} events/cycle: median {np.median(over):,.0f}, p99 "
              f"{np.percentile(over, 99):,.0f}, worst {over.max():,} cycles/frame ({hz / np.median(over):,.0f} "
              f"frames/s at the median), LUT {r['lut']:,}, BRAM18 {r['bram18']}")
    accuracy = float(np.mean(hw.classes == labels))
    rtl = None if args.no_rtl else rtl_tables(spec, codes, hw, words, fifo, hz, frame, accuracy, args,
                                                  model.config)
    if args.json:
        from toolchain.atomic import write_json

        write_json(args.json, {"frames": n, "check": result, "cycles": cyc, "bound": bound, "resources": res,
                               "fps": fps, "sp": [c.sp for c in spec.convs], "fifo": fifo, "accuracy": accuracy,
                               "rtl_simulated": rtl})


def _s(stat: dict, scale: float = 1.0, fmt: str = ",.0f") -> str:
    return " / ".join(f"{stat[k] * scale:{fmt}}" for k in ("median", "p99", "worst"))


def rtl_tables(spec, codes, hw, words, fifo, hz, frame, accuracy, args, model_cfg) -> dict:
    """The RTL measurement (accel_measure.section) printed beside the formulas and the C model,
    then the network beside the dense build and the CNN."""
    import json
    import tempfile
    from pathlib import Path

    from toolchain.hw.snn.event import accel_measure

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="snn_hw_rtl_") as tmp:
        m = accel_measure.section(spec, codes, hw.classes, hw.iterations, words, fifo["depths"], Path(tmp),
                                  model_cfg=model_cfg)
    if not m["ran"]:
        print(f"\nRTL not simulated: {m['reason']}")
        return m
    n, us = m["frames"], 1e6 / hz
    f, w = m["formula"], m["worst_case"]
    print(f"\n# stitched RTL accelerator, RTL-simulated (Verilator), {n} frames back to back, clock {hz / 1e6:g} MHz "
          f"ASSUMED (nothing here checks timing); {time.time() - t0:.0f} s (build {m['seconds']['build']:.0f} s); "
          f"classes equal to the model's on every frame: {m['passed']} ({m['class_mismatches']} differ)\n")
    print("| figure | RTL-simulated (Verilator) | formula (FIFO model, RTL schedule; cycle formulas) | "
          "HLS C model (loop counts at an assumed II = 1) |")
    print("|---|---:|---:|---:|")
    print(f"| sustained frames/s (frames / cycles of the run) | **{m['frames_per_s']:,.0f}** | {f['frames_per_s']:,.0f} | "
          f"{hz / frame['median']:,.0f} (median frame); {hz * n / fifo['cycles_hls']:,.0f} streamed (FIFO model, "
          "HLS schedule) |")
    print(f"| cycles per frame, sustained | {m['cycles_per_frame']:,.1f} | {f['cycles'] / n:,.1f} | "
          f"{frame['median']:,.0f} median |")
    print(f"| interval between class words, cycles (median / p99 / worst) | {_s(m['interval_cycles'])} | "
          f"{_s(f['interval_cycles'])} | |")
    print(f"| latency, first sample in to class word out, us (median / p99 / worst) | "
          f"{_s(m['latency_cycles'], us, ',.2f')} | {_s(f['latency_cycles'], us, ',.2f')} | |")
    print(f"| latency of a frame alone (nothing queued before it; {m['latency_alone_cycles']['frames']} frames), us | "
          f"{_s(m['latency_alone_cycles'], us, ',.2f')} | {_s(f['latency_alone_cycles'], us, ',.2f')} | |")
    for k, st in m["busy_cycles_per_kernel"].items():
        print(f"| {k} busy cycles per frame (median / p99 / worst) | {_s(st)} | {_s(f['busy_cycles_per_kernel'][k])} | "
              f"{_s(hw_stat(hw.iterations[k]))} |")
    for k, peak in m["fifo_peak_occupancy"].items():
        print(f"| FIFO {k}: highest occupancy / depth | {peak:,} / {m['fifo_depths'][k]:,} | "
              f"{f['fifo_peak_occupancy'][k]:,} | |")
    print(f"| worst case: each kernel alone on its worst-case frame (every input event), cycles | {w['bound_cycles_per_frame']:,} "
          f"({w['bounded_by']}; {hz / w['bound_cycles_per_frame']:,.0f} frames/s) | "
          f"{max(w['formula_per_kernel'].values()):,} | |")
    print("\nper-kernel worst case (RTL-simulated / formula): "
          + ", ".join(f"{k} {v:,} / {w['formula_per_kernel'][k]:,}" for k, v in w["per_kernel"].items())
          + f"; busy-cycle formula mismatches (frames after the first): {m['busy_formula_mismatches']}; frames whose "
          f"first sample in / class word out the FIFO model puts on another cycle: {m['formula_frame_mismatches']}")
    st = w["stitched"]
    if st.get("ran"):
        sf = st["formula"]
        print(f"\nstitched worst case ({st['frames']} worst-case frames back to back, then one alone; classes and "
              f"membranes equal to the worst-case network's model: {st['passed']}): interval "
              f"{_s(st['interval_cycles'])} cycles -> guaranteed {st['frames_per_s']:,.0f} frames/s "
              f"(FIFO model {sf['fifo_model_interval']:,}; slowest kernel's bound {sf['bound_cycles_per_frame']:,}); "
              f"latency alone {st['latency_cycles']['alone']:,} cycles "
              f"(FIFO model {sf['fifo_model_latency_alone']:,}), "
              f"back to back {_s(st['latency_cycles']['back_to_back'])}; busy per kernel (RTL / reachable bound): "
              + ", ".join(f"{k} {v:,} / {sf['reachable_bound_per_kernel'][k]}"
                          for k, v in st["busy_cycles_per_kernel"].items()))
    synth = json.loads(Path(args.synth).read_text())["event_driven"].get("synthesized") if args.synth else None
    lut = f"{synth['total']['lut']:,} (synthesized)" if synth else "pending synthesis (estimate in the table above)"
    bram = f"{synth['total'].get('bram36', 'n/a')}" if synth else "pending"
    print(f"\n| design (ZCU104, {hz / 1e6:g} MHz) | frames/s | how | latency median | LUT | BRAM36 | DSP | test accuracy |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    print(f"| event-driven SNN, stitched RTL | **{m['frames_per_s']:,.0f}** | RTL-simulated (Verilator), clock assumed | "
          f"{m['latency_cycles']['median'] * us:,.2f} us | {lut} | {bram} | 0 | {100 * accuracy:.2f} % |")
    print(f"| event-driven SNN, HLS C model | {hz / frame['median']:,.0f} | C-simulated loop counts, II = 1 assumed | "
          f"| | | | {100 * accuracy:.2f} % |")
    print(f"| {DENSE['name']} | {hz / DENSE['cycles']:,.0f} | FINN estimate | | {DENSE['lut']} | {DENSE['bram36']} | 0 | "
          f"{100 * accuracy:.2f} % (same network) |")
    print(f"| {VGG10['name']} | {VGG10['fps']:,} | FINN estimate | | >= 8,926 (FINN); 126,777 for its 40 RTL layers "
          "(Yosys) | | 835 counted | see bench/RESULTS.md |")
    print("| 4-bit VGG10, finn-examples | 231,000 | measured on the board (published) | | ~90,000 (Vivado, published) | | "
          "| |")
    return m


def hw_stat(a) -> dict:
    return {"median": float(np.median(a)), "p99": float(np.percentile(a, 99)), "worst": int(np.max(a))}


if __name__ == "__main__":
    main()
