"""event_driven.png beside finn_report.png: how the event-driven accelerator's cycles per frame
spread over the frames it ran (each kernel and the frame, the slowest kernel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def cycles_figure(section: dict[str, Any], iterations: dict[str, np.ndarray]):
    """Histograms of the C simulation's cycles per frame, one per kernel and the frame's, with
    the frame's median and p99 marked; the title gives the frames, their source and the bound."""
    from ....plotting import pyplot

    plt = pyplot()
    frame = np.max(np.stack(list(iterations.values())), axis=0)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bins = np.linspace(0, max(int(frame.max()), 1) * 1.05, 60)
    # the frame filled underneath: the slowest kernel's outline lies on top of it
    ax.hist(frame, bins=bins, histtype="stepfilled", color="0.8", label="frame (slowest kernel)")
    for name, values in iterations.items():
        ax.hist(values, bins=bins, histtype="step", lw=1.4, label=name)
    f = section["cycles_per_frame"]
    for key, style in (("median", "--"), ("p99", ":")):
        ax.axvline(f[key], color="k", ls=style, lw=0.9, label=f"frame {key}: {f[key]:,.0f}")
    src = section["frames_source"]
    where = f"test split of {Path(src['file']).name}" if "file" in src else "verification frames"
    ax.set_title(f"event-driven accelerator, {section['frames']} frames ({where}): guaranteed bound "
                 f"{section['bound_cycles_per_frame']:,} cycles", fontsize=9)
    ax.set_xlabel("cycles per frame (C simulation's counts of the II = 1 loops)")
    ax.set_ylabel("frames")
    ax.legend(fontsize=8)
    return fig
