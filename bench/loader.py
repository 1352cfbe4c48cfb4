"""Training-loader throughput: toolchain's batched reader vs the challenge's per-item reader.

The reference is the loader of the ITU-ML5G-PS-007 sandbox (`radioml_18_dataset`): a Dataset
whose __getitem__ does one `h5['X'][idx]` per frame, drawn by a SubsetRandomSampler over the
official train rows. Both read the same synthetic file, batch 1024, shuffled, in one process
(and again with worker processes). Prints frames/s per loader and the speed-up.

    python bench/loader.py [--file FILE] [--frames-per-pair 64] [--batches 20] [--workers 0 2] [--repeat 5]

Each measurement is repeated, alternating reference and toolchain, and reported as median
(min..max) because shared machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, SubsetRandomSampler

from toolchain.config import SynthConfig
from toolchain.data.dataset import RadioMLDataset
from toolchain.data.radioml import official_split, scan
from toolchain.data.synth import generate


class PerItemReference(Dataset):
    """Reads like the challenge sandbox: labels in memory, one h5py call per frame."""

    def __init__(self, path: Path):
        self.path = path
        self.h5 = None
        with h5py.File(path, "r") as h5:
            self.mod = np.argmax(h5["Y"][:], axis=1)
            self.snr = h5["Z"][:, 0]
        self.len = self.mod.size

    def __getitem__(self, idx):
        if self.h5 is None:  # the original opened in __init__; reopen per worker to allow workers
            self.h5 = h5py.File(self.path, "r")
        return self.h5["X"][idx].transpose(), self.mod[idx], self.snr[idx]

    def __len__(self):
        return self.len


def throughput(loader, batches: int) -> float:
    it = iter(loader)
    next(it)  # warm-up: worker start, file open, first chunk reads
    n, t0 = 0, time.perf_counter()
    for _ in range(batches):
        x = next(it)[0]
        n += x.shape[0]
    return n / (time.perf_counter() - t0)


def spread(values: list[float], fmt: str = ",.0f") -> str:
    v = sorted(values)
    return f"{format(statistics.median(v), fmt)} ({format(v[0], fmt)}..{format(v[-1], fmt)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, help="RadioML-format file (default: generate one in a temp dir)")
    ap.add_argument("--frames-per-pair", type=int, default=64)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--repeat", type=int, default=5, help="alternating measurements per loader")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or generate(Path(tmp) / "bench.h5", SynthConfig(frames_per_pair=args.frames_per_pair), progress=False)
        train_rows, _ = official_split(scan(path))
        print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB), {train_rows.size} train frames, "
              f"batch {args.batch_size}, {args.batches} batches timed")
        ours = RadioMLDataset.splits(path)["train"]
        print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
              f"python {platform.python_version()}, torch {torch.__version__}, h5py {h5py.__version__}")
        for workers in args.workers:
            ref, new = [], []
            for r in range(args.repeat):
                ref_loader = DataLoader(PerItemReference(path), batch_size=args.batch_size, num_workers=workers,
                                        sampler=SubsetRandomSampler(train_rows.tolist()))
                our_loader = ours.loader(args.batch_size, shuffle=True, seed=r, num_workers=workers)
                ref.append(throughput(ref_loader, args.batches))
                new.append(throughput(our_loader, args.batches))
            ratio = [b / a for a, b in zip(ref, new)]
            print(f"workers={workers}: reference {spread(ref)} frames/s | toolchain {spread(new)} frames/s | "
                  f"speed-up {spread(ratio, '.1f')}x")


if __name__ == "__main__":
    main()
