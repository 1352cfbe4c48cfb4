"""Typed configuration: YAML file + `--set key=value` overrides -> dataclasses.

Every key is checked against the dataclass fields before any work starts; an unknown key or a
value of the wrong type is a `ConfigError` naming the dotted key. This package imports no
torch/finn so that `--help` and config errors stay instant. One module per group of sections
(`data`, `model`, `stages`); the checking machinery in `fields`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .data import SYNTH_PRESETS, ChannelConfig, DataConfig, SynthConfig, apply_synth_preset, synth_preset
from .fields import from_dict, key, key_factory, to_dict
from .model import ModelConfig, lif_param_problems
from .stages import (CaptureConfig, ClassifyConfig, ConvertConfig, CostConfig, EnergyConfig, EvalConfig, ExportConfig, FinnConfig,
                     PruneConfig, RunConfig, TrainConfig)

__all__ = ["SYNTH_PRESETS", "CaptureConfig", "ChannelConfig", "ClassifyConfig", "Config", "ConvertConfig", "CostConfig", "DataConfig",
           "EnergyConfig", "EvalConfig", "ExportConfig", "FinnConfig", "ModelConfig", "PruneConfig", "RunConfig",
           "SynthConfig", "TrainConfig", "from_dict", "key", "key_factory", "lif_param_problems", "load_config",
           "parse_override", "synth_preset", "text_override", "to_dict"]


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    cost: CostConfig = field(default_factory=CostConfig)
    finn: FinnConfig = field(default_factory=FinnConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    convert: ConvertConfig = field(default_factory=ConvertConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read an optional YAML file, apply `key=value` overrides, and validate into a `Config`."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_yaml(Path(path))
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(raw, key, value)
    apply_synth_preset(raw)
    return from_dict(Config, raw)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """`data.batch_size=512` -> ("data.batch_size", 512); the value is parsed as YAML."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. data.batch_size=512")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
    return key, value


def text_override(key: str, value: object) -> str:
    """`key=value` for a flag whose value is text (a path, a name): quoted, so YAML parsing of
    overrides cannot turn `123`, `yes` or `a: b` into a number, a bool or a mapping."""
    return f"{key}={json.dumps(str(value))}"


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"config key '{'.'.join(parts[: i + 1])}': is a value, not a section")
        node = child
    node[parts[-1]] = value
