"""The closing summary of `toolchain run`: key figures read back from the run's artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from ..rundir import ARTIFACTS, MANIFEST


def run_summary(root: Path) -> str:
    lines = [f"run directory {root}"]
    accuracy = _load(root / ARTIFACTS["accuracy"])
    if accuracy:
        top = accuracy["highest_snr"]
        lines.append(f"  accuracy              {accuracy['overall']['accuracy']:.2%} overall, {top['accuracy']:.2%} at "
                     f"{top['snr']} dB ({accuracy['data']['split']} split, {accuracy['overall']['frames']} frames)")
    cost = _load(root / ARTIFACTS["model_cost"])
    if cost:
        lines.append(f"  cost                  {cost['total_bops']:,} bit operations, {cost['total_mem_w_bits']:,} weight bits, "
                     f"challenge score {cost['score']:.4f} (baseline 1.0)")
    manifest = _load(root / MANIFEST) or {"stages": {}}
    for stage, entry in manifest["stages"].items():
        outputs = ", ".join(entry.get("outputs", {}).values())
        lines.append(f"  {stage:<22}{entry.get('seconds', 0):7.1f} s  {outputs}")
    return "\n".join(lines)


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None
