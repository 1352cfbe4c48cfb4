"""Model registry: name -> builder(ModelConfig) -> nn.Module. Later models register here."""

from __future__ import annotations

from typing import Callable

from ..config import ModelConfig
from ..errors import ConfigError


def _vgg10(cfg: ModelConfig):
    from .vgg10 import VGG10

    return VGG10(cfg)


def _snn(cfg: ModelConfig):
    from .snn import SNN

    return SNN(cfg)


def _snn_cnn(cfg: ModelConfig):
    from .snn_cnn import SNNCNN

    return SNNCNN(cfg)


def _two_branch(cfg: ModelConfig):
    from .two_branch import TwoBranch

    return TwoBranch(cfg)


MODELS: dict[str, Callable[[ModelConfig], "object"]] = {
    "vgg10": _vgg10,
    "two_branch": _two_branch,
    "snn": _snn,
    "snn_cnn": _snn_cnn,
}


def build_model(cfg: ModelConfig):
    """A fresh model for `cfg` (torch/brevitas are imported only here)."""
    if cfg.name not in MODELS:
        raise ConfigError(f"config key 'model.name': unknown model {cfg.name!r} (registered: {', '.join(MODELS)})")
    return MODELS[cfg.name](cfg)
