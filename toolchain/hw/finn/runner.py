"""Run `finn.builder.build_dataflow_cfg` with the build folder's steps, as a library call.

FINN's builder is written as a program: it redirects `sys.stdout`/`sys.stderr` into its log,
replaces the root logging handlers, prints rich tracebacks and returns -1 on any error, and
reads `XILINX_VIVADO` at the end to record the tool version. Here it is a function call: the
process state is restored afterwards, a failing step becomes one `ToolchainError` naming the
step (FINN's full traceback stays in build_dataflow.log), and a missing `XILINX_VIVADO` is
recorded as "" instead of crashing the estimate-only build.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ...errors import ConfigError, ToolchainError
from .build_config import BuildPlan
from .steps import Step


@dataclass
class BuildOutcome:
    ran: list[str]  # steps run so far
    skipped: list[str]
    output_dir: Path

    @property
    def hw_model(self) -> Path:
        """The accelerator as the tool-free steps leave it (converted, specialised, folded, code
        generated). Later steps add FIFOs and shells around it; their figures are measured ones."""
        from .steps import XILINX_STEPS

        first_tool = next((i for i, n in enumerate(self.ran) if n in XILINX_STEPS), len(self.ran))
        return self.output_dir / "intermediate_models" / f"{self.ran[max(first_tool - 1, 0)]}.onnx"

    def intermediate(self, step: str) -> Path | None:
        path = self.output_dir / "intermediate_models" / f"{step}.onnx"
        return path if path.is_file() else None


def dataflow_config(plan: BuildPlan, output_dir: Path, verify_npy: tuple[Path, Path] | None = None):
    """FINN's DataflowBuildConfig for this plan (its steps are set by `run_build`);
    `finn_options` are validated by FINN itself."""
    from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType, ShellFlowType

    base = {"standalone_thresholds": True, "console_log_level": "ERROR", **plan.finn_options}
    try:
        cfg = DataflowBuildConfig.from_dict(base)
    except Exception as exc:  # mashumaro: ExtraKeysError, InvalidFieldValue, ...
        raise ConfigError(f"{plan.build_file}: finn_options: {exc}".splitlines()[0]) from None
    cfg.output_dir = str(output_dir)
    cfg.synth_clk_period_ns = plan.clock_ns
    cfg.board = plan.finn_board
    cfg.fpga_part = plan.board.part
    cfg.shell_flow_type = ShellFlowType(plan.board.shell_flow)
    cfg.vitis_platform = plan.board.vitis_platform or None
    cfg.target_fps = None  # FINN's SetFolding is not used: step_fold_by_structure folds within the budget
    cfg.generate_outputs = [DataflowOutputType(o) for o in plan.spec.outputs]
    # The structural specialisation file rides in FINN's field: only the toolchain's step reads it
    # (resolve_steps refuses FINN's name-keyed readers); the folding file reaches
    # step_fold_by_structure with the plan (steps.FoldSettings).
    cfg.specialize_layers_config_file = plan.specialize_file.resolve() if plan.specialize_file else None
    cfg.save_intermediate_models = True
    if verify_npy is not None:  # C++ simulation of the folded HLS layers, where the headers exist
        from finn.builder.build_dataflow_config import VerificationStepType

        cfg.verify_steps = [VerificationStepType.FOLDED_HLS_CPPSIM]
        cfg.verify_input_npy, cfg.verify_expected_output_npy = (str(p) for p in verify_npy)
    return cfg


def run_build(model_file: Path, cfg, steps: list[tuple[str, Step]], skipped: list[str],
              check: Callable[[BuildOutcome], None] | None = None) -> BuildOutcome:
    """Run `steps` through FINN's builder; raises ToolchainError naming a failed step.

    In two parts when some steps need the Xilinx tools: the tool-free steps, then `check` (the
    verification), then the rest, resumed from FINN's saved model (`start_step`), so that a
    model that fails its checks never costs hours of synthesis. The two parts' logs and step
    times are merged into FINN's single files.
    """
    from .steps import XILINX_STEPS

    first_tool = next((i for i, (n, _) in enumerate(steps) if n in XILINX_STEPS), len(steps))
    out = Path(cfg.output_dir)
    _run_part(model_file, cfg, steps[:first_tool], start=None)
    outcome = BuildOutcome(ran=[n for n, _ in steps[:first_tool]], skipped=skipped, output_dir=out)
    if check is not None:
        check(outcome)
    if first_tool == len(steps):
        return outcome
    log, times = out / "build_dataflow.log", out / "report" / "time_per_step.json"
    first_log, first_times = log.read_text(), json.loads(times.read_text())
    try:
        _run_part(model_file, cfg, steps, start=steps[first_tool][0])
    finally:  # FINN rewrites both files per run
        log.write_text(first_log + log.read_text() if log.is_file() else first_log)
        later = json.loads(times.read_text()) if times.is_file() else {}
        merged = {k: v for d in (first_times, later) for k, v in d.items() if k != "total_build_time"}
        times.write_text(json.dumps({**merged, "total_build_time": sum(merged.values())}, indent=2))
    outcome.ran = [n for n, _ in steps]
    return outcome


def _run_part(model_file: Path, cfg, steps: list[tuple[str, Step]], start: str | None) -> None:
    from finn.builder.build_dataflow import build_dataflow_cfg

    failure: dict[str, BaseException] = {}
    cfg.steps = [_guarded(name, fn, failure) for name, fn in steps]
    cfg.start_step = start
    with _process_state_kept(), _vivado_root_recorded():
        try:
            code = build_dataflow_cfg(str(model_file), cfg)
        except Exception as exc:  # under pytest FINN re-raises instead of returning -1
            failure.setdefault("error", exc)
            code = -1
    if failure.get("interrupted"):
        raise KeyboardInterrupt
    if code != 0:
        exc = failure.get("error")
        step = failure.get("step", "?")
        if isinstance(exc, ToolchainError):
            raise ToolchainError(f"FINN step {step}: {exc}") from None
        log = Path(cfg.output_dir) / "build_dataflow.log"
        if exc is None:
            raise FinnStepError(f"FINN build failed (exit code {code})", log)
        where = f" at layer {failure['layer']}" if failure.get("layer") else ""
        kind = "" if _is_user_error(exc) else f"{type(exc).__name__}: "
        raise FinnStepError(f"FINN step {step} failed{where}: {kind}{exc}".splitlines()[0], log) from None


class FinnStepError(ToolchainError):
    """A step failed inside FINN; `log` is FINN's build log, which holds the traceback."""

    def __init__(self, message: str, log: Path):
        super().__init__(message)
        self.log_text = log.read_text() if log.is_file() else ""


def failing_layer(exc: BaseException, model) -> str | None:
    """The HW node whose method raised `exc`, by its place in the network (conv1.swg) and name:
    the innermost traceback frame whose `self` is a FINN custom op, or that holds a `node`."""
    from .structure import places

    name = None
    tb = exc.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals
        node = getattr(local.get("self"), "onnx_node", None) or local.get("node")
        if getattr(node, "domain", "").startswith("finn.custom_op.fpgadataflow"):
            name = node.name
        tb = tb.tb_next
    if name is None:
        return None
    try:
        where = places(model).get(name)
    except Exception:  # a graph places() cannot walk: the node name alone still helps
        where = None
    return f"{where} ({name})" if where is not None else name


def _is_user_error(exc: BaseException) -> bool:
    from finn.util.exception import FINNConfigurationError, FINNUserError

    return isinstance(exc, (FINNUserError, FINNConfigurationError))


def _guarded(name: str, fn: Step, failure: dict) -> Step:
    """Record a step's exception and hand FINN a FINNUserError, which it logs as one line
    instead of printing a traceback to the console; the traceback goes to the build log."""
    from finn.util.exception import FINNUserError

    @functools.wraps(fn)
    def step(model, cfg):
        try:
            return fn(model, cfg)
        except KeyboardInterrupt:
            failure["interrupted"] = True  # FINN turns it into exit code -1; the stage re-raises it
            raise
        except Exception as exc:
            failure.update(step=name, error=exc, layer=failing_layer(exc, model))
            logging.getLogger("build_dataflow").error("step %s failed:\n%s", name, traceback.format_exc())
            raise FINNUserError(f"{name}: {type(exc).__name__}: {exc}") from exc

    step.__name__ = name  # FINN names intermediate models and timings by __name__
    return step


@contextmanager
def _process_state_kept() -> Iterator[None]:
    """Undo the builder's process-wide changes: stdout/stderr redirection and root logging."""
    root = logging.getLogger()
    saved = (sys.stdout, sys.stderr, list(root.handlers), root.level)
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in saved[2]:
                handler.close()
        sys.stdout, sys.stderr = saved[0], saved[1]
        root.handlers[:] = saved[2]
        root.setLevel(saved[3])
        logging.captureWarnings(False)


@contextmanager
def _vivado_root_recorded() -> Iterator[None]:
    """FINN writes Path($XILINX_VIVADO).name into metadata_builder.json at the end of every build
    and fails if the variable is unset; without Vivado it records "" (no tool)."""
    if "XILINX_VIVADO" in os.environ:
        yield
        return
    os.environ["XILINX_VIVADO"] = ""
    try:
        yield
    finally:
        os.environ.pop("XILINX_VIVADO", None)
