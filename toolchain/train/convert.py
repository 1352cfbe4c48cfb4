"""ANN->SNN conversion: a trained `snn_cnn` (ReLU CNN) -> the `snn` model with the same weights.

Data-based normalisation (Diehl et al. 2015, Rueckauer et al. 2017), in integers. Layer l of
the CNN computes a_l = ReLU(s_l W_l . a_{l-1}): W_l are its integer weights, s_l its per-tensor
weight scale. Let lambda_l be the `percentile` of layer l's (non-zero) activations on
calibration frames, so a_l / lambda_l lies in [0, 1] but for the outliers. An IF neuron with
reset by subtraction and threshold theta_l fed the current W_l . spikes fires, in the long
run, at rate (mean current) / theta_l, clipped to [0, 1] (at most one spike per step). If the
layer below fires at rates a_{l-1} / lambda_{l-1}, matching the rates a_l / lambda_l gives

    theta_l = lambda_l / (s_l * lambda_{l-1}).

The input is not a spiking layer: it delivers spike counts, whose mean per step is the CNN's
input (the rate: counts over the frame / T_cnn, T_cnn = L / g_cnn). Run at another group g
(T = L / g steps), the mean per step is that input times g / g_cnn, i.e. lambda_0 = g_cnn / g,
and only the first threshold depends on T:

    theta_1 = lambda_1 * g / (s_1 * g_cnn),   theta_l = lambda_l / (s_l * lambda_{l-1}) for l >= 2.

Thresholds are rounded to integers >= 1 (relative error <= 1 / (2 theta), small for the
hundreds these come to with 8-bit weights). The readout is a non-leaky integrator: its final
membrane is the sum over T of W_out . spikes ~ T lambda_L / s_out times the CNN's logits, so
the argmax agrees in the rate limit. Approximations left: rates are quantized to 1/T
(hence the accuracy vs T trade-off), the spikes of a step reach the next layer in the same
step, and `snn_binary` makes the input's counts non-linear in the group.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Iterable, Optional

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..errors import ToolchainError
from ..snn.layers import LIFSynapse, int_weight


def hidden_layers(model: nn.Module) -> list[LIFSynapse]:
    """The spiking conv layers of an `snn` model, input to output (not the readout)."""
    return [m for m in model.layers if isinstance(m, LIFSynapse) and not m.readout
            and isinstance(m.synapse, torch.nn.Conv2d)]


def time_step_groups(cfg: ModelConfig, time_steps: Iterable[int]) -> dict[int, int]:
    """{T: samples per step} for each T asked for; a T that cannot run is a one-line error."""
    length, own = cfg.input_length, cfg.input_length // cfg.snn_group
    out = {}
    for t in sorted(set(time_steps)):
        if length % t:
            raise ToolchainError(f"config key 'convert.time_steps': T = {t} does not divide the frame length "
                                 f"{length} (each step takes input_length / T samples)")
        if cfg.snn_encoder == "delta" and t != own:
            # The delta encoder's plane is one step's samples: another T changes the layer sizes.
            raise ToolchainError(f"config key 'convert.time_steps': the delta encoder's input width is the "
                                 f"group, so this CNN converts at T = {own} only, got {t}")
        out[t] = length // t
    return out


def weight_scales(cnn: nn.Module) -> list[float]:
    """s_l of each conv layer: its quantized weight over its integer weight (one per tensor)."""
    scales = []
    for i, conv in enumerate(cnn.convs):
        scale = conv.quant_weight().scale.detach()
        if scale.numel() != 1:
            raise ToolchainError(f"conv layer {i}: per-channel weight scales ({scale.numel()}); conversion needs "
                                 "one scale per layer (Brevitas' default per-tensor weight quantizer)")
        scales.append(float(scale))
    return scales


@torch.no_grad()
def calibrate(cnn: nn.Module, batches: Iterable[torch.Tensor], percentile: float, device: torch.device,
              frames: int) -> list[float]:
    """lambda_l: the `percentile` of each conv layer's non-zero ReLU activations over the first
    `frames` frames of `batches`. Zeros are left out (as in Rueckauer et al.'s SNN toolbox):
    with most of the plane silent they would pull a high percentile down to a handful of
    values. A layer that is zero on every frame gets its activation step (one quantum) and a
    warning: its neurons then fire when the CNN's would be at least one step on."""
    cnn.eval()
    acts: list[list[np.ndarray]] = [[] for _ in cnn.convs]
    seen = 0
    for x in batches:
        x = x[: frames - seen].to(device)
        for i, a in enumerate(cnn.activations(cnn.rates(x))):
            a = a.flatten()
            acts[i].append(a[a > 0].cpu().numpy())
        seen += len(x)
        if seen >= frames:
            break
    lambdas = []
    for i, chunks in enumerate(acts):
        values = np.concatenate(chunks) if chunks else np.zeros(0)
        if values.size:
            lambdas.append(float(np.percentile(values, percentile)))
        else:
            step = float(cnn.relus[i].act_quant.scale())  # type: ignore[operator]
            print(f"warning: conv layer {i}'s ReLU is zero on all {seen} calibration frames; its threshold "
                  f"uses one activation step ({step:.4g})", file=sys.stderr)
            lambdas.append(step)
    return lambdas


def thresholds(lambdas: list[float], scales: list[float], group: int, cnn_group: int,
               state_bits: int) -> tuple[list[int], list[float]]:
    """(integer thresholds, their unrounded values) for a run at `group` samples per step
    (module docstring); one past the largest state is a one-line error."""
    exact = []
    previous = cnn_group / group  # lambda_0: the CNN's input over the SNN's per-step input
    for lam, s in zip(lambdas, scales):
        exact.append(lam / (s * previous))
        previous = lam
    hi = (1 << (state_bits - 1)) - 1
    rounded = [max(1, int(round(v))) for v in exact]
    for i, theta in enumerate(rounded):
        if theta > hi:
            raise ToolchainError(f"conv layer {i}: the converted threshold {theta} exceeds the largest "
                                 f"{state_bits}-bit state {hi}; raise model.snn_state_bits")
    return rounded, exact


def snn_config(cnn_cfg: ModelConfig, group: int, theta: list[int]) -> ModelConfig:
    """The `snn` twin of an `snn_cnn` config: IF neurons (no leak), reset by subtraction, no
    refractory period, per-layer thresholds, the non-leaky membrane readout."""
    return dataclasses.replace(cnn_cfg, name="snn", snn_group=group, snn_leak_shift=0, snn_reset="subtract",
                               snn_refractory=0, snn_readout="membrane", snn_thresholds=list(theta))


def build_snn(cnn: nn.Module, cfg: ModelConfig) -> nn.Module:
    """The `snn` model of `cfg` with the CNN's weights; checks that the integer weights agree."""
    from ..models import build_model

    snn = build_model(cfg)
    pairs = list(zip(hidden_layers(snn), cnn.convs)) + [(snn.layers[-1], cnn.readout)]
    for layer, source in pairs:
        layer.synapse.load_state_dict(source.state_dict())
        with torch.no_grad():
            if not torch.equal(int_weight(layer.synapse), int_weight(source)):
                raise RuntimeError("converted integer weights differ from the CNN's")  # a bug, not user input
    return snn


def spike_rates(model: nn.Module) -> Optional[dict[str, float]]:
    rates = getattr(model, "spike_rates", None)
    return rates() if callable(rates) else None


__all__ = ["build_snn", "calibrate", "hidden_layers", "snn_config", "thresholds",
           "time_step_groups", "weight_scales"]
