"""Accuracy of a trained SNN versus the bit width of its membrane state.

Takes a trained `snn` checkpoint and a RadioML-format file, and evaluates the test split with
the same integer weights and thresholds but every LIF/LI state narrowed to each width given
(saturating at +-2**(B-1), as the hardware would): post-training, no retraining. A width that
cannot hold a layer's threshold is skipped (the neuron could never fire). Also reports the
largest |membrane| reached, the quantity that decides how narrow the state can go. Prints a
Markdown table (overall accuracy, accuracy at SNR >= 6 dB).

    python bench/snn_state_bits.py CHECKPOINT DATA.h5 [--bits 24 16 12 10 8] [--frames 4096]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform

import numpy as np
import torch
from tqdm import tqdm

from toolchain.checkpoint import load_model
from toolchain.data.dataset import RadioMLDataset
from toolchain.snn.encoders import encode


def evaluate(model, ds: RadioMLDataset, frames: int, peak_too: bool, batch: int = 64) -> tuple[float, float, int]:
    """(overall accuracy, accuracy at SNR >= 6 dB, largest |membrane| of any layer if `peak_too`)."""
    rows = np.arange(min(frames, len(ds)))
    hits, high, peak = [], [], 0
    with torch.no_grad():
        for lo in tqdm(range(0, len(rows), batch), desc="frames", unit="batch", leave=False, disable=None):
            x, y, snr = ds.read(rows[lo: lo + batch])
            if peak_too:
                peak = max(peak, membrane_peak(model, encode(model.config, torch.from_numpy(x))))
            pred = model(torch.from_numpy(x)).argmax(1).numpy()
            hits.append(pred == y)
            high.append(snr >= 6)
    hit, hi = np.concatenate(hits), np.concatenate(high)
    return float(hit.mean()), float(hit[hi].mean()), peak


def membrane_peak(model, spikes: torch.Tensor) -> int:
    """Largest |v| any layer reaches at any step with an unbounded (32-bit) state: the width a
    state needs to never saturate on these frames."""
    layers = model.layers
    saved = [layer.params for layer in layers]
    states: list = [None] * len(layers)
    peak = 0.0
    try:
        for layer in layers:
            layer.params = dataclasses.replace(layer.params, state_bits=32)
        for t in range(spikes.shape[1]):
            s = spikes[:, t]
            for i, layer in enumerate(layers):
                s, states[i] = layer.step(s.flatten(1) if i == len(layers) - 1 else s, states[i])
                peak = max(peak, float(states[i].v.abs().max()))
    finally:
        for layer, p in zip(layers, saved):
            layer.params = p
    return int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data")
    parser.add_argument("--bits", type=int, nargs="+", default=[24, 16, 12, 10, 8])
    parser.add_argument("--frames", type=int, default=4096, help="test frames evaluated (file order)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, _, _ = load_model(args.checkpoint)
    model.eval()
    test = RadioMLDataset.splits(args.data)["test"]
    print(f"# {args.checkpoint} on {args.data}: {min(args.frames, len(test))} test frames; "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
    print("| state bits | accuracy | accuracy SNR >= 6 dB |")
    print("|---:|---:|---:|")
    peak = None
    for bits in args.bits:
        hi = (1 << (bits - 1)) - 1
        theta = max(layer.params.threshold for layer in model.layers if not layer.readout)
        if theta > hi:
            print(f"| {bits} | (threshold {theta} does not fit) | |")
            continue
        for layer in model.layers:
            layer.params = dataclasses.replace(layer.params, state_bits=bits)
        acc, acc_hi, found = evaluate(model, test, args.frames, peak_too=peak is None)
        peak = found if peak is None else peak
        print(f"| {bits} | {100 * acc:.2f} % | {100 * acc_hi:.2f} % |")
    print(f"largest |membrane| with an unbounded state: {peak:,} (needs {peak.bit_length() + 1} bits)")


if __name__ == "__main__":
    main()
