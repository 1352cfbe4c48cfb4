"""The whole event-driven accelerator against the PyTorch model, bit for bit.

Frames of int I/Q codes (the CNN accelerator's input: `quantize`) go through the SNN model (as
the float samples code x scale it was trained on) and through the C-simulated accelerator
(`accel_csim`): every frame's class and the readout's final membranes must be identical, and
every kernel's counted loop iterations must equal its cycle formula
(`accelerator.layer_cycles`) evaluated on the events the model's own spikes make.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .accel_csim import CsimResult, run_frames
from .accelerator import AcceleratorSpec, layer_cycles, word_iterations


def quantize(x: np.ndarray, spec: AcceleratorSpec) -> np.ndarray:
    """Float frames -> int codes as the input quantizer (round half to even, clip to the type)."""
    b = spec.encoder.input_bits
    return np.clip(np.round(np.asarray(x, np.float64) / spec.encoder.scale), -(1 << (b - 1)), (1 << (b - 1)) - 1
                   ).astype(np.int64)


def check_frames(spec: AcceleratorSpec, n_random: int, seed: int = 0, synthetic_classes: int = 24) -> tuple[np.ndarray, list[str]]:
    """(codes (n, 2, L), kinds): synthetic modulated frames of `synthetic_classes` classes at every
    SNR of the default grid, then random Gaussian I/Q at amplitudes from 0.05 to 8 x the
    quantizer's range (the loudest saturate at both ends of the code range)."""
    from ....config import SynthConfig
    from ....data.classes import CLASSES
    from ....data.synth import generate_blocks, to_iq

    length = spec.encoder.frame
    frames, kinds = [], []
    if synthetic_classes and length >= 64:
        cfg = SynthConfig(frames_per_pair=1, length=length, seed=seed)
        for ci in np.linspace(0, len(CLASSES) - 1, synthetic_classes).round().astype(int):
            iq = to_iq(generate_blocks(cfg, int(ci), range(len(cfg.snrs))))  # (snrs, L, 2)
            frames.append(iq.transpose(0, 2, 1))
            kinds += [f"{CLASSES[ci]}@{snr}dB" for snr in cfg.snrs]
    rng = np.random.default_rng(seed)
    full = spec.encoder.scale * (1 << (spec.encoder.input_bits - 1))
    amp = full * np.exp(rng.uniform(np.log(0.05), np.log(8.0), size=(n_random, 1, 1)))
    frames.append(rng.standard_normal((n_random, 2, length)) * amp / np.sqrt(2))
    kinds += ["random"] * n_random
    return quantize(np.concatenate(frames), spec), kinds


def _first_in_step(cells: np.ndarray) -> np.ndarray:
    """(n, T, G) cells -> True where a cell appears for the first time in its step."""
    order = np.argsort(cells, axis=-1, kind="stable")
    ranked = np.take_along_axis(cells, order, -1)
    first = np.ones(cells.shape, bool)
    first[..., 1:] = ranked[..., 1:] != ranked[..., :-1]
    out = np.empty_like(first)
    np.put_along_axis(out, order, first, -1)
    return out


def model_reference(model, spec: AcceleratorSpec, codes: np.ndarray) -> dict[str, Any]:
    """The model on codes x scale: final readout membranes, readout values the class is taken
    from, each layer's spikes and event-loop iterations per (frame, step), and the words of each
    kernel's input for the FIFO model (`accel_fifo.schedules`)."""
    from ....snn.encoders import encode

    x = torch.from_numpy(codes.astype(np.float32) * np.float32(spec.encoder.scale))
    with torch.no_grad():
        spikes_in = encode(model.config, x)
        v, counts, trace = model.run(spikes_in, record=True)
    readout = counts if counts is not None else v
    spikes = [torch.stack(trace[i], 1).to(torch.int8).numpy() for i in range(len(spec.convs))]  # (n, T, C, H, W)
    loops, words = event_words(spec, codes, spikes)
    return {"membranes": v.long().numpy(), "classes": readout.argmax(1).numpy(), "readout": readout.long().numpy(),
            "loops": loops, "words": words, "spikes": spikes}


def event_loops(spec: AcceleratorSpec, codes: np.ndarray, spikes: list[np.ndarray]) -> list[np.ndarray]:
    """Each kernel's event-loop iterations per (frame, step) (conv0, ..., the readout), from the
    I/Q codes (conv0 takes a word per sample) and each conv's spikes (n, T, C, H, W)."""
    return event_words(spec, codes, spikes)[0]


def event_words(spec: AcceleratorSpec, codes: np.ndarray,
                spikes: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """`event_loops` and, per kernel after the encoder, the events of each word of its input."""
    from .accel_fifo import conv_words

    e = spec.encoder
    n, steps = len(codes), spec.steps
    # conv0's input: one word per sample (no event when BINARY drops a repeat of its step's cell;
    # the step's last sample's word is sent anyway, carrying STEP)
    if e.binary:
        b = 1 << e.input_bits
        cells = (e.qbin[codes[:, 1] % b] * e.resolution + e.ibin[codes[:, 0] % b]).reshape(n, steps, e.group)
        words = [_first_in_step(cells).astype(np.int16)]
        loops = [words[0][..., :-1].sum(2) + 1]
    else:
        words = [np.ones((n, steps, e.group), np.int16)]
        loops = [np.full((n, steps), e.group)]
    for i, (c, s) in enumerate(zip(spec.convs, spikes)):
        epc = 1 if i + 1 < len(spec.convs) else spec.dense.events_per_cycle
        loops.append(word_iterations(s, c.sp, epc))
        words.append(conv_words(s, c.sp))
    return loops, words


def compare(spec: AcceleratorSpec, ref: dict[str, Any], hw: CsimResult) -> dict[str, Any]:
    """Mismatch counts (all zero = bit exact) and the cycle formula's mismatches per kernel."""
    n = len(ref["classes"])
    out: dict[str, Any] = {"frames": n}
    if len(hw.classes) != n:
        return {**out, "frames_out": len(hw.classes), "ok": False}
    out["class_mismatches"] = int((hw.classes != ref["classes"]).sum())
    out["membrane_mismatches"] = int((hw.membranes != ref["membranes"]).any(1).sum())
    out["bad_frames"] = int(hw.bad.sum())
    formula = [layer_cycles(spec, [lp[f] for lp in ref["loops"]]) for f in range(n)]
    out["cycle_formula_mismatches"] = {k: int(sum(formula[f][k] != v[f] for f in range(n)))
                                       for k, v in hw.iterations.items()}
    out["ok"] = _exact(out)
    return out


def _exact(check: dict[str, Any]) -> bool:
    return (check["class_mismatches"] == 0 and check["membrane_mismatches"] == 0 and check["bad_frames"] == 0
            and not any(check["cycle_formula_mismatches"].values()))


def verify(model, spec: AcceleratorSpec, codes: np.ndarray, **kw) -> tuple[dict[str, Any], CsimResult]:
    hw = run_frames(spec, codes, **kw)
    return compare(spec, model_reference(model, spec, codes), hw), hw


def verify_frames(model, spec: AcceleratorSpec, codes: np.ndarray, chunk: int = 256, desc: str = "accelerator csim",
                  **kw) -> tuple[dict[str, Any], CsimResult, list[np.ndarray]]:
    """`verify` a chunk of frames at a time (the model's spike record of a whole test split
    would take GBs), with a progress bar: the summed check, the C simulation's results and
    the words of every kernel's input (for `accel_fifo.schedules`) over all frames. Stops at
    the first chunk whose frames the hardware did not close one for one."""
    from tqdm import tqdm

    check: dict[str, Any] = {"frames": 0, "class_mismatches": 0, "membrane_mismatches": 0, "bad_frames": 0,
                             "cycle_formula_mismatches": {}}
    parts: list[CsimResult] = []
    words: list[list[np.ndarray]] = []
    with tqdm(total=len(codes), unit="frame", desc=desc, disable=None, leave=False) as bar:
        for lo in range(0, len(codes), chunk):
            ref = model_reference(model, spec, codes[lo:lo + chunk])
            hw = run_frames(spec, codes[lo:lo + chunk], **kw)
            part = compare(spec, ref, hw)
            if "frames_out" in part:
                return {**part, "frames": check["frames"] + part["frames"], "ok": False}, hw, []
            for k in ("frames", "class_mismatches", "membrane_mismatches", "bad_frames"):
                check[k] += part[k]
            for k, v in part["cycle_formula_mismatches"].items():
                check["cycle_formula_mismatches"][k] = check["cycle_formula_mismatches"].get(k, 0) + v
            parts.append(hw)
            words.append(ref["words"])
            bar.update(part["frames"])
    check["ok"] = _exact(check)
    hw = CsimResult(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("classes", "bad", "membranes")),
                    {k: np.concatenate([p.iterations[k] for p in parts]) for k in parts[0].iterations})
    return check, hw, [np.concatenate(w) for w in zip(*words)]


def cycle_summary(spec: AcceleratorSpec, hw: CsimResult) -> dict[str, Any]:
    """Per-kernel and per-frame cycles (median, p99, worst over the frames): a frame takes about
    the slowest kernel's iterations when the FIFOs between them decouple the kernels."""
    it = hw.iterations
    frame = np.max(np.stack(list(it.values())), axis=0)
    stat = lambda a: {"median": float(np.median(a)), "p99": float(np.percentile(a, 99)), "worst": int(np.max(a))}  # noqa: E731
    return {"per_kernel": {k: stat(v) for k, v in it.items()}, "frame": stat(frame)}
