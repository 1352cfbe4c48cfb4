"""The event-driven accelerator beside an SNN's FINN build (finn_report.json, "event_driven"):
the checkpoint's model mapped onto the kernels (`accelerator.map_model`), the whole
accelerator C-simulated on a file's test split (or, without a data file, on the build's
verification frames) as int I/Q codes and checked bit exact against the PyTorch model
(`accel_verify`), its cycles per frame over those frames (median, p99, worst), the guaranteed
bound, FIFO depths from the schedule model run on the same frames (`accel_fifo`) and the
resource estimates (`resources`): the cycle distribution the default build's HW ops
(`event_graph`) are measured by on a few frames, over a whole split (docs/snn_hardware.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ....errors import ToolchainError


@dataclass
class Frames:
    """Float I/Q frames (n, 2, L) and where they come from (written into the report)."""

    x: np.ndarray
    source: dict[str, Any]


def verification_frames(n_random: int, n_synthetic: int, length: int, seed: int) -> Frames:
    """The I/Q frames the SNN verification encodes (`finn.verify.make_frames`, same counts and seed)."""
    from ...finn.verify import make_frames

    x, _ = make_frames(n_random, n_synthetic, 2, length, seed)
    return Frames(x, {"kind": "verification frames (no data file)", "random": n_random, "synthetic": n_synthetic,
                      "seed": seed})


def evaluate(checkpoint: Optional[Path], frames: Optional[Frames], cache_dir: Path,
             n_random: int = 0, n_synthetic: int = 0, seed: int = 0, figure: Optional[Path] = None,
             spec=None, rtl: bool = False, impl_style: str = "rtl",
             carry_depths: Optional[Callable[[list[int]], list[int]]] = None) -> dict[str, Any]:
    """The section on `frames` (None: the verification frames of n_random, n_synthetic, seed);
    {"mapped": False, "reason": ...} when the model cannot be mapped (or no checkpoint is
    known), which leaves the dense build untouched. `figure`: where to write the histogram of
    the cycles per frame (`accel_plot`). `rtl`: the same frames through the stitched RTL
    accelerator in Verilator too (`accel_measure`: measured throughput and latency, "rtl_simulated").
    `impl_style` (finn.event_impl_style): the kernels built, "rtl" or "hls", whose schedule the FIFO
    model chooses the depths on (`accel_fifo.schedules`' rtl). `carry_depths`: called with the FIFO
    model's depths, it writes them into the build's HW graph and returns the depths read back from
    it, which the RTL is then simulated at."""
    if impl_style not in ("rtl", "hls"):
        raise ToolchainError(f"finn.event_impl_style: {impl_style!r}, expected 'rtl' or 'hls'")
    if checkpoint is None:
        return {"mapped": False, "reason": "no checkpoint: the accelerator is mapped from the trained model"}
    from ....checkpoint import load_model
    from . import accel_fifo, accel_rtl
    from .. import resources
    from .accel_csim import compile_accelerator
    from .accel_verify import cycle_summary, quantize, verify_frames
    from .accelerator import map_model

    model, cfg, _ = load_model(checkpoint)
    if spec is None:  # `spec`: the design a build made (its folding); else the checkpoint's default mapping
        try:
            spec = map_model(model)
        except ToolchainError as exc:
            return {"mapped": False, "reason": str(exc)}
    if frames is None:
        frames = verification_frames(n_random, n_synthetic, cfg.input_length, seed)
    if frames.x.shape[1:] != (2, cfg.input_length):
        raise ToolchainError(f"{frames.source.get('file', 'the frames')}: frames of shape {list(frames.x.shape[1:])}, "
                             f"the checkpoint's model takes [2, {cfg.input_length}] (model.input_length)")
    codes = quantize(frames.x, spec)
    t0 = time.time()
    check, hw, words = verify_frames(model, spec, codes, exe=compile_accelerator(spec, cache_dir))
    out: dict[str, Any] = {"mapped": True, "passed": bool(check["ok"]), "check": check, "frames": len(codes),
                           "frames_source": frames.source, "sweep_positions": {c.name: c.sp for c in spec.convs},
                           "csim_seconds": round(time.time() - t0, 1)}
    if not check["ok"]:
        return out
    cycles = cycle_summary(spec, hw)
    bound = resources.cycle_bound(spec)
    t0 = time.time()
    fifo = accel_fifo.fifo_depths(accel_fifo.schedules(spec, words, rtl=impl_style == "rtl"), cache_dir=cache_dir,
                                  widths=accel_rtl.stream_widths(spec))
    names = ["encoder"] + [c.name for c in spec.convs] + [spec.dense.name]
    res = resources.accelerator(spec, fifo["depths"])
    n = len(codes)
    out.update(cycles_per_frame=cycles["frame"], cycles_per_kernel=cycles["per_kernel"],
               bound_cycles_per_frame=max(bound.values()), bound_per_kernel=bound,
               fifo_depths={f"{a}->{b}": d for a, b, d in zip(names, names[1:], fifo["depths"])},
               fifo_storage={f"{a}->{b}": st for a, b, st in zip(names, names[1:], res["layers"]["fifos"]["storage"])},
               streamed_cycles_per_frame={"with_depths": fifo["cycles_with_depths"] / n,
                                          "unbounded": fifo["cycles_unbounded"] / n},
               fifo_model_seconds=round(time.time() - t0, 1), fifo_schedule=impl_style,
               resources={k: v for k, v in res["total"].items()},
               note="cycles per frame: the C simulation's counts of the kernels' II = 1 loops (a frame takes the "
                    "slowest kernel's); FIFO depths and the streamed cycles: the schedule model on the same frames "
                    f"back to back, with the schedule and timing of the {impl_style.upper()} kernels (fifo_schedule); "
                    "resources: the analytic estimates of toolchain/hw/snn/resources.py")
    if rtl:
        from .accel_measure import section

        depths = carry_depths(fifo["depths"]) if carry_depths is not None else fifo["depths"]
        out["rtl_simulated"] = section(spec, codes, hw.classes, hw.iterations, words, depths, cache_dir,
                                       model_cfg=model.config)
    elif carry_depths is not None:
        carry_depths(fifo["depths"])
    if figure is not None:
        from ....atomic import save_figure
        from .accel_plot import cycles_figure

        save_figure(cycles_figure(out, hw.iterations), figure)
    return out


def summary_line(section: dict[str, Any]) -> str:
    if not section["mapped"]:
        return f"event-driven accelerator not mapped: {section['reason']}"
    c = section["check"]
    src = section["frames_source"]
    where = f"the {src['split']} split of {src['file']}" if "file" in src else "the verification frames"
    if not section["passed"]:
        return (f"event-driven accelerator C simulation failed on {c['frames']} frames of {where} "
                f"({c.get('class_mismatches')} class / {c.get('membrane_mismatches')} membrane mismatches, cycle "
                f"formula {c.get('cycle_formula_mismatches')})")
    f, r = section["cycles_per_frame"], section["resources"]
    csim = (f"{f['median']:,.0f} cycles/frame median, {f['p99']:,.0f} p99, {f['worst']:,} worst, "
            f"{section['bound_cycles_per_frame']:,} guaranteed; FIFOs {list(section['fifo_depths'].values())}; "
            f"LUT {r['lut']:,}, BRAM36 {r['bram36']:g}, DSP {r['dsp']} (estimates)")
    m = section.get("rtl_simulated")
    if m is not None and m.get("ran"):  # the built RTL's measured figures lead, the HLS C model's after
        from .accel_measure import fps
        from .accel_measure import summary_line as rtl_line

        return (f"event-driven accelerator {rtl_line(m, where)}; HLS C model: C-simulated bit exact on {c['frames']} "
                f"frames, {fps(f['median']):,.0f} frames/s at the median frame, {csim}")
    rtl = f"; RTL not measured: {m.get('reason')}" if m is not None else ""
    return f"event-driven accelerator C-simulated bit exact on {c['frames']} frames of {where}: {csim}{rtl}"
