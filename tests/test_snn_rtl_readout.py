"""The readout in RTL (toolchain/hw/snn/event/readout/spiking_dense.sv) simulated cycle by cycle
with Verilator, fed the last conv's spikes of the PyTorch model: class, BAD and final membranes
bit exact on the small network (spike-count readout) and on the tied-membrane network (two
identical weight rows, so the tie rule decides); the tie rule `>` -> `>=` fails with a
waveform of the failing frame left behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checks import require_tool
from snn_networks import SMALL, TIED, tie_readout
from toolchain.config import ModelConfig
from toolchain.hw.rtl import stream, verilator
from toolchain.hw.snn.event.accel_verify import check_frames, model_reference
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.hw.snn.event.readout import rtl
from toolchain.hw.snn.event.spike_words import encode_frame
from toolchain.models import build_model


@pytest.fixture(autouse=True)
def _verilator():
    require_tool(verilator.missing_reason())


def _model(kw, seed=1):
    torch.manual_seed(seed)
    return build_model(ModelConfig(**kw)).eval()


def _case(model, n_random=12):
    spec = map_model(model, sweep_positions=[4, 4])
    codes, _ = check_frames(spec, n_random=n_random, seed=3, synthetic_classes=8)
    return spec, model_reference(model, spec, codes)


@pytest.fixture(scope="module")
def small():
    return _case(_model(SMALL))


@pytest.fixture(scope="module")
def tied():
    model = _model(TIED)
    spec, ref = _case(model)
    winner = int(np.bincount(ref["classes"]).argmax())
    other = tie_readout(model, winner)
    spec, ref = _case(model)
    top = ref["membranes"].max(1)
    ties = (ref["membranes"][:, winner] == top) & (ref["membranes"][:, other] == top)
    assert ties.sum() >= 5  # the tie rule decides these frames
    return spec, ref


def readout_words(spec, spikes: np.ndarray, bad_at: int = -1) -> np.ndarray:
    """The last conv's spikes (n, T, C, H, W) as the readout's input words, back to back; STEP
    on the step's last event in even frames, a word of its own in odd ones."""
    d = spec.dense
    fmt = rtl.in_format(d)
    words = []
    for i, x in enumerate(spikes):
        words += encode_frame(np.asarray(x, np.int64), fmt, d.cin, spec.convs[-1].width, step_on_event=i % 2 == 0,
                              bad=i == bad_at)
    return np.array(words, dtype=np.uint64)


def build_readout(dense, work_dir, sources=rtl.SOURCES, **kw):
    """The kernel's testbench, with the layer's ROM file written into `work_dir` (where it runs)."""
    rtl.write_roms(dense, work_dir)
    return stream.build(sources, rtl.render_top(dense), work_dir, **kw)


def check_readout(spec, ref, exe, tmp_path, bad_at=-1, **run_kw):
    """The frames whose class, BAD or membranes differ from the model, the run, and a VCD of the
    first such frame."""
    d = spec.dense
    words = readout_words(spec, ref["spikes"][-1], bad_at)
    n = len(ref["classes"])
    run_kw.setdefault("cwd", tmp_path)  # where build_readout wrote the weight ROM
    res = stream.run(exe, words, frame_bit=rtl.LAST_BIT, frames=n, **run_kw)
    cls, bad, v = rtl.decode_packets(res.words, d.outputs, d.params.state_bits)
    failing = [i for i in range(n) if cls[i] != ref["classes"][i] or bad[i] != (i == bad_at)
               or (v[i] != ref["membranes"][i]).any()]
    wave = None
    if failing:
        i = failing[0]
        per = d.outputs + 1
        lo = int(res.cycles_out[i * per - 1]) if i else 0
        wave = tmp_path / f"{d.name}_frame{i}.vcd"
        stream.run(exe, words, frame_bit=rtl.LAST_BIT, frames=n, wave=(wave, lo, int(res.cycles_out[i * per + d.outputs])),
                   **run_kw)
    return failing, res, wave


@pytest.mark.parametrize("net", ["small", "tied"])
def test_rtl_readout_matches_the_model_back_to_back_with_gaps_and_stalls(net, request, tmp_path):
    spec, ref = request.getfixturevalue(net)
    assert spec.dense.membrane == (net == "tied")
    exe = build_readout(spec.dense, tmp_path)
    failing, res, wave = check_readout(spec, ref, exe, tmp_path, bad_at=2, seed=7, gap_pct=20, stall_pct=30)
    assert not failing, f"frames {failing} differ from the model; waveform {wave}"
    assert res.counters["in_gaps"] > 0 and res.counters["out_stalls"] > 0 and res.counters["in_blocked"] > 0
    assert len(set(ref["classes"].tolist())) > 1 and ref["spikes"][-1].any()


def test_rtl_readout_cycles(small, tmp_path):
    """Without gaps or stalls: per frame, max(1, ceil(events / 2)) per input word, NO + 4 per step
    (two cycles of drain, the one-lane update, two more for its pipeline), the FRAME word and the
    NO + 1 output words."""
    spec, ref = small
    d = spec.dense
    exe = build_readout(d, tmp_path)
    words = readout_words(spec, ref["spikes"][-1][:1])
    res = stream.run(exe, words, frame_bit=rtl.LAST_BIT, frames=1, cwd=tmp_path)
    events = np.array([bin(int(w) & ((1 << d.in_lanes) - 1)).count("1") for w in words[:-1]])
    assert events.max() > d.events_per_cycle  # words of several events
    it = int(np.maximum(1, -(-events // d.events_per_cycle)).sum())
    assert res.counters["cycles"] == it + spec.steps * (d.outputs + 4) + 1 + d.outputs + 1


READOUT_FAULTS = {"tie rule > -> >=": ("(MEMBRANE ? v_u2 > best_v : c_u2 > best_c)",
                                       "(MEMBRANE ? v_u2 >= best_v : c_u2 >= best_c)")}


@pytest.mark.parametrize("fault", READOUT_FAULTS)
def test_broken_rtl_readout_fails(fault, tied, tmp_path):
    spec, ref = tied
    good, bad = READOUT_FAULTS[fault]
    text = rtl.SOURCE.read_text()
    assert text.count(good) == 1, f"the fault's pattern is no longer in {rtl.SOURCE.name}"
    broken = tmp_path / rtl.SOURCE.name
    broken.write_text(text.replace(good, bad))
    exe = build_readout(spec.dense, tmp_path, [rtl.LIF_SOURCE, broken], fatal_warnings=False,
                        cache_dir=tmp_path / "bin")
    failing, _, wave = check_readout(spec, ref, exe, tmp_path)
    assert failing
    assert wave is not None and "$enddefinitions" in wave.read_text()


def test_rtl_readout_rejects_what_it_cannot_map(small):
    import dataclasses

    from toolchain.errors import ToolchainError

    spec, _ = small
    with pytest.raises(ToolchainError, match="dense0: events_per_cycle 3, expected 1 or 2") as err:
        rtl.render_top(dataclasses.replace(spec.dense, events_per_cycle=3))
    assert "\n" not in str(err.value)
    with pytest.raises(ToolchainError, match=r"dense0: weights in \[-40, 50\] do not fit 6 bits") as err:
        rtl.rom_files(dataclasses.replace(spec.dense, weights=np.array([[-40, 50]], np.int64)))
    assert "\n" not in str(err.value)


def test_rtl_readout_takes_the_shipped_rom_as_a_file(small, tmp_path):
    """The shipped readout's geometry (4,096 x 24 weights of 8 bits: 786,432 bits, over
    Verilator's 65,536-bit cap on a parameter) renders and lints: its ROM is a $readmemh file,
    one line of 24 weights per input neuron, output 0 in the low bits."""
    import dataclasses

    spec, _ = small
    w = np.arange(4096 * 24, dtype=np.int64).reshape(4096, 24) % 256 - 128
    big = dataclasses.replace(spec.dense, positions=256, cin=16, in_lanes=32, outputs=24, weight_bits=8, weights=w)
    (name, text), = rtl.rom_files(big).items()
    lines = text.split()
    assert name == "dense0_w.hex" and len(lines) == 4096 and len(lines[1]) == 48
    assert int(lines[1][-2:], 16) == w[1, 0] & 0xFF and int(lines[1][:2], 16) == w[1, 23] & 0xFF
    top = tmp_path / "stream_top.sv"
    top.write_text(rtl.render_top(big))
    verilator.lint([*rtl.SOURCES, top], "stream_top")


@pytest.mark.slow
def test_rtl_readout_synthesizes_without_dsp(small, tmp_path):
    """Yosys synth_xilinx (xcup, out of context) of the small network's readout: it maps, its
    weight ROM in block RAM (two read ports), no DSP, within the convs' LUT-level budget (the
    lowest lanes by carry chains, the LIF lane and the output word pipelined)."""
    from toolchain.hw.rtl.tools import ToolMissing, yosys_command
    from toolchain.hw.rtl.yosys import synthesize
    from toolchain.hw.snn.event.conv.rtl import LUT_LEVEL_BUDGET

    try:
        yosys_command()
    except ToolMissing as exc:
        require_tool(str(exc))
    spec, _ = small
    top = tmp_path / "dense_top.sv"
    top.write_text(rtl.render_top(spec.dense))
    r = synthesize([*rtl.SOURCES, top], "stream_top", data=rtl.write_roms(spec.dense, tmp_path))
    assert r.lut > 0 and r.ff > 0 and r.dsp == 0 and r.bram36 + r.bram18 > 0, r
    assert r.lut_levels <= LUT_LEVEL_BUDGET, r
