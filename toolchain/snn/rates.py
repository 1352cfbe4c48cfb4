"""Spike rates of an SNN measured over many batches, not just the last forward pass.

`model.spike_rates()` holds the rates of the most recent forward pass only; evaluate and prune
run a whole split in batches, so `SpikeMeter` hooks the model's forward and keeps a frame-
weighted mean per layer, plus the encoder's mean input count (layer 0's input rate), which
the model does not record. Every batch holds all T steps of its frames, so weighting each
batch's per-step mean by its frame count gives the exact mean over all frames and steps.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from .encoders import encode


def is_snn(model: nn.Module) -> bool:
    """The `snn` model (duck-typed: per-layer LIF synapses and spike rates), not a CNN."""
    return hasattr(model, "spike_rates") and hasattr(model, "layers") and hasattr(model, "config")


def layer_names(model: nn.Module) -> list[str]:
    """`syn0`, `syn1`, ... in `model.layers` order, the readout last: the energy report's names."""
    return [f"syn{i}" for i in range(len(model.layers))]


class SpikeMeter:
    """Forward hook on an SNN: `rates()` = mean output spikes per neuron and step of every layer
    (None for a membrane readout, which never fires) and the encoder's mean count per input
    neuron and step, over every frame of the eval-mode passes since `reset()`."""

    def __init__(self, model: nn.Module):
        if not is_snn(model):
            raise TypeError(f"SpikeMeter: expected the snn model, got {type(model).__name__}")
        self.model = model
        self.handle: Optional[Any] = None
        self.reset()

    def reset(self) -> None:
        self.frames = 0
        # Frame-weighted sums kept where the model runs, read once in rates(): a float() per
        # batch would wait for the device every batch.
        self.sums: Optional[torch.Tensor] = None  # per layer
        self.input_sum: Optional[torch.Tensor] = None

    def attach(self) -> "SpikeMeter":
        if self.handle is None:
            self.handle = self.model.register_forward_hook(self._hook)
        return self

    def detach(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def __enter__(self) -> "SpikeMeter":
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def _hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        if module.training:
            return  # rates are those of inference (evaluate, validation), not of training passes
        x = inputs[0]
        n = int(x.shape[0])
        rates = module.layer_rates()  # per layer, on the device; 0 for a membrane readout
        with torch.no_grad():
            # Encoded a second time: the model keeps no record of its input counts (cheap next
            # to the convolutions).
            counts = encode(module.config, x).float().mean()
        self.sums = n * rates if self.sums is None else self.sums + n * rates
        self.input_sum = n * counts if self.input_sum is None else self.input_sum + n * counts
        self.frames += n

    def rates(self) -> dict[str, Any]:
        """{"frames", "input_rate", "spike_rates": {syn_i: rate or None}}; rates None before any frame."""
        names = layer_names(self.model)
        if self.frames == 0:
            return {"frames": 0, "input_rate": None, "spike_rates": {n: None for n in names}}
        sums = (self.sums / self.frames).tolist()
        return {
            "frames": self.frames,
            "input_rate": float(self.input_sum) / self.frames,
            "spike_rates": {name: (None if layer.readout else sums[i])
                            for i, (name, layer) in enumerate(zip(names, self.model.layers))},
        }


def spiking_rates(measured: dict[str, Any]) -> dict[str, float]:
    """The rates of the layers that fire (a membrane readout left out): accuracy.json's and the
    prune log's `spike_rates`."""
    return {k: v for k, v in measured["spike_rates"].items() if v is not None}


def record_frame(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One frame (1, 2, L) through the model with every layer recorded: (encoder counts (T, C,
    H, W), per layer (T, *shape): spikes, or the membrane of a readout that never fires)."""
    with torch.no_grad():
        spikes_in = encode(model.config, x)
        _, _, trace = model.run(spikes_in, record=True)
    return spikes_in[0].cpu(), [torch.stack(t)[:, 0].cpu() for t in trace]
