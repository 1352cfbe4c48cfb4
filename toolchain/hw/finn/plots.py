"""finn_report.png: cycles and estimated resources per layer."""

from __future__ import annotations

from typing import Any

import numpy as np


def report_figure(report: dict[str, Any]):
    """Four stacked bar charts over the HW layers: cycles (with the frame's initiation interval),
    LUT, BRAM_18K and DSP. Layers without a FINN estimate are drawn as hatched gaps, so a
    missing estimate never looks like a zero."""
    from ...plotting import pyplot

    plt = pyplot()

    rows = report["layers"]
    labels = [r["layer"] for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(4, 1, figsize=(max(8.0, 0.28 * len(rows) + 2), 11), sharex=True)
    t = report["totals"]
    steps = t.get("time_steps", 1)  # an SNN: each layer's cycles are per time step
    panels = [("cycles", "cycles / time step" if steps > 1 else "cycles / frame", "tab:blue"), ("LUT", "LUT", "tab:orange"),
              ("BRAM_18K", "BRAM 18k", "tab:green"), ("DSP", "DSP", "tab:red")]
    for ax, (key, title, color) in zip(axes, panels):
        values = [r[key] for r in rows]
        known = np.array([v if v is not None else 0.0 for v in values], dtype=float)
        ax.bar(x, known, color=color)
        top = max(known.max(), 1.0)
        for i, v in enumerate(values):
            if v is None:
                ax.bar(i, top, color="none", edgecolor="grey", hatch="//", linewidth=0.0)
        if key == "cycles":
            ax.axhline(t["cycles_per_frame"] / steps, color="k", lw=0.8, ls="--")
            frame = f"{steps} steps x {t['cycles_per_frame'] // steps} = " if steps > 1 else ""
            ax.set_title(f"{report['board']['name']} @ {t['clock_mhz']:g} MHz: {frame}{t['cycles_per_frame']} cycles/frame, "
                         f"{t['estimated_fps']:,.0f} fps (FINN estimates; hatched = not estimated by FINN)")
        ax.set_ylim(0, top * 1.05)  # an all-zero panel (no DSPs) still reads as zero, not as +-0.04
        ax.set_ylabel(title)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(labels, rotation=90, fontsize=7)
    fig.tight_layout()
    return fig
