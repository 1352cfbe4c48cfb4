"""FIFO depths between the event-driven kernels from a cycle-by-cycle model of their schedules.

The sequential C simulation runs one kernel after the other and cannot show how full a FIFO
gets. Here each kernel is the list of its II = 1 loop iterations over the frames, each marked
with whether it pops a word from its input FIFO and whether it pushes one into its output FIFO
(`schedules`, made from the words the model's own encoder cells and spikes make, the same
events the C simulation counts); the model (`fifo_model.cpp`, compiled with g++) then runs all
kernels concurrently, one iteration per kernel per cycle when its input word is there and its
output FIFO has room (FIFO latency one cycle), the encoder fed one sample per cycle whenever
it can take one. `fifo_depths` gives each FIFO the smallest depth (2, 8, 32, ...) that keeps
the frames' total cycles within 1 % of unbounded FIFOs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ....errors import ToolchainError
from .accelerator import AcceleratorSpec
from ...hls.gxx import compile_cached

LARGE = 1 << 16
MODEL = Path(__file__).with_name("fifo_model.cpp")
Schedule = list[tuple[np.ndarray, np.ndarray]]


def conv_words(spikes: np.ndarray, sp: int) -> np.ndarray:
    """(n, T, C, H, W) 0/1 -> (n, T, groups) events of each sweep group (in sweep order)."""
    n, t, c, h, w = spikes.shape
    return spikes.reshape(n, t, c, h, w // sp, sp).sum((2, 5), dtype=np.int16).reshape(n, t, -1)


def _expand(counts: np.ndarray, pop_first: np.ndarray, push_first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items (in order) of `counts` iterations each -> per-iteration pop and push flags, set on
    an item's first iteration where `pop_first` / `push_first` say so."""
    counts, pop_first, push_first = counts.reshape(-1), pop_first.reshape(-1), push_first.reshape(-1)
    first = np.cumsum(counts) - counts
    pop, push = np.zeros(int(counts.sum()), np.int8), np.zeros(int(counts.sum()), np.int8)
    keep = counts > 0
    pop[first[keep & pop_first]] = 1
    push[first[keep & push_first]] = 1
    return pop, push


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
    words after the FRAME word, where the HLS loops stream one class word."""
    from .readout.rtl import STEP_EXTRA_CYCLES

    n = len(words[0])
    last = np.ones((n, 1), bool)  # the FRAME word, one per frame
    # the encoder: one sample per iteration, a word for each sent sample, then FRAME
    enc_push = np.concatenate([_sent(words[0]).reshape(n, -1), last], 1)
    sched = [(np.zeros(enc_push.size, np.int8), enc_push.reshape(-1).astype(np.int8))]
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
        sched.append(_expand(np.concatenate([counts, np.ones((n, 1), np.int64), tail], 1),
                             np.concatenate([pop_first, last, none], 1),
                             np.concatenate([push_first, last & (conv is not None), none], 1)))
    return sched


def _model_exe(cache_dir: Optional[os.PathLike]) -> Path:
    return compile_cached(MODEL.read_text(), [], "fifo_model", "the FIFO model", cache_dir)


def simulate_many(sched: Schedule, depth_sets: list[list[int]],
                  cache_dir: Optional[os.PathLike] = None) -> list[tuple[int, list[int]]]:
    """Per set of FIFO depths: (cycles until every kernel has finished, the most words each FIFO held)."""
    flags = np.concatenate([pop | (push << 1) for pop, push in sched]).astype(np.uint8)
    with tempfile.TemporaryDirectory(prefix="fifo_model_") as tmp:
        path = Path(tmp) / "schedule.bin"
        flags.tofile(path)
        cmd = [str(_model_exe(cache_dir)), str(path), str(len(sched)), *(str(len(p)) for p, _ in sched)]
        res = subprocess.run(cmd, input="".join(" ".join(map(str, d)) + "\n" for d in depth_sets),
                             capture_output=True, text=True)
    if res.returncode != 0:
        raise ToolchainError(f"FIFO model failed: {res.stderr.strip() or res.returncode}")
    rows = [list(map(int, line.split())) for line in res.stdout.splitlines()]
    return [(r[0], r[1:]) for r in rows]


def simulate(sched: Schedule, depths: list[int], cache_dir: Optional[os.PathLike] = None) -> tuple[int, list[int]]:
    return simulate_many(sched, [depths], cache_dir)[0]


def fifo_depths(sched: Schedule, tolerance: float = 0.01, cache_dir: Optional[os.PathLike] = None) -> dict[str, Any]:
    """The smallest depth of 2, 8, 32, ... per FIFO (the others unbounded) within `tolerance` of
    the unbounded total; also the unbounded run's cycles and peaks."""
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
    return {"depths": depths, "cycles_unbounded": free_cycles, "cycles_with_depths": together, "peaks": peaks}
