"""The ITU-ML5G-PS-007 baseline: quantized VGG10 for RadioML 2018.01A, in Brevitas.

Laid out as the challenge's `nn.Sequential` (index 0 input quantizer, 1..28 seven conv blocks,
29 flatten, 30..36 the dense head) so the official pretrained `state_dict` loads as it is.
"""

from __future__ import annotations

import brevitas.nn as qnn
from brevitas.inject.enum import ScalingImplType
from brevitas.quant import Int8ActPerTensorFloatMinMaxInit, IntBias
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError


class InputQuantizer(Int8ActPerTensorFloatMinMaxInit):
    """Signed input quantizer with a fixed range: no learned scale, so the FPGA input format
    (INT8, scale range/2**(bits-1)) is known before training."""

    scaling_impl_type = ScalingImplType.CONST


def per_layer_bits(cfg: ModelConfig, n_weights: int, n_acts: int, weight_layers: str) -> tuple[list[int], list[int]]:
    """Weight bits per conv/linear layer and activation bits per QuantReLU, input to output:
    `model.layer_*_bits` when given (their length checked), else the uniform widths."""
    w = cfg.layer_weight_bits or [cfg.weight_bits] * n_weights
    a = cfg.layer_act_bits or [cfg.act_bits] * n_acts
    if len(w) != n_weights:
        raise ConfigError(f"config key 'model.layer_weight_bits': expected {n_weights} values "
                          f"({weight_layers}), got {len(w)}")
    if len(a) != n_acts:
        raise ConfigError(f"config key 'model.layer_act_bits': expected {n_acts} values "
                          f"(one per QuantReLU), got {len(a)}")
    return w, a


def layer_bits(cfg: ModelConfig) -> tuple[list[int], list[int]]:
    return per_layer_bits(cfg, cfg.conv_layers + 3, cfg.conv_layers + 2, f"{cfg.conv_layers} conv + 3 linear layers")


class VGG10(nn.Sequential):
    def __init__(self, cfg: ModelConfig):
        w_bits, a_bits = layer_bits(cfg)
        r = cfg.input_range
        layers: list[nn.Module] = [
            qnn.QuantHardTanh(act_quant=InputQuantizer, bit_width=cfg.input_bits, min_val=-r, max_val=r)
        ]
        channels = 2
        for i in range(cfg.conv_layers):
            layers += [
                qnn.QuantConv1d(channels, cfg.filters, 3, padding=1, bias=False, weight_bit_width=w_bits[i]),
                nn.BatchNorm1d(cfg.filters),
                qnn.QuantReLU(bit_width=a_bits[i]),
                nn.MaxPool1d(2),
            ]
            channels = cfg.filters
        flat = cfg.filters * (cfg.input_length >> cfg.conv_layers)
        c = cfg.conv_layers
        layers += [
            nn.Flatten(),
            qnn.QuantLinear(flat, cfg.dense, bias=False, weight_bit_width=w_bits[c]),
            nn.BatchNorm1d(cfg.dense),
            qnn.QuantReLU(bit_width=a_bits[c]),
            qnn.QuantLinear(cfg.dense, cfg.dense, bias=False, weight_bit_width=w_bits[c + 1]),
            nn.BatchNorm1d(cfg.dense),
            # The classifier's integer bias is scaled by its input's scale: pass it along.
            qnn.QuantReLU(bit_width=a_bits[c + 1], return_quant_tensor=True),
            qnn.QuantLinear(cfg.dense, cfg.num_classes, bias=True, weight_bit_width=w_bits[c + 2],
                            bias_quant=IntBias, bias_bit_width=cfg.bias_bits),
        ]
        super().__init__(*layers)
        self.config = cfg
