"""The ReLU CNN twin of the SNN (`snn_cnn`): trained as an ordinary CNN, then converted to `snn`.

Built from the same `model.snn_*` fields as `snn` (toolchain/models/snn.py): the same encoder,
the same Brevitas `QuantConv2d` layers (filters, kernel, weight bits, no bias, 'same' padding)
and the same `QuantLinear` readout, so every weight tensor has the shape of its SNN twin and
`toolchain convert` copies the integer weights one to one. In place of the spiking neurons each
conv is followed by a `QuantReLU` (`model.act_bits`, or `model.layer_act_bits` with one value
per conv layer). The input is the encoder's *rate*: the frame's spike counts summed over its T
steps and divided by T (mean counts per step), which is what the SNN's input delivers on
average per step. No bias and no BatchNorm, so the network is positively homogeneous and the
conversion is exact in the rate limit (docs/convert.md).
"""

from __future__ import annotations

import brevitas.nn as qnn
import torch
from torch import nn

from ..config import ModelConfig
from ..snn.encoders import encode
from .snn import snn_layer_bits


class SNNCNN(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        w_bits, a_bits = snn_layer_bits(cfg)
        _, _, channels, height, width = encode(cfg, torch.zeros(1, 2, cfg.input_length)).shape
        kernel = (cfg.snn_kernel if height > 1 else 1, cfg.snn_kernel)
        pad = (kernel[0] // 2, kernel[1] // 2)  # as conv_lif: 'same' padding of an odd kernel
        convs, relus = [], []
        for i, filters in enumerate(cfg.snn_filters):
            convs.append(qnn.QuantConv2d(channels, filters, kernel, padding=pad, bias=False, weight_bit_width=w_bits[i]))
            relus.append(qnn.QuantReLU(bit_width=a_bits[i]))
            channels = filters
        self.convs = nn.ModuleList(convs)
        self.relus = nn.ModuleList(relus)
        self.readout = qnn.QuantLinear(channels * height * width, cfg.num_classes, bias=False,
                                       weight_bit_width=w_bits[-1])

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, L) frames -> (B, C, H, W): spike counts summed over the T steps, over T."""
        return encode(self.config, x).mean(1)

    def activations(self, rates: torch.Tensor) -> list[torch.Tensor]:
        """Each conv layer's ReLU output for an input of rates (what conversion calibrates on)."""
        out, a = [], rates
        for conv, relu in zip(self.convs, self.relus):
            a = relu(conv(a))
            out.append(a)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.activations(self.rates(x))[-1].flatten(1))


__all__ = ["SNNCNN", "act_bits"]
