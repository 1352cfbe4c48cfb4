"""Cycle-by-cycle simulation of one streaming RTL kernel (Verilator) through `stream_tb.cpp`.

A kernel's `rtl.py` renders a small top module `stream_top` (clk, rst, s_tdata/s_tvalid/s_tready,
m_tdata/m_tvalid/m_tready, words of any width) around its SystemVerilog, with the layer's
parameters and tables; `run` feeds it a word stream with random input gaps and output
back-pressure, and returns each output word with the cycle it left, and the counters the
testbench saw (so a test can assert that gaps and stalls happened). With `wave`, a VCD of a cycle
window is written (a failing frame's).

Words: a word of at most 64 bits is one uint64; a wider one is a row of 64-bit limbs, least
significant first (`words` of shape (n, limbs)). `pack` and `to_words` make either, `field`
reads both; `run` returns the output words in the form of the top's m_tdata.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ToolchainError
from . import verilator

TESTBENCH = Path(__file__).with_name("stream_tb.cpp")
TOP = "stream_top"


@dataclass
class StreamRun:
    words: np.ndarray  # output words in order: uint64 (n,), or (n, limbs) for words over 64 bits
    cycles_out: np.ndarray  # the cycle each left
    counters: dict[str, int]  # cycles, frames, consumed, in_gaps, out_stalls, in_blocked, probes, in_limbs, out_limbs


def build(sources: Sequence[Path], top_text: str, work_dir: Path, *, fatal_warnings: bool = True,
          cache_dir: str | os.PathLike | None = None, probes: bool = False, fast: bool = False) -> Path:
    """Write the rendered top beside `work_dir` and build it with `sources` (cached by content).
    `probes`: the top has an output `probes` the testbench ORs over the run (counters["probes"]).
    `fast`: an optimised model for runs of millions of cycles (verilator.build)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    top = work_dir / f"{TOP}.sv"
    top.write_text(top_text)
    return verilator.build([*sources, top], TOP, TESTBENCH, trace=True, fatal_warnings=fatal_warnings,
                           cache_dir=cache_dir, defines={"STREAM_PROBES": int(probes)}, fast=fast)


def run(exe: Path, words: np.ndarray, *, frame_bit: int, frames: int, seed: int = 0, gap_pct: int = 0,
        stall_pct: int = 0, max_cycles: int | None = None, wave: tuple[Path, int, int] | None = None,
        cwd: str | os.PathLike | None = None) -> StreamRun:
    """`cwd`: the folder the simulation runs in, where the design's $readmemh files are."""
    words = np.ascontiguousarray(np.asarray(words, dtype=np.uint64))
    in_limbs = 1 if words.ndim == 1 else words.shape[1]
    limit = max_cycles if max_cycles is not None else 64 * (len(words) + 1000) * (1 + frames)
    with tempfile.TemporaryDirectory(prefix="rtl_stream_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        words.tofile(fin)
        args = [fin, fout, in_limbs, seed, gap_pct, stall_pct, frame_bit, frames, limit, *(wave or ())]
        res = verilator.run(exe, args, exe.name, cwd=cwd)
        raw = np.fromfile(fout, dtype=np.uint64)
    fields = res.stdout.split()
    counters = {k: int(v) for k, v in zip(fields[0::2], fields[1::2]) if v.isdigit()}
    out_limbs = counters["out_limbs"]
    out = raw.reshape(-1, out_limbs + 1)
    if counters.get("frames", 0) < frames:
        raise ToolchainError(f"RTL simulation ({exe.name}): {counters.get('frames', 0)} of {frames} frames came out "
                             f"within {limit} cycles (a kernel stalled or lost a frame word)")
    got = out[:, 0] if out_limbs == 1 else out[:, :out_limbs]
    return StreamRun(got, out[:, out_limbs].astype(np.int64), counters)


def limbs(bits: int) -> int:
    return max(1, -(-bits // 64))


def to_words(values: Sequence[int], bits: int) -> np.ndarray:
    """Python integers as stream words of `bits` bits: uint64 (n,) up to 64 bits, else (n, limbs)."""
    n = limbs(bits)
    if n == 1:
        return np.array([int(v) for v in values], dtype=np.uint64).reshape(-1)
    mask = (1 << 64) - 1
    return np.array([[(int(v) >> (64 * i)) & mask for i in range(n)] for v in values],
                    dtype=np.uint64).reshape(-1, n)


def pack(fields: Sequence[tuple[np.ndarray | int, int]]) -> np.ndarray:
    """Words from (values, bits) fields, the first in the least significant bits."""
    total = sum(bits for _, bits in fields)
    if total <= 64:
        out = np.uint64(0)
        shift = 0
        for values, bits in fields:
            v = np.asarray(values, dtype=np.int64).astype(np.uint64) & np.uint64((1 << bits) - 1)
            out = out | (v << np.uint64(shift))
            shift += bits
        return out
    cols = [np.atleast_1d(np.asarray(values, dtype=np.int64)) for values, _ in fields]
    n = max(len(c) for c in cols)
    ints = [0] * n
    shift = 0
    for c, (_, bits) in zip(cols, fields):
        c = np.broadcast_to(c, (n,))
        ints = [w | ((int(x) & ((1 << bits) - 1)) << shift) for w, x in zip(ints, c)]
        shift += bits
    return to_words(ints, total)


def field(words: np.ndarray, lo: int, bits: int) -> np.ndarray:
    """Bits [lo, lo + bits) of each word: int64 up to 63 bits, else Python integers (object)."""
    words = np.asarray(words, dtype=np.uint64)
    if words.ndim == 1 and lo + bits <= 64 and bits <= 63:
        return ((words >> np.uint64(lo)) & np.uint64((1 << bits) - 1)).astype(np.int64)
    rows = words.reshape(len(words), -1)
    mask = (1 << bits) - 1
    vals = [(sum(int(x) << (64 * i) for i, x in enumerate(r)) >> lo) & mask for r in rows]
    return np.array(vals, dtype=np.int64 if bits <= 63 else object)
