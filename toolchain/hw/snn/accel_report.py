"""The event-driven accelerator beside an SNN's FINN build (finn_report.json, "event_driven"):
the checkpoint's model mapped onto the kernels (`accelerator.map_model`), the whole
accelerator C-simulated on the build's verification frames as int I/Q codes and checked bit
exact against the PyTorch model (`accel_verify`), its cycles per frame over those frames
(median, p99, worst), the guaranteed bound, FIFO depths from the schedule model (`accel_fifo`)
and the resource estimates (`resources`). The bitstream itself is still FINN's dense build:
the kernels are not FINN HW ops yet (docs/snn_hardware.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ...errors import ToolchainError


def evaluate(checkpoint: Optional[Path], n_random: int, n_synthetic: int, seed: int, cache_dir: Path) -> dict[str, Any]:
    """The section, on the I/Q frames the SNN verification encodes (`finn.verify.make_frames`,
    same counts and seed); {"mapped": False, "reason": ...} when the model cannot be mapped (or
    no checkpoint is known), which leaves the dense build untouched."""
    if checkpoint is None:
        return {"mapped": False, "reason": "no checkpoint: the accelerator is mapped from the trained model"}
    from ...checkpoint import load_model
    from ..finn.verify import make_frames
    from . import accel_fifo, resources
    from .accel_csim import compile_accelerator, run_frames
    from .accel_verify import compare, cycle_summary, model_reference, quantize
    from .accelerator import map_model

    model, cfg, _ = load_model(checkpoint)
    try:
        spec = map_model(model)
    except ToolchainError as exc:
        return {"mapped": False, "reason": str(exc)}
    frames, _ = make_frames(n_random, n_synthetic, 2, cfg.input_length, seed)
    codes = quantize(frames, spec)
    ref = model_reference(model, spec, codes)
    hw = run_frames(spec, codes, exe=compile_accelerator(spec, cache_dir))
    check = compare(spec, ref, hw)
    out: dict[str, Any] = {"mapped": True, "passed": bool(check["ok"]), "check": check,
                           "sweep_positions": {c.name: c.sp for c in spec.convs}}
    if not check["ok"]:
        return out
    cycles = cycle_summary(spec, hw)
    bound = resources.cycle_bound(spec)
    try:
        fifo = accel_fifo.fifo_depths(accel_fifo.schedules(spec, ref, len(codes)))
        names = ["encoder"] + [c.name for c in spec.convs] + [spec.dense.name]
        depths = {f"{a}->{b}": d for a, b, d in zip(names, names[1:], fifo["depths"])}
        res = resources.accelerator(spec, fifo["depths"])
    except ToolchainError as exc:  # the binary encoder's schedule is not modelled
        depths, res = {"note": str(exc)}, resources.accelerator(spec)
    out.update(frames=len(codes), cycles_per_frame=cycles["frame"], cycles_per_kernel=cycles["per_kernel"],
               bound_cycles_per_frame=max(bound.values()), bound_per_kernel=bound, fifo_depths=depths,
               resources={k: v for k, v in res["total"].items()},
               note="cycles over the verification frames (bench/snn_hw.py gives them over a test split); "
                    "resources are the analytic estimates of toolchain/hw/snn/resources.py")
    return out


def summary_line(section: dict[str, Any]) -> str:
    if not section["mapped"]:
        return f"event-driven accelerator not mapped: {section['reason']}"
    c = section["check"]
    if not section["passed"]:
        return (f"event-driven accelerator C simulation failed on {c['frames']} frames ({c.get('class_mismatches')} "
                f"class / {c.get('membrane_mismatches')} membrane mismatches, cycle formula "
                f"{c.get('cycle_formula_mismatches')})")
    f, r = section["cycles_per_frame"], section["resources"]
    return (f"event-driven accelerator C-simulated bit exact on {c['frames']} frames: {f['median']:,.0f} cycles/frame "
            f"median, {f['worst']:,} worst, {section['bound_cycles_per_frame']:,} guaranteed; LUT {r['lut']:,}, "
            f"BRAM36 {r['bram36']:g}, DSP {r['dsp']} (estimates)")
