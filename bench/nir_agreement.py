"""How often Norse 1.1 and snnTorch 1.0, running an SNN checkpoint's exported NIR variants,
predict the integer model's class, and how fast they step.

    python bench/nir_agreement.py CKPT.pth DATA.h5 [--frames 1000] [--reset-zero]

Frames: the first N of the file's official test split, spread over its blocks (every k-th
frame), through the checkpoint's encoder. `--reset-zero` also measures the same weights with
reset to zero (the NIR-expressible reset) for a model trained with reset by subtraction.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from toolchain.checkpoint import load_model
from toolchain.data.dataset import RadioMLDataset
from toolchain.models import build_model
from toolchain.snn.encoders import encode
from toolchain.snn.nir_export import snn_to_nir
from toolchain.snn.nir_run import simulate


def measure(model, counts: np.ndarray, label: str) -> None:
    with torch.no_grad():
        v, spikes, _ = model.run(torch.from_numpy(counts))
    readout = spikes if spikes is not None else v
    expected = readout.numpy().argmax(1)
    for sim in ("norse", "snntorch"):
        t0 = time.perf_counter()
        got = simulate(sim, snn_to_nir(model, sim), counts, membrane=spikes is None).argmax(1)
        seconds = time.perf_counter() - t0
        print(f"{label}: {sim}: agreement {100 * np.mean(got == expected):.1f} % on {len(counts)} frames "
              f"({len(set(expected))} classes predicted by the integer model), "
              f"{len(counts) * counts.shape[1] / seconds:.0f} steps/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data")
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--reset-zero", action="store_true")
    args = parser.parse_args()
    model, cfg, _ = load_model(args.checkpoint)
    test = RadioMLDataset.splits(args.data, require_train=False)["test"]
    pick = np.linspace(0, len(test) - 1, min(args.frames, len(test))).astype(int)
    x, _, _ = test.read(pick)
    counts = encode(cfg, torch.from_numpy(x)).numpy().astype(np.float32)
    measure(model.eval(), counts, f"{args.checkpoint} (reset {cfg.snn_reset})")
    if args.reset_zero and cfg.snn_reset != "zero":
        zero_cfg = dataclasses.replace(cfg, snn_reset="zero")
        zero = build_model(zero_cfg)
        zero.load_state_dict(model.state_dict())
        measure(zero.eval(), counts, "same weights, reset to zero")


if __name__ == "__main__":
    main()
