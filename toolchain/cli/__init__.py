"""`toolchain` command: one subcommand per stage, `run` for the configured pipeline, `data` tools
(`data.py`); the options every command shares are in `options.py`.

Exit codes: 0 done, 1 bad input (one-line message, nothing written), 2 usage error or a stage
that is not implemented yet, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..config import Config
from ..errors import ConfigError, NotImplementedStage, ToolchainError
from ..rundir import MANIFEST, record_failure
from ..stages import DEFAULT_ORDER, LAST, STAGES
from .data import add_data_parser
from .options import EPILOG, common_options, resolve_config


def build_parser() -> argparse.ArgumentParser:
    from .config_doc import stage_help  # not at import: `python -m toolchain.cli.config_doc` runs it

    parser = argparse.ArgumentParser(
        prog="toolchain", epilog=EPILOG,
        description="Quantized CNN/SNN modulation classifiers (RadioML 2018.01A) from PyTorch to FPGA.")
    parser.add_argument("--version", action="version", version=f"toolchain {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    for stage in STAGES.values():
        if stage.name == "data":
            continue  # reachable as `toolchain data prepare`, beside the dataset tools
        status = "" if stage.implemented else " [not implemented yet]"
        sp = sub.add_parser(stage.name, parents=[common], help=stage.summary + status,
                            description=stage.summary + status, epilog=f"{stage_help(stage.sections)}\n\n{EPILOG}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        if stage.implemented:
            stage.module().add_arguments(sp)
        else:
            sp.add_argument("input", nargs="?", help="input file (the stage is not implemented yet)")
        sp.set_defaults(func=run_stage, stage=stage.name)
    rp = sub.add_parser("run", parents=[common], help="run the configured pipeline (run.stages) into one run directory",
                        description="Run the stages listed in run.stages, in order, into one run directory, then "
                        f"'{LAST}' (also after a stage that fails: the page shows its error). "
                        f"Known stages, in default order: {', '.join(DEFAULT_ORDER)}.", epilog=EPILOG)
    rp.set_defaults(func=run_pipeline)
    add_data_parser(sub, common)
    return parser


def run_stage(args: argparse.Namespace) -> int:
    stage = STAGES[args.stage]
    if not stage.implemented:
        raise NotImplementedStage(
            f"stage '{stage.name}' is not implemented yet (planned: {stage.planned}); nothing was run or written")
    module = stage.module()
    cfg = resolve_config(args, module.overrides(args), getattr(module, "OUT_SUFFIX", None))
    module.run(cfg, args)
    return 0


def run_pipeline(args: argparse.Namespace) -> int:
    cfg = resolve_config(args)
    for name in cfg.run.stages:
        if name not in STAGES:
            raise ConfigError(f"config key 'run.stages': unknown stage {name!r} (known: {', '.join(DEFAULT_ORDER)})")
    missing = [n for n in cfg.run.stages if not STAGES[n].implemented]
    if missing:
        stage = STAGES[missing[0]]
        raise NotImplementedStage(f"run.stages includes '{stage.name}', which is not implemented yet "
                                  f"(planned: {stage.planned}); nothing was run or written")
    for name in [n for n in cfg.run.stages if n != LAST]:
        print(f"== {name}: {STAGES[name].summary}")
        started, t0 = datetime.now(timezone.utc), time.perf_counter()
        try:
            STAGES[name].module().run(cfg, None)
        except Exception as exc:
            report_failure(cfg, name, exc, started, time.perf_counter() - t0)
            raise
    print(f"== {LAST}: {STAGES[LAST].summary}")
    STAGES[LAST].module().run(cfg, None)
    from ..reports.run_summary import run_summary

    print("== summary\n" + run_summary(Path(cfg.run.out_dir)))
    return 0


def report_failure(cfg: Config, stage: str, exc: Exception, started: datetime, seconds: float) -> None:
    """A stage of `toolchain run` failed: its one-line error goes into the run's manifest and the
    run's page is written with it, where the run directory exists (a failing first stage leaves
    none). The stage's own error is what the command reports; a page that cannot be written is
    said in one line."""
    root = Path(cfg.run.out_dir)
    if not (root / MANIFEST).is_file():
        return
    error = str(exc) if isinstance(exc, ToolchainError) else f"{type(exc).__name__}: {exc}"
    try:
        record_failure(root, stage, cfg, error.strip().splitlines()[0] if error.strip() else type(exc).__name__,
                       started, seconds)
        STAGES[LAST].module().run(cfg, None)
    except ToolchainError as page_error:
        print(f"toolchain run: {LAST} not written: {page_error}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    stage = STAGES.get(getattr(args, "stage", ""), None)
    if unknown and (stage is None or stage.implemented):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except NotImplementedStage as exc:
        print(f"toolchain {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except ToolchainError as exc:
        print(f"toolchain {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"toolchain {args.command}: interrupted; finished artifacts are kept, partial ones removed", file=sys.stderr)
        return 130


def stage_main(name: str) -> int:
    """Entry of `python -m toolchain.<stage>`: the same as `toolchain <stage> ...`."""
    return main([name, *sys.argv[1:]])
