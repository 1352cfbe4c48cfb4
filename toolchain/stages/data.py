"""Stage `data`: make sure the run has a dataset, then summarise and plot it.

Reads `data.path` (a RadioML-format file); when it is empty, generates a synthetic file of the
same format from `synth.*` into the run directory. Writes `data_summary.json` (sizes, SNR grid,
split sizes per SNR) and `data_overview.png` (constellation and time plot per class).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..atomic import write_json
from ..config import Config, text_override
from ..data.classes import CLASSES
from ..data.radioml import RadioMLIndex, make_splits, scan
from ..data.summary import format_summary, summarize
from ..rundir import RunDir, stage_run

SUMMARY = "prepare the dataset: synthesise one if none is configured, summarise and plot it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="RadioML-format HDF5 file (default: data.path, "
                        "or a synthetic file generated into the run directory)")


def overrides(args: argparse.Namespace) -> list[str]:
    return [text_override("data.path", args.input)] if args.input else []


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    inputs = [Path(cfg.data.path)] if cfg.data.path else []
    if inputs:
        index = scan(inputs[0])  # validate before the run directory is touched
    with stage_run(cfg.run.out_dir, "data", cfg, inputs) as run:
        if not inputs:
            from ..data.synth import generate

            index = scan(generate(run.artifact("dataset"), cfg.synth))
        splits = make_splits(index, cfg.data.val_fraction, cfg.data.val_seed, cfg.data.train_snrs, cfg.data.classes)
        summary = summarize(index, splits)
        write_json(run.artifact("data_summary"), summary)
        plot_examples(index, run.artifact("data_overview"))
        print(format_summary(summary))
        print(f"wrote {run.root}/: {', '.join(run.outputs.values())}")
    return run


def plot_examples(index: RadioMLIndex, out_png: Path, snr: float | None = None) -> Path:
    """One frame per class at `snr` (default: the file's highest SNR) in one PNG."""
    import h5py

    from ..data.show import plot_overview

    target = max(index.snrs) if snr is None else snr
    frames = {}
    with h5py.File(index.path, "r") as h5:
        for b in index.blocks:
            if b.snr == target and CLASSES[b.label] not in frames:
                iq = h5["X"][b.start].astype(np.float64)
                frames[CLASSES[b.label]] = iq[:, 0] + 1j * iq[:, 1]
    ordered = {name: frames[name] for name in CLASSES if name in frames}
    return plot_overview(ordered, out_png, title=f"{index.path.name}: one frame per class at {target:g} dB")
