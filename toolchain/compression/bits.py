"""Post-training bit-width reduction: the same trained weights, quantized at lower bit widths.

Brevitas keeps no bit width in the state_dict: a weight's scale comes from the weights' own
statistics and an activation's learned parameter is its range, both divided by the integer
range of the bit width at run time. So a model rebuilt with smaller `layer_weight_bits` /
`layer_act_bits` loads the same state_dict strictly and quantizes the same ranges more coarsely,
as Imperial did (6 -> 5 bits, 4 for the last conv) without retraining. The `reduce_bits`
stage drives it.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from torch import nn

from ..config import ModelConfig, from_dict


def reduced_config(model_cfg: ModelConfig, weight_bits: Optional[list[int]] = None,
                   act_bits: Optional[list[int]] = None) -> ModelConfig:
    """`model_cfg` with per-layer bit widths replaced (input to output; None keeps them),
    validated like a config file's and built once, so that a wrong width or count of layers is
    a ConfigError naming the key before any work (for any registered model)."""
    from ..models import build_model

    raw = dataclasses.asdict(model_cfg)
    if weight_bits is not None:
        raw["layer_weight_bits"] = list(weight_bits)
    if act_bits is not None:
        raw["layer_act_bits"] = list(act_bits)
    cfg = from_dict(ModelConfig, raw, "model")
    build_model(cfg)
    return cfg


def requantize(model: nn.Module, new_cfg: ModelConfig) -> nn.Module:
    """A fresh model of `new_cfg` holding `model`'s state (eval mode); the checkpoint saved from
    it embeds the new bit widths, so later stages rebuild it with no flags."""
    from ..models import build_model

    out = build_model(new_cfg)
    out.load_state_dict(model.state_dict(), strict=True)
    return out.eval()
