"""Throughput and latency of the stitched RTL accelerator measured in Verilator
(toolchain/hw/snn/event/accel_measure.py) on the small network of tests/snn_networks.py: the
measured figures agree with the formulas on frames streamed at full rate (every kernel's busy
cycles frame by frame; the FIFO model with the RTL kernels' timing predicts the whole run's
cycles and every frame's first sample in and class word out to the cycle), each kernel's
worst-case frame takes exactly its bound, the FIFO depths chosen on the RTL schedule keep the
measured run within the tolerance of unbounded FIFOs, and a deliberately slowed kernel or a
wrong pipeline latency in the model moves the figures apart (the measurement is not the formula
echoed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checks import require_tool
from snn_networks import SMALL
from toolchain.config import ModelConfig
from toolchain.hw.rtl import verilator
from toolchain.hw.snn.event import accel_measure, accel_rtl, accel_worstcase
from toolchain.hw.snn.event.accel_csim import run_frames
from toolchain.hw.snn.event.accel_fifo import KernelTiming, Schedule, fifo_depths, frame_times, schedules, simulate
from toolchain.hw.snn.event.accel_verify import check_frames, model_reference
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.hw.snn.event.conv import rtl as conv_rtl
from toolchain.hw.snn.event.accel_measure import stat
from toolchain.models import build_model
from toolchain.reports.run_summary import accelerator_lines


@pytest.fixture(autouse=True)
def _verilator():
    require_tool(verilator.missing_reason())


@pytest.fixture(scope="module")
def small():
    """The small network, 228 frames (synthetic over classes and SNRs, random codes), the model's
    classes, the C model's loop counts and the FIFO depths the build would choose (RTL kernels)."""
    torch.manual_seed(1)
    model = build_model(ModelConfig(**SMALL)).eval()
    spec = map_model(model, sweep_positions=[4, 4])
    codes, _ = check_frames(spec, n_random=20, seed=11, synthetic_classes=8)
    ref = model_reference(model, spec, codes)
    chosen = fifo_depths(schedules(spec, ref["words"], rtl=True))
    return spec, codes, ref, run_frames(spec, codes), chosen["depths"], chosen["peaks"]


def test_measured_throughput_latency_and_busy_cycles_agree_with_the_formulas(small, tmp_path):
    spec, codes, ref, hw, depths, _ = small
    m = accel_measure.section(spec, codes, ref["classes"], hw.iterations, ref["words"], depths, tmp_path,
                              optimize=False, model_cfg=ModelConfig(**SMALL))
    assert m["ran"] and m["passed"] and m["class_mismatches"] == 0 and m["frames"] == len(codes) >= 200
    assert m["label"] == "RTL-simulated (Verilator)" and "assumed" in m["clock"]
    # every kernel's busy cycles equal its formula on every frame after the first (reset's clear)
    assert m["busy_formula_mismatches"] == {k: 0 for k in accel_measure.kernel_names(spec)}
    assert m["busy_cycles_per_kernel"]["encoder"]["worst"] == spec.encoder.frame + 1
    # the FIFO model with the RTL kernels' schedules and timing, at the same depths: the whole run's
    # cycles, and every frame's first sample in and class word out, to the cycle
    f = m["formula"]
    assert m["formula_frame_mismatches"] == {"first_in": 0, "class_out": 0}
    assert f["cycles"] == m["cycles"] and f["frames_per_s"] == m["frames_per_s"]
    assert f["interval_cycles"] == m["interval_cycles"] and f["latency_cycles"] == m["latency_cycles"]
    assert f["latency_alone_cycles"] == m["latency_alone_cycles"]
    assert m["frames_per_s"] == pytest.approx(250e6 * m["frames"] / m["cycles"])
    # the readout bounds this network: class words leave at its pace, a frame's latency spans the pipeline
    slowest = max(m["busy_cycles_per_kernel"].values(), key=lambda s: s["median"])
    assert m["interval_cycles"]["median"] == pytest.approx(slowest["median"], rel=0.05)
    assert m["latency_cycles"]["median"] > spec.encoder.frame and m["latency_cycles"]["worst"] < 4 * m["cycles_per_frame"]
    alone = m["latency_alone_cycles"]  # nothing queued before it: the pipeline's own latency
    assert spec.encoder.frame < alone["median"] <= m["latency_cycles"]["median"] and alone["frames"] == 16
    # FIFOs: filled up to their depths where the model says so, never beyond
    for k, peak in m["fifo_peak_occupancy"].items():
        assert 0 < peak <= m["fifo_depths"][k]
    assert m["fifo_peak_occupancy"] == m["formula"]["fifo_peak_occupancy"]
    # the worst case: each kernel alone on its all-events frame takes exactly its bound
    w = m["worst_case"]
    assert w["per_kernel"] == w["formula_per_kernel"] == accel_worstcase.rtl_bound(spec)
    assert w["bound_cycles_per_frame"] == max(w["per_kernel"].values()) > m["busy_cycles_per_kernel"][w["bounded_by"]]["worst"]
    # the stitched accelerator on worst-case frames (test_snn_rtl_worstcase.py) is the summary's guarantee
    st = w["stitched"]
    assert st["ran"] and st["passed"] and not st["problems"]
    assert f"guaranteed {st['frames_per_s']:,.0f} frames/s" in accel_measure.summary_line(m)
    line = accel_measure.summary_line(m)
    assert line.startswith("RTL-simulated (Verilator, 228 frames back to back): ")
    assert f"{m['frames_per_s']:,.0f} frames/s sustained at an assumed 250 MHz (formula {f['frames_per_s']:,.0f})" in line
    lat = m["latency_cycles"]["median"] / 250
    assert f"latency {lat:.1f} us (formula {f['latency_cycles']['median'] / 250:.1f} us) median" in line
    # the run summary's accelerator line leads with these figures, the HLS C model's rate after it
    report = {"board": {"name": "ZCU104", "resources": {"LUT": 230400, "BRAM36": 312, "DSP": 1728}},
              "totals": {"clock_ns": 4.0, "clock_mhz": 250.0}, "measured": {},
              "event_driven": {"mapped": True, "passed": True, "frames": m["frames"], "rtl_simulated": m,
                               "cycles_per_frame": stat(hw.iterations["conv0"]), "bound_cycles_per_frame": 100,
                               "resources": {"lut": 1, "bram36": 1, "dsp": 0}}}
    acc, csim = accelerator_lines(report)[:2]
    assert acc.startswith(f"  accelerator           ZCU104 @ 250 MHz: {m['frames_per_s']:,.0f} frames/s sustained by "
                          "the stitched RTL (RTL-simulated in Verilator") and f"formula {f['frames_per_s']:,.0f})" in acc
    assert csim.startswith("  HLS C model ") and "(C-simulated cycle counts" in csim
    assert f"guaranteed {st['frames_per_s']:,.0f} frames/s" in acc


def slowed_conv(tmp_path):
    """spiking_conv.sv taking an input word only every fourth cycle (bit exact, only slower)."""
    text = conv_rtl.SOURCE.read_text()
    ready = "  assign s_tready = adv && state == EVENTS && from_input;\n"
    have = "  assign have_word = from_input ? s_tvalid : 1'b1;\n"
    assert ready in text and have in text
    text = text.replace(ready, "  logic [1:0] slow_c;\n  logic slow_q;\n  assign slow_q = slow_c == 2'd0;\n"
                               "  always_ff @(posedge clk) slow_c <= rst ? 2'd0 : slow_c + 2'd1;\n"
                               "  assign s_tready = adv && state == EVENTS && from_input && slow_q;\n")
    slow = tmp_path / "src" / conv_rtl.SOURCE.name
    slow.parent.mkdir()
    slow.write_text(text.replace(have, "  assign have_word = from_input ? s_tvalid && slow_q : 1'b1;\n"))
    return [slow if s == conv_rtl.SOURCE else s for s in accel_rtl.sources()]


def test_a_slowed_kernel_changes_the_measured_figures(small, tmp_path):
    """The convs taking a word every fourth cycle: still bit exact, but the measured frames/s fall
    below the formula's and the convs' busy cycles exceed theirs (the formulas know nothing of it)."""
    spec, codes, ref, hw, depths, _ = small
    exe = accel_measure.build(spec, depths, tmp_path, sources=slowed_conv(tmp_path), optimize=False)
    res = accel_measure.run(spec, codes, exe, tmp_path)
    assert (res["classes"] == ref["classes"]).all()
    m = accel_measure.summarize(spec, res, depths)
    model_cycles, _ = simulate(schedules(spec, ref["words"], rtl=True), depths)
    assert m["cycles"] > 1.08 * model_cycles
    formula = accel_measure.formula_busy(spec, hw.iterations)
    assert m["busy_cycles_per_kernel"]["conv0"]["median"] > 1.2 * np.median(formula["conv0"])


def test_the_model_needs_the_rtl_kernels_timing_to_predict_each_frame(small, tmp_path):
    """The class words' cycles predicted by the FIFO model equal the simulation's only with the
    kernels' timing right: one conv stage too few, or the HLS model's direct pushes, and frames'
    predicted class words move (the comparison can fail)."""
    spec, codes, ref, hw, depths, _ = small
    exe = accel_measure.build(spec, depths, tmp_path, optimize=False)
    res = accel_measure.run(spec, codes[:40], exe, tmp_path)
    words = [w[:40] for w in ref["words"]]
    right = schedules(spec, words, rtl=True)
    assert (frame_times(right, depths)["class_out"] == res["class_out"]).all()
    short = [KernelTiming(t.mode, t.stages - 1, t.start) if t.stages else t for t in right.timing]
    direct = [KernelTiming()] * len(right)
    for timing in (short, direct):
        pred = frame_times(Schedule(right, right.marks, timing), depths)
        assert (pred["class_out"] != res["class_out"]).sum() >= 30


def test_the_depths_chosen_on_the_rtl_schedule_keep_the_measured_run_near_unbounded(small, tmp_path):
    """The FIFO depths the model picks on the RTL schedule (1 % tolerance) keep the measured RTL run
    within 1 % of the same RTL with FIFOs deep enough never to fill."""
    spec, codes, ref, hw, depths, peaks = small  # peaks: the model's, with unbounded FIFOs
    free = [1 << int(p).bit_length() for p in peaks]  # a power of two above each: never full
    runs = {}
    for name, d in (("chosen", depths), ("free", free)):
        exe = accel_measure.build(spec, d, tmp_path / name, optimize=False)
        runs[name] = accel_measure.run(spec, codes, exe, tmp_path / name)
    assert runs["free"]["fifo_peaks"] == peaks and all(p < d for p, d in zip(peaks, free))
    assert all(p <= d for p, d in zip(runs["chosen"]["fifo_peaks"], depths))
    assert runs["free"]["cycles"] <= runs["chosen"]["cycles"] <= 1.01 * runs["free"]["cycles"]


def test_a_design_the_rtl_cannot_take_is_reported_not_measured(small, tmp_path):
    """The report's section says in one line why no RTL figure exists (here FIFO depths the top
    refuses), and nothing is simulated."""
    spec, codes, ref, hw, depths, _ = small
    m = accel_measure.section(spec, codes, ref["classes"], hw.iterations, ref["words"], [2, 6, 8], tmp_path,
                              optimize=False)
    assert m == {"ran": False, "reason": "snn_accel: FIFO 1 depth 6, expected a power of two >= 2"}
    assert accel_measure.summary_line(m).startswith("RTL not measured: snn_accel: FIFO 1 depth 6")
