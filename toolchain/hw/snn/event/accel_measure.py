"""Throughput and latency of the stitched RTL accelerator, measured: RTL-simulated (Verilator).

Frames of int I/Q codes go back to back through `snn_accel` (accel_rtl.py, the FIFOs at the
build's depths) with the input valid in every cycle and the output always ready
(`toolchain/hw/rtl/measure.py`). A measurement top around it (nothing added to `snn_accel`)
marks, cycle by cycle, each frame's first sample taken, each class word out and each kernel's
taking of a frame's last input word, and counts:
- a kernel's busy cycles: neither starved (ready, no input word) nor blocked (its output refused;
  a conv: its pipeline frozen by its full output register slice): the cycles its own work takes;
- each FIFO's occupancy (words in minus words out), its highest value kept.
`run` + `summarize` turn these into sustained frames/s (frames / cycles of the whole run), per
frame the interval between class words and the latency from first sample in to class word out,
each kernel's busy cycles per frame and the FIFOs' highest occupancy. `worst_case` streams each
kernel alone, fed its worst-case frames (every input event present: `resources.cycle_bound`'s
case), and measures its cycles per frame: the guaranteed bound, checked. `section` is all of it
beside the formulas' figures, for finn_report.json's `event_driven.rtl_simulated`.
All at an assumed 250 MHz (accel_rtl.CLOCK_MHZ): nothing here checks timing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ....errors import ToolchainError
from ...rtl import measure, stream
from .. import resources
from . import accel_rtl
from .accelerator import AcceleratorSpec
from .conv import rtl as conv_rtl
from .encoder import rtl as enc_rtl
from .readout import rtl as dense_rtl

LABEL = "RTL-simulated (Verilator)"
CLOCK = f"{accel_rtl.CLOCK_MHZ} MHz, assumed (nothing here checks timing)"
# marks: a frame's first sample taken, its class word out, kernel k (2 + k) took a frame's last input word
FIRST_IN, CLASS_OUT, KERNEL0 = 0, 1, 2


def kernel_names(spec: AcceleratorSpec) -> list[str]:
    return ["encoder", *(c.name for c in spec.convs), spec.dense.name]


def _ports(spec: AcceleratorSpec) -> list[dict[str, str]]:
    """Per kernel: its input valid/ready and frame-end flag (TLAST, the FRAME bit), output valid/ready
    and what holds it back from the output (inside u_accel)."""
    n = len(spec.convs) + 1  # FIFOs
    fmts = [enc_rtl.out_format(spec.encoder), *(conv_rtl.out_format(c) for c in spec.convs)]
    out = []
    for j in range(n + 1):
        if j == 0:
            iv, ir, fin = "s_tvalid", "s_tready", f"s_tdata[{accel_rtl.IN_BITS}]"
        else:
            iv, ir, fin = (f"u_accel.f{j - 1}_tvalid", f"u_accel.f{j - 1}_tready",
                           f"u_accel.f{j - 1}_tdata[{fmts[j - 1].frame_bit}]")
        ov, orr = (f"u_accel.k{j}_tvalid", f"u_accel.k{j}_tready") if j < n else ("m_tvalid", "m_tready")
        # blocked: the kernel's progress held by its output (the conv's skid register full freezes its pipeline)
        blk = f"!u_accel.u_{spec.convs[j - 1].name}.adv" if 0 < j < n else f"{ov} && !{orr}"
        out.append(dict(iv=iv, ir=ir, ov=ov, orr=orr, fin=fin, blk=blk))
    return out


def render_measure_top(spec: AcceleratorSpec) -> str:
    """`measure_top` around `snn_accel` for measure_tb.cpp. Marks: 0 a frame's first sample taken,
    1 a class word out (value: the word), 2 + k kernel k took a frame's last input word (value: its busy cycles
    so far); the values after the kernels' are the FIFOs' highest occupancies."""
    ports = _ports(spec)
    nk, nf = len(ports), len(ports) - 1
    nv = KERNEL0 + nk + nf
    ib, ob = accel_rtl.IN_BITS, accel_rtl.OUT_BITS
    lines = ["// Rendered by toolchain/hw/snn/event/accel_measure.py: snn_accel with counters for measure_tb.cpp.",
             "module measure_top (",
             "    input  logic clk,", "    input  logic rst,",
             f"    input  logic [{ib}:0] s_tdata,  // TLAST, Q, I", "    input  logic s_tvalid,",
             "    output logic s_tready,", f"    output logic [{ob}:0] m_tdata,  // TLAST, TDATA",
             "    output logic m_tvalid,", "    input  logic m_tready,",
             "    output logic [63:0] marks,", f"    output logic [{32 * nv - 1}:0] values", ");",
             f"  {accel_rtl.TOP} u_accel (",
             f"      .clk, .rst, .s_axis_tdata(s_tdata[{ib - 1}:0]), .s_axis_tlast(s_tdata[{ib}]),",
             "      .s_axis_tvalid(s_tvalid),",
             f"      .s_axis_tready(s_tready), .m_axis_tdata(m_tdata[{ob - 1}:0]), .m_axis_tlast(m_tdata[{ob}]),",
             "      .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready)", "  );",
             "  logic sof, sop;  // the next input word is a frame's first; the next output word a packet's first",
             f"  logic [31:0] busy[{nk}];", f"  logic [31:0] occ[{nf}], peak[{nf}], occ_next[{nf}];",
             f"  logic [{nk - 1}:0] working, frame_in;"]
    for j, p in enumerate(ports):  # busy: neither starved nor blocked
        lines += [f"  assign working[{j}] = !({p['ir']} && !{p['iv']}) && !({p['blk']});",
                  f"  assign frame_in[{j}] = {p['iv']} && {p['ir']} && {p['fin']};"]
    for k in range(nf):
        push = f"({ports[k]['ov']} && {ports[k]['orr']})"
        pop = f"({ports[k + 1]['iv']} && {ports[k + 1]['ir']})"
        lines.append(f"  assign occ_next[{k}] = occ[{k}] + 32'({push}) - 32'({pop});")
    lines += ["  always_ff @(posedge clk) begin", "    if (rst) begin", "      sof <= 1'b1;", "      sop <= 1'b1;",
              *(f"      busy[{j}] <= '0;" for j in range(nk)),
              *(f"      occ[{k}] <= '0;\n      peak[{k}] <= '0;" for k in range(nf)),
              "    end else begin",
              f"      if (s_tvalid && s_tready) sof <= s_tdata[{ib}];",
              f"      if (m_tvalid && m_tready) sop <= m_tdata[{ob}];",
              *(f"      if (working[{j}]) busy[{j}] <= busy[{j}] + 1;" for j in range(nk)),
              *(f"      occ[{k}] <= occ_next[{k}];\n      if (occ_next[{k}] > peak[{k}]) peak[{k}] <= occ_next[{k}];"
                for k in range(nf)),
              "    end", "  end",
              f"  assign marks = 64'({{frame_in, m_tvalid && m_tready && sop, s_tvalid && s_tready && sof}});"]
    vals = ["32'(0)", "m_tdata[31:0]", *(f"busy[{j}]" for j in range(nk)), *(f"peak[{k}]" for k in range(nf))]
    lines += [f"  assign values = {{{', '.join(reversed(vals))}}};", "endmodule\n"]
    return "\n".join(lines)


def input_words(codes: np.ndarray) -> np.ndarray:
    """Frames (n, 2, L) of int I/Q codes -> the accelerator's input words {TLAST, Q, I}, back to back."""
    s = np.asarray(codes, np.int64).transpose(0, 2, 1).reshape(-1, 2)
    n, length = codes.shape[0], codes.shape[2]
    last = np.tile(np.eye(1, length, length - 1, dtype=np.int64)[0], n)
    return stream.pack([(s[:, 0], 8), (s[:, 1], 8), (last, 1)])


def build(spec: AcceleratorSpec, depths: list[int], work_dir: Path, cache_dir: Optional[os.PathLike] = None,
          sources: Optional[list[Path]] = None, optimize: bool = True, **kw) -> Path:
    """The measurement executable (cached by content); the weight ROM files written into `work_dir`,
    where it runs. `sources`: accel_rtl.sources() unless given (a test's slowed copy)."""
    accel_rtl.write_roms(spec, work_dir)
    return measure.build(sources or accel_rtl.sources(), accel_rtl.render_top(spec, depths) + render_measure_top(spec),
                         work_dir, cache_dir=cache_dir, optimize=optimize, **kw)


def stat(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a)
    return {"median": float(np.median(a)), "p99": float(np.percentile(a, 99)), "worst": int(a.max())}


def fps(cycles_per_frame: float) -> float:
    return accel_rtl.CLOCK_MHZ * 1e6 / cycles_per_frame


def run(spec: AcceleratorSpec, codes: np.ndarray, exe: Path, work_dir: Path,
        desc: str | None = None) -> dict[str, Any]:
    """Stream `codes` (n, 2, L) through the built accelerator at full rate: the measured figures
    and per frame the class word (for the caller's bit-exactness check)."""
    n, length = codes.shape[0], codes.shape[2]
    names = kernel_names(spec)
    limit = 2 * n * max(resources.cycle_bound(spec).values()) + 100_000  # a stalled design ends the run
    m = measure.run(exe, input_words(codes), frame_bit=accel_rtl.OUT_BITS, frames=n, max_cycles=limit, cwd=work_dir,
                    desc=desc)
    first_in, _ = m.at(FIRST_IN)
    out_cycle, out_word = m.at(CLASS_OUT)
    if len(first_in) != n or len(out_cycle) != n:
        raise ToolchainError(f"RTL measurement: {len(first_in)} frames in and {len(out_cycle)} class words out "
                             f"for {n} frames")
    busy = {}
    for j, name in enumerate(names):
        _, v = m.at(KERNEL0 + j)
        busy[name] = np.diff(np.concatenate([[0], v[:n]]))
    cycles = m.counters["cycles"]
    return {"frames": n, "cycles": cycles, "first_in": first_in, "class_out": out_cycle,
            "classes": (out_word & 0xFFFF).astype(np.int64), "bad": (out_word >> 31) & 1,
            "busy": busy, "fifo_peaks": [int(v) for v in m.final[KERNEL0 + len(names):]],
            "samples_per_frame": length}


def summarize(spec: AcceleratorSpec, res: dict[str, Any], depths: list[int]) -> dict[str, Any]:
    """The report's figures of a `run`."""
    names = kernel_names(spec)
    n, cycles = res["frames"], res["cycles"]
    timing = _timing(res, n)
    return {
        "label": LABEL, "clock": CLOCK, "frames": n, **timing, "cycles_per_frame": cycles / n,
        "latency_us": {k: v / accel_rtl.CLOCK_MHZ for k, v in timing["latency_cycles"].items()},
        "busy_cycles_per_kernel": {k: stat(res["busy"][k]) for k in names},
        "fifo_depths": {f"{a}->{b}": d for a, b, d in zip(names, names[1:], depths)},
        "fifo_peak_occupancy": {f"{a}->{b}": p for a, b, p in zip(names, names[1:], res["fifo_peaks"])},
    }


def alone_picks(n: int, frames: int = 16) -> np.ndarray:
    """The frames `latency_alone` streams alone: `frames` of `n` spread evenly."""
    return np.unique(np.linspace(0, n - 1, min(frames, n)).round().astype(int))


def latency_alone(spec: AcceleratorSpec, codes: np.ndarray, exe: Path, work_dir: Path,
                  frames: int = 16) -> dict[str, Any]:
    """Latency of a frame with nothing queued before it (back to back, a frame's latency also holds
    its wait behind the frames before it): `frames` frames spread over `codes`, each streamed alone."""
    pick = alone_picks(len(codes), frames)
    lat = []
    for i in pick:
        res = run(spec, codes[i:i + 1], exe, work_dir)
        lat.append(int(res["class_out"][0] - res["first_in"][0]))
    return {**stat(np.array(lat)), "frames": len(pick)}


def readout_extra(spec: AcceleratorSpec) -> int:
    """Cycles a frame the RTL readout takes beyond the HLS loops' count (`accelerator.layer_cycles`)."""
    return dense_rtl.STEP_EXTRA_CYCLES * spec.steps + spec.dense.outputs + 1


def formula_busy(spec: AcceleratorSpec, iterations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each kernel's cycles per frame by the formulas: the C model's loop counts
    (`accelerator.layer_cycles`), the readout's with the RTL's extra cycles (`rtl_bound`)."""
    out = {k: np.asarray(v, np.int64) for k, v in iterations.items()}
    out[spec.dense.name] = out[spec.dense.name] + readout_extra(spec)
    return out


def section(spec: AcceleratorSpec, codes: np.ndarray, classes: np.ndarray, iterations: dict[str, np.ndarray],
            words: list[np.ndarray], depths: list[int], cache_dir: Path, optimize: bool = True,
            model_cfg=None) -> dict[str, Any]:
    """The report's measured figures: `codes` (n, 2, L) streamed through the RTL accelerator at the
    build's FIFO `depths`, its classes checked against `classes` (the model's), each figure beside
    the formula's (the FIFO model with the RTL readout's schedule, the kernels' cycle formulas),
    and the worst case; the simulation runs in `cache_dir`/rtl_measure (the weight ROM files).
    {"ran": False, "reason": ...} where Verilator is missing or the RTL
    cannot be built for this network. `optimize`: see `build` (a short run is faster without)."""
    import time

    from ...rtl import verilator
    from . import accel_worstcase

    reason = verilator.missing_reason()
    if reason is not None:
        return {"ran": False, "reason": reason}
    t0 = time.time()
    work = Path(cache_dir) / "rtl_measure"
    try:
        exe = build(spec, depths, work, optimize=optimize)  # Verilator's own cache (by content): warm across builds
    except ToolchainError as exc:
        return {"ran": False, "reason": str(exc)}
    build_s = time.time() - t0
    res = run(spec, codes, exe, work, desc="accelerator RTL simulation")
    out = summarize(spec, res, depths)
    wrong = int((res["classes"] != np.asarray(classes)).sum() + res["bad"].sum())
    n = res["frames"]
    alone = latency_alone(spec, codes, exe, work)
    pred = predicted_times(spec, words, depths, cache_dir)
    formula = formula_busy(spec, iterations)
    names = kernel_names(spec)
    out.update(
        ran=True, passed=wrong == 0, class_mismatches=wrong, latency_alone_cycles=alone,
        formula={"label": "estimate (the FIFO model with the RTL kernels' schedules and timing; the kernels' cycle "
                          "formulas)",
                 **predicted_figures(pred, n), "busy_cycles_per_kernel": {k: stat(formula[k]) for k in names},
                 "fifo_peak_occupancy": {f"{a}->{b}": p for a, b, p in zip(names, names[1:], pred["peaks"])}},
        # frame by frame: the model's cycles of each first sample in and class word out against the simulation's
        formula_frame_mismatches={k: int((np.asarray(pred[k]) != res[k]).sum()) for k in ("first_in", "class_out")},
        # the first frame also holds the reset's clearing (convs) and no previous output packet (readout)
        busy_formula_mismatches={k: int((res["busy"][k][1:] != formula[k][1:]).sum()) for k in names},
        worst_case=accel_worstcase.worst_case(spec, work, model_cfg=model_cfg, depths=depths, optimize=optimize),
        seconds={"build": round(build_s, 1), "total": round(time.time() - t0, 1)})
    return out


def predicted_times(spec: AcceleratorSpec, words: list[np.ndarray], depths: list[int],
                    cache_dir: Optional[os.PathLike] = None, n_alone: int = 16) -> dict[str, Any]:
    """The FIFO model's prediction of a `run` of these frames at `depths` (accel_fifo.frame_times
    on the RTL schedule) and of `latency_alone` of `n_alone` frames (each modelled alone)."""
    from .accel_fifo import frame_times, schedules

    pred = frame_times(schedules(spec, words, rtl=True), depths, cache_dir)
    alone = []
    for i in alone_picks(len(words[0]), n_alone):
        one = frame_times(schedules(spec, [w[i:i + 1] for w in words], rtl=True), depths, cache_dir)
        alone.append(int(one["class_out"][0] - one["first_in"][0]))
    return {**pred, "latency_alone": alone}


def predicted_figures(pred: dict[str, Any], n: int) -> dict[str, Any]:
    """`summarize`'s throughput and latency figures of a `predicted_times`."""
    return {**_timing(pred, n),
            "latency_alone_cycles": {**stat(np.array(pred["latency_alone"])), "frames": len(pred["latency_alone"])}}


def _timing(t: dict[str, Any], n: int) -> dict[str, Any]:
    """Cycles, frames/s, interval between class words and latency of `n` frames' first-sample and
    class-word cycles (a measured `run`'s or a predicted one's)."""
    latency = np.asarray(t["class_out"]) - t["first_in"]
    interval = np.diff(t["class_out"])
    return {"cycles": int(t["cycles"]), "frames_per_s": fps(t["cycles"] / n),
            "interval_cycles": stat(interval) if len(interval) else None, "latency_cycles": stat(latency)}


def _us(cycles: float) -> str:
    return f"{cycles / accel_rtl.CLOCK_MHZ:.1f} us"


def summary_line(m: dict[str, Any], where: str = "") -> str:
    """The measured figures, each with the formula's prediction beside it. `where`: the frames' source."""
    from .accel_worstcase import guaranteed_text

    if not m.get("ran"):
        return f"RTL not measured: {m.get('reason')}"
    lat, w, f = m["latency_cycles"], m["worst_case"], m["formula"]
    flat, alone, falone = f["latency_cycles"], m["latency_alone_cycles"], f["latency_alone_cycles"]
    return (f"RTL-simulated (Verilator, {m['frames']} frames{' of ' + where if where else ''} back to back"
            f"{'' if m['passed'] else ', CLASSES DIFFER'}): "
            f"{m['frames_per_s']:,.0f} frames/s sustained at an assumed {accel_rtl.CLOCK_MHZ} MHz "
            f"(formula {f['frames_per_s']:,.0f}), latency {_us(lat['median'])} (formula {_us(flat['median'])}) median, "
            f"{_us(lat['worst'])} (formula {_us(flat['worst'])}) worst back to back, "
            f"{_us(alone['median'])} (formula {_us(falone['median'])}) a frame alone; "
            f"{guaranteed_text(w)}")
