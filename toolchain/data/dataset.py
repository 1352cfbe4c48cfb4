"""PyTorch access to a RadioML-format file: lazy per-process handle, batched contiguous reads.

A batch is read with one h5py call per contiguous span of rows instead of one call per frame;
`ContiguousBatchSampler` makes shuffled batches out of short contiguous runs so that spans are
long. Memory does not grow with the file: only the row indices of the split are held.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ToolchainError
from .classes import CLASSES
from .radioml import RadioMLIndex, make_splits, open_h5, scan
from .sampling import ContiguousBatchSampler

MAX_GAP = 64  # rows; a gap this small is cheaper to read through than to start a new h5py call
# Per open handle: holds a few compressed chunks so a span is decompressed once, and bounds
# memory whatever the file's size.
CHUNK_CACHE_BYTES = 32 << 20


class RadioMLDataset(Dataset):
    """One split of a RadioML-format file. Items are (iq (2, L) float32, label int64, snr float32),
    channels-first as the challenge models expect."""

    def __init__(self, index: RadioMLIndex, rows: np.ndarray, split: str = ""):
        self.index = index
        self.split = split
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels, snrs = index.labels_and_snrs(self.rows)
        self.blocks = np.searchsorted(index.block_starts(), self.rows, side="right") - 1  # (class, SNR) block
        self.snrs = snrs.astype(np.float32)
        self._h5: h5py.File | None = None
        self._x_ds: h5py.Dataset | None = None
        self._pid = -1

    @classmethod
    def splits(cls, path: str | Path, **filters) -> dict[str, "RadioMLDataset"]:
        """Scan the file once and return its train/val/test datasets (`filters`: see make_splits)."""
        index = scan(path)
        return {name: cls(index, rows, name) for name, rows in make_splits(index, **filters).items()}

    @classmethod
    def every_frame(cls, path: str | Path, classes: Sequence[str] | None = None) -> "RadioMLDataset":
        """Every frame of the file in file order (no split), optionally only the named classes."""
        index = scan(path)
        rows = np.arange(index.num_frames, dtype=np.int64)
        if classes is not None:
            labels, _ = index.labels_and_snrs(rows)
            rows = rows[np.isin(labels, [CLASSES.index(c) for c in classes])]
        return cls(index, rows, "all")

    def __len__(self) -> int:
        return int(self.rows.size)

    def __getstate__(self) -> dict:
        # An h5py handle cannot cross into DataLoader workers; each process opens its own.
        state = self.__dict__.copy()
        state["_h5"], state["_x_ds"], state["_pid"] = None, None, -1
        return state

    def _x(self) -> h5py.Dataset:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = open_h5(self.index.path, rdcc_nbytes=CHUNK_CACHE_BYTES)
            self._x_ds = self._h5["X"]  # looked up once: a lookup per read costs as much as the read
            self._pid = os.getpid()
        return self._x_ds

    def read(self, positions: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frames at dataset positions, in the given order: (x (B, 2, L), labels (B,), snrs (B,))."""
        pos = np.asarray(positions, dtype=np.int64)
        rows = self.rows[pos]
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        x = np.empty((rows.size, 2, self.index.frame_length), dtype=np.float32)
        breaks = np.flatnonzero(np.diff(sorted_rows) > MAX_GAP) + 1
        done = 0
        for span in np.split(sorted_rows, breaks):
            lo, hi = int(span[0]), int(span[-1]) + 1
            block = self._read_span(lo, hi)
            if span.size != hi - lo:  # gaps were read through; keep only the rows asked for
                block = block[span - lo]
            # One strided copy lands each frame channels-first at its requested position.
            x[order[done : done + span.size]] = block.transpose(0, 2, 1)
            done += span.size
        self._check_finite(x, rows)
        return x, self.labels[pos], self.snrs[pos]

    def _read_span(self, lo: int, hi: int) -> np.ndarray:
        try:
            return self._x()[lo:hi]
        except (OSError, RuntimeError) as exc:
            raise ToolchainError(
                f"{self.index.path}: cannot read 'X' rows {lo}..{hi - 1}, truncated or corrupt? ({exc})"
            ) from None

    def _check_finite(self, x: np.ndarray, rows: np.ndarray) -> None:
        # A float64 sum of float32 values cannot overflow, so it is finite iff every value is.
        bad = ~np.isfinite(x.sum(axis=(1, 2), dtype=np.float64))
        if bad.any():
            raise ToolchainError(
                f"{self.index.path}: frame {int(rows[np.argmax(bad)])} of 'X' holds NaN or Inf "
                f"({int(bad.sum())} bad frame(s) in this batch; `toolchain data check` lists them all)"
            )

    def __getitem__(self, i: int):
        x, y, s = self.read([i])
        return torch.from_numpy(x[0]), int(y[0]), float(s[0])

    def __getitems__(self, positions: list[int]) -> list[tuple]:
        # DataLoader calls this with a whole batch; one read serves all items of it.
        x, y, s = self.read(positions)
        xt = torch.from_numpy(x)
        return [(xt[k], int(y[k]), float(s[k])) for k in range(len(positions))]

    def loader(self, batch_size: int, shuffle: bool, seed: int = 0, num_workers: int = 0,
               run_length: int | None = None, rank: int = 0, world_size: int = 1, max_batches: int | None = None,
               pin_memory: bool = False) -> DataLoader:
        """Batches (x (B, 2, L) float32, labels (B,) int64, snrs (B,) float32), read whole; with
        world_size > 1, this rank's share (the same number of batches on every rank). Shuffled
        batches mix the file's (class, SNR) blocks (see ContiguousBatchSampler)."""
        sampler = ContiguousBatchSampler(len(self), batch_size, shuffle, seed, run_length, rank, world_size, max_batches,
                                         blocks=self.blocks)
        # batch_size=None: the sampler's index lists reach _Batches whole, so a batch is one
        # read and needs no per-item collation.
        return DataLoader(_Batches(self), sampler=sampler, batch_size=None, num_workers=num_workers,
                          persistent_workers=num_workers > 0, pin_memory=pin_memory)


class _Batches(Dataset):
    def __init__(self, ds: RadioMLDataset):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, positions: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, s = self.ds.read(positions)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(s)
