"""Full-rate measurement of a streaming RTL design (Verilator) through `measure_tb.cpp`.

The design's measurement top `measure_top` (rendered by the caller: e.g. accel_measure.py around
the stitched SNN accelerator) has the stream ports of `stream.py`'s tops plus `marks`, up to 64
flags, and `values`, one 32-bit value per mark (a busy-cycle counter, a FIFO's highest
occupancy...). The testbench drives the input valid in every cycle while words remain and keeps
the output ready, and records (mark, cycle, value) in every cycle a mark is set; at the end every
value once more (`Measured.final`). Words are at most 64 bits.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ToolchainError
from . import verilator

TESTBENCH = Path(__file__).with_name("measure_tb.cpp")
TOP = "measure_top"
FINAL = 64  # records of the final values: mark FINAL + i


@dataclass
class Measured:
    marks: np.ndarray  # (records,) which mark
    cycles: np.ndarray  # (records,) the cycle it was set in
    values: np.ndarray  # (records,) its value then
    final: np.ndarray  # every value at the end of the run
    counters: dict[str, int]  # cycles, frames, consumed, in_blocked

    def at(self, mark: int) -> tuple[np.ndarray, np.ndarray]:
        """(cycles, values) of every record of `mark`, in order."""
        sel = self.marks == mark
        return self.cycles[sel], self.values[sel]


def build(sources: Sequence[Path], top_text: str, work_dir: Path, *, cache_dir: str | os.PathLike | None = None,
          fatal_warnings: bool = True, optimize: bool = True) -> Path:
    """Write the rendered measurement top into `work_dir` and build it with `sources` (cached by
    content); `optimize` (-O2) for a run of millions of cycles (a test split), not for a short one."""
    work_dir.mkdir(parents=True, exist_ok=True)
    top = work_dir / f"{TOP}.sv"
    top.write_text(top_text)
    return verilator.build([*sources, top], TOP, TESTBENCH, fatal_warnings=fatal_warnings, cache_dir=cache_dir,
                           fast=optimize)


def run(exe: Path, words: np.ndarray, *, frame_bit: int, frames: int, max_cycles: int,
        cwd: str | os.PathLike | None = None, desc: str | None = None) -> Measured:
    """Stream `words` (uint64, one per input word) at full rate until `frames` output words with
    `frame_bit` set have left; `cwd`: where the design's $readmemh files are; `desc`: a progress
    bar's label (frames out)."""
    from tqdm import tqdm

    words = np.ascontiguousarray(np.asarray(words, dtype=np.uint64).reshape(-1))
    with tempfile.TemporaryDirectory(prefix="rtl_measure_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        words.tofile(fin)
        cmd = [str(exe), *map(str, [fin, fout, frame_bit, frames, max_cycles])]
        err = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd) as proc, \
                tqdm(total=frames, unit="frame", desc=desc, disable=None if desc else True, leave=False) as bar:
            for line in proc.stderr:
                if line.startswith("frames "):
                    bar.update(int(line.split()[1]) - bar.n)
                else:
                    err.append(line.strip())
            stdout = proc.stdout.read()
        if proc.returncode != 0:
            why = (err or [stdout.strip() or proc.returncode])[0]
            raise ToolchainError(f"RTL measurement ({exe.name}) failed: {why}")
        rec = np.fromfile(fout, dtype=np.int64).reshape(-1, 3)
    fields = stdout.split()
    counters = {k: int(v) for k, v in zip(fields[0::2], fields[1::2]) if v.isdigit()}
    if counters.get("frames", 0) < frames:
        raise ToolchainError(f"RTL measurement ({exe.name}): {counters.get('frames', 0)} of {frames} frames came "
                             f"out within {max_cycles} cycles (a kernel stalled or lost a frame word)")
    live = rec[:, 0] < FINAL
    final = rec[~live]
    return Measured(rec[live, 0], rec[live, 1], rec[live, 2], final[np.argsort(final[:, 0]), 2], counters)
