"""Training-loader throughput: toolchain's batched reader vs the challenge's per-item reader.

The reference is the loader of the ITU-ML5G-PS-007 sandbox (`radioml_18_dataset`): a Dataset
whose __getitem__ does one `h5['X'][idx]` per frame, drawn by a SubsetRandomSampler over the
official train rows. Both read the same synthetic file, shuffled, at each batch size given, in
one process (and again with worker processes), ours with its default run length. Prints
frames/s per loader, the speed-up and the (class, SNR) blocks a batch of ours draws from (the
reference's random frames meet nearly as many blocks as frames).

    python bench/loader.py [--file FILE] [--frames-per-pair 64] [--batches 20] [--batch-size 1024 128]
                           [--workers 0 2] [--repeat 5]

A file with few frames per block makes random rows close together, so that reads merge; the
real file's 4096 frames per block do not: give --frames-per-pair 512 (2.6 GB) for that case.

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


def throughput(loader, batches: int) -> tuple[float, list[int]]:
    """(frames/s, distinct (class, SNR) blocks of each timed batch)."""
    it = iter(loader)
    next(it)  # warm-up: worker start, file open, first chunk reads
    n, blocks, t0 = 0, [], time.perf_counter()
    for _ in range(batches):
        _, y, snr = next(it)
        n += y.shape[0]
        blocks.append(y * 1000 + snr.long())
    seconds = time.perf_counter() - t0
    return n / seconds, [len(set(b.tolist())) for b in blocks]


def spread(values: list[float], fmt: str = ",.0f") -> str:
    v = sorted(values)
    return f"{format(statistics.median(v), fmt)} ({format(v[0], fmt)}..{format(v[-1], fmt)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, help="RadioML-format file (default: generate one in a temp dir)")
    ap.add_argument("--frames-per-pair", type=int, default=64)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, nargs="+", default=[1024, 128])
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--repeat", type=int, default=5, help="alternating measurements per loader")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or generate(Path(tmp) / "bench.h5", SynthConfig(frames_per_pair=args.frames_per_pair), progress=False)
        train_rows, _ = official_split(scan(path))
        print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB), {train_rows.size} train frames, "
              f"{args.batches} batches timed")
        ours = RadioMLDataset.splits(path)["train"]
        print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
              f"python {platform.python_version()}, torch {torch.__version__}, h5py {h5py.__version__}")
        for batch in args.batch_size:
            for workers in args.workers:
                ref, new, blocks = [], [], []
                for r in range(args.repeat):
                    ref_loader = DataLoader(PerItemReference(path), batch_size=batch, num_workers=workers,
                                            sampler=SubsetRandomSampler(train_rows.tolist()))
                    our_loader = ours.loader(batch, shuffle=True, seed=r, num_workers=workers)
                    ref.append(throughput(ref_loader, args.batches)[0])
                    rate, b = throughput(our_loader, args.batches)
                    new.append(rate)
                    blocks += b
                ratio = [b / a for a, b in zip(ref, new)]
                print(f"batch {batch} (runs of {our_loader.sampler.run_length}), workers={workers}: reference "
                      f"{spread(ref)} frames/s | toolchain {spread(new)} frames/s | speed-up {spread(ratio, '.1f')}x "
                      f"| blocks per batch: min {min(blocks)}, median {statistics.median(blocks):.0f}", flush=True)

if __name__ == "__main__":
    main()
