"""RadioML 2018.01A-format HDF5 files: validation, (modulation, SNR) blocks, the official split.

The file layout: X (N, L, 2) float I/Q frames, Y (N, 24) one-hot labels, Z (N, 1) SNR in dB,
frames stored in contiguous (modulation, SNR) blocks. Only Y and Z are scanned here (in chunks),
never X, so opening the 20 GB real file costs a few seconds and little memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..errors import ToolchainError
from .classes import CLASSES, NUM_CLASSES

EXPECTED = "X (N, L, 2) float I/Q, Y (N, 24) one-hot, Z (N, 1) SNR"
OFFICIAL_SEED = 2018  # the challenge's split seed; never configurable
TEST_SHARE = 0.1  # ceil(0.1 * block) frames of every block go to test (410 of 4096)
SCAN_ROWS = 1 << 16  # rows of Y/Z read per h5py call while scanning


@dataclass(frozen=True)
class Block:
    """One contiguous run of frames sharing a modulation and an SNR."""

    start: int
    stop: int
    label: int  # index into CLASSES
    snr: float

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class RadioMLIndex:
    """What a scan of Y and Z learned about a file; enough to split it and label any frame."""

    path: Path
    num_frames: int
    frame_length: int
    x_dtype: str
    blocks: tuple[Block, ...]

    @property
    def snrs(self) -> list[float]:
        return sorted({b.snr for b in self.blocks})

    @property
    def labels_present(self) -> list[int]:
        return sorted({b.label for b in self.blocks})

    def block_starts(self) -> np.ndarray:
        return np.fromiter((b.start for b in self.blocks), dtype=np.int64, count=len(self.blocks))

    def labels_and_snrs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class index and SNR of each file row, from the block table (no file access)."""
        which = np.searchsorted(self.block_starts(), rows, side="right") - 1
        labels = np.fromiter((b.label for b in self.blocks), dtype=np.int64)[which]
        snrs = np.fromiter((b.snr for b in self.blocks), dtype=np.float64)[which]
        return labels, snrs


def open_h5(path: str | Path, **h5_options) -> h5py.File:
    """Open read-only, turning the ways a file can be unusable into one-line errors."""
    p = Path(path)
    if not p.exists():
        raise ToolchainError(f"{p}: no such file (expected a RadioML-format HDF5 file: {EXPECTED})")
    if not p.is_file():
        raise ToolchainError(f"{p}: not a file")
    try:
        return h5py.File(p, "r", **h5_options)
    except OSError as exc:
        reason = str(exc).split("(")[0].strip() or type(exc).__name__
        raise ToolchainError(f"{p}: not a readable HDF5 file, truncated or corrupt? ({reason})") from None


def scan(path: str | Path) -> RadioMLIndex:
    """Validate a RadioML-format file and derive its (modulation, SNR) blocks from Y and Z."""
    p = Path(path)
    with open_h5(p) as h5:
        x, y, z = (_dataset(h5, p, name) for name in ("X", "Y", "Z"))
        n = _check_shapes(p, x, y, z)
        blocks = _scan_blocks(p, y, z, n)
        return RadioMLIndex(p, n, int(x.shape[1]), str(x.dtype), blocks)


def _dataset(h5: h5py.File, path: Path, name: str) -> h5py.Dataset:
    obj = h5.get(name)
    if obj is None:
        raise ToolchainError(f"{path}: missing dataset '{name}' (expected {EXPECTED})")
    if not isinstance(obj, h5py.Dataset):
        raise ToolchainError(f"{path}: '{name}' is a group, expected a dataset ({EXPECTED})")
    return obj


def _check_shapes(path: Path, x: h5py.Dataset, y: h5py.Dataset, z: h5py.Dataset) -> int:
    if x.ndim != 3 or x.shape[2] != 2 or x.shape[1] < 1:
        raise ToolchainError(f"{path}: dataset 'X' has shape {x.shape}, expected (N, L, 2) I/Q frames")
    if x.dtype.kind != "f":
        raise ToolchainError(f"{path}: dataset 'X' has dtype {x.dtype}, expected a float type (float32)")
    n = x.shape[0]
    if n == 0:
        raise ToolchainError(f"{path}: dataset 'X' holds no frames")
    if y.shape != (n, NUM_CLASSES):
        raise ToolchainError(f"{path}: dataset 'Y' has shape {y.shape}, expected ({n}, {NUM_CLASSES}) one-hot")
    if z.shape not in ((n, 1), (n,)):
        raise ToolchainError(f"{path}: dataset 'Z' has shape {z.shape}, expected ({n}, 1) SNR values")
    for name, d in (("Y", y), ("Z", z)):
        if d.dtype.kind not in "iuf":
            raise ToolchainError(f"{path}: dataset '{name}' has dtype {d.dtype}, expected an integer or float type")
    return n


def _read_rows(path: Path, d: h5py.Dataset, lo: int, hi: int) -> np.ndarray:
    try:
        return d[lo:hi]
    except (OSError, RuntimeError) as exc:
        raise ToolchainError(f"{path}: cannot read '{d.name.lstrip('/')}' rows {lo}..{hi - 1}, truncated or corrupt? ({exc})") from None


def _scan_blocks(path: Path, y: h5py.Dataset, z: h5py.Dataset, n: int) -> tuple[Block, ...]:
    runs: list[list] = []  # [start, stop, label, snr], merged across chunk borders
    for lo in range(0, n, SCAN_ROWS):
        hi = min(n, lo + SCAN_ROWS)
        onehot = _read_rows(path, y, lo, hi)
        snr = _read_rows(path, z, lo, hi).reshape(-1).astype(np.float64)
        labels = _labels_from_onehot(path, onehot, lo)
        bad = ~np.isfinite(snr)
        if bad.any():
            raise ToolchainError(f"{path}: dataset 'Z' row {lo + int(np.argmax(bad))} is not a finite SNR")
        change = np.flatnonzero((labels[1:] != labels[:-1]) | (snr[1:] != snr[:-1])) + 1
        for s, e in zip(np.r_[0, change], np.r_[change, hi - lo]):
            lab, val = int(labels[s]), float(snr[s])
            if runs and runs[-1][1] == lo + s and runs[-1][2] == lab and runs[-1][3] == val:
                runs[-1][1] = lo + e
            else:
                runs.append([lo + int(s), lo + int(e), lab, val])
    seen: dict[tuple[int, float], list] = {}
    for run in runs:
        key = (run[2], run[3])
        if key in seen:
            first = seen[key]
            raise ToolchainError(
                f"{path}: frames of ({CLASSES[key[0]]}, {key[1]:g} dB) are not contiguous "
                f"(rows {first[0]}..{first[1] - 1} and {run[0]}..{run[1] - 1}); "
                "expected frames ordered in (modulation, SNR) blocks as in RadioML 2018.01A"
            )
        seen[key] = run
    return tuple(Block(*r) for r in runs)


def _labels_from_onehot(path: Path, onehot: np.ndarray, offset: int) -> np.ndarray:
    hot = onehot != 0
    ok = (hot.sum(axis=1) == 1) & np.all((onehot == 0) | (onehot == 1), axis=1)
    if not ok.all():
        row = offset + int(np.argmin(ok))
        raise ToolchainError(f"{path}: dataset 'Y' row {row} is not one-hot (expected a single 1 among {NUM_CLASSES} zeros)")
    return np.argmax(hot, axis=1)


# ------------------------------------------------------------------------------------ splits
def official_split(index: RadioMLIndex) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) file rows of the challenge split: seed 2018, per block in file order,
    shuffle the block's rows, first ceil(10 %) to test, the rest to train.

    A private RandomState reproduces the sequence of the original `np.random.seed(2018)` code
    without touching numpy's global state.
    """
    rng = np.random.RandomState(OFFICIAL_SEED)
    train, test = [], []
    for b in index.blocks:
        rows = np.arange(b.start, b.stop, dtype=np.int64)
        rng.shuffle(rows)
        k = int(math.ceil(TEST_SHARE * b.size))
        test.append(rows[:k])
        train.append(rows[k:])
    return np.concatenate(train), np.concatenate(test)


def make_splits(
    index: RadioMLIndex,
    val_fraction: float = 0.0,
    val_seed: int = 0,
    train_snrs: list[float] | None = None,
    classes: list[str] | None = None,
    require_train: bool = True,
) -> dict[str, np.ndarray]:
    """Sorted file rows of 'train', 'val' and 'test'.

    'val' is carved per block from the official train part, so test never changes. The SNR
    filter applies to train and val only (test always has every SNR); the class filter
    applies to all three. `require_train=False` (evaluation) accepts an empty train part, as
    in a file of a few frames per block, where the official split puts them all into test.
    """
    train, test = official_split(index)
    labels_tr, snr_tr = index.labels_and_snrs(train)
    labels_te, _ = index.labels_and_snrs(test)
    keep_tr = np.ones(train.size, dtype=bool)
    keep_te = np.ones(test.size, dtype=bool)
    if classes is not None:
        wanted = [CLASSES.index(c) for c in classes]
        missing = sorted(set(wanted) - set(index.labels_present))
        if missing:
            raise ToolchainError(f"data.classes: {CLASSES[missing[0]]} has no frames in {index.path}")
        keep_tr &= np.isin(labels_tr, wanted)
        keep_te &= np.isin(labels_te, wanted)
    if train_snrs is not None:
        absent = sorted(set(float(s) for s in train_snrs) - set(index.snrs))
        if absent:
            raise ToolchainError(
                f"data.train_snrs: {absent[0]:g} dB is not in {index.path} (it has {_grid(index.snrs)})"
            )
        keep_tr &= np.isin(snr_tr, np.asarray(train_snrs, dtype=np.float64))
    train, test = train[keep_tr], test[keep_te]
    val = _carve_val(index, train, val_fraction, val_seed)
    train = np.setdiff1d(train, val, assume_unique=True)
    if train.size == 0 and require_train:
        raise ToolchainError(f"{index.path}: the data filters leave no training frames")
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _carve_val(index: RadioMLIndex, train: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    if fraction <= 0.0 or train.size == 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    train = np.sort(train)
    which = np.searchsorted(index.block_starts(), train, side="right") - 1
    bounds = np.flatnonzero(np.diff(which)) + 1
    picks = []
    for rows in np.split(train, bounds):
        k = int(round(fraction * rows.size))
        picks.append(rng.choice(rows, size=k, replace=False) if k else rows[:0])
    return np.sort(np.concatenate(picks))


def _grid(snrs: list[float]) -> str:
    steps = set(np.diff(snrs).round(6)) if len(snrs) > 1 else set()
    if len(steps) == 1:
        return f"{snrs[0]:g}..{snrs[-1]:g} dB in {steps.pop():g} dB steps"
    return ", ".join(f"{s:g}" for s in snrs) + " dB"
