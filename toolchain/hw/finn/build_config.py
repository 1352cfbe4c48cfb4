"""The build folder of a deployable model, read and validated before any work.

    build/<model>/
      build.yaml                          name, default board, clock, target fps, steps, outputs
      boards/<BOARD>.json                 part, shell flow, resource totals (data, not code)
      folding_config/<BOARD>.json         PE/SIMD/... per layer, keyed by graph structure
      specialize_layers_config/<BOARD>.json   RTL or HLS per layer, keyed the same way
      custom_steps.py                     optional: build steps of this model only

A new board is new JSON files, never new code. Every key is checked here: an unknown key, a
missing file or a bad value is a `ConfigError` naming the file and the key. This module imports
no FINN (the step names are checked by `steps.resolve_steps`, which needs FINN).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from ...config import FinnConfig, from_dict
from ...errors import ConfigError

BUILD_FILES = ("build.yaml", "build.yml", "build.json")
OutputName = Literal["estimate_reports", "stitched_ip", "rtlsim_performance", "out_of_context_synth",
                     "bitfile", "pynq_driver", "cpp_driver", "deployment_package"]
# DataflowBuildConfig fields the stage sets itself; `finn_options` must not repeat them.
MANAGED_FINN_OPTIONS = ("output_dir", "steps", "board", "fpga_part", "shell_flow_type", "vitis_platform",
                        "synth_clk_period_ns", "target_fps", "generate_outputs",
                        "folding_config_file", "specialize_layers_config_file", "save_intermediate_models",
                        "verify_steps", "verify_input_npy", "verify_expected_output_npy", "start_step", "stop_step")


@dataclass
class BuildSpec:
    """`build.yaml`: what every board of this model shares."""

    name: str = ""  # shown in reports, e.g. vgg10-radioml
    description: str = ""
    board: str = ""  # default board (a file stem under boards/)
    clock_ns: float = 10.0  # default clock period; a board file or finn.clock_ns may override it
    # automatic folding target: frames/s or "max" (the fastest folding within the board's budget)
    target_fps: Optional[Union[int, Literal["max"]]] = "max"
    steps: list[str] = field(default_factory=list)  # FINN step names, toolchain steps, custom_steps.py functions
    outputs: list[OutputName] = field(default_factory=lambda: ["estimate_reports"])


@dataclass
class BoardResources:
    """Totals of the device, for the share-of-board figures (BRAM in 36 kb blocks)."""

    LUT: int = 0
    FF: int = 0
    BRAM36: int = 0
    URAM: int = 0
    DSP: int = 0


@dataclass
class BoardSpec:
    """`boards/<BOARD>.json`."""

    name: str = ""
    part: str = ""  # Xilinx part, e.g. xczu7ev-ffvc1156-2-e
    shell_flow: Literal["vivado_zynq", "vitis_alveo"] = "vivado_zynq"
    resources: BoardResources = field(default_factory=BoardResources)
    finn_board: str = ""  # FINN's name of the board (Zynq shell presets, Alveo platforms); empty = name
    vitis_platform: str = ""  # Alveo only; empty = FINN's default platform of finn_board
    clock_ns: Optional[float] = None  # this board's clock period, if not build.yaml's
    budget: float = 0.7  # share of each resource (LUT, BRAM, URAM, DSP) the automatic folding may use
    description: str = ""


@dataclass
class BuildPlan:
    """A build folder resolved for one board and the stage's config."""

    folder: Path
    build_file: Path
    spec: BuildSpec
    board: BoardSpec
    board_file: Path
    clock_ns: float
    target_fps: Union[int, str]  # frames/s or "max"
    budget: float  # share of each board resource
    folding: Optional[dict[str, Any]]
    folding_file: Optional[Path]
    specialize: Optional[dict[str, Any]]
    specialize_file: Optional[Path]
    finn_options: dict[str, Any]
    custom_steps_file: Optional[Path]
    event_impl_style: str = "rtl"  # finn.event_impl_style: the SNN event nodes' backend (rtl or hls)

    @property
    def files(self) -> list[Path]:
        """The build folder's files this build read (recorded with hashes in the manifest)."""
        found = [self.build_file, self.board_file, self.folding_file, self.specialize_file, self.custom_steps_file]
        return [p for p in found if p is not None]

    @property
    def finn_board(self) -> str:
        return self.board.finn_board or self.board.name


def load_plan(finn: FinnConfig) -> BuildPlan:
    folder = Path(finn.build)
    if not folder.is_dir():
        raise ConfigError(f"config key 'finn.build': {folder} is not a build folder (no such directory)")
    build_file = next((folder / n for n in BUILD_FILES if (folder / n).is_file()), None)
    if build_file is None:
        raise ConfigError(f"{folder}: not a build folder: none of {', '.join(BUILD_FILES)} found")
    raw = _read_mapping(build_file)
    finn_options = raw.pop("finn_options", None) or {}
    spec = _typed(BuildSpec, raw, build_file)
    _check_spec(spec, build_file)
    _check_finn_options(finn_options, build_file)

    board_name = finn.board or spec.board
    boards = sorted(p.stem for p in (folder / "boards").glob("*.json"))
    if not board_name:
        raise ConfigError(f"{build_file}: no default 'board' and none given (--board; boards: {', '.join(boards)})")
    board_file = folder / "boards" / f"{board_name}.json"
    if not board_file.is_file():
        raise ConfigError(f"unknown board '{board_name}' for {folder} (boards/ has: {', '.join(boards) or 'none'})")
    board = _typed(BoardSpec, _read_mapping(board_file), board_file)
    _check_board(board, board_name, board_file)

    folding_file = folder / "folding_config" / f"{board_name}.json"
    specialize_file = folder / "specialize_layers_config" / f"{board_name}.json"
    folding = read_structural(folding_file, folding=True) if folding_file.is_file() else None
    specialize = read_structural(specialize_file) if specialize_file.is_file() else None
    target_fps = finn.target_fps or spec.target_fps or "max"
    custom = folder / "custom_steps.py"
    return BuildPlan(folder=folder, build_file=build_file, spec=spec, board=board, board_file=board_file,
                     clock_ns=finn.clock_ns or board.clock_ns or spec.clock_ns, target_fps=target_fps,
                     budget=finn.budget or board.budget,
                     folding=folding, folding_file=folding_file if folding is not None else None,
                     specialize=specialize, specialize_file=specialize_file if specialize is not None else None,
                     finn_options=finn_options, custom_steps_file=custom if custom.is_file() else None,
                     event_impl_style=finn.event_impl_style)


def read_structural(path: Path, folding: bool = False) -> dict[str, Any]:
    """A folding or specialisation file: {"description", "defaults": {role: {attr: value}},
    "layers": {layer: {role: {attr: value}}}}, and for a folding {"model": {"signature": ...}}:
    the graph it was written for (`structure.signature`). Layer and role names are checked
    against the model when the file is applied (`structure.resolve`)."""
    data = _read_mapping(path)
    known = ("description", "model", "defaults", "layers") if folding else ("description", "defaults", "layers")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}' (known: {', '.join(known)})")
    model = data.get("model")
    if folding and (not isinstance(model, dict) or not isinstance(model.get("signature"), str) or
                    set(model) - {"signature", "summary"}):
        raise ConfigError(f"{path}: key 'model': expected {{\"signature\": \"...\", \"summary\": \"...\"}}, the "
                          "graph this folding is written for (finn_build prints a model's signature)")
    for role, attrs in (data.get("defaults") or {}).items():
        _check_attrs(attrs, f"{path}: defaults.{role}")
    layers = data.get("layers") or {}
    if not isinstance(layers, dict):
        raise ConfigError(f"{path}: 'layers' must map layer names to {{role: {{attribute: value}}}}")
    for layer, roles in layers.items():
        if not isinstance(roles, dict):
            raise ConfigError(f"{path}: layers.{layer} must map roles to {{attribute: value}}")
        for role, attrs in roles.items():
            _check_attrs(attrs, f"{path}: layers.{layer}.{role}")
    return {"defaults": data.get("defaults") or {}, "layers": layers, "model": model}


def _check_attrs(attrs: Any, where: str) -> None:
    if not isinstance(attrs, dict):
        raise ConfigError(f"{where} must map FINN node attributes to values, got {attrs!r}")
    for name, value in attrs.items():
        if not isinstance(value, (int, float, str, list)) or isinstance(value, bool):
            raise ConfigError(f"{where}.{name}: expected a number, string or list, got {value!r}")


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{line}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _typed(cls: type, raw: dict[str, Any], path: Path) -> Any:
    try:
        return from_dict(cls, raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _check_spec(spec: BuildSpec, path: Path) -> None:
    if spec.clock_ns <= 0:
        raise ConfigError(f"{path}: key 'clock_ns': expected a positive number, got {spec.clock_ns!r}")
    if spec.target_fps not in (None, "max") and spec.target_fps <= 0:
        raise ConfigError(f"{path}: key 'target_fps': expected a positive integer, max or null, "
                          f"got {spec.target_fps!r}")
    if not spec.steps:
        raise ConfigError(f"{path}: key 'steps': expected a non-empty list of build steps")
    if "estimate_reports" not in spec.outputs:
        raise ConfigError(f"{path}: key 'outputs': must include estimate_reports (finn_report.json is built from them)")


def _check_board(board: BoardSpec, name: str, path: Path) -> None:
    if board.name != name:
        raise ConfigError(f"{path}: key 'name': expected '{name}' (the file name), got {board.name!r}")
    if not board.part:
        raise ConfigError(f"{path}: key 'part': expected the Xilinx part, e.g. xczu7ev-ffvc1156-2-e")
    for key in ("LUT", "FF", "BRAM36", "DSP"):
        if getattr(board.resources, key) <= 0:
            raise ConfigError(f"{path}: key 'resources.{key}': expected a positive integer, "
                              f"got {getattr(board.resources, key)!r}")
    if not 0 < board.budget <= 1:
        raise ConfigError(f"{path}: key 'budget': expected a share in (0, 1], got {board.budget!r}")
    if board.clock_ns is not None and board.clock_ns <= 0:
        raise ConfigError(f"{path}: key 'clock_ns': expected a positive number or null, got {board.clock_ns!r}")


def _check_finn_options(options: Any, path: Path) -> None:
    if not isinstance(options, dict):
        raise ConfigError(f"{path}: key 'finn_options': expected a mapping of DataflowBuildConfig fields")
    for key in options:
        if key in MANAGED_FINN_OPTIONS:
            raise ConfigError(f"{path}: key 'finn_options.{key}': set by the stage itself (use the build.yaml/board "
                              "keys or finn.* config instead)")
