"""Imperial's two-branch model (challenge seed 002): a strided quantized conv branch and a branch
of signal statistics, fused into one classifier; two auxiliary heads, one per branch, train only.

The statistics are computed in float from the quantized input frame with elementwise ops and
means (Mul/Add/Div/Sqrt/ReduceMean in ONNX). qonnx's inference_cost counts Mul/Add/Sub/Div as
free and cannot cost Sqrt/ReduceMean: the export names them as unsupported, so the cost stage
refuses the model unless told to leave their work out (docs/models.md).
"""

from __future__ import annotations

import brevitas.nn as qnn
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from .vgg10 import InputQuantizer, per_layer_bits

EPS = 1e-6  # keeps |x| and the power away from zero for an all-zero frame or sample
N_STATS = 20  # 2 means + 6 central moments + 9 cumulants + 3 spreads


def layer_bits(cfg: ModelConfig) -> tuple[list[int], list[int]]:
    """Weight bits per conv/linear layer (conv branch, its dense layer, the statistics dense layer,
    the classifier, the two auxiliary heads) and activation bits per QuantReLU (conv branch, the
    two dense layers), in registration order."""
    return per_layer_bits(cfg, cfg.conv_layers + 5, cfg.conv_layers + 2,
                          f"two_branch: {cfg.conv_layers} conv, 3 linear, 2 auxiliary heads")


def _mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # A tensor times itself as Pow: qonnx's cleanup renames only the first of two identical inputs
    # of a node (Mul(t, t)), which leaves a dangling tensor and a graph qonnx cannot execute.
    return a**2 if a is b else a * b


def _cmul(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]):
    return _mul(a[0], b[0]) - _mul(a[1], b[1]), _mul(a[0], b[1]) + _mul(a[1], b[0])


def _abs(z: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return torch.sqrt(z[0] ** 2 + z[1] ** 2 + EPS)


def moments(i: torch.Tensor, q: torch.Tensor) -> dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]]:
    """M_nc = E[x^(n-c) conj(x)^c] per frame (real, imaginary) for the orders the cumulants use,
    as x^(n-2c) |x|^(2c) (conj(x)^(2c-n) |x|^(2(n-c)) when c > n - c)."""
    pows = {1: (i, q)}
    for k in range(2, 7):
        pows[k] = _cmul(pows[k - 1], (i, q))
    p2 = i**2 + q**2
    out = {}
    for n, c in ((2, 0), (2, 1), (4, 0), (4, 1), (4, 2), (6, 0), (6, 1), (6, 2), (6, 3)):
        d, m = n - 2 * c, min(n - c, c)
        mag = p2 ** m if m else None
        if d == 0:
            re, im = mag, torch.zeros_like(mag)
        else:
            re, im = pows[abs(d)][0], pows[abs(d)][1] if d > 0 else -pows[abs(d)][1]
            if mag is not None:
                re, im = re * mag, im * mag
        out[(n, c)] = (re.mean(-1), im.mean(-1))
    # The conjugates share their real part with M20 and M41 as the same tensor, so that a product
    # of the two is a Pow (see _mul) and not two equal means the exporter would merge into Mul(t, t).
    out[(2, 2)] = (out[(2, 0)][0], -out[(2, 0)][1])
    out[(4, 3)] = (out[(4, 1)][0], -out[(4, 1)][1])
    return out


def cumulants(i: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """|C20|, C21, |C40|, |C41|, C42, |C60|, |C61|, |C62|, C63 of each frame (..., L) -> (..., 9),
    after scaling the frame to unit power, so they do not depend on the signal level."""
    power = (i**2 + q**2).mean(-1, keepdim=True) + EPS
    scale = torch.sqrt(power)
    m = moments(i / scale, q / scale)
    M20, M21, M22 = m[(2, 0)], m[(2, 1)], m[(2, 2)]
    M40, M41, M42, M43 = m[(4, 0)], m[(4, 1)], m[(4, 2)], m[(4, 3)]
    M60, M61, M62, M63 = m[(6, 0)], m[(6, 1)], m[(6, 2)], m[(6, 3)]

    def lin(*terms):  # sum of coefficient x product of complex moments
        re, im = 0.0, 0.0
        for coef, *factors in terms:
            z = factors[0]
            for f in factors[1:]:
                z = _cmul(z, f)
            re, im = re + coef * z[0], im + coef * z[1]
        return re, im

    C40 = lin((1, M40), (-3, M20, M20))
    C41 = lin((1, M41), (-3, M20, M21))
    C42 = lin((1, M42), (-1, M20, M22), (-2, M21, M21))
    C60 = lin((1, M60), (-15, M20, M40), (30, M20, M20, M20))
    C61 = lin((1, M61), (-5, M21, M40), (-10, M20, M41), (30, M20, M20, M21))
    C62 = lin((1, M62), (-6, M20, M42), (-8, M21, M41), (-1, M22, M40), (6, M20, M20, M22), (24, M21, M21, M20))
    C63 = lin((1, M63), (-9, M21, M42), (12, M21, M21, M21), (-3, M20, M43), (-3, M22, M41), (18, M20, M21, M22))
    feats = [_abs(M20), M21[0], _abs(C40), _abs(C41), C42[0], _abs(C60), _abs(C61), _abs(C62), C63[0]]
    return torch.stack(feats, -1)


def statistics(x: torch.Tensor) -> torch.Tensor:
    """(N, 2, L) I/Q frames -> (N, 20) features: means of I and Q, their 2nd-4th central moments,
    the cumulants, and the spread of the instantaneous amplitude (std / mean), phase and frequency
    (circular: 1 - |mean unit phasor|, which needs no atan2 or phase unwrapping)."""
    i, q = x[:, 0], x[:, 1]
    mean_i, mean_q = i.mean(-1, keepdim=True), q.mean(-1, keepdim=True)
    central = []
    for d in (i - mean_i, q - mean_q):
        central += [(d**2).mean(-1), (d**3).mean(-1), (d**4).mean(-1)]
    amp = _abs((i, q))
    amp_mean = amp.mean(-1)
    amp_spread = torch.sqrt(((amp - amp_mean.unsqueeze(-1)) ** 2).mean(-1) + EPS) / (amp_mean + EPS)
    ui, uq = i / amp, q / amp  # unit phasors
    phase_spread = 1 - _abs((ui.mean(-1), uq.mean(-1)))
    fi, fq = _cmul((ui[:, 1:], uq[:, 1:]), (ui[:, :-1], -uq[:, :-1]))  # phase step per sample
    freq_spread = 1 - _abs((fi.mean(-1), fq.mean(-1)))
    return torch.cat([mean_i, mean_q, torch.stack(central, -1), cumulants(i, q),
                      torch.stack([amp_spread, phase_spread, freq_spread], -1)], -1)


class TwoBranch(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w, a = layer_bits(cfg)
        c = cfg.conv_layers
        if cfg.input_length % (1 << (c + 1)):
            raise ConfigError(f"config key 'model.input_length': expected a multiple of 2**(conv_layers + 1) = "
                              f"{1 << (c + 1)} for two_branch (AvgPool and {c} stride-2 convs), got {cfg.input_length}")
        r = cfg.input_range
        self.input_quant = qnn.QuantHardTanh(act_quant=InputQuantizer, bit_width=cfg.input_bits, min_val=-r, max_val=r)
        # Requantized after the pooling: an average of 8-bit inputs is no 8-bit value, and the
        # first conv would otherwise be costed (and built) with float inputs.
        layers: list[nn.Module] = [nn.AvgPool1d(2), qnn.QuantIdentity(bit_width=cfg.input_bits)]
        channels = 2
        for k in range(c):
            layers += [qnn.QuantConv1d(channels, cfg.filters, 3, stride=2, padding=1, bias=False,
                                       weight_bit_width=w[k]),
                       nn.BatchNorm1d(cfg.filters), qnn.QuantReLU(bit_width=a[k])]
            channels = cfg.filters
        flat = cfg.filters * (cfg.input_length >> (c + 1))
        layers += [nn.Flatten(), qnn.QuantLinear(flat, cfg.dense, bias=False, weight_bit_width=w[c]),
                   nn.BatchNorm1d(cfg.dense), qnn.QuantReLU(bit_width=a[c])]
        self.conv_branch = nn.Sequential(*layers)
        # The features span orders of magnitude (6th-order cumulants): normalised before quantizing.
        self.stats_branch = nn.Sequential(
            nn.BatchNorm1d(N_STATS), qnn.QuantIdentity(bit_width=cfg.input_bits),
            qnn.QuantLinear(N_STATS, cfg.stats_dense, bias=False, weight_bit_width=w[c + 1]),
            nn.BatchNorm1d(cfg.stats_dense), qnn.QuantReLU(bit_width=a[c + 1]))
        self.classifier = qnn.QuantLinear(cfg.dense + cfg.stats_dense, cfg.num_classes, bias=True,
                                          weight_bit_width=w[c + 2])
        # Training wheels (Imperial): a head per branch, trained with the classifier, unused in eval
        # so that the export never contains them.
        self.aux_conv = qnn.QuantLinear(cfg.dense, cfg.num_classes, bias=True, weight_bit_width=w[c + 3])
        self.aux_stats = qnn.QuantLinear(cfg.stats_dense, cfg.num_classes, bias=True, weight_bit_width=w[c + 4])
        self.config = cfg

    def forward(self, x: torch.Tensor):
        x = self.input_quant(x)
        conv, stats = self.conv_branch(x), self.stats_branch(statistics(x))
        logits = self.classifier(torch.cat([conv, stats], 1))
        if not self.training:
            return logits
        return logits, self.aux_conv(conv), self.aux_stats(stats)

    @staticmethod
    def training_loss(outputs, labels: torch.Tensor) -> torch.Tensor:
        """The summed cross-entropy of the classifier and both auxiliary heads."""
        return sum(F.cross_entropy(o, labels) for o in outputs)
