"""Figures the run report draws itself (the others are the stages' own PNGs), as PNG bytes in
memory: nothing is written beside the run's artifacts."""

from __future__ import annotations

import io
from typing import Any

from ..plotting import pyplot


def training_curves(history: list[dict[str, Any]]) -> bytes:
    """Loss and accuracy per epoch, train and (where the run had one) validation split."""
    plt = pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, label in ((loss_ax, "loss", "loss"), (acc_ax, "acc", "accuracy (%)")):
        scale = 100 if key == "acc" else 1
        ax.plot(epochs, [scale * r[f"train_{key}"] for r in history], "o-", color="tab:blue", label="train")
        val = [(e, scale * r[f"val_{key}"]) for e, r in zip(epochs, history) if r.get(f"val_{key}") is not None]
        if val:
            ax.plot(*zip(*val), "s--", color="tab:orange", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if len(epochs) < 12:
            ax.set_xticks(epochs)
    acc_ax.set_ylim(0, 100)
    loss_ax.set_title("loss", fontsize=10)
    acc_ax.set_title("accuracy", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
