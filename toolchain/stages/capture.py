"""Stage `capture`: a SigMF recording of known modulations from the synthetic generator ->
`capture.sigmf-meta` / `capture.sigmf-data` (toolchain/data/known_capture.py).

Its segments are annotated with their classes, so `classify` on it reports how well the
predictions agree with the known sequence (the demo classifies it through the FINN build).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Config
from ..rundir import RunDir, stage_run

SUMMARY = "write a SigMF recording of known modulations from the synthetic generator -> capture.sigmf-meta/-data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--snr", type=float, metavar="DB", help="SNR of every segment (capture.snr)")
    parser.add_argument("--frames-per-segment", type=int, metavar="N",
                        help="frames of synth.length samples per segment (capture.frames_per_segment)")
    parser.add_argument("--seed", type=int, help="seed of the segments and their order (capture.seed)")


def overrides(args: argparse.Namespace) -> list[str]:
    keys = {"snr": "snr", "frames_per_segment": "frames_per_segment", "seed": "seed"}
    return [f"capture.{k}={getattr(args, a)}" for a, k in keys.items() if getattr(args, a) is not None]


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..data.known_capture import write_capture

    with stage_run(cfg.run.out_dir, "capture", cfg) as run:
        meta_path = run.artifact("capture_meta")
        run.artifact("capture_data")
        meta = write_capture(meta_path, cfg.synth, cfg.capture)
        labels = [a["core:label"] for a in meta["annotations"]]
        run.extra["capture"] = {"segments": len(labels), "classes": labels, "snr": cfg.capture.snr,
                                "frames_per_segment": cfg.capture.frames_per_segment,
                                "samples": len(labels) * cfg.capture.frames_per_segment * cfg.synth.length}
    print(f"capture: {len(labels)} segments of {cfg.capture.frames_per_segment} frames at {cfg.capture.snr:g} dB "
          f"({', '.join(labels[:4])}{', ...' if len(labels) > 4 else ''}) -> {Path(run.root) / meta_path.name}")
    return run
