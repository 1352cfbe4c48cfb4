"""Weight ROMs as $readmemh files, shared by the kernels that read them (the convs' per-bank
ROMs, the readout's ROM): files, not SystemVerilog parameters, because Verilator caps a number
at 65,536 bits, and Yosys and Vivado infer a ROM from an array initialised by $readmemh."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...atomic import atomic_path
from ...errors import ToolchainError


def hex_text(rows: np.ndarray, bits: int, what: str) -> str:
    """$readmemh text of `rows` (n, k) signed integers: one line per row, entry 0 in the least
    significant bits; a one-line error naming `what` where a value does not fit `bits`."""
    w = np.asarray(rows, dtype=np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if w.size and (w.min() < lo or w.max() > hi):
        raise ToolchainError(f"{what}: weights in [{w.min()}, {w.max()}] do not fit {bits} bits")
    w = (w & ((1 << bits) - 1)).reshape(len(w), -1)
    digits = -(-w.shape[1] * bits // 4)
    return "".join(f"{sum(int(x) << (k * bits) for k, x in enumerate(row)):0{digits}x}\n" for row in w)


def write_files(files: Mapping[str, str], folder: Path) -> list[Path]:
    """`files` (name -> text) in `folder`, each written whole, then renamed into place."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        with atomic_path(folder / name) as tmp:
            tmp.write_text(text)
        paths.append(folder / name)
    return paths
