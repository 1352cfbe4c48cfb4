"""The options every command shares (--config, --set, --out) and the config they resolve to."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from ..config import Config, load_config, text_override

EPILOG = "Config: YAML file (--config) + overrides (--set section.key=value); see docs/config.md."


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="YAML config file (sections: run, data, synth, ...)")
    common.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                        help="override one config value, e.g. --set data.batch_size=512 (repeatable)")
    common.add_argument("--out", metavar="DIR", help="run directory to write into (config: run.out_dir)")
    return common


def resolve_config(args: argparse.Namespace, extra: Sequence[str] = (), out_suffix: str | None = None) -> Config:
    """Config from --config, stage flags (`extra`), --set and --out.

    Stages that write one file (`out_suffix`, e.g. ".onnx") also accept `--out FILE`: the file
    lands there (`args.out_file`) and its folder is the run directory.
    """
    overrides = list(extra) + list(args.overrides)
    out = getattr(args, "out", None)
    args.out_file = None
    if out:
        if out_suffix and out.endswith(out_suffix):
            args.out_file = Path(out)
            out = str(Path(out).parent)
        overrides.append(text_override("run.out_dir", out))
    return load_config(args.config, overrides)
