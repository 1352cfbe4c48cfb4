"""FIFO depths between the event-driven kernels from a cycle-by-cycle model of their schedules.

The sequential C simulation runs one kernel after the other and cannot show how full a FIFO
gets. Here each kernel is the list of its II = 1 loop iterations over the frames, each marked
with whether it pops a word from its input FIFO and whether it pushes one into its output FIFO
(`schedules`, made from the words the model's own encoder cells and spikes make, the same
events the C simulation counts); the model (`fifo_model.cpp`, compiled with g++) then runs all
kernels concurrently, one iteration per kernel per cycle when its input word is there and its
output can take its word (FIFO latency one cycle), the encoder fed one sample per cycle whenever
it can take one. `fifo_depths` gives each FIFO the smallest depth (2, 8, 32, ...) that keeps
the frames' total cycles within 1 % of unbounded FIFOs, each alone, then the cheapest deepening
that keeps them so together.

The RTL schedule (`schedules(..., rtl=True)`) also carries the RTL kernels' timing
(`KernelTiming`: the encoder's output register, the conv's pipeline stages, output and skid
registers, its reset clear) and marks each frame's first encoder sample and the readout's class
word: `frame_times` predicts, cycle by cycle, when each frame's first sample is taken and its
class word leaves, the figures `accel_measure` measures in Verilator.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ....errors import ToolchainError
from .accelerator import AcceleratorSpec
from ...hls.gxx import compile_cached

LARGE = 1 << 16
MODEL = Path(__file__).with_name("fifo_model.cpp")
DIRECT, REGISTER, PIPELINE = 0, 1, 2  # how a kernel's push reaches its FIFO (fifo_model.cpp's modes)


@dataclass(frozen=True)
class KernelTiming:
    """How a kernel's pushes reach its output FIFO (fifo_model.cpp): DIRECT (the iteration writes
    the FIFO, waiting while it is full), REGISTER (an output register; every iteration waits while
    it is full and the FIFO too) or PIPELINE (`stages` register stages, then an output register
    and a skid register); `start`: the first cycle it may iterate (after reset)."""

    mode: int = DIRECT
    stages: int = 0
    start: int = 0


class Schedule(list):
    """Per kernel (encoder, convs, readout): (pop, push) 0/1 arrays over its iterations; `marks`
    per kernel the iterations whose cycles `frame_times` wants (or None), `timing` per kernel its
    `KernelTiming` (None: DIRECT throughout, the HLS loops' model)."""

    def __init__(self, kernels=(), marks=None, timing=None):
        super().__init__(kernels)
        self.marks = marks
        self.timing = timing


def rtl_timing(spec: AcceleratorSpec) -> list[KernelTiming]:
    """The RTL kernels' timing, from their modules' constants: the encoder's registered output
    (constellation_encoder.sv), each conv's pipeline (conv/rtl.py LATENCY: stages to its output
    register) and reset clear (`clear_cycles`), the readout's combinational input (its own
    pipeline's cycles are in its schedule: readout/rtl.py STEP_EXTRA_CYCLES)."""
    from .conv import rtl as conv_rtl

    return [KernelTiming(REGISTER), *(KernelTiming(PIPELINE, conv_rtl.LATENCY - 1, conv_rtl.clear_cycles(c))
                                      for c in spec.convs), KernelTiming(DIRECT)]


def conv_words(spikes: np.ndarray, sp: int) -> np.ndarray:
    """(n, T, C, H, W) 0/1 -> (n, T, groups) events of each sweep group (in sweep order)."""
    n, t, c, h, w = spikes.shape
    return spikes.reshape(n, t, c, h, w // sp, sp).sum((2, 5), dtype=np.int16).reshape(n, t, -1)


def _expand(counts: np.ndarray, *firsts: np.ndarray) -> list[np.ndarray]:
    """Items (in order) of `counts` iterations each -> per-iteration 0/1 flags (pop, push, mark),
    each set on an item's first iteration where its `firsts` array says so."""
    counts = counts.reshape(-1)
    first = np.cumsum(counts) - counts
    keep = counts > 0
    out = []
    for f in firsts:
        flag = np.zeros(int(counts.sum()), np.int8)
        flag[first[keep & f.reshape(-1)]] = 1
        out.append(flag)
    return out


def _sent(words: np.ndarray) -> np.ndarray:
    """The words a kernel sends: those with events, and each step's last (it carries STEP)."""
    sent = words > 0
    sent[..., -1] = True
    return sent


def input_iterations(spec: AcceleratorSpec, words: list[np.ndarray]) -> list[np.ndarray]:
    """Per conv and the readout: (n, T, words) event-loop iterations of each input word,
    max(1, ceil(events / events per cycle)) for a sent word, 0 for one not sent."""
    epcs = [1] * len(spec.convs) + [spec.dense.events_per_cycle]
    return [np.where(_sent(w), np.maximum(1, -(-w.astype(np.int64) // epc)), 0) for w, epc in zip(words, epcs)]


def schedules(spec: AcceleratorSpec, words: list[np.ndarray], rtl: bool = False) -> Schedule:
    """Per kernel (encoder, convs, readout): (pop, push) 0/1 arrays over its iterations. `words`
    (accel_verify.model_reference's): per encoder sample (n, T, group) 1 where its word carries
    an event (all but BINARY's repeats), then per conv (n, T, groups) each sweep word's events.
    `rtl`: the RTL readout's schedule (spiking_dense.sv, measured by accel_measure.py): its
    pipelines' drain cycles each step (readout/rtl.py STEP_EXTRA_CYCLES) and its NO + 1 output
    words after the FRAME word, where the HLS loops stream one class word; and the RTL kernels'
    timing (`rtl_timing`). Marked: each frame's first encoder iteration (its first sample) and
    the readout's class word (RTL: the first of its output packet; HLS: its FRAME iteration)."""
    from .readout.rtl import STEP_EXTRA_CYCLES

    n = len(words[0])
    last = np.ones((n, 1), bool)  # the FRAME word, one per frame
    # the encoder: one sample per iteration, a word for each sent sample, then FRAME
    enc_push = np.concatenate([_sent(words[0]).reshape(n, -1), last], 1)
    enc_mark = np.zeros(enc_push.shape, bool)
    enc_mark[:, 0] = True
    sched, marks = [(np.zeros(enc_push.size, np.int8), enc_push.reshape(-1).astype(np.int8))], [enc_mark.reshape(-1).astype(np.int8)]
    for k, (w, it) in enumerate(zip(words, input_iterations(spec, words))):
        conv = spec.convs[k] if k < len(spec.convs) else None
        sent = _sent(w)
        # per step: the input words' iterations, then the sweep (pushing the groups that
        # spike) or the readout's one-lane update of its neurons
        lif = spec.dense.outputs + (STEP_EXTRA_CYCLES if rtl else 0)  # the readout's update cycles a step
        outs = _sent(words[k + 1]) if conv is not None else np.zeros((n, spec.steps, lif), bool)
        counts = np.concatenate([it, np.ones(outs.shape, np.int64)], 2).reshape(n, -1)
        pop_first = np.concatenate([sent, np.zeros(outs.shape, bool)], 2).reshape(n, -1)
        push_first = np.concatenate([np.zeros(sent.shape, bool), outs], 2).reshape(n, -1)
        # FRAME in, and passed on by a conv; the RTL readout's output packet after it
        tail = np.full((n, 1), spec.dense.outputs + 1 if rtl and conv is None else 0, np.int64)
        none = np.zeros((n, 1), bool)
        readout = conv is None
        mark = np.concatenate([np.zeros(counts.shape, bool), last & readout & (not rtl), last & readout & rtl], 1)
        pop, push, marked = _expand(np.concatenate([counts, np.ones((n, 1), np.int64), tail], 1),
                                    np.concatenate([pop_first, last, none], 1),
                                    np.concatenate([push_first, last & (conv is not None), none], 1), mark)
        sched.append((pop, push))
        marks.append(marked)
    return Schedule(sched, marks, rtl_timing(spec) if rtl else None)


def _model_exe(cache_dir: Optional[os.PathLike]) -> Path:
    return compile_cached(MODEL.read_text(), [], "fifo_model", "the FIFO model", cache_dir)


def _timing_args(sched: Schedule) -> list[str]:
    timing = getattr(sched, "timing", None) or [KernelTiming()] * len(sched)
    return [str(v) for tm in timing for v in (tm.mode, tm.stages, tm.start)]


def simulate_many(sched: Schedule, depth_sets: list[list[int]], cache_dir: Optional[os.PathLike] = None,
                  marked: Optional[int] = None) -> list[tuple[int, list[int]]]:
    """Per set of FIFO depths: (cycles until every kernel has finished, the most words each FIFO held);
    for the run of index `marked`, also the cycles of the marked iterations (see `frame_times`)."""
    marks = getattr(sched, "marks", None)
    flags = np.concatenate([pop | (push << 1) | ((marks[k] << 2) if marks is not None and marked is not None else 0)
                            for k, (pop, push) in enumerate(sched)]).astype(np.uint8)
    with tempfile.TemporaryDirectory(prefix="fifo_model_") as tmp:
        path, mpath = Path(tmp) / "schedule.bin", Path(tmp) / "marks.bin"
        flags.tofile(path)
        cmd = [str(_model_exe(cache_dir)), str(path), str(mpath), str(len(sched)),
               *(str(len(p)) for p, _ in sched), *_timing_args(sched)]
        lines = [("m " if i == marked else "") + " ".join(map(str, d)) + "\n" for i, d in enumerate(depth_sets)]
        res = subprocess.run(cmd, input="".join(lines), capture_output=True, text=True)
        if res.returncode != 0:
            raise ToolchainError(f"FIFO model failed: {res.stderr.strip() or res.returncode}")
        rec = np.fromfile(mpath, dtype=np.int64).reshape(-1, 2) if mpath.exists() else np.zeros((0, 2), np.int64)
    rows = [list(map(int, line.split())) for line in res.stdout.splitlines()]
    out = [(r[0], r[1:]) for r in rows]
    if marked is not None:
        out[marked] = (*out[marked], rec)
    return out


def simulate(sched: Schedule, depths: list[int], cache_dir: Optional[os.PathLike] = None) -> tuple[int, list[int]]:
    return simulate_many(sched, [depths], cache_dir)[0]


def frame_times(sched: Schedule, depths: list[int], cache_dir: Optional[os.PathLike] = None) -> dict[str, Any]:
    """The model's run at `depths` with, per frame, the cycle its first sample is taken (`first_in`)
    and the cycle its class word leaves (`class_out`): accel_measure's FIRST_IN and CLASS_OUT."""
    cycles, peaks, rec = simulate_many(sched, [depths], cache_dir, marked=0)[0]
    return {"cycles": cycles, "peaks": peaks, "first_in": rec[rec[:, 0] == 0, 1],
            "class_out": rec[rec[:, 0] == len(sched) - 1, 1]}


def fifo_depths(sched: Schedule, tolerance: float = 0.01, cache_dir: Optional[os.PathLike] = None,
                widths: Optional[list[int]] = None) -> dict[str, Any]:
    """The smallest depth of 2, 8, 32, ... per FIFO (the others unbounded) within `tolerance` of
    the unbounded total; where these together are not, the cheapest deepening that is (storage:
    depth x `widths`, 1 bit a word if not given); also the unbounded run's cycles and peaks."""
    nf = len(sched) - 1
    sizes = [4 ** i * 2 for i in range(8)]  # 2 ... 32,768 (< LARGE)
    trials = [[LARGE] * nf] + [[d if j == k else LARGE for j in range(nf)] for k in range(nf) for d in sizes]
    runs = simulate_many(sched, trials, cache_dir)
    free_cycles, peaks = runs[0]
    depths = []
    for k in range(nf):
        mine = runs[1 + k * len(sizes):]
        fits = [d for d, (cycles, _) in zip(sizes, mine) if cycles <= free_cycles * (1 + tolerance)]
        depths.append(fits[0] if fits else LARGE)
    together, _ = simulate(sched, depths, cache_dir)
    # each FIFO within the tolerance alone does not make them so together (a full shallow FIFO
    # stalls the kernel before it, whose own FIFO then fills): try each one 1, 4 or 16 times
    # deeper and keep the fitting set of least storage (none fits: the fastest, and again)
    cost = lambda ds: sum(d * w for d, w in zip(ds, widths or [1] * nf))  # noqa: E731
    while together > free_cycles * (1 + tolerance):
        tries = [list(t) for t in itertools.product(*([d * m for m in (1, 4, 16) if d * m <= sizes[-1]] or [d]
                                                      for d in depths))][1:]
        if not tries:
            break
        runs = [(cycles, t) for t, (cycles, _) in zip(tries, simulate_many(sched, tries, cache_dir))]
        fitting = [(cost(t), cycles, t) for cycles, t in runs if cycles <= free_cycles * (1 + tolerance)]
        together, depths = min(fitting)[1:] if fitting else min(runs)
    return {"depths": depths, "cycles_unbounded": free_cycles, "cycles_with_depths": together, "peaks": peaks}
