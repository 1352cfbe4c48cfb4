"""The classification timeline of a capture: a spectrogram with the predicted class per frame
as coloured bands underneath, built incrementally so its memory does not grow with the capture.

Frames are pooled into at most `columns` time slots (by frame index); each slot keeps the mean
power spectrum of its frames and a histogram of their classes, and shows its most frequent class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..atomic import save_figure
from ..plotting import pyplot

NFFT = 64


class Timeline:
    def __init__(self, frames: int, duration: int, classes: list[str], columns: int = 800):
        self.frames, self.total = max(1, frames), max(1, duration)  # duration: in capture samples
        self.classes = classes
        self.columns = min(columns, self.frames)
        columns = self.columns
        self.power = np.zeros((columns, NFFT))
        self.count = np.zeros(columns, np.int64)
        self.votes = np.zeros((columns, len(classes)), np.int64)

    def add(self, first: int, frames: np.ndarray, predicted: np.ndarray) -> None:
        """Frames `first`, `first` + 1, ...: (B, 2, L) I/Q before normalisation, their class indices."""
        col = np.minimum((first + np.arange(len(frames))) * self.columns // self.frames, self.columns - 1)
        iq = frames[:, 0] + 1j * frames[:, 1]
        usable = iq.shape[1] // NFFT * NFFT
        if usable:
            segs = iq[:, :usable].reshape(len(iq), -1, NFFT)
        else:  # frames shorter than one FFT
            segs = np.pad(iq, ((0, 0), (0, NFFT - iq.shape[1])))[:, None]
        spectra = (np.abs(np.fft.fftshift(np.fft.fft(segs, axis=-1), axes=-1)) ** 2).mean(axis=1)
        np.add.at(self.power, col, spectra)
        np.add.at(self.count, col, 1)
        np.add.at(self.votes, (col, predicted), 1)

    def plot(self, path: str | os.PathLike, title: str, sample_rate: Optional[float]) -> Path:
        plt = pyplot()
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        used = self.count > 0
        power = np.where(used[:, None], self.power / np.maximum(self.count, 1)[:, None], np.nan)
        db = 10 * np.log10(np.maximum(power, 1e-12))
        band = np.where(used, self.votes.argmax(axis=1), -1).astype(float)
        band[~used] = np.nan
        scale, unit = (1.0 / sample_rate, "s") if sample_rate else (1.0, "samples")
        extent_t = self.total * scale
        fig, (ax, bx) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [4, 1]})
        fmax = 0.5 * (sample_rate or 1.0)
        ax.imshow(db.T, aspect="auto", origin="lower", extent=(0, extent_t, -fmax, fmax), cmap="viridis")
        ax.set_ylabel("frequency (Hz)" if sample_rate else "frequency (cycles/sample)")
        ax.set_title(title, fontsize=9)
        colours = [*plt.get_cmap("tab20").colors, *plt.get_cmap("Dark2").colors]
        cmap = ListedColormap(colours[: len(self.classes)])
        bx.imshow(band[None, :], aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(self.classes) - 0.5,
                  extent=(0, extent_t, 0, 1), interpolation="nearest")
        bx.set_yticks([])
        bx.set_xlabel(f"time ({unit})")
        present = [int(c) for c in np.unique(band[used].astype(int))]
        bx.legend(handles=[Patch(color=colours[c], label=self.classes[c]) for c in present], loc="upper center",
                  bbox_to_anchor=(0.5, -0.6), ncol=min(8, len(present)) or 1, fontsize=7, frameon=False)
        return save_figure(fig, path)
