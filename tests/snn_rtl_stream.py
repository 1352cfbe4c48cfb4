"""The stitched RTL accelerator's stream tests, shared by the small network's
(test_snn_rtl_accelerator.py) and the shipped geometry's (test_snn_rtl_shipped.py): int8 I/Q
frames back to back in one AXI4-Stream with odd frames inserted, the model's expected packets,
the run with a waveform of the first failing frame, and what the model's own neurons did on the
same frames (so a test can assert its stimulus reached saturation, the resets, refractory)."""

from __future__ import annotations

import numpy as np
import torch

from toolchain.hw.rtl import stream
from toolchain.hw.rtl.stream import pack
from toolchain.hw.snn.event import accel_rtl
from toolchain.hw.snn.event.accel_verify import check_frames, model_reference
from toolchain.hw.snn.event.readout import rtl as dense_rtl
from toolchain.snn.encoders import encode
from toolchain.snn.lif import initial_state


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


def stream_case(model, spec, n_random: int, synthetic_classes: int, odd_at: int, seed: int = 11):
    """Frames (n, L, 2) back to back with a short (100 samples), a long (FRAME_LEN + 40: TLAST
    missing where it belongs) and a one-sample frame inserted after frame `odd_at`: the codes,
    the model's reference, the input words ({TLAST, Q, I}) and per output packet (class, BAD,
    membranes) expected."""
    codes, _ = check_frames(spec, n_random=n_random, seed=seed, synthetic_classes=synthetic_classes)
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
                c, v = odd_expected(model, spec, s)
                want.append((c, True, v))
    s, t = np.concatenate(samples), np.concatenate(last)
    words = pack([(s[:, 0], 8), (s[:, 1], 8), (t, 1)])
    return codes, ref, words, want


def build(spec, depths, work_dir, fast: bool = False):
    """The stitched accelerator's testbench (probes on), its weight ROMs written into `work_dir`."""
    accel_rtl.write_roms(spec, work_dir)  # the simulation runs in work_dir, where $readmemh finds them
    return stream.build(accel_rtl.sources(), accel_rtl.render_top(spec, depths) + accel_rtl.render_stream_top(spec),
                        work_dir, probes=True, fast=fast)


def run_checked(exe, spec, words, want, work_dir, **run_kw):
    """Run the stream; (the run, the frames whose class, BAD or membranes differ from `want`,
    and the VCD of the first such frame's packet and what led to it, or None)."""
    d = spec.dense
    per = d.outputs + 1
    res = stream.run(exe, words, frame_bit=dense_rtl.LAST_BIT, frames=len(want), cwd=work_dir, **run_kw)
    cls, bad, v = dense_rtl.decode_packets(res.words, d.outputs, d.params.state_bits)
    failing = [i for i, (c, b, m) in enumerate(want) if cls[i] != c or bad[i] != b or (v[i] != m).any()]
    wave = None
    if failing:
        i = failing[0]
        lo = int(res.cycles_out[i * per - 1]) if i else 0
        wave = work_dir / f"snn_accel_frame{i}.vcd"
        stream.run(exe, words, frame_bit=dense_rtl.LAST_BIT, frames=len(want), cwd=work_dir,
                   wave=(wave, lo, int(res.cycles_out[i * per + d.outputs])), **run_kw)
    return res, failing, wave


def probe(res, spec) -> dict[str, list[bool]]:
    """The testbench's probes (accel_rtl.render_stream_top) by name, per FIFO / kernel / conv."""
    bits, nf = res.counters["probes"], 1 + len(spec.convs)
    return {"fifo_full": [bool(bits >> (2 * k) & 1) for k in range(nf)],
            "events_out": [bool(bits >> (2 * k + 1) & 1) for k in range(nf)],
            "forwarded": [bool(bits >> (2 * nf + c) & 1) for c in range(len(spec.convs))]}


def lif_coverage(model, spec, codes: np.ndarray) -> list[dict[str, int]]:
    """Per layer (the convs, then the readout), over every frame and step of the model on
    `codes`: spikes (each one a reset, subtract or zero as the layer's params say), adds that
    saturated high or low (v - leak + I outside the state), and nonzero inputs a refractory
    neuron ignored. The model's own `step` advances the state; only the counts are added here."""
    x = torch.from_numpy(codes.astype(np.float32) * np.float32(spec.encoder.scale))
    layers = list(model.layers)
    out = [dict(spikes=0, sat_hi=0, sat_lo=0, refractory=0) for _ in layers]
    with torch.no_grad():
        s_in = encode(model.config, x)
        states = [None] * len(layers)
        for t in range(s_in.shape[1]):
            s = s_in[:, t]
            for i, layer in enumerate(layers):
                if i == len(layers) - 1:
                    s = s.flatten(1)
                cur = layer.current(s).double()
                v, r = initial_state(cur) if states[i] is None else states[i]
                p = layer.params
                v1 = v.double() - torch.floor(v.double() / (1 << p.leak_shift)) if p.leak_shift else v.double()
                free = r == 0
                out[i]["sat_hi"] += int(((v1 + cur > p.hi) & free).sum())
                out[i]["sat_lo"] += int(((v1 + cur < p.lo) & free).sum())
                out[i]["refractory"] += int(((~free) & (cur != 0)).sum())
                s, states[i] = layer.step(s, states[i])
                if not layer.readout:
                    out[i]["spikes"] += int(s.sum())
    return out
