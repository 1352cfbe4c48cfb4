"""The stitched event-driven accelerator in RTL (accel_rtl.py's `snn_accel`: encoder -> convs ->
readout with FIFOs at the FIFO model's depths) simulated cycle by cycle with Verilator, fed int8
I/Q frames back to back in one AXI4-Stream with random input gaps and output back-pressure:
class and final membranes equal the PyTorch model's on every frame; a short frame, a long frame
and a TLAST on the first sample are flagged BAD with their defined output, and later frames stay
bit exact. The default variant streams 231 frames (~10 s warm); the slow one 1,147 (~60 s, build included)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checks import require_tool
from snn_networks import SMALL
from toolchain.config import ModelConfig
from toolchain.hw.rtl import stream, verilator
from toolchain.hw.rtl.stream import pack
from toolchain.hw.snn.event import accel_rtl
from toolchain.hw.snn.event.accel_fifo import fifo_depths, schedules
from toolchain.hw.snn.event.accel_verify import check_frames, model_reference
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.hw.snn.event.conv import rtl as conv_rtl
from toolchain.hw.snn.event.readout import rtl as dense_rtl
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


def kept_counts(spec, samples: np.ndarray) -> np.ndarray:
    """The encoder's definition on a frame of any length: the cells of its first FRAME_LEN
    samples, GROUP per step (the last one partial): (1, steps, 1, R, R)."""
    e = spec.encoder
    kept = samples[: e.frame]
    b = 1 << e.input_bits
    cells = e.qbin[kept[:, 1] % b] * e.resolution + e.ibin[kept[:, 0] % b]
    steps = -(-len(kept) // e.group)
    out = np.zeros((steps, e.resolution ** 2), np.int64)
    np.add.at(out, (np.arange(len(kept)) // e.group, cells), 1)
    out = np.minimum(out, 1) if e.binary else out
    return out.reshape(1, steps, 1, e.resolution, e.resolution)


def odd_expected(model, spec, samples: np.ndarray) -> tuple[int, np.ndarray]:
    """The model's class and final membranes on what the encoder keeps of an odd frame."""
    with torch.no_grad():
        v, counts, _ = model.run(torch.from_numpy(kept_counts(spec, samples)).float())
    readout = counts if counts is not None else v
    return int(readout.argmax(1)[0]), v.long().numpy()[0]


def stream_case(model, spec, n_random: int, synthetic_classes: int, odd_at: int):
    """Frames (n, L, 2) back to back with a short, a long and a one-sample frame inserted after
    frame `odd_at`: the input words, and per output packet (class, BAD, membranes) expected."""
    codes, _ = check_frames(spec, n_random=n_random, seed=11, synthetic_classes=synthetic_classes)
    ref = model_reference(model, spec, codes)
    frames = np.asarray(codes, np.int64).transpose(0, 2, 1)
    L = spec.encoder.frame
    odd = [frames[1][:100], np.concatenate([frames[2], frames[3][:40]]), frames[4][:1]]
    samples, last, want = [], [], []
    for i, f in enumerate(frames):
        samples.append(f)
        last.append(np.eye(1, L, L - 1, dtype=np.int64)[0])
        want.append((int(ref["classes"][i]), False, ref["membranes"][i]))
        if i == odd_at:
            for s in odd:
                samples.append(s)
                last.append(np.eye(1, len(s), len(s) - 1, dtype=np.int64)[0])
                want.append((*odd_expected(model, spec, s)[:1], True, odd_expected(model, spec, s)[1]))
    s, t = np.concatenate(samples), np.concatenate(last)
    words = pack([(s[:, 0], 8), (s[:, 1], 8), (t, 1)])
    return codes, ref, words, want


def run_accelerator(small, tmp_path, n_random, synthetic_classes, seed):
    model, spec = small
    codes, ref, words, want = stream_case(model, spec, n_random, synthetic_classes, odd_at=5)
    depths = fifo_depths(schedules(spec, ref["words"]))["depths"]
    assert all(d <= 4096 for d in depths), depths
    accel_rtl.write_roms(spec, tmp_path)  # the simulation runs in tmp_path, where $readmemh finds them
    exe = stream.build(accel_rtl.sources(), accel_rtl.render_top(spec, depths) + accel_rtl.render_stream_top(spec),
                       tmp_path, probes=True)
    d = spec.dense
    per = d.outputs + 1
    res = stream.run(exe, words, frame_bit=dense_rtl.LAST_BIT, frames=len(want), seed=seed, gap_pct=10, stall_pct=20,
                     cwd=tmp_path)
    cls, bad, v = dense_rtl.decode_packets(res.words, d.outputs, d.params.state_bits)
    failing = [i for i, (c, b, m) in enumerate(want) if cls[i] != c or bad[i] != b or (v[i] != m).any()]
    wave = None
    if failing:  # a waveform of the first failing frame's packet and what led to it
        i = failing[0]
        lo = int(res.cycles_out[i * per - 1]) if i else 0
        wave = tmp_path / f"snn_accel_frame{i}.vcd"
        stream.run(exe, words, frame_bit=dense_rtl.LAST_BIT, frames=len(want), seed=seed, gap_pct=10, stall_pct=20,
                   cwd=tmp_path, wave=(wave, lo, int(res.cycles_out[i * per + d.outputs])))
    assert not failing, f"frames {failing[:10]} differ from the model; waveform {wave}"
    # what the run exercised
    assert res.counters["in_gaps"] > 0 and res.counters["out_stalls"] > 0 and res.counters["in_blocked"] > 0
    probes, nf = res.counters["probes"], len(depths)
    assert all(probes >> (2 * k + 1) & 1 for k in range(nf)), f"no spikes out of some kernel: probes {probes:b}"
    assert any(probes >> (2 * k) & 1 for k in range(nf)), f"no FIFO ever full: probes {probes:b}"
    assert all(s.any() for s in ref["spikes"]) and len(set(ref["classes"].tolist())) > 1
    assert (codes == -128).any() and (codes == 127).any()  # saturating codes at both ends
    print("snn_accel:", len(want), "frames, FIFO depths", depths, res.counters)  # shown with -s
    return res, want


def test_rtl_accelerator_bit_exact_back_to_back(small, tmp_path):
    res, want = run_accelerator(small, tmp_path, n_random=20, synthetic_classes=8, seed=3)
    assert len(want) >= 180


@pytest.mark.slow
def test_rtl_accelerator_1000_frames(small, tmp_path):
    res, want = run_accelerator(small, tmp_path, n_random=520, synthetic_classes=24, seed=4)
    assert len(want) >= 1000


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
