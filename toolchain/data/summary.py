"""Pure summaries of a scanned RadioML-format file and its splits (no file I/O here)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .classes import CLASSES
from .radioml import RadioMLIndex


def summarize(index: RadioMLIndex, splits: dict[str, np.ndarray]) -> dict[str, Any]:
    sizes = [b.size for b in index.blocks]
    snrs = index.snrs
    per_snr = {}
    for name, rows in splits.items():
        _, s = index.labels_and_snrs(rows)
        values, counts = np.unique(s, return_counts=True)
        per_snr[name] = {_num(v): int(c) for v, c in zip(values, counts)}
    return {
        "file": str(index.path),
        "frames": index.num_frames,
        "frame_length": index.frame_length,
        "x_dtype": index.x_dtype,
        "classes": [CLASSES[i] for i in index.labels_present],
        "snrs_db": [_num(s) for s in snrs],
        "blocks": len(index.blocks),
        "frames_per_block": {"min": min(sizes), "max": max(sizes)},
        "split_sizes": {name: int(rows.size) for name, rows in splits.items()},
        "split_frames_per_snr": per_snr,
    }


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def format_summary(s: dict[str, Any]) -> str:
    fpb = s["frames_per_block"]
    per_block = str(fpb["min"]) if fpb["min"] == fpb["max"] else f"{fpb['min']}..{fpb['max']}"
    snrs = s["snrs_db"]
    lines = [
        f"file          {s['file']}",
        f"frames        {s['frames']} x {s['frame_length']} I/Q samples ({s['x_dtype']})",
        f"classes       {len(s['classes'])}: {', '.join(s['classes'])}",
        f"SNRs          {len(snrs)}: {snrs[0]} .. {snrs[-1]} dB",
        f"blocks        {s['blocks']} (modulation, SNR) blocks of {per_block} frames",
        "split         " + ", ".join(f"{k} {v}" for k, v in s["split_sizes"].items()),
    ]
    return "\n".join(lines)
