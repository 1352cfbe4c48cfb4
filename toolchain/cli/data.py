"""`toolchain data ...`: generate, inspect, check and prepare RadioML-format files."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import ToolchainError
from ..stages import STAGES
from .options import resolve_config

DATA_HELP = "dataset tools: synth, show, info, check, prepare"


def add_data_parser(sub, common: argparse.ArgumentParser) -> None:
    dp = sub.add_parser("data", help=DATA_HELP, description="Dataset tools for RadioML 2018.01A-format HDF5 files "
                        "(X (N,1024,2) float32 I/Q, Y (N,24) one-hot, Z (N,1) SNR); see docs/data.md.")
    dsub = dp.add_subparsers(dest="tool", required=True, metavar="TOOL")

    sp = dsub.add_parser("synth", parents=[common], help="write a synthetic RadioML-format file",
                         description="Generate frames with real modulators (24 classes, pulse shaping, GMSK, FM, AM) "
                         "and a channel (sample-rate, time, carrier frequency and phase offsets, Rayleigh fading, "
                         "noise), in the real file's format and order. --preset radioml2018 (default) follows the "
                         "real file's published and measured parameters, hard is the harsher channel of earlier "
                         "versions, clean has no channel but the noise. Every synth.* key can be set by config "
                         "or --set (docs/data.md).")
    sp.add_argument("--preset", choices=["radioml2018", "hard", "clean"],
                    help="signal and channel model (synth.preset; default radioml2018)")
    sp.add_argument("--frames-per-pair", type=int, help="frames per (modulation, SNR) pair (synth.frames_per_pair)")
    sp.add_argument("--snrs", help="SNR grid in dB, 'start:stop:step' (inclusive) or 'a,b,c' (synth.snrs)")
    sp.add_argument("--length", type=int, help="samples per frame (synth.length)")
    sp.add_argument("--seed", type=int, help="random seed (synth.seed)")
    sp.set_defaults(func=synth, command="data synth")

    sp = dsub.add_parser("show", help="PNG with a constellation and time plot per class",
                         description="Plot one frame per class (constellation + I/Q over time) into one PNG.")
    sp.add_argument("file", help="RadioML-format HDF5 file")
    sp.add_argument("--out", help="PNG to write (default: FILE with .png suffix)")
    sp.add_argument("--snr", type=float, help="SNR of the frames to plot in dB (default: the highest in the file)")
    sp.set_defaults(func=show, command="data show")

    sp = dsub.add_parser("info", help="print the file's structure and split sizes",
                         description="Validate the file's datasets and block order and print a summary.")
    sp.add_argument("file", help="RadioML-format HDF5 file")
    sp.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    sp.set_defaults(func=info, command="data info")

    sp = dsub.add_parser("check", help="scan every frame for NaN/Inf (reads the whole file)",
                         description="Read all of X in chunks and report frames holding NaN or Inf; exit 1 if any.")
    sp.add_argument("file", help="RadioML-format HDF5 file")
    sp.set_defaults(func=check, command="data check")

    sp = dsub.add_parser("prepare", parents=[common], help="pipeline stage 'data': " + STAGES["data"].summary,
                         description="Pipeline stage 'data': " + STAGES["data"].summary + ".")
    STAGES["data"].module().add_arguments(sp)
    sp.set_defaults(func=prepare, command="data prepare")


def parse_snrs(text: str) -> list[int]:
    try:
        if ":" in text:
            start, stop, step = (int(v) for v in text.split(":"))
            if step <= 0:
                raise ValueError
            return list(range(start, stop + 1, step))
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ToolchainError(f"--snrs {text!r}: expected 'start:stop:step' with step > 0 or 'a,b,c' (integers, dB)") from None


def synth(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..data.synth import generate

    if not args.out:
        raise ToolchainError("--out FILE is required: where to write the synthetic HDF5 file")
    sets = list(args.overrides)
    if args.preset:
        sets.append(f"synth.preset={args.preset}")
    for flag, key in (("frames_per_pair", "frames_per_pair"), ("length", "length"), ("seed", "seed")):
        if getattr(args, flag) is not None:
            sets.append(f"synth.{key}={getattr(args, flag)}")
    if args.snrs:
        sets.append(f"synth.snrs={parse_snrs(args.snrs)}")
    cfg = load_config(args.config, sets)
    t0 = time.perf_counter()
    path = generate(args.out, cfg.synth)
    s = cfg.synth
    print(f"wrote {path} (preset {s.preset}): 24 classes x {len(s.snrs)} SNRs x {s.frames_per_pair} frames x {s.length} samples "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


def show(args: argparse.Namespace) -> int:
    from ..stages.data import plot_examples
    from ..data.radioml import scan

    index = scan(args.file)
    if args.snr is not None and args.snr not in index.snrs:
        raise ToolchainError(f"--snr {args.snr:g}: no frames at that SNR in {args.file} (it has {index.snrs[0]:g}..{index.snrs[-1]:g} dB)")
    out = Path(args.out) if args.out else Path(args.file).with_suffix(".png")
    plot_examples(index, out, args.snr)
    print(f"wrote {out}")
    return 0


def info(args: argparse.Namespace) -> int:
    from ..atomic import write_json
    from ..data.radioml import make_splits, scan
    from ..data.summary import format_summary, summarize

    index = scan(args.file)
    summary = summarize(index, make_splits(index))
    print(format_summary(summary))
    if args.json:
        write_json(args.json, summary)
    return 0


def check(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from ..data.radioml import open_h5, scan

    index = scan(args.file)
    bad: list[int] = []
    step = max(1, (64 << 20) // (index.frame_length * 2 * 4))  # ~64 MB per read
    with open_h5(args.file) as h5:
        x = h5["X"]
        for lo in tqdm(range(0, index.num_frames, step), desc="checking X", unit="chunk", leave=False, disable=None):
            try:
                chunk = x[lo : lo + step]
            except (OSError, RuntimeError) as exc:
                raise ToolchainError(f"{args.file}: cannot read 'X' from row {lo}, truncated or corrupt? ({exc})") from None
            bad.extend((lo + np.flatnonzero(~np.isfinite(chunk).all(axis=(1, 2)))).tolist())
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        raise ToolchainError(f"{args.file}: {len(bad)} frame(s) of 'X' hold NaN or Inf: rows {shown}")
    print(f"{args.file}: {index.num_frames} frames, {len(index.blocks)} blocks, all values finite")
    return 0


def prepare(args: argparse.Namespace) -> int:
    module = STAGES["data"].module()
    module.run(resolve_config(args, module.overrides(args)), args)
    return 0

