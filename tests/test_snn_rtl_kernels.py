"""The event-driven kernels in RTL (toolchain/hw/snn/event/*/*.sv), each simulated cycle by cycle
with Verilator on the small network of tests/snn_networks.py and compared with the PyTorch model:
frames back to back with random input gaps and output back-pressure; broken copies (the issue's
faults) fail with a waveform of the failing frame left behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checks import require_tool
from snn_networks import SHIPPED, SMALL
from toolchain.config import ModelConfig
from toolchain.hw.rtl import stream, verilator
from toolchain.hw.snn.event.accel_verify import check_frames
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.hw.snn.event.conv import rtl as conv_rtl
from toolchain.hw.snn.event.encoder import rtl as enc_rtl
from toolchain.hw.snn.event.spike_words import decode, encode_frame
from toolchain.models import build_model
from toolchain.snn.encoders import encode


@pytest.fixture(autouse=True)
def _verilator():
    require_tool(verilator.missing_reason())


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(1)
    model = build_model(ModelConfig(**SMALL)).eval()
    spec = map_model(model, sweep_positions=[4, 4])  # BW = 4 divides the 8-wide plane: the edge fault shows
    codes, _ = check_frames(spec, n_random=12, seed=3, synthetic_classes=8)  # (n, 2, L)
    codes = codes[::8]  # 28 frames over classes, SNRs and random amplitudes: the model runs and decodes stay short
    x = torch.from_numpy(codes.astype(np.float32) * np.float32(spec.encoder.scale))
    with torch.no_grad():
        counts = encode(model.config, x).long().numpy()
    return model, spec, codes, counts


def frame_samples(codes: np.ndarray) -> np.ndarray:
    return np.asarray(codes, np.int64).transpose(0, 2, 1)  # (n, L, 2): I, Q per sample


def encoder_stream(spec, codes, extra):
    """Frames back to back, then the odd ones of `extra` ((samples (n, 2), TLAST index or None
    for a frame that never sets it before the next frame's samples))."""
    samples, last = [], []
    for f in frame_samples(codes):
        samples.append(f)
        last.append(np.eye(1, len(f), len(f) - 1, dtype=np.int64)[0])
    for s, at in extra:
        samples.append(s)
        flag = np.zeros(len(s), np.int64)
        flag[at] = 1
        last.append(flag)
    return enc_rtl.input_words(spec.encoder, np.concatenate(samples), np.concatenate(last))


def expected_encoder_counts(spec, samples: np.ndarray) -> np.ndarray:
    """The encoder's definition on a frame of any length: the cells of the first FRAME_LEN
    samples, GROUP per step (the last one partial), counts per cell (at most 1 if binary)."""
    e = spec.encoder
    kept = samples[: e.frame]
    b = 1 << e.input_bits
    cells = e.qbin[kept[:, 1] % b] * e.resolution + e.ibin[kept[:, 0] % b]
    steps = -(-len(kept) // e.group)
    out = np.zeros((steps, 1, e.resolution ** 2), np.int64)
    np.add.at(out, (np.arange(len(kept)) // e.group, 0, cells), 1)
    return np.minimum(out, 1) if e.binary else out


def check_encoder(spec, codes, counts, exe, extra, tmp_path, **run_kw):
    e = spec.encoder
    fmt = enc_rtl.out_format(e)
    words = encoder_stream(spec, codes, [(s, at) for s, at in extra])
    n = len(codes) + len(extra)
    res = stream.run(exe, words, frame_bit=fmt.frame_bit, frames=n, **run_kw)
    got = decode(res.words, fmt, 1, e.resolution ** 2)
    bad_frames = []
    for i in range(n):
        if i < len(codes):
            want, want_bad = counts[i].reshape(len(counts[i]), 1, -1), False  # the model's own encoding
        else:
            s, at = extra[i - len(codes)]
            want, want_bad = expected_encoder_counts(spec, s[: at + 1]), at + 1 != e.frame
        if got.counts[i].shape != want.shape or (got.counts[i] != want).any() or got.bad[i] != want_bad:
            bad_frames.append(i)
    wave = None
    if bad_frames:  # the failing frame's cycles, as a waveform
        i = bad_frames[0]
        lo = int(res.cycles_out[got.frame_words[i - 1]]) if i else 0
        wave = tmp_path / f"encoder_frame{i}.vcd"
        stream.run(exe, words, frame_bit=fmt.frame_bit, frames=n, wave=(wave, lo, int(res.cycles_out[got.frame_words[i]])),
                   **run_kw)
    return bad_frames, res, wave


def odd_frames(spec, codes):
    """A short frame (TLAST early), a long one (TLAST only 40 samples after FRAME_LEN), a TLAST
    on the first sample: each flagged BAD, with the encoding of what it kept."""
    s = frame_samples(codes)
    frame = spec.encoder.frame
    long = np.concatenate([s[0], s[1][:40]])
    return [(s[2][:100], 99), (long, frame + 39), (s[3][:1], 0)]


def test_rtl_encoder_matches_the_model_back_to_back_with_gaps_and_stalls(small, tmp_path):
    model, spec, codes, counts = small
    exe = stream.build([enc_rtl.SOURCE], enc_rtl.render_top(spec.encoder), tmp_path)
    extra = odd_frames(spec, codes)
    extra.append((frame_samples(codes)[4], spec.encoder.frame - 1))  # a good frame after the odd ones
    bad, res, wave = check_encoder(spec, codes, counts, exe, extra, tmp_path, seed=5, gap_pct=20, stall_pct=30)
    assert not bad, f"frames {bad} differ from the model; waveform {wave}"
    assert res.counters["in_gaps"] > 0 and res.counters["out_stalls"] > 0 and res.counters["in_blocked"] > 0
    # Without gaps or stalls: one sample per cycle, plus the tail words (a STEP word for a partial
    # last step, the FRAME word) at most two cycles per frame.
    words = encoder_stream(spec, codes, [])
    fast = stream.run(exe, words, frame_bit=enc_rtl.out_format(spec.encoder).frame_bit, frames=len(codes))
    assert fast.counters["cycles"] <= len(words) + 2 * len(codes) + 2


ENCODER_FAULTS = {"frame longer than FRAME_LEN": ("assign keep = kept < FRAME_N;", "assign keep = kept <= FRAME_N;")}


@pytest.mark.parametrize("fault", ENCODER_FAULTS)
def test_broken_rtl_encoder_fails(fault, small, tmp_path):
    model, spec, codes, counts = small
    good, bad = ENCODER_FAULTS[fault]
    text = enc_rtl.SOURCE.read_text()
    assert text.count(good) == 1, f"the fault's pattern is no longer in {enc_rtl.SOURCE.name}"
    broken = tmp_path / enc_rtl.SOURCE.name
    broken.write_text(text.replace(good, bad))
    exe = stream.build([broken], enc_rtl.render_top(spec.encoder), tmp_path, fatal_warnings=False,
                       cache_dir=tmp_path / "bin")
    bad_frames, _, wave = check_encoder(spec, codes[:2], counts[:2], exe, odd_frames(spec, codes), tmp_path)
    assert bad_frames == [3]  # the long frame, only
    assert wave is not None and "$enddefinitions" in wave.read_text()


# ---------------------------------------------------------------------------------------- conv
@pytest.fixture(scope="module")
def small_spikes(small):
    from toolchain.hw.snn.event.accel_verify import model_reference

    model, spec, codes, counts = small
    return model_reference(model, spec, codes)["spikes"]  # per conv: (n, T, C, H, W)


def conv_stream(conv, frames: np.ndarray, bad_at: int = -1) -> np.ndarray:
    """Frames (n, T, C, H, W) of input counts as the words of conv's input, back to back; STEP
    rides on the step's last event in even frames and is a word of its own in odd ones."""
    fmt = conv_rtl.in_format(conv)
    words = []
    for i, x in enumerate(frames):
        words += encode_frame(np.asarray(x, np.int64), fmt, conv.cin, conv.width, step_on_event=i % 2 == 0,
                              bad=i == bad_at)
    return stream.to_words(words, fmt.width)


def build_conv(conv, work_dir, sources=conv_rtl.SOURCES, **kw):
    """The kernel's testbench, with the layer's ROM files written into `work_dir` (where it runs)."""
    conv_rtl.write_roms(conv, work_dir)
    return stream.build(sources, conv_rtl.render_top(conv), work_dir, **kw)


def check_conv(conv, exe, x, want, tmp_path, bad_at=-1, **run_kw):
    """Run frames x through the kernel; the frames whose spikes differ from `want` (n, T, CO, H, W)
    or whose BAD flag was not passed on, with a VCD of the first such frame."""
    fmt = conv_rtl.out_format(conv)
    words = conv_stream(conv, x, bad_at)
    run_kw.setdefault("cwd", tmp_path)
    res = stream.run(exe, words, frame_bit=fmt.frame_bit, frames=len(x), **run_kw)
    got = decode(res.words, fmt, conv.cout, conv.height * conv.width)
    failing = [i for i in range(len(x))
               if got.counts[i].shape != (want.shape[1], conv.cout, conv.height * conv.width)
               or (got.counts[i] != want[i].reshape(want.shape[1], conv.cout, -1)).any() or got.bad[i] != (i == bad_at)]
    wave = None
    if failing:
        i = failing[0]
        lo = int(res.cycles_out[got.frame_words[i - 1]]) if i else 0
        wave = tmp_path / f"{conv.name}_frame{i}.vcd"
        stream.run(exe, words, frame_bit=fmt.frame_bit, frames=len(x),
                   wave=(wave, lo, int(res.cycles_out[got.frame_words[i]])), **run_kw)
    return failing, res, wave


def conv_reference(conv, x: np.ndarray) -> np.ndarray:
    """Spikes (n, T, CO, H, W) of the layer on input counts x (n, T, CI, H, W), as the op's Python
    execution computes them: torch's conv2d, the accumulator's wrap, lif.py."""
    from toolchain.hw.snn.event.event_op import run_neurons

    out = []
    w = torch.from_numpy(conv.weights.transpose(3, 0, 1, 2).copy()).double()
    for frame in x:
        cur = torch.nn.functional.conv2d(torch.from_numpy(frame).double(), w, padding=conv.kernel // 2)
        cur = cur.round().long().numpy()
        half = 1 << (conv.acc_bits - 1)
        cur = (cur + half) % (2 * half) - half
        spikes, _ = run_neurons(cur.reshape(len(cur), -1), conv.params, readout=False)
        out.append(spikes.reshape(cur.shape))
    return np.array(out)


def conv_inputs(small, small_spikes, layer: int):
    model, spec, codes, counts = small
    x = counts if layer == 0 else small_spikes[layer - 1]
    return spec.convs[layer], np.asarray(x, np.int64), np.asarray(small_spikes[layer], np.int64)


@pytest.mark.parametrize("layer", [0, 1])
def test_rtl_conv_matches_the_model_back_to_back_with_gaps_and_stalls(layer, small, small_spikes, tmp_path):
    conv, x, want = conv_inputs(small, small_spikes, layer)
    exe = build_conv(conv, tmp_path)
    failing, res, wave = check_conv(conv, exe, x, want, tmp_path, bad_at=3, seed=layer, gap_pct=15, stall_pct=25)
    assert not failing, f"frames {failing} differ from the model; waveform {wave}"
    assert res.counters["in_gaps"] > 0 and res.counters["out_stalls"] > 0 and res.counters["in_blocked"] > 0
    assert want.any() and not want.all()  # spikes, and not everywhere
    assert (conv_reference(conv, x) == want).all()  # the test's own reference is the model's


@pytest.mark.parametrize("net", ["small", pytest.param("shipped", marks=pytest.mark.slow)])
def test_rtl_conv_takes_one_event_per_cycle(net, request, tmp_path):
    """A frame whose events all hit one position, n per step: exactly n events + the sweep per
    step (STEP rides on the last event), so n -> n + 5 adds 5 cycles a step; conv0 of the small
    network and of the shipped geometry (16 x 16 plane, 16 channels 5 x 5, SP 2: its build is
    the one the shipped conv0 test makes, cached)."""
    spec = request.getfixturevalue(net)[1 if net == "small" else 0]
    conv = spec.convs[0]
    exe = build_conv(conv, tmp_path)
    steps = spec.steps
    cycles = []
    for n in (3, 8):
        x = np.zeros((1, steps, conv.cin, conv.height, conv.width), np.int64)
        x[0, :, 0, 3, 5] = n
        res = stream.run(exe, conv_stream(conv, x), frame_bit=conv_rtl.out_format(conv).frame_bit, frames=1,
                         cwd=tmp_path)
        cycles.append(res.counters["cycles"])
    assert cycles[1] - cycles[0] == 5 * steps
    depth = -(-conv.height // conv.banks[0]) * -(-conv.width // conv.banks[1])  # the reset's clear
    assert cycles[0] == depth + steps * (3 + conv.groups) + 1 + conv_rtl.LATENCY


@pytest.fixture(scope="module")
def shipped():
    """The shipped network's geometry (16 x 16 plane, 2 x 16 filters 5 x 5, 8-bit weights, T = 16)
    at its default sweep widths, with random (initialised) weights, on a few synthetic frames."""
    from toolchain.hw.snn.event.accel_verify import model_reference

    torch.manual_seed(2)
    model = build_model(ModelConfig(**SHIPPED)).eval()
    spec = map_model(model)
    codes, _ = check_frames(spec, n_random=1, seed=4, synthetic_classes=2)
    codes = codes[[0, len(codes) // 2, -2, -1]]  # low and high SNR, random I/Q (the last saturates)
    x = torch.from_numpy(codes.astype(np.float32) * np.float32(spec.encoder.scale))
    with torch.no_grad():
        counts = encode(model.config, x).long().numpy()
    return spec, counts, model_reference(model, spec, codes)["spikes"]


@pytest.mark.slow
@pytest.mark.parametrize("layer", [0, 1])
def test_rtl_conv_matches_the_model_on_the_shipped_geometry(layer, shipped, tmp_path):
    """The shipped convs: weight ROMs of 80,000 and 1.28 M bits (files, past Verilator's 65,536-bit
    parameters), conv1's 75-bit output word (wider than a uint64)."""
    spec, counts, spikes = shipped
    conv = spec.convs[layer]
    x = np.asarray(counts if layer == 0 else spikes[layer - 1], np.int64)
    want = np.asarray(spikes[layer], np.int64)
    assert conv.bank_weights().size * conv.weight_bits > 65536
    exe = build_conv(conv, tmp_path)
    failing, res, wave = check_conv(conv, exe, x, want, tmp_path, bad_at=1, seed=layer, gap_pct=10, stall_pct=20)
    assert not failing, f"frames {failing} differ from the model; waveform {wave}"
    assert want.any() and x.any()
    assert res.counters["out_stalls"] > 0 and res.counters["in_gaps"] > 0
    if layer == 1:
        assert conv_rtl.out_format(conv).width > 64 and res.counters["out_limbs"] == 2


CONV_FAULTS = {
    "dropped forwarding path": ("assign bank_q[B] = fwd_hit ? fwd_data : rd_q;",
                                "assign bank_q[B] = rd_q;"),
    "plane edge ow > W": ("OW >= 0 && OW < W;", "OW >= 0 && OW <= W;"),
    "no frame reset": (".v(first_c ? '0 : v_q[co*STATE_BITS+:STATE_BITS]),", ".v(v_q[co*STATE_BITS+:STATE_BITS]),"),
}


@pytest.mark.parametrize("fault", CONV_FAULTS)
def test_broken_rtl_conv_fails(fault, small, small_spikes, tmp_path):
    conv, x, want = conv_inputs(small, small_spikes, 1)
    assert conv.width % conv.banks[1] == 0  # the plane edge fault shows only then
    good, bad = CONV_FAULTS[fault]
    text = conv_rtl.SOURCE.read_text()
    assert text.count(good) == 1, f"the fault's pattern is no longer in {conv_rtl.SOURCE.name}"
    broken = tmp_path / conv_rtl.SOURCE.name
    broken.write_text(text.replace(good, bad))
    exe = build_conv(conv, tmp_path, [conv_rtl.LIF_SOURCE, broken], fatal_warnings=False, cache_dir=tmp_path / "bin")
    # two model frames, then one whose last column fires in every channel and step (where the
    # plane edge's outputs are), then one more model frame
    edge = np.zeros_like(x[:1])
    edge[..., -1] = 1
    frames = np.concatenate([x[:2], edge, x[2:3]])
    failing, _, wave = check_conv(conv, exe, frames, conv_reference(conv, frames), tmp_path)
    assert failing
    assert wave is not None and "$enddefinitions" in wave.read_text()


def test_rtl_conv_is_lint_clean_and_rejects_what_it_cannot_map(small, tmp_path):
    import dataclasses

    from toolchain.errors import ToolchainError
    from toolchain.snn.lif import LIFParams

    model, spec, codes, counts = small
    variants = [*spec.convs, dataclasses.replace(spec.convs[1], params=LIFParams(12, 0, 100, "subtract", 0)),
                dataclasses.replace(spec.convs[0], sp=8),
                # the shipped conv1's geometry: 75-bit output words, 1.28 M bits of weight ROM files
                dataclasses.replace(spec.convs[1], height=16, width=16, cin=16, cout=16, kernel=5, in_lanes=32, sp=4,
                                    weight_bits=8, acc_bits=16, weights=np.zeros((16, 5, 5, 16), np.int64))]
    for conv in variants:
        top = tmp_path / "stream_top.sv"
        top.write_text(conv_rtl.render_top(conv))
        verilator.lint([*conv_rtl.SOURCES, top], "stream_top")
    with pytest.raises(ToolchainError, match="conv1: SP 3 must divide the plane width 8") as err:
        conv_rtl.render_top(dataclasses.replace(spec.convs[1], sp=3))
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_rtl_encoder_and_conv_synthesize_without_dsp(small, tmp_path):
    """Yosys synth_xilinx (xcup, out of context) of the small network's encoder and conv1: they
    map (no run-time divider or wide shifter left), without DSP or block RAM at this size."""
    from toolchain.hw.rtl.tools import ToolMissing, yosys_command
    from toolchain.hw.rtl.yosys import synthesize

    try:
        yosys_command()
    except ToolMissing as exc:
        require_tool(str(exc))
    model, spec, codes, counts = small
    roms = conv_rtl.write_roms(spec.convs[1], tmp_path)
    for name, sources, text, data in (("encoder", [enc_rtl.SOURCE], enc_rtl.render_top(spec.encoder), []),
                                      ("conv1", list(conv_rtl.SOURCES), conv_rtl.render_top(spec.convs[1]), roms)):
        top = tmp_path / f"{name}_top.sv"
        top.write_text(text)
        r = synthesize([*sources, top], "stream_top", data=data)
        assert r.lut > 0 and r.ff > 0 and r.dsp == 0 and r.bram36 == 0, (name, r)
        if name == "conv1":  # the weight ROMs came in from their files (all-zero ROMs would fold away)
            assert r.lut_levels <= conv_rtl.LUT_LEVEL_BUDGET, r
            assert r.lutram > 0 and r.lut > 1000, r
