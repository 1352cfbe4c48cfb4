"""Cycle-by-cycle simulation of one streaming RTL kernel (Verilator) through `stream_tb.cpp`.

A kernel's `rtl.py` renders a small top module `stream_top` (clk, rst, s_tdata/s_tvalid/s_tready,
m_tdata/m_tvalid/m_tready, words of at most 64 bits) around its SystemVerilog, with the layer's
parameters and tables; `run` feeds it a word stream with random input gaps and output
back-pressure, and returns each output word with the cycle it left, and the counters the
testbench saw (so a test can assert that gaps and stalls happened). With `wave`, a VCD of a cycle
window is written (a failing frame's).
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
MAX_WORD_BITS = 64


@dataclass
class StreamRun:
    words: np.ndarray  # uint64 output words, in order
    cycles_out: np.ndarray  # the cycle each left
    counters: dict[str, int]  # cycles, frames, consumed, in_gaps, out_stalls, in_blocked


def build(sources: Sequence[Path], top_text: str, work_dir: Path, *, fatal_warnings: bool = True,
          cache_dir: str | os.PathLike | None = None) -> Path:
    """Write the rendered top beside `work_dir` and build it with `sources` (cached by content)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    top = work_dir / f"{TOP}.sv"
    top.write_text(top_text)
    return verilator.build([*sources, top], TOP, TESTBENCH, trace=True, fatal_warnings=fatal_warnings,
                           cache_dir=cache_dir)


def run(exe: Path, words: np.ndarray, *, frame_bit: int, frames: int, seed: int = 0, gap_pct: int = 0,
        stall_pct: int = 0, max_cycles: int | None = None, wave: tuple[Path, int, int] | None = None) -> StreamRun:
    words = np.ascontiguousarray(np.asarray(words, dtype=np.uint64))
    limit = max_cycles if max_cycles is not None else 64 * (len(words) + 1000) * (1 + frames)
    with tempfile.TemporaryDirectory(prefix="rtl_stream_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        words.tofile(fin)
        args = [fin, fout, seed, gap_pct, stall_pct, frame_bit, frames, limit, *(wave or ())]
        res = verilator.run(exe, args, exe.name)
        out = np.fromfile(fout, dtype=np.uint64).reshape(-1, 2)
    fields = res.stdout.split()
    counters = {k: int(v) for k, v in zip(fields[0::2], fields[1::2]) if v.isdigit()}
    if counters.get("frames", 0) < frames:
        raise ToolchainError(f"RTL simulation ({exe.name}): {counters.get('frames', 0)} of {frames} frames came out "
                             f"within {limit} cycles (a kernel stalled or lost a frame word)")
    return StreamRun(out[:, 0], out[:, 1].astype(np.int64), counters)


def pack(fields: Sequence[tuple[np.ndarray | int, int]]) -> np.ndarray:
    """Words from (values, bits) fields, the first in the least significant bits."""
    out = np.uint64(0)
    shift = 0
    for values, bits in fields:
        v = np.asarray(values, dtype=np.int64).astype(np.uint64) & np.uint64((1 << bits) - 1)
        out = out | (v << np.uint64(shift))
        shift += bits
    if shift > MAX_WORD_BITS:
        raise ToolchainError(f"a stream word of {shift} bits: the RTL testbench takes at most {MAX_WORD_BITS}")
    return out


def field(words: np.ndarray, lo: int, bits: int) -> np.ndarray:
    """Bits [lo, lo + bits) of each word, as int64."""
    return ((np.asarray(words, dtype=np.uint64) >> np.uint64(lo)) & np.uint64((1 << bits) - 1)).astype(np.int64)
