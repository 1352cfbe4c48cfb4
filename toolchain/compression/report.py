"""prune_report.json and the two PNGs: sparsity per layer, accuracy against cost score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import save_figure


def summary(history: list[dict[str, Any]], baseline: dict[str, Any], reason: str,
            final: dict[str, Any]) -> dict[str, Any]:
    """prune_report.json (fields: docs/prune.md)."""
    kept = [r for r in history if r["kept"]]
    last = kept[-1]
    first_score = history[0]["score"]
    return {
        "stop_reason": reason,
        "steps_tried": len(history) - 1,
        "steps_kept": len(kept) - 1,
        "baseline": {"val_acc": baseline["val_acc"], "val_loss": baseline["val_loss"], **baseline.get("cost", {})},
        "final": final,
        "sparsity": last["sparsity"],
        "layers": last["layers"],
        "score_reduction": (first_score / final["score"]) if first_score and final.get("score") else None,
        "kept_steps": [{k: r[k] for k in ("step", "sparsity", "val_acc", "score", "spike_rates") if k in r}
                       for r in kept],
    }


def plot_sparsity(history: list[dict[str, Any]], types: dict[str, str], path: Path) -> None:
    """Sparsity of every pruned layer after each kept step (grouped bars), overall in the title."""
    from ..plotting import pyplot

    plt = pyplot()
    import numpy as np

    kept = [r for r in history if r["kept"] and r["step"] > 0] or [history[0]]
    names = list(kept[-1]["layers"])
    fig, ax = plt.subplots(figsize=(max(7, 0.7 * len(names) + 3), 4.5))
    width = 0.8 / len(kept)
    x = np.arange(len(names))
    for i, r in enumerate(kept):
        ax.bar(x + i * width - 0.4 + width / 2, [r["layers"][n] for n in names], width,
               label=f"step {r['step']}: {r['sparsity']:.1%}", color=plt.cm.viridis(i / max(1, len(kept) - 1)))
    ax.set_xticks(x, [f"{n} {types.get(n, '')}" for n in names], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.3)  # room for the legend above the bars
    ax.set_ylabel("share of weights pruned")
    ax.set_xlabel("layer (module name)")
    ax.legend(fontsize=7, ncol=4, loc="upper left", title="kept step: overall sparsity", title_fontsize=7)
    ax.set_title(f"sparsity per layer; overall {kept[-1]['sparsity']:.1%}")
    fig.tight_layout()
    save_figure(fig, path)


def plot_tradeoff(history: list[dict[str, Any]], floor: float, path: Path) -> None:
    """Validation accuracy against the challenge score (lower is cheaper) of every step, or
    against sparsity when scoring is off; rolled-back steps hollow."""
    from ..plotting import pyplot

    plt = pyplot()

    scored = all(r["score"] is not None for r in history)
    key, label = ("score", "challenge score (lower is cheaper)") if scored else ("sparsity", "sparsity")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    kept = [r for r in history if r["kept"]]
    ax.plot([r[key] for r in kept], [r["val_acc"] for r in kept], "o-", color="tab:blue", label="kept")
    dropped = [r for r in history if not r["kept"]]
    if dropped:
        ax.plot([r[key] for r in dropped], [r["val_acc"] for r in dropped], "o", mfc="none", color="tab:red",
                label="rolled back")
    for r in history:
        ax.annotate(str(r["step"]), (r[key], r["val_acc"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.axhline(floor, color="grey", ls="--", lw=1, label=f"criterion {floor:.3f}")
    if scored:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("validation accuracy")
    ax.legend(fontsize=8)
    ax.set_title("pruning: accuracy vs cost, by step")
    fig.tight_layout()
    save_figure(fig, path)
