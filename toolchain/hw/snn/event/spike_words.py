"""The event words of spike_stream.hpp in Python, for the RTL kernels' testbenches: dense
per-step counts -> a word stream, and a kernel's output words -> per-step counts, BAD flags and
the step structure (what `tests/test_snn_rtl_kernels.py` compares with the model).

Word: bits [0, LANES) mask, [LANES, LANES + ADDR_BITS) addr (the first position of the word,
row-major), then STEP, FRAME, BAD; lane l is channel l % C of position addr + l // C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...rtl.stream import field


@dataclass(frozen=True)
class WordFormat:
    lanes: int
    addr_bits: int

    @property
    def step_bit(self) -> int:
        return self.lanes + self.addr_bits

    @property
    def frame_bit(self) -> int:
        return self.step_bit + 1

    @property
    def bad_bit(self) -> int:
        return self.step_bit + 2

    @property
    def width(self) -> int:
        return self.lanes + self.addr_bits + 3


def addr_bits(positions: int) -> int:
    return max(1, (positions - 1).bit_length())


def encode_frame(counts: np.ndarray, fmt: WordFormat, channels: int, width: int,
                 step_on_event: bool = True, bad: bool = False) -> list[int]:
    """Words of one frame of counts (T, C, H, W): per step, per group of lanes // C positions of
    a row, as many words as the group's largest count (lane set while its count is not used up);
    STEP on the step's last word (`step_on_event`) or a word of its own; then the FRAME word."""
    steps, c, h, w = counts.shape
    ppw = fmt.lanes // channels
    assert c == channels and w % ppw == 0
    words: list[int] = []
    for t in range(steps):
        step_words = []
        x = counts[t].reshape(c, h * w)
        for addr in range(0, h * w, ppw):
            block = x[:, addr:addr + ppw].T.reshape(-1)  # lane = position * C + channel
            for k in range(int(block.max(initial=0))):
                mask = sum(1 << int(lane) for lane in np.flatnonzero(block > k))  # Python ints: words over 64 bits
                step_words.append(mask | (addr << fmt.lanes))
        if step_words and step_on_event:
            step_words[-1] |= 1 << fmt.step_bit
        else:
            step_words.append(1 << fmt.step_bit)
        words += step_words
    words.append((1 << fmt.frame_bit) | (int(bad) << fmt.bad_bit))
    return words


@dataclass
class Decoded:
    counts: list[np.ndarray]  # per frame: (steps seen, C, positions)
    bad: np.ndarray  # per frame
    frame_words: np.ndarray  # index of each frame's FRAME word in the stream


def decode(words: np.ndarray, fmt: WordFormat, channels: int, positions: int) -> Decoded:
    """Per frame, the events of each step summed per (channel, position)."""
    mask = field(words, 0, fmt.lanes)
    addr = field(words, fmt.lanes, fmt.addr_bits)
    step, frame, bad = (field(words, b, 1) for b in (fmt.step_bit, fmt.frame_bit, fmt.bad_bit))
    frames, bads, ends = [], [], []
    cur = np.zeros((channels, positions), np.int64)
    steps: list[np.ndarray] = []
    for i in range(len(words)):
        if frame[i]:
            frames.append(np.array(steps).reshape(len(steps), channels, positions))
            bads.append(bool(bad[i]))
            ends.append(i)
            steps, cur = [], np.zeros((channels, positions), np.int64)
            continue
        for lane in range(fmt.lanes):
            if (mask[i] >> lane) & 1:
                pos = addr[i] + lane // channels
                cur[lane % channels, pos] += 1
        if step[i]:
            steps.append(cur)
            cur = np.zeros((channels, positions), np.int64)
    return Decoded(frames, np.array(bads, bool), np.array(ends, np.int64))
