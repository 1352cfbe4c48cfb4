"""Small RadioML-format files for tests, with each frame encoding its own row number
(X[r, t] = (r, t)) so a test can tell exactly which frames a reader returned."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from toolchain.data.classes import NUM_CLASSES


def write_radioml(path: Path, per_block: int = 8, snrs=(-10, 0, 10), labels=range(NUM_CLASSES),
                  length: int = 32, y_dtype="int64", z_dtype="int64", z_shape_2d: bool = True,
                  **dataset_kwargs) -> Path:
    """Blocks ordered (label, snr) like the real file. `dataset_kwargs` (chunks, compression,
    shuffle, ...) go to every h5py dataset so tests can vary the storage layout."""
    labels, snrs = list(labels), list(snrs)
    n = len(labels) * len(snrs) * per_block
    rows = np.arange(n)
    x = np.empty((n, length, 2), dtype=np.float32)
    x[:, :, 0] = rows[:, None]
    x[:, :, 1] = np.arange(length)[None, :]
    lab = np.repeat(labels, len(snrs) * per_block)
    snr = np.tile(np.repeat(snrs, per_block), len(labels))
    y = np.zeros((n, NUM_CLASSES), dtype=y_dtype)
    y[rows, lab] = 1
    z = snr.astype(z_dtype).reshape(-1, 1) if z_shape_2d else snr.astype(z_dtype)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("X", data=x, **dataset_kwargs)
        h5.create_dataset("Y", data=y, **dataset_kwargs)
        h5.create_dataset("Z", data=z, **dataset_kwargs)
    return path


def expected_label(path: Path, row: int) -> int:
    with h5py.File(path, "r") as h5:
        return int(np.argmax(h5["Y"][row]))
