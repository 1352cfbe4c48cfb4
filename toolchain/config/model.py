"""Config section `model`: the network (CNN or SNN) and its quantisation, and the integer LIF
neuron's parameter rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

from ..data.classes import FRAME_LENGTH
from .fields import check, key, key_factory


@dataclass
class ModelConfig:
    """Which registered model to build and its quantization (see docs/models.md)."""

    name: str = key("vgg10", "a key of toolchain.models.MODELS")
    num_classes: int = key(24, "outputs of the classifier")
    input_length: int = key(FRAME_LENGTH, "samples per frame the model is built for")
    filters: int = key(64, "conv filters per layer (the FINN example deploys 32)")
    dense: int = key(128, "units of the two hidden dense layers")
    conv_layers: int = key(7, "each halves the length: 1024 -> 8 with 7 layers")
    input_bits: int = key(8, "input quantizer: signed, constant scale over [-input_range, input_range]")
    input_range: float = key(2.0, "input quantizer range: [-input_range, input_range]")
    weight_bits: int = key(8, "every conv/linear layer unless layer_weight_bits is given")
    act_bits: int = key(8, "every QuantReLU unless layer_act_bits is given")
    layer_weight_bits: Optional[list[int]] = key(None, "per conv/linear layer, input to output")
    layer_act_bits: Optional[list[int]] = key(None, "per QuantReLU, input to output")
    bias_bits: int = key(32, "integer bias of the classifier (scale = input scale x weight scale)")
    stats_dense: int = key(32, "two_branch: units of the statistics branch's hidden layer")
    # --- model `snn` only (docs/snn.md); weight_bits / layer_weight_bits (one per conv + the
    # readout) give its synapse widths. On ModelConfig so that a checkpoint rebuilds the SNN.
    snn_encoder: Literal["constellation", "delta"] = key("constellation", "a key of toolchain.snn.encoders.ENCODERS")
    snn_group: int = key(16, "samples per time step: T = input_length / snn_group steps")
    snn_resolution: int = key(16, "constellation: R x R cells of the I/Q plane")
    snn_range: float = key(2.0, "constellation: the plane spans [-range, range] in I and Q (outside: edge cells)")
    snn_gamma: float = key(1.0, "constellation: radius warping r -> range (r/range)**gamma; < 1 widens the centre")
    snn_binary: bool = key(False, "constellation: at most one spike per cell and step (else counts)")
    snn_delta_step: float = key(0.1, "delta: quantization step of I and Q; one spike per level crossed")
    snn_filters: list[int] = key_factory(lambda: [32, 32, 32], "conv LIF layers, filters each")
    snn_kernel: int = key(7, "square conv kernel (odd: 'same' padding keeps the plane size)")
    snn_state_bits: int = key(24, "signed saturating membrane width of every LIF neuron")
    snn_leak_shift: int = key(4, "leak v - (v >> k): k=4 keeps 15/16 per step; 0 = no leak")
    snn_threshold: int = key(128, "spike when v >= threshold, in units of the integer weights")
    snn_thresholds: Optional[list[int]] = key(
        None,
        "One threshold per conv LIF layer, input to output, overriding snn_threshold there (the readout keeps"
        " snn_threshold); set by ANN->SNN conversion (docs/convert.md). None = snn_threshold everywhere.")
    snn_reset: Literal["subtract", "zero"] = key("subtract", "after a spike: subtract the threshold, or reset to zero")
    snn_refractory: int = key(0, "steps a neuron ignores input after a spike; 0 = none")
    snn_readout: Literal["membrane", "count"] = key("membrane", "final leaky-integrator membrane or LIF spike counts")
    snn_bptt: Optional[int] = key(
        None, "truncated BPTT: cut the spiking layers' gradients through the state every N steps (the readout's "
        "run through all steps) and recompute each chunk of N steps in the backward pass, so training memory "
        "follows N; None = full BPTT")
    snn_surrogate: Literal["fast_sigmoid", "arctan"] = key("fast_sigmoid", "gradient of the spike")
    snn_surrogate_slope: float = key(5.0, "steepness of the surrogate, over (v - threshold) / threshold")
    snn_learning: Literal["bptt", "local"] = key(
        "bptt",
        "bptt: surrogate-gradient BPTT through layers and time; local: each hidden layer learns from its own "
        "fixed random readout and loss, no gradient across layers or time steps (DECOLLE-style).")
    snn_rate_penalty: float = key(
        0.0,
        "spike-activity regularisation: adds lambda x max(0, rate - snn_rate_target) per hidden LIF layer to the "
        "training loss (rate: mean spikes per neuron and step over the batch); fewer spikes = fewer events for "
        "the event-driven hardware (docs/snn.md). With local learning each layer's term is its own local loss, "
        "with bptt the terms are summed; 0 = off")
    snn_rate_target: float = key(0.0, "spike rate below which snn_rate_penalty costs nothing, in 0..1")

    def __post_init__(self) -> None:
        for k in ("num_classes", "input_length", "filters", "dense", "conv_layers", "stats_dense"):
            check(getattr(self, k) > 0, f"model.{k}", getattr(self, k), "a positive integer")
        check(self.input_length % (1 << self.conv_layers) == 0, "model.input_length", self.input_length,
              f"a multiple of 2**conv_layers = {1 << self.conv_layers} (each conv layer halves the length)")
        check(self.input_range > 0, "model.input_range", self.input_range, "a positive number")
        for k in ("input_bits", "weight_bits", "act_bits"):
            check(1 <= getattr(self, k) <= 16, f"model.{k}", getattr(self, k), "an integer in 1..16")
        check(2 <= self.bias_bits <= 32, "model.bias_bits", self.bias_bits, "an integer in 2..32")
        for k in ("layer_weight_bits", "layer_act_bits"):
            for b in getattr(self, k) or []:
                check(1 <= b <= 16, f"model.{k}", getattr(self, k), "integers in 1..16")
        self._check_snn()

    def _check_snn(self) -> None:
        check(self.snn_group > 0 and self.input_length % self.snn_group == 0, "model.snn_group", self.snn_group,
              f"a positive divisor of model.input_length = {self.input_length}")
        check(self.snn_resolution >= 2, "model.snn_resolution", self.snn_resolution, "an integer >= 2")
        for k in ("snn_range", "snn_gamma", "snn_delta_step", "snn_surrogate_slope"):
            check(getattr(self, k) > 0, f"model.{k}", getattr(self, k), "a positive number")
        check(isinstance(self.snn_binary, bool), "model.snn_binary", self.snn_binary, "true or false")
        check(len(self.snn_filters) > 0 and all(f > 0 for f in self.snn_filters), "model.snn_filters",
              self.snn_filters, "a non-empty list of positive integers")
        check(self.snn_kernel > 0 and self.snn_kernel % 2 == 1, "model.snn_kernel", self.snn_kernel,
              "an odd positive integer")
        for name, value, expected in lif_param_problems(self.snn_state_bits, self.snn_leak_shift, self.snn_threshold,
                                                        self.snn_reset, self.snn_refractory)[:1]:
            check(False, f"model.snn_{name}", value, expected.replace("state_bits", "snn_state_bits"))
        hi = (1 << (self.snn_state_bits - 1)) - 1
        if self.snn_thresholds is not None:
            check(len(self.snn_thresholds) == len(self.snn_filters) and all(0 < t <= hi for t in self.snn_thresholds),
                  "model.snn_thresholds", self.snn_thresholds,
                  f"null or {len(self.snn_filters)} integers in 1..{hi} (one per conv LIF layer of model.snn_filters)")
        check(0 <= self.snn_rate_penalty < float("inf"), "model.snn_rate_penalty", self.snn_rate_penalty,
              "a finite number >= 0")
        check(0 <= self.snn_rate_target < 1, "model.snn_rate_target", self.snn_rate_target, "a number in [0, 1)")
        check(self.snn_bptt is None or self.snn_bptt > 0, "model.snn_bptt", self.snn_bptt,
              "a positive integer or null")


def lif_param_problems(state_bits: int, leak_shift: int, threshold: int, reset: str,
                       refractory: int) -> list[tuple[str, Any, str]]:
    """The integer LIF neuron's parameter rules, defined once for the config's model.snn_* keys and
    for toolchain.snn.lif.LIFParams: (parameter, value, what was expected) for each rule broken."""
    if not 2 <= state_bits <= 32:
        return [("state_bits", state_bits, "an integer in 2..32")]
    hi = (1 << (state_bits - 1)) - 1
    rules = [("leak_shift", leak_shift, 0 <= leak_shift < state_bits, "an integer in 0..state_bits-1"),
             ("threshold", threshold, 0 < threshold <= hi, f"an integer in 1..{hi} (the largest {state_bits}-bit state)"),
             ("reset", reset, reset in ("subtract", "zero"), "'subtract' or 'zero'"),
             ("refractory", refractory, refractory >= 0, "an integer >= 0")]
    return [(name, value, expected) for name, value, ok, expected in rules if not ok]
