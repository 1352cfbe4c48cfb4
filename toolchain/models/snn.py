"""Spiking CNN for RadioML: spike encoder -> conv LIF layers -> readout layer -> logits (B, 24).

Time steps are a leading dimension processed one after another, each layer's state carried
from step to step and reset to zero for every frame (docs/snn.md). Takes the same (B, 2, L)
float frames as VGG10, so train_initial / evaluate work unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..config import ModelConfig
from ..snn.encoders import encode, max_count
from ..snn.layers import LIFSynapse, conv_lif, linear_lif, surrogate
from ..snn.lif import LIFParams, LIFState
from .vgg10 import per_layer_bits


def lif_params(cfg: ModelConfig) -> LIFParams:
    return LIFParams(cfg.snn_state_bits, cfg.snn_leak_shift, cfg.snn_threshold, cfg.snn_reset, cfg.snn_refractory)


def snn_layer_bits(cfg: ModelConfig) -> tuple[list[int], list[int]]:
    """Weight bits per conv layer + the readout, and act bits per conv layer (`snn_cnn`'s ReLUs)."""
    n = len(cfg.snn_filters)
    return per_layer_bits(cfg, n + 1, n, f"{n} conv layers + the readout")


class SNN(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        params, spike_fn = lif_params(cfg), surrogate(cfg.snn_surrogate, cfg.snn_surrogate_slope)
        bits, _ = snn_layer_bits(cfg)
        _, _, channels, height, width = encode(cfg, torch.zeros(1, 2, cfg.input_length)).shape
        kernel = (cfg.snn_kernel if height > 1 else 1, cfg.snn_kernel)
        layers = []
        for i, filters in enumerate(cfg.snn_filters):
            # per-layer thresholds come from ANN->SNN conversion; the readout keeps snn_threshold
            p = params if cfg.snn_thresholds is None else dataclasses.replace(params, threshold=cfg.snn_thresholds[i])
            layers.append(conv_lif(channels, filters, kernel, bits[i], p, spike_fn, max_count(cfg) if i == 0 else 1))
            channels = filters
        readout = cfg.snn_readout == "membrane"
        layers.append(linear_lif(channels * height * width, cfg.num_classes, bits[-1], params, spike_fn, readout))
        self.layers = nn.ModuleList(layers)
        if cfg.snn_learning == "local":
            # DECOLLE's fixed random readouts, one per hidden layer: never trained, saved with the
            # model so a resumed run keeps the same local targets.
            g = torch.Generator().manual_seed(0)
            for i, layer in enumerate(self.layers[:-1]):
                n = layer.synapse.out_channels * height * width
                self.register_buffer(f"local_readout{i}", torch.randn(cfg.num_classes, n, generator=g) / n ** 0.5)
        # Logits = the readout standardised per frame, times a learned temperature: a positive
        # affine map per frame, so the integer argmax (the hardware's answer) is unchanged, while
        # the loss sees logits of a trainable size whatever the integer magnitudes.
        self.log_scale = nn.Parameter(torch.tensor(0.0))
        self._rates: Optional[torch.Tensor] = None
        self._rates_grad: Optional[torch.Tensor] = None  # the same, differentiable, when snn_rate_penalty is on
        self._local_logits: list[torch.Tensor] = []

    def run(self, spikes_in: torch.Tensor, record: bool = False):
        """Spike counts (B, T, C, H, W) -> (final readout state (B, classes), readout counts or
        None, per-layer spikes (T-lists) if `record`). The integer-exact core of `forward`.
        With local learning in training, the per-step logits of every hidden layer's fixed random
        readout are left in `self._local_logits`.

        Truncated BPTT (`snn_bptt` = N) runs the steps in chunks of N; in training each chunk's
        activations are recomputed in the backward pass instead of kept (activation
        checkpointing), so training memory grows with N, not with T; same gradients."""
        cfg = self.config
        local = cfg.snn_learning == "local" and self.training
        steps = spikes_in.shape[1]
        chunk = cfg.snn_bptt or steps
        recompute = cfg.snn_bptt is not None and self.training and torch.is_grad_enabled() and not local and not record
        rate_grad = cfg.snn_rate_penalty > 0 and self.training and torch.is_grad_enabled()
        states: list[Optional[LIFState]] = [None] * len(self.layers)
        totals = torch.zeros(len(self.layers), device=spikes_in.device)
        counts = None
        trace: list[list[torch.Tensor]] = [[] for _ in self.layers]
        self._local_logits = []
        for t0 in range(0, steps, chunk):
            if t0 > 0:
                # Truncation cuts the spiking layers' recurrences only: the readout integrates
                # linearly and its final state is the logits, so cutting it too would leave every
                # step before the last N without gradient.
                states = [st if layer.readout else LIFState(st.v.detach(), st.refractory)  # type: ignore[union-attr]
                          for st, layer in zip(states, self.layers)]
            args = (spikes_in[:, t0: t0 + chunk], states, counts, local, trace if record else None, rate_grad)
            if recompute:
                states, counts, sums = checkpoint(self._steps, *args, use_reentrant=False)
            else:
                states, counts, sums = self._steps(*args)
            totals = totals + sums
        self._rates = totals.detach() / steps
        self._rates_grad = totals / steps if rate_grad else None
        return states[-1].v, counts, (trace if record else None)  # type: ignore[union-attr]

    def _steps(self, spikes_in: torch.Tensor, states: list, counts: Optional[torch.Tensor], local: bool,
               trace: Optional[list[list[torch.Tensor]]], rate_grad: bool = False):
        """Steps along axis 1 of `spikes_in` from `states`: (states, counts, per-layer sums of
        the mean spikes per step, differentiable if `rate_grad`). No side effects but `trace` and
        `_local_logits` (never used together with recomputation), so a checkpointed chunk can run
        twice."""
        states = list(states)
        sums = [torch.zeros((), device=spikes_in.device) for _ in self.layers]
        for t in range(spikes_in.shape[1]):
            s = spikes_in[:, t]
            for i, layer in enumerate(self.layers):
                if i == len(self.layers) - 1:
                    s = s.flatten(1)
                if local:
                    # No gradient across layers, nor across time for spiking layers; the readout
                    # integrates linearly, so its gradient through time stays exact and local.
                    s = s.detach()
                    if states[i] is not None and not layer.readout:
                        states[i] = LIFState(states[i].v.detach(), states[i].refractory)  # type: ignore[union-attr]
                s, states[i] = layer.step(s, states[i])
                if local and not layer.readout and i < len(self.layers) - 1:
                    self._local_logits.append(F.linear(s.flatten(1), getattr(self, f"local_readout{i}")))
                if trace is not None:
                    trace[i].append(s.detach())
                if not layer.readout:
                    sums[i] = sums[i] + (s if rate_grad else s.detach()).mean()
            if not self.layers[-1].readout:
                counts = s if counts is None else counts + s
        return states, counts, torch.stack(sums)

    def forward(self, x: torch.Tensor):
        v, counts, _ = self.run(encode(self.config, x))
        readout = counts if counts is not None else v  # spike counts in [0, T] or the integer membrane
        centred = readout - readout.mean(1, keepdim=True)
        logits = centred / (centred.std(1, keepdim=True) + 1e-6) * self.log_scale.exp()
        if self._local_logits:
            return logits, self._local_logits
        return logits

    def training_loss(self, outputs, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the logits, plus with local learning the mean per-step cross-entropy
        of every hidden layer's fixed random readout (the layer's only learning signal), plus
        the spike-activity penalty (`rate_penalty`)."""
        if not isinstance(outputs, tuple):
            loss = F.cross_entropy(outputs, labels)
        else:
            logits, local = outputs
            loss = F.cross_entropy(logits, labels) + sum(F.cross_entropy(o, labels) for o in local) / len(local) * (
                len(self.layers) - 1)
        return loss + self.rate_penalty() if self._rates_grad is not None else loss

    def rate_penalty(self) -> torch.Tensor:
        """snn_rate_penalty x the sum over hidden LIF layers of max(0, rate - snn_rate_target),
        rates of the last training forward pass. Local learning detaches every layer's input and
        state, so each layer's term reaches only its own weights (a per-layer loss); with BPTT
        a layer's term also reaches the layers before it."""
        if self._rates_grad is None:
            raise RuntimeError("rate_penalty: no training forward pass with model.snn_rate_penalty > 0")
        cfg = self.config
        return cfg.snn_rate_penalty * F.relu(self._rates_grad[:-1] - cfg.snn_rate_target).sum()

    def layer_rates(self) -> torch.Tensor:
        """Mean spikes per neuron and time step of every layer (0 for a membrane readout) in the
        last forward pass, where it ran: reading it needs no device synchronisation."""
        if self._rates is None:
            raise RuntimeError("layer_rates: no forward pass yet")
        return self._rates

    def spike_rates(self) -> dict[str, float]:
        """Mean spikes per neuron and time step of each spiking layer in the last forward pass."""
        if self._rates is None:
            return {}
        return {f"lif{i}": float(r) for i, r in enumerate(self._rates.tolist())
                if not self.layers[i].readout}


__all__ = ["SNN", "LIFSynapse", "lif_params"]
