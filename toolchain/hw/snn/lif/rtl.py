"""The LIF update in RTL (`lif_neuron.sv`): its parameters from an op's attributes, its Verilator
simulation on vectors, and the check against toolchain/snn/lif.py.

`generics(params, cur_bits, readout)` maps `LIFParams` (the ops' node attributes state_bits,
leak_shift, threshold, reset, refractory) to the module's parameters, with a one-line error for
what the module cannot take, before anything is built. `simulate` runs the module on rows of
(current, membrane, refractory count) through `lif_neuron_tb.cpp`; `check` compares it with
`lif_step` / `li_step` on the same rows and, where they differ, dumps a waveform of the first
failing rows (VCD) into `wave_dir`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ....errors import ToolchainError
from ....snn.lif import LIFParams, LIFState, li_step, lif_step
from ...rtl import verilator

SOURCE = Path(__file__).with_name("lif_neuron.sv")
TESTBENCH = Path(__file__).with_name("lif_neuron_tb.cpp")
TOP = "lif_neuron"
MAX_BITS = 32  # state and current widths: the testbench's int64 rows and lif.py's int64 sums
# LUT levels (Yosys, synthesized) the update may take: at the assumed 250 MHz (4 ns) a kernel's
# read-modify-write has the memory read, this update and the write in one cycle, so the update
# keeps to a handful of LUTs beside its carry chains. A budget, not a timing result: nothing here
# checks timing (no Vivado).
LUT_LEVEL_BUDGET = 6


def generics(params: LIFParams, cur_bits: int, readout: bool = False, what: str = "LIF") -> dict[str, int]:
    """The module's parameters; `what` names the layer in the error of a value it cannot take."""
    if not 1 <= cur_bits <= MAX_BITS:
        raise ToolchainError(f"{what}: the RTL LIF update takes currents of 1..{MAX_BITS} bits, got {cur_bits}")
    if not 2 <= params.state_bits <= MAX_BITS:
        raise ToolchainError(f"{what}: the RTL LIF update takes state_bits 2..{MAX_BITS}, got {params.state_bits}")
    if not readout and params.threshold > params.hi:
        raise ToolchainError(f"{what}: threshold {params.threshold} does not fit a {params.state_bits}-bit state "
                             f"(at most {params.hi})")
    return {"STATE_BITS": params.state_bits, "CUR_BITS": cur_bits, "LEAK_SHIFT": params.leak_shift,
            "THRESHOLD": params.threshold, "RESET_ZERO": int(params.reset == "zero"),
            "REFRACTORY": 0 if readout else params.refractory, "READOUT": int(readout)}


def build(params: LIFParams, cur_bits: int, readout: bool = False, *, source: Path = SOURCE,
          fatal_warnings: bool = True, cache_dir: str | os.PathLike | None = None) -> Path:
    """The testbench executable for this configuration (traceable), cached by its inputs."""
    return verilator.build([source], TOP, TESTBENCH, params=generics(params, cur_bits, readout), trace=True,
                           defines={"STATE_BITS": params.state_bits}, fatal_warnings=fatal_warnings,
                           cache_dir=cache_dir)


def simulate(exe: Path, cur: np.ndarray, v: np.ndarray, r: np.ndarray,
             wave: tuple[Path, int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v_next, r_next, spike) of the module for each row; `wave` = (vcd path, first, last row)."""
    rows = np.stack([np.asarray(cur, np.int64), np.asarray(v, np.int64), np.asarray(r, np.int64)], 1)
    with tempfile.TemporaryDirectory(prefix="lif_rtl_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        np.ascontiguousarray(rows).tofile(fin)
        args = [fin, fout, *((wave[0], wave[1], wave[2]) if wave else ())]
        verilator.run(exe, args, "the LIF update (lif_neuron.sv)")
        out = np.fromfile(fout, np.int64).reshape(-1, 3)
    return out[:, 0], out[:, 1], out[:, 2]


def reference(cur: np.ndarray, v: np.ndarray, r: np.ndarray, params: LIFParams,
              readout: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """toolchain/snn/lif.py on the same rows: (v', r', spike)."""
    cur, v, r = (np.asarray(x, np.int64) for x in (cur, v, r))
    if readout:
        return li_step(cur, v, params), np.zeros_like(r), np.zeros_like(r)
    s, state = lif_step(cur, LIFState(v, r), params)
    return state.v, state.refractory if params.refractory else np.zeros_like(r), s


def vectors(params: LIFParams, cur_bits: int, n_random: int, seed: int = 0,
            readout: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge rows (every combination of extreme and threshold-adjacent membranes, extreme and
    small currents, each refractory count) then `n_random` uniform rows over the whole range."""
    lo, hi, th = params.lo, params.hi, params.threshold
    clo, chi = -(1 << (cur_bits - 1)), (1 << (cur_bits - 1)) - 1
    vs = {lo, lo + 1, -1, 0, 1, hi - 1, hi}
    if not readout:
        vs |= {th - 2, th - 1, th, th + 1}
    vs = sorted(x for x in vs if lo <= x <= hi)
    cs = sorted({x for x in (clo, clo + 1, -1, 0, 1, chi - 1, chi) if clo <= x <= chi})
    rmax = 0 if readout else params.refractory
    rs = sorted({0, 1, rmax} & set(range(rmax + 1)))
    grid = np.array([(c, x, q) for x in vs for c in cs for q in rs], np.int64).reshape(-1, 3)
    # v1 + I landing exactly on the threshold: the compare's edge, for every refractory count.
    k = params.leak_shift
    hit = [(th - (x - (x >> k) if k else x), x, q) for x in vs for q in rs]
    hit = np.array([h for h in hit if clo <= h[0] <= chi], np.int64).reshape(-1, 3)
    rng = np.random.default_rng(seed)
    rand = np.stack([rng.integers(clo, chi, n_random, endpoint=True), rng.integers(lo, hi, n_random, endpoint=True),
                     rng.integers(0, rmax, n_random, endpoint=True)], 1)
    rows = np.concatenate([grid, hit, rand])
    return rows[:, 0], rows[:, 1], rows[:, 2]


@dataclass
class CheckResult:
    rows: int
    mismatches: int
    first: int  # index of the first differing row, -1 if none
    wave: Path | None  # the VCD of the rows around it

    @property
    def ok(self) -> bool:
        return self.mismatches == 0


def check(exe: Path, params: LIFParams, cur_bits: int, cur: np.ndarray, v: np.ndarray, r: np.ndarray,
          readout: bool = False, wave_dir: Path | None = None) -> CheckResult:
    """The module against lif.py on every row; a VCD of the first mismatch in `wave_dir`."""
    got = simulate(exe, cur, v, r)
    want = reference(cur, v, r, params, readout)
    bad = np.zeros(len(cur), bool)
    for g, w in zip(got, want):
        bad |= g != w
    idx = np.flatnonzero(bad)
    wave = None
    if idx.size and wave_dir is not None:
        first = int(idx[0])
        Path(wave_dir).mkdir(parents=True, exist_ok=True)
        wave = Path(wave_dir) / f"lif_neuron_row{first}.vcd"
        lo = max(first - 2, 0)
        simulate(exe, cur[lo:first + 3], v[lo:first + 3], r[lo:first + 3], (wave, 0, first + 2 - lo))
    return CheckResult(len(cur), int(idx.size), int(idx[0]) if idx.size else -1, wave)

