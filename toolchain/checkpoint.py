"""Checkpoints: the model's weights together with the config that rebuilds it.

A toolchain checkpoint is a dict {"format", "model_config", "state_dict", ...training state};
later stages rebuild the model from "model_config" with no flags. A bare `state_dict` (such as
the official challenge baseline) is accepted too, with the model taken from the `model.*`
config (`--model NAME`). Loading always uses `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_path
from .config import ModelConfig, from_dict
from .errors import ConfigError, ToolchainError

FORMAT = "toolchain-checkpoint/1"


def save_checkpoint(path: str | Path, model: torch.nn.Module, model_cfg: ModelConfig, **state: Any) -> Path:
    """Write atomically: an interrupted save never replaces a good checkpoint with half a file."""
    payload = {"format": FORMAT, "model_config": dataclasses.asdict(model_cfg),
               "state_dict": model.state_dict(), **state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw payload (a toolchain checkpoint or a bare state_dict), on the CPU."""
    p = Path(path)
    if not p.is_file():
        raise ToolchainError(f"{p}: no such checkpoint file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; all mean the same here
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ToolchainError(f"{p}: not a loadable PyTorch checkpoint ({reason[:200]})") from None
    if not isinstance(obj, dict):
        raise ToolchainError(f"{p}: expected a checkpoint dict or a state_dict, found {type(obj).__name__}")
    return obj


def is_toolchain_checkpoint(obj: dict[str, Any]) -> bool:
    return obj.get("format") == FORMAT


def load_model(path: str | Path, fallback: ModelConfig | None = None) -> tuple[torch.nn.Module, ModelConfig, dict[str, Any]]:
    """(model in eval mode, its config, the raw payload).

    The model config embedded in a toolchain checkpoint wins; `fallback` is used only for a
    bare state_dict, which carries no config.
    """
    from .models import build_model

    obj = load_checkpoint(path)
    if is_toolchain_checkpoint(obj):
        try:
            cfg = from_dict(ModelConfig, obj["model_config"], "model")
        except ConfigError as exc:
            raise ToolchainError(f"{path}: its embedded model config is invalid: {exc}") from None
        state = obj["state_dict"]
    elif obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        if fallback is None:
            raise ToolchainError(f"{path}: a bare state_dict carries no model config; name the model (--model NAME)")
        cfg, state = fallback, obj
    else:
        raise ToolchainError(f"{path}: neither a toolchain checkpoint nor a state_dict (keys: {', '.join(list(obj)[:5])})")
    model = build_model(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = next((ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()), str(exc))
        raise ToolchainError(f"{path}: weights do not fit model '{cfg.name}' as configured ({first}); "
                             "check --model and model.* settings") from None
    return model.eval(), cfg, obj
