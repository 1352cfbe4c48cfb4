"""One-page picture of example frames: constellation and I/Q time trace per class."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..atomic import save_figure

PAIRS_PER_ROW = 4  # 4 classes x (constellation, time trace) = 8 panels per row; 24 classes -> 6 rows
TIME_SAMPLES = 128


def _as_complex(frame: np.ndarray) -> np.ndarray:
    """Accept a complex frame or a file-layout (L, 2) I/Q frame."""
    frame = np.asarray(frame)
    if not np.iscomplexobj(frame) and frame.ndim == 2 and frame.shape[-1] == 2:
        return frame[:, 0] + 1j * frame[:, 1]
    return np.asarray(frame, dtype=np.complex128).ravel()


def plot_overview(frames: dict[str, np.ndarray], out_png: str | os.PathLike, title: str = "") -> Path:
    """Write a PNG grid with, per class (in the dict's order), an I/Q scatter and the first
    TIME_SAMPLES samples of I and Q over time."""
    if not frames:
        raise ValueError("plot_overview needs at least one frame")
    from ..plotting import pyplot

    plt = pyplot()

    rows = math.ceil(len(frames) / PAIRS_PER_ROW)
    fig, axes = plt.subplots(rows, 2 * PAIRS_PER_ROW, figsize=(16, 2.0 * rows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, (name, frame) in enumerate(frames.items()):
        x = _as_complex(frame)
        row, col = divmod(i, PAIRS_PER_ROW)
        scatter, trace = axes[row, 2 * col], axes[row, 2 * col + 1]
        for ax in (scatter, trace):
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
        scatter.plot(x.real, x.imag, ".", markersize=1, alpha=0.6)
        scatter.set_aspect("equal", adjustable="datalim")
        scatter.set_title(name, fontsize=9)
        t = np.arange(min(TIME_SAMPLES, x.size))
        trace.plot(t, x.real[: t.size], linewidth=0.7, label="I")
        trace.plot(t, x.imag[: t.size], linewidth=0.7, label="Q")
        trace.set_title("I/Q", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out_png)
