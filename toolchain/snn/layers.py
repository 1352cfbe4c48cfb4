"""Trainable LIF layers: Brevitas integer-weight synapses + `lif.lif_step` on float tensors.

The forward pass computes exactly the integer arithmetic of `lif.py`: the synapse uses the
layer's integer weights (the quantized weight divided by its scale, rounded straight-through)
on integer spike counts, and the neuron is `lif_step` itself, with a surrogate gradient through
the spike. Exactness needs every current and membrane below the float's integer limit: float32
(2**24) where the layer's bounds allow it, float64 (2**53, beyond any 32-bit state) where not
(`LIFSynapse.dtype`); and no TF32, which cuDNN uses for float32 convolutions on recent GPUs by
default and which keeps only 11 bits of each operand (`exact_float`).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import brevitas.nn as qnn
import torch
import torch.nn.functional as F
from torch import nn

from .lif import LIFParams, LIFState, initial_state, li_step, lif_step, straight_through


class _Spike(torch.autograd.Function):
    """Heaviside(x >= 0) forward; surrogate derivative of x backward (x = (v - theta) / theta)."""

    @staticmethod
    def forward(ctx, x, kind, slope):  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.kind, ctx.slope = kind, slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        if ctx.kind == "arctan":
            d = 1.0 / (1.0 + (math.pi * ctx.slope * x) ** 2)
        else:  # fast sigmoid (SuperSpike)
            d = 1.0 / (1.0 + ctx.slope * x.abs()) ** 2
        return grad * d, None, None


def surrogate(kind: str = "fast_sigmoid", slope: float = 5.0) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """A `spike_fn(v, theta)` for `lif_step`: the exact comparison v >= theta forward."""
    def spike(v: torch.Tensor, theta: int) -> torch.Tensor:
        # theta - 0.5 keeps v >= theta exact for integer v whatever the float rounding of the ratio
        return _Spike.apply((v - (theta - 0.5)) / theta, kind, slope)
    return spike


def int_weight(layer: nn.Module) -> torch.Tensor:
    """The integer weights of a Brevitas layer (float tensor holding integers), with gradient."""
    q = layer.quant_weight()
    return straight_through(torch.round, q.value / q.scale)


FLOAT32_EXACT = 1 << 24  # every integer of magnitude up to this is a float32


def _fp32_switches() -> list[tuple[object, str, object]]:
    """(flags object, attribute, value without TF32) for convolutions and matmuls: torch's per-op
    `fp32_precision` where it has one (2.9 and later; mixing it with the older flags is an
    error there), else the older `allow_tf32` flags."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return [(conv, "fp32_precision", "ieee"), (torch.backends.cuda.matmul, "fp32_precision", "ieee")]
    return [(torch.backends.cudnn, "allow_tf32", False), (torch.backends.cuda.matmul, "allow_tf32", False)]


@contextmanager
def exact_float(device: torch.device) -> Iterator[None]:
    """No TF32 in the convolutions and matmuls inside, on CUDA; torch's settings as they were
    after (TF32 elsewhere in the user's program stays as the user set it)."""
    if device.type != "cuda":
        yield
        return
    switches = _fp32_switches()
    saved = [getattr(obj, name) for obj, name, _ in switches]
    try:
        for obj, name, value in switches:
            setattr(obj, name, value)
        yield
    finally:
        for (obj, name, _), value in zip(switches, saved):
            setattr(obj, name, value)


class LIFSynapse(nn.Module):
    """A quantized conv (4-D input) or linear synapse feeding integer LIF neurons: `step` runs
    one time step; `readout=True` makes the neurons leaky integrators that never fire.
    `max_input`: the largest count one input neuron sends in a step (1 for spikes), which with
    `weight_bits` bounds the current."""

    def __init__(self, synapse: nn.Module, params: LIFParams, spike_fn: Callable, readout: bool = False,
                 weight_bits: int = 8, max_input: int = 1):
        super().__init__()
        self.synapse = synapse
        self.params = params
        self.spike_fn = spike_fn
        self.readout = readout
        self.weight_bits, self.max_input = weight_bits, max_input

    @property
    def max_current(self) -> int:
        fan_in = self.synapse.weight[0].numel()
        return self.max_input * fan_in * ((1 << (self.weight_bits - 1)) - 1)

    @property
    def dtype(self) -> torch.dtype:
        """float32 when every current, membrane and membrane + current (before saturation) is an
        exact float32 integer; else float64."""
        exact = self.max_current + (1 << (self.params.state_bits - 1)) <= FLOAT32_EXACT
        return torch.float32 if exact else torch.float64

    def current(self, spikes: torch.Tensor) -> torch.Tensor:
        dtype = self.dtype
        w, spikes = int_weight(self.synapse).to(dtype), spikes.to(dtype)
        with exact_float(spikes.device):
            if isinstance(self.synapse, qnn.QuantConv2d):
                return F.conv2d(spikes, w, padding=self.synapse.padding)
            return F.linear(spikes, w)

    def step(self, spikes: torch.Tensor, state: Optional[LIFState]) -> tuple[torch.Tensor, LIFState]:
        i = self.current(spikes)
        state = initial_state(i) if state is None else state
        if self.readout:
            v = li_step(i, state.v, self.params)
            return v, LIFState(v, state.refractory)
        return lif_step(i, state, self.params, self.spike_fn)


def conv_lif(in_channels: int, out_channels: int, kernel: tuple[int, int], weight_bits: int,
             params: LIFParams, spike_fn: Callable, max_input: int = 1) -> LIFSynapse:
    pad = (kernel[0] // 2, kernel[1] // 2)
    conv = qnn.QuantConv2d(in_channels, out_channels, kernel, padding=pad, bias=False, weight_bit_width=weight_bits)
    return LIFSynapse(conv, params, spike_fn, weight_bits=weight_bits, max_input=max_input)


def linear_lif(in_features: int, out_features: int, weight_bits: int, params: LIFParams, spike_fn: Callable,
               readout: bool = False, max_input: int = 1) -> LIFSynapse:
    linear = qnn.QuantLinear(in_features, out_features, bias=False, weight_bit_width=weight_bits)
    return LIFSynapse(linear, params, spike_fn, readout, weight_bits=weight_bits, max_input=max_input)
