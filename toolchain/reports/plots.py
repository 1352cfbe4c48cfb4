"""PNG plots of an accuracy report (the dict of `toolchain.reports.accuracy.accuracy_report`)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..atomic import save_figure
from ..plotting import pyplot


def plot_accuracy_vs_snr(report: dict, out_png: str | os.PathLike, title: str = "") -> Path:
    """Accuracy per SNR with the challenge's threshold as a dashed line; overall accuracy in the title."""
    plt = pyplot()
    snrs = [p["snr"] for p in report["per_snr"]]
    acc = [100 * p["accuracy"] for p in report["per_snr"]]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(snrs, acc, "o-", color="tab:blue", label="accuracy")
    threshold = 100 * report["challenge_threshold"]
    ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1,
               label=f"challenge threshold {threshold:.0f} % (overall)")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    o = report["overall"]
    head = f"{title}: " if title else ""
    ax.set_title(f"{head}overall accuracy {100 * o['accuracy']:.2f} % ({o['frames']} frames)", fontsize=10)
    return save_figure(fig, out_png)


def _matrix_panel(ax, matrix: list[list[int]], names: list[str], title: str):
    m = np.asarray(matrix, dtype=np.float64)
    # Rows are normalised to the share of each true class, so classes with fewer frames
    # read the same as the others; an empty row stays 0.
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    ticks = np.arange(len(names))
    small = 6 if len(names) > 12 else 8
    ax.set_xticks(ticks, names, rotation=90, fontsize=small)
    ax.set_yticks(ticks, names, fontsize=small)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    if len(names) <= 12:  # counts stay legible only on small matrices
        for (i, j), v in np.ndenumerate(m.astype(int)):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    return image


def plot_confusion(report: dict, out_png: str | os.PathLike, title: str = "") -> Path:
    """One figure: the overall confusion matrix, then one panel per SNR in `confusion.per_snr`."""
    plt = pyplot()
    conf = report["confusion"]
    panels = [(conf["overall"], f"all SNRs ({report['overall']['frames']} frames)")]
    panels += [(p["matrix"], f"{p['snr']} dB ({p['frames']} frames)") for p in conf["per_snr"]]
    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    size = 3.5 + 0.22 * len(conf["classes"])
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 1.2, size * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    for ax, (matrix, label) in zip(axes.ravel(), panels):
        image = _matrix_panel(ax, matrix, conf["classes"], label)
    fig.colorbar(image, ax=axes, shrink=0.5, label="share of the true class")
    if conf["missing_snrs"]:
        title = f"{title} (no frames at {', '.join(map(str, conf['missing_snrs']))} dB)".strip()
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_png)
