"""The stitched event-driven accelerator in RTL (accel_rtl.py's `snn_accel`: encoder -> convs ->
readout with FIFOs at the FIFO model's depths) simulated cycle by cycle with Verilator, fed int8
I/Q frames back to back in one AXI4-Stream with random input gaps and output back-pressure:
class and final membranes equal the PyTorch model's on every frame; a short frame, a long frame
and a TLAST on the first sample are flagged BAD with their defined output, and later frames stay
bit exact. The default variant streams 231 frames (35 s with the build cached on the loaded 2-core
machine); the slow one 1,147 (~60-80 s, build included). The shipped geometry:
test_snn_rtl_shipped.py."""

from __future__ import annotations

import pytest
import torch

import snn_rtl_stream
from checks import require_tool
from snn_networks import SMALL
from toolchain.config import ModelConfig
from toolchain.hw.rtl import verilator
from toolchain.hw.snn.event import accel_rtl
from toolchain.hw.snn.event.accel_fifo import fifo_depths, schedules
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.hw.snn.event.conv import rtl as conv_rtl
from toolchain.models import build_model


@pytest.fixture(autouse=True)
def _verilator():
    require_tool(verilator.missing_reason())


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(1)
    model = build_model(ModelConfig(**SMALL)).eval()
    spec = map_model(model, sweep_positions=[4, 4])
    return model, spec


def run_accelerator(small, tmp_path, n_random, synthetic_classes, seed):
    model, spec = small
    codes, ref, words, want = snn_rtl_stream.stream_case(model, spec, n_random, synthetic_classes, odd_at=5)
    depths = fifo_depths(schedules(spec, ref["words"]))["depths"]
    assert all(d <= 4096 for d in depths), depths
    exe = snn_rtl_stream.build(spec, depths, tmp_path)
    res, failing, wave = snn_rtl_stream.run_checked(exe, spec, words, want, tmp_path, seed=seed, gap_pct=10,
                                                    stall_pct=20)
    assert not failing, f"frames {failing[:10]} differ from the model; waveform {wave}"
    # what the run exercised
    assert res.counters["in_gaps"] > 0 and res.counters["out_stalls"] > 0 and res.counters["in_blocked"] > 0
    seen = snn_rtl_stream.probe(res, spec)
    assert all(seen["events_out"]), f"no spikes out of some kernel: {seen}"
    assert any(seen["fifo_full"]), f"no FIFO ever full: {seen}"
    assert all(seen["forwarded"]), f"no back-to-back events on one accumulator word in some conv: {seen}"
    assert all(s.any() for s in ref["spikes"]) and len(set(ref["classes"].tolist())) > 1
    assert (codes == -128).any() and (codes == 127).any()  # saturating codes at both ends
    print("snn_accel:", len(want), "frames, FIFO depths", depths, res.counters)  # shown with -n 0 -s
    return res, want, codes


def test_rtl_accelerator_bit_exact_back_to_back(small, tmp_path):
    res, want, codes = run_accelerator(small, tmp_path, n_random=20, synthetic_classes=8, seed=3)
    assert len(want) >= 180
    # the small network's neurons (7-bit state, reset to zero, refractory 1) on these frames: every
    # conv fires (so resets to zero), saturates at the add both ways and ignores input while
    # refractory; the readout counts spikes (its own LIF fires too)
    model, spec = small
    cov = snn_rtl_stream.lif_coverage(model, spec, codes)
    assert all(c.params.reset == "zero" and c.params.refractory for c in spec.convs)
    for layer in cov[:-1]:
        assert layer["spikes"] and layer["sat_hi"] and layer["sat_lo"] and layer["refractory"], cov
    assert cov[-1]["spikes"], cov


@pytest.mark.slow
def test_rtl_accelerator_1000_frames(small, tmp_path):
    res, want, _ = run_accelerator(small, tmp_path, n_random=520, synthetic_classes=24, seed=4)
    assert len(want) >= 1000


def test_a_failing_frame_leaves_its_waveform(small, tmp_path):
    """The default run's build (cached) with the readout's ROM file altered (class 1's weights
    + 1, so its membrane differs once an input spike reaches it): the frames differ and a VCD of
    the first failing frame's window is left behind, named after it."""
    import dataclasses

    import numpy as np

    model, spec = small
    codes, ref, words, want = snn_rtl_stream.stream_case(model, spec, 20, 8, odd_at=5)
    depths = fifo_depths(schedules(spec, ref["words"]))["depths"]
    exe = snn_rtl_stream.build(spec, depths, tmp_path)  # the default test's, from the cache
    w = spec.dense.weights.copy()
    w[:, 1] = np.minimum(w[:, 1] + 1, (1 << (spec.dense.weight_bits - 1)) - 1)
    accel_rtl.write_roms(dataclasses.replace(spec, dense=dataclasses.replace(spec.dense, weights=w)), tmp_path)
    n = 12  # the first frames' words only: a short run
    ends = np.flatnonzero(words >> np.uint64(16) & np.uint64(1))
    res, failing, wave = snn_rtl_stream.run_checked(exe, spec, words[: ends[n - 1] + 1], want[:n], tmp_path, seed=3,
                                                    gap_pct=10, stall_pct=20)
    assert failing and wave == tmp_path / f"snn_accel_frame{failing[0]}.vcd"
    text = wave.read_text()
    per = spec.dense.outputs + 1
    last = int(res.cycles_out[failing[0] * per + spec.dense.outputs])
    times = [int(line[1:]) for line in text.splitlines() if line.startswith("#")]
    assert "$enddefinitions" in text and "m_tdata" in text and max(times) == 2 * last + 1


def test_rtl_accelerator_project_is_lint_clean(small, tmp_path):
    """The Vivado hand-off: the file list names every source (in compile order) and the top,
    which is `verilator -Wall` clean alone; the constraint is a 4 ns clock on `clk`."""
    from toolchain.errors import ToolchainError

    model, spec = small
    files = accel_rtl.write_project(spec, [2, 8, 32], tmp_path / "proj")
    listed = (tmp_path / "proj" / "snn_accel.f").read_text().split()
    assert listed[-1] == "snn_accel.sv" and {f.name for f in files} >= set(listed)
    roms = accel_rtl.rom_files(spec)
    assert len(roms) == sum(len(conv_rtl.rom_files(c)) for c in spec.convs) + 1 and "dense0_w.hex" in roms
    assert {f.name for f in files} >= set(roms)
    verilator.lint([tmp_path / "proj" / name for name in listed], "snn_accel")
    assert "create_clock -period 4.000 -name clk [get_ports clk]" in (tmp_path / "proj" / "snn_accel_ooc.xdc").read_text()
    with pytest.raises(ToolchainError, match="snn_accel: FIFO 1 depth 6, expected a power of two") as err:
        accel_rtl.write_project(spec, [2, 6, 8], tmp_path / "bad")
    assert "\n" not in str(err.value) and not (tmp_path / "bad").exists()


def test_fifo_depths_travel_in_the_hw_graph(small, tmp_path):
    """The FIFO model's depths written into the HW graph (FINN's in/outFIFODepths) come back in
    the RTL project rendered from the graph alone."""
    pytest.importorskip("finn")
    from toolchain.errors import ToolchainError
    from toolchain.hw.snn.event import event_graph

    model, spec = small
    graph = event_graph.spec_graph(spec)
    accel_rtl.set_graph_fifo_depths(graph, [8, 2, 32])
    assert accel_rtl.graph_fifo_depths(graph) == [8, 2, 32]
    accel_rtl.write_graph_project(graph, tmp_path / "proj")
    top = (tmp_path / "proj" / "snn_accel.sv").read_text()
    assert "FIFO depths [8, 2, 32]" in top and ".DEPTH(32)) u_fifo2" in top
    with pytest.raises(ToolchainError, match="expected 3, one between each pair"):
        accel_rtl.set_graph_fifo_depths(graph, [8, 2])
