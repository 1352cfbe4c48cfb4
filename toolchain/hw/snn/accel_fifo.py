"""FIFO depths between the event-driven kernels from a cycle-by-cycle model of their schedules.

The sequential C simulation runs one kernel after the other and cannot show how full a FIFO
gets. Here each kernel is the list of its II = 1 loop iterations over the frames, each marked
with whether it pops a word from its input FIFO and whether it pushes one into its output FIFO
(`schedules`, made from the model's own spikes, the same events the C simulation counts); the
model then runs all kernels concurrently, one iteration per kernel per cycle when its input
word is there and its output FIFO has room (FIFO latency one cycle), the encoder fed one
sample per cycle whenever it can take one. `fifo_depths` gives each FIFO the smallest depth
(powers of two) that keeps the frames' total cycles within 1 % of unbounded FIFOs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ToolchainError
from .accelerator import AcceleratorSpec

LARGE = 1 << 16


def _conv_words(spikes: np.ndarray, sp: int) -> np.ndarray:
    """(n, T, C, H, W) 0/1 -> (n, T, groups) events of each sweep group (in sweep order)."""
    n, t, c, h, w = spikes.shape
    return spikes.reshape(n, t, c, h, w // sp, sp).sum((2, 5)).reshape(n, t, -1)


def schedules(spec: AcceleratorSpec, ref: dict[str, Any], frames: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per kernel (encoder, convs, readout): (pop, push) 0/1 arrays over its iterations for the
    first `frames` frames. Needs `ref["spikes"]` (per conv (n, T, C, H, W)) of accel_verify."""
    e = spec.encoder
    if e.binary:
        raise ToolchainError("FIFO model: the binary encoder's dropped samples are not modelled (model.snn_binary)")
    enc_pop, enc_push, sched = [], [], []
    for _ in range(frames):  # one sample per iteration, every word sent (non-binary), then FRAME
        enc_pop.append(np.zeros(e.frame + 1, np.int8))
        enc_push.append(np.ones(e.frame + 1, np.int8))
    sched.append((np.concatenate(enc_pop), np.concatenate(enc_push)))
    in_words = [np.ones((frames, spec.steps, e.group), np.int64)]  # events of each input word
    for c, s in zip(spec.convs, ref["spikes"]):
        in_words.append(_conv_words(s[:frames], c.sp))
    epcs = [1] * len(spec.convs) + [spec.dense.events_per_cycle]
    for k, words in enumerate(in_words):
        conv = spec.convs[k] if k < len(spec.convs) else None
        pop, push = [], []
        for f in range(frames):
            for t in range(spec.steps):
                w = words[f, t]
                sent = w > 0
                if k > 0:
                    sent[-1] = True  # the step's last group always goes (it carries STEP)
                for ev in w[sent]:
                    it = max(1, -(-int(ev) // epcs[k]))
                    pop += [1] + [0] * (it - 1)
                    push += [0] * it
                if conv is not None:
                    out = _conv_words(ref["spikes"][k][f:f + 1, t:t + 1], conv.sp)[0, 0] > 0
                    out[-1] = True
                    pop += [0] * conv.groups
                    push += out.astype(int).tolist()
                else:  # the readout's one-lane update of its neurons
                    pop += [0] * spec.dense.outputs
                    push += [0] * spec.dense.outputs
            pop.append(1)  # FRAME in, and passed on by a conv
            push.append(1 if conv is not None else 0)
        sched.append((np.array(pop, np.int8), np.array(push, np.int8)))
    return sched


def simulate(sched: list[tuple[np.ndarray, np.ndarray]], depths: list[int]) -> tuple[int, list[int]]:
    """(cycles until every kernel has finished, the most words each FIFO held)."""
    n = len(sched)
    pos = [0] * n
    occ = [0] * (n - 1)
    peak = [0] * (n - 1)
    ends = [len(p) for p, _ in sched]
    cycle = 0
    while any(pos[k] < ends[k] for k in range(n)):
        snap = occ[:]
        for k in range(n):
            i = pos[k]
            if i >= ends[k]:
                continue
            pop, push = sched[k][0][i], sched[k][1][i]
            if pop and k > 0 and snap[k - 1] == 0:
                continue
            if push and k < n - 1 and snap[k] >= depths[k]:
                continue
            if pop and k > 0:
                occ[k - 1] -= 1
            if push and k < n - 1:
                occ[k] += 1
            pos[k] += 1
        peak = [max(a, b) for a, b in zip(peak, occ)]  # after the clock edge: this cycle's pops and pushes
        cycle += 1
    return cycle, peak


def fifo_depths(sched: list[tuple[np.ndarray, np.ndarray]], tolerance: float = 0.01) -> dict[str, Any]:
    """The smallest power-of-two depth per FIFO (the others unbounded) within `tolerance` of
    the unbounded total; also the unbounded run's cycles and peaks."""
    nf = len(sched) - 1
    free_cycles, peaks = simulate(sched, [LARGE] * nf)
    depths = []
    for k in range(nf):
        d = 2
        while d < LARGE:
            trial = [LARGE] * nf
            trial[k] = d
            if simulate(sched, trial)[0] <= free_cycles * (1 + tolerance):
                break
            d *= 4
        depths.append(d)
    together, _ = simulate(sched, depths)
    return {"depths": depths, "cycles_unbounded": free_cycles, "cycles_with_depths": together, "peaks": peaks}
