"""Typed configuration: YAML file + `--set key=value` overrides -> dataclasses.

Every key is checked against the dataclass fields before any work starts; an unknown key or a
value of the wrong type is a `ConfigError` naming the dotted key. This module imports no
torch/finn so that `--help` and config errors stay instant.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union, get_args, get_origin

import yaml

from .data.classes import CLASSES, FRAME_LENGTH, SNRS
from .errors import ConfigError

def key(default: Any, doc: str) -> Any:
    """A config field with its one-line doc, which `--help` and docs/config.md show (config_doc)."""
    return field(default=default, metadata={"doc": doc})


def key_factory(factory: Any, doc: str) -> Any:
    """`key` for a mutable default (a list, a nested section)."""
    return field(default_factory=factory, metadata={"doc": doc})


# ----------------------------------------------------------------------------------- sections
@dataclass
class DataConfig:
    """Which RadioML-format file to read and how to split it."""

    path: str = key("", "RadioML 2018.01A-format HDF5 file (X, Y, Z); empty = given on the command line")
    val_fraction: float = key(0.1, "share of each (class, SNR) block's official train part held out")
    val_seed: int = key(0, "seed of the validation carve-out (the train/test split is always seed 2018)")
    train_snrs: Optional[list[int]] = key(None, "SNRs (dB) kept for train/val; None = all. Test keeps all.")
    classes: Optional[list[str]] = key(None, "class names kept in every split; None = all 24")
    batch_size: int = key(1024, "batch size of the data loaders")
    num_workers: int = key(0, "DataLoader worker processes")
    run_length: Optional[int] = key(
        None, "contiguous frames read together when shuffling; null = by batch size: min(8, batch_size // 32), "
        "so a batch draws from at least 32 (class, SNR) blocks (docs/data.md)")

    def __post_init__(self) -> None:
        _check(0.0 <= self.val_fraction < 1.0, "data.val_fraction", self.val_fraction, "a number in [0, 1)")
        _check(self.batch_size > 0, "data.batch_size", self.batch_size, "a positive integer")
        _check(self.num_workers >= 0, "data.num_workers", self.num_workers, "an integer >= 0")
        _check(self.run_length is None or self.run_length > 0, "data.run_length", self.run_length,
               "a positive integer or null")
        if self.classes is not None:
            for name in self.classes:
                _check(name in CLASSES, "data.classes", name, f"one of {', '.join(CLASSES)}")
            _check(len(self.classes) > 0, "data.classes", self.classes, "a non-empty list or null")
        if self.train_snrs is not None:
            _check(len(self.train_snrs) > 0, "data.train_snrs", self.train_snrs, "a non-empty list or null")


@dataclass
class ChannelConfig:
    """Impairments applied by the synthetic generator after modulation. Defaults: the radioml2018
    preset (docs/data.md gives the source of each value); `synth.preset` sets others."""

    enabled: bool = key(True, "apply offsets and fading (the noise always)")
    cfo_std: float = key(1e-4, "carrier frequency offset, cycles/sample: N(0, cfo_std) ...")
    max_cfo: float = key(0.0, "... plus U(-max_cfo, max_cfo)")
    sro_std: float = key(1e-4, "sample-rate offset as a ratio: N(0, sro_std) ...")
    max_sro_ppm: float = key(0.0, "... plus U(-max, max) parts per million")
    max_time_offset: float = key(16.0, "time offset, samples, U(0, max) (fractional, interpolated)")
    delay_spreads: Optional[list[float]] = key_factory(
        lambda: [0.0], "Rayleigh delay spreads (samples) drawn per frame, exponential power profile; 0 = one tap; "
        "null = multipath_taps / multipath_decay")
    multipath_taps: int = key(3, "with delay_spreads null: taps at integer sample delays (1 = flat fading)")
    multipath_decay: float = key(0.5, "with delay_spreads null: power ratio between consecutive taps")
    rician_k: float = key(0.0, "power ratio of the fixed line-of-sight part of the first tap (0 = Rayleigh)")
    noise: Literal["white", "shaped"] = key("white", "white, or shaped: through the measured pulse (docs/data.md)")
    noise_sps: int = key(8, "shaped: samples per symbol the measured pulse is laid out for")
    noise_white_fraction: float = key(0.10, "shaped: share of the noise power left white (91 % within 0.07 fs, as measured)")
    snr_reading: Literal["power", "voltage"] = key(
        "voltage", "power: noise power = signal power / 10^(snr/10); voltage: noise amplitude = signal rms * "
        "10^(-snr/10), as the 2016 dataset tools set GNU Radio's noise_voltage (noise power 10^(-snr/5))")

    def __post_init__(self) -> None:
        _check(0.0 <= self.max_cfo < 0.5, "synth.channel.max_cfo", self.max_cfo, "a number in [0, 0.5)")
        _check(0.0 <= self.cfo_std < 0.1, "synth.channel.cfo_std", self.cfo_std, "a number in [0, 0.1)")
        _check(0.0 <= self.max_sro_ppm < 1e5, "synth.channel.max_sro_ppm", self.max_sro_ppm, "a number in [0, 1e5)")
        _check(0.0 <= self.sro_std < 0.01, "synth.channel.sro_std", self.sro_std, "a number in [0, 0.01)")
        _check(0.0 <= self.max_time_offset <= 64, "synth.channel.max_time_offset", self.max_time_offset, "a number in [0, 64]")
        if self.delay_spreads is not None:
            ok = len(self.delay_spreads) > 0 and all(0.0 <= t <= 16.0 for t in self.delay_spreads)
            _check(ok, "synth.channel.delay_spreads", self.delay_spreads, "a non-empty list of numbers in [0, 16], or null")
        _check(self.multipath_taps >= 1, "synth.channel.multipath_taps", self.multipath_taps, "an integer >= 1")
        _check(0.0 < self.multipath_decay <= 1.0, "synth.channel.multipath_decay", self.multipath_decay, "a number in (0, 1]")
        _check(self.rician_k >= 0.0, "synth.channel.rician_k", self.rician_k, "a number >= 0")
        _check(self.noise_sps >= 2, "synth.channel.noise_sps", self.noise_sps, "an integer >= 2")
        _check(0.0 <= self.noise_white_fraction <= 1.0, "synth.channel.noise_white_fraction",
               self.noise_white_fraction, "a number in [0, 1]")


@dataclass
class SynthConfig:
    """Size, seed and signal model of a generated RadioML-format file. Field defaults are the
    `radioml2018` preset; `preset` names the set of values that keys not given take (SYNTH_PRESETS)."""

    preset: Literal["radioml2018", "hard", "clean"] = key("radioml2018", "fills the synth keys not given (docs/data.md)")
    frames_per_pair: int = key(32, "frames per (modulation, SNR) pair; the real file has 4096")
    snrs: list[int] = key_factory(lambda: list(SNRS), "SNR grid in dB")
    length: int = key(FRAME_LENGTH, "samples per frame")
    seed: int = key(0, "generator seed")
    samples_per_symbol: list[int] = key_factory(lambda: [8, 8], "drawn per frame, inclusive range")
    rolloff: list[float] = key_factory(lambda: [0.35, 0.35], "RRC roll-off range per frame (pulse rrc)")
    pulse: Literal["rrc", "measured"] = key("measured", "measured: the real file's overall pulse")
    ask: Literal["bipolar", "unipolar"] = key("unipolar", "4/8ASK levels -(M-1)..M-1 or 0..M-1 (as OOK: 0, 1)")
    gmsk_bt: float = key(0.35, "GMSK Gaussian filter bandwidth-time product")
    message_bw: list[float] = key_factory(lambda: [0.01, 0.03], "analog message top band edge range, cycles/sample")
    message_slope: float = key(9.0, "dB per octave the analog message spectrum falls above its lower band edge")
    am_index: list[float] = key_factory(lambda: [0.1, 0.5], "AM modulation index range")
    fm_deviation: list[float] = key_factory(lambda: [0.025, 0.05], "FM peak deviation range, cycles/sample")
    ssb_carrier: float = key(0.125, "frequency of the AM-SSB classes' carrier, cycles/sample")
    normalise: Literal["power", "variance"] = key("variance", "per frame: unit mean power, or unit variance (mean kept)")
    channel: ChannelConfig = key_factory(ChannelConfig, "channel impairments (synth.channel.*)")

    def __post_init__(self) -> None:
        _check(self.frames_per_pair > 0, "synth.frames_per_pair", self.frames_per_pair, "a positive integer")
        _check(len(self.snrs) > 0, "synth.snrs", self.snrs, "a non-empty list of SNRs in dB")
        _check(len(set(self.snrs)) == len(self.snrs), "synth.snrs", self.snrs, "distinct values")
        _check(self.seed >= 0, "synth.seed", self.seed, "an integer >= 0")
        _check(self.length >= 64, "synth.length", self.length, "an integer >= 64")
        sps = self.samples_per_symbol
        _check(len(sps) == 2 and 2 <= sps[0] <= sps[1], "synth.samples_per_symbol", sps, "[min, max] with 2 <= min <= max")
        ro = self.rolloff
        _check(len(ro) == 2 and 0.0 < ro[0] <= ro[1] <= 1.0, "synth.rolloff", ro, "[min, max] within (0, 1]")
        _check(0.0 < self.gmsk_bt <= 2.0, "synth.gmsk_bt", self.gmsk_bt, "a number in (0, 2]")
        _check(-0.5 < self.ssb_carrier < 0.5, "synth.ssb_carrier", self.ssb_carrier, "a number in (-0.5, 0.5)")
        _check(0.0 <= self.message_slope <= 40.0, "synth.message_slope", self.message_slope, "a number in [0, 40]")
        for key, lo, hi in (("message_bw", 0.0, 0.5), ("am_index", 0.0, 1.0), ("fm_deviation", 0.0, 0.5)):
            r = getattr(self, key)
            _check(len(r) == 2 and lo < r[0] <= r[1] <= hi, f"synth.{key}", r, f"[min, max] within ({lo:g}, {hi:g}]")


# Values a preset gives the synth keys a config does not set; radioml2018 is the field defaults.
SYNTH_PRESETS: dict[str, dict[str, Any]] = {
    "radioml2018": {},
    # The generator before the radioml2018 channel: harsher offsets and multipath, for robustness.
    "hard": {
        "samples_per_symbol": [4, 8], "rolloff": [0.2, 0.5], "pulse": "rrc", "ask": "bipolar", "gmsk_bt": 0.3,
        "message_bw": [0.01, 0.08], "message_slope": 0.0, "am_index": [0.3, 0.9], "fm_deviation": [0.02, 0.10],
        "ssb_carrier": 0.0, "normalise": "power",
        "channel": {"cfo_std": 0.0, "max_cfo": 0.01, "sro_std": 0.0, "max_sro_ppm": 200.0, "max_time_offset": 0.0,
                    "delay_spreads": None, "multipath_taps": 3, "multipath_decay": 0.5, "rician_k": 4.0,
                    "noise": "white", "snr_reading": "power"},
    },
    # The radioml2018 modulators with no channel but the noise at each block's SNR.
    "clean": {"channel": {"enabled": False}},
}


def _apply_synth_preset(raw: dict[str, Any]) -> None:
    """Fill the synth keys `raw` does not set from its preset's values, in place."""
    synth = raw.get("synth")
    if synth is None:
        return
    if not isinstance(synth, dict):
        raise ConfigError(f"config key 'synth': expected a mapping, got {synth!r}")
    name = synth.get("preset", "radioml2018")
    _check(name in SYNTH_PRESETS, "synth.preset", name, f"one of {', '.join(SYNTH_PRESETS)}")
    for key, value in SYNTH_PRESETS[name].items():
        if isinstance(value, dict):
            given = synth.setdefault(key, {})
            if isinstance(given, dict):
                for k, v in value.items():
                    given.setdefault(k, v)
        else:
            synth.setdefault(key, value)


def synth_preset(name: str, **values: Any) -> SynthConfig:
    """The SynthConfig of preset `name` with `values` (synth keys, `channel` a dict) on top."""
    raw = {"synth": {"preset": name, **values}}
    _apply_synth_preset(raw)
    return from_dict(SynthConfig, raw["synth"], "synth")


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

    def __post_init__(self) -> None:
        for key in ("num_classes", "input_length", "filters", "dense", "conv_layers", "stats_dense"):
            _check(getattr(self, key) > 0, f"model.{key}", getattr(self, key), "a positive integer")
        _check(self.input_length % (1 << self.conv_layers) == 0, "model.input_length", self.input_length,
               f"a multiple of 2**conv_layers = {1 << self.conv_layers} (each conv layer halves the length)")
        _check(self.input_range > 0, "model.input_range", self.input_range, "a positive number")
        for key in ("input_bits", "weight_bits", "act_bits"):
            _check(1 <= getattr(self, key) <= 16, f"model.{key}", getattr(self, key), "an integer in 1..16")
        _check(2 <= self.bias_bits <= 32, "model.bias_bits", self.bias_bits, "an integer in 2..32")
        for key in ("layer_weight_bits", "layer_act_bits"):
            for b in getattr(self, key) or []:
                _check(1 <= b <= 16, f"model.{key}", getattr(self, key), "integers in 1..16")
        self._check_snn()

    def _check_snn(self) -> None:
        _check(self.snn_group > 0 and self.input_length % self.snn_group == 0, "model.snn_group", self.snn_group,
               f"a positive divisor of model.input_length = {self.input_length}")
        _check(self.snn_resolution >= 2, "model.snn_resolution", self.snn_resolution, "an integer >= 2")
        for key in ("snn_range", "snn_gamma", "snn_delta_step", "snn_surrogate_slope"):
            _check(getattr(self, key) > 0, f"model.{key}", getattr(self, key), "a positive number")
        _check(isinstance(self.snn_binary, bool), "model.snn_binary", self.snn_binary, "true or false")
        _check(len(self.snn_filters) > 0 and all(f > 0 for f in self.snn_filters), "model.snn_filters",
               self.snn_filters, "a non-empty list of positive integers")
        _check(self.snn_kernel > 0 and self.snn_kernel % 2 == 1, "model.snn_kernel", self.snn_kernel,
               "an odd positive integer")
        for name, value, expected in lif_param_problems(self.snn_state_bits, self.snn_leak_shift, self.snn_threshold,
                                                        self.snn_reset, self.snn_refractory)[:1]:
            _check(False, f"model.snn_{name}", value, expected.replace("state_bits", "snn_state_bits"))
        hi = (1 << (self.snn_state_bits - 1)) - 1
        if self.snn_thresholds is not None:
            _check(len(self.snn_thresholds) == len(self.snn_filters) and all(0 < t <= hi for t in self.snn_thresholds),
                   "model.snn_thresholds", self.snn_thresholds,
                   f"null or {len(self.snn_filters)} integers in 1..{hi} (one per conv LIF layer of model.snn_filters)")
        _check(self.snn_bptt is None or self.snn_bptt > 0, "model.snn_bptt", self.snn_bptt,
               "a positive integer or null")


@dataclass
class TrainConfig:
    """train_initial: optimisation (defaults of the challenge baseline)."""

    epochs: int = key(20, "training epochs")
    lr: float = key(0.01, "Adam")
    weight_decay: float = key(0.0, "Adam weight decay")
    t0: int = key(5, "CosineAnnealingWarmRestarts period, epochs")
    eta_min: float = key(0.0, "smallest learning rate of the cosine schedule")
    seed: int = key(0, "seed of initialisation and shuffling")
    device: Literal["auto", "cpu", "cuda"] = key("auto", "auto: cuda when available")
    max_batches: Optional[int] = key(None, "cap per epoch, for quick runs; None = the whole split")
    threads: Optional[int] = key(None, "torch CPU threads; None = torch's default")
    resume: bool = key(
        False,
        "Continue the run in run.out_dir from its checkpoint_last.pth (`--resume`); without it an existing "
        "checkpoint there is an error, so a finished run is never silently overwritten.")
    deterministic: bool = key(
        True,
        "torch.use_deterministic_algorithms (warn-only) and no cuDNN autotuning: the same seed gives the same"
        " weights on the same machine; costs some speed on CUDA.")

    def __post_init__(self) -> None:
        _check(self.epochs > 0, "train.epochs", self.epochs, "a positive integer")
        _check(isinstance(self.resume, bool), "train.resume", self.resume, "true or false")
        _check(isinstance(self.deterministic, bool), "train.deterministic", self.deterministic, "true or false")
        _check(self.lr > 0, "train.lr", self.lr, "a positive number")
        _check(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, "a number >= 0")
        _check(self.t0 > 0, "train.t0", self.t0, "a positive integer")
        _check(self.max_batches is None or self.max_batches > 0, "train.max_batches", self.max_batches, "a positive integer or null")
        _check(self.threads is None or self.threads > 0, "train.threads", self.threads, "a positive integer or null")


@dataclass
class EvalConfig:
    """evaluate: which split and which confusion matrices."""

    split: Literal["test", "val", "train", "all"] = key("test", "all: every frame of the file, no split")
    confusion_snrs: list[int] = key_factory(lambda: [0, 10, 30], "per-SNR matrices (dB) besides the overall one")
    max_frames: Optional[int] = key(None, "evaluate only the first N frames of the split (quick checks)")
    batch_size: Optional[int] = key(
        None,
        "Frames per forward pass of a .pth model; null = by device: 64 on a CPU (small batches stay in cache "
        "and run ~1.5x faster on 2 cores), 1024 on a GPU (docs/evaluate.md).")
    onnx_batch_size: int = key(
        128,
        "Frames per qonnx execution of an .onnx model: each call costs ~50 ms of fixed overhead whatever its "
        "size, and past ~128 frames memory traffic bounds the speed (docs/evaluate.md).")
    device: Literal["auto", "cpu", "cuda"] = key("auto", ".pth evaluation; auto: cuda when available")

    def __post_init__(self) -> None:
        _check(self.max_frames is None or self.max_frames > 0, "eval.max_frames", self.max_frames, "a positive integer or null")
        _check(self.batch_size is None or self.batch_size > 0, "eval.batch_size", self.batch_size,
               "a positive integer or null")
        _check(self.onnx_batch_size > 0, "eval.onnx_batch_size", self.onnx_batch_size, "a positive integer")


@dataclass
class ExportConfig:
    """export_onnx: verification of the exported QONNX against PyTorch."""

    verify_inputs: int = key(16, "random inputs run through both")
    atol: float = key(1e-4, "tolerance on the outputs (float rounding); the class must match exactly")
    seed: int = key(0, "seed of the verification inputs")

    def __post_init__(self) -> None:
        _check(self.verify_inputs > 0, "export.verify_inputs", self.verify_inputs, "a positive integer")
        _check(self.atol >= 0, "export.atol", self.atol, "a number >= 0")


@dataclass
class CostConfig:
    """export_inference_cost: qonnx inference_cost options."""

    discount_sparsity: bool = key(True, "zero weights cost nothing (the challenge rule)")
    allow_unsupported: bool = key(False, "else ops the counter cannot cost are an error")
    activity: str = key(
        "",
        "SNN only: evaluate's energy_report.json whose measured spike rates discount the synapse work "
        "(accumulates of actual input spikes instead of dense MACs); empty = dense, every step.")


@dataclass
class FinnConfig:
    """finn_build: which build folder and board, and how the result is checked (docs/finn_build.md)."""

    build: str = key(
        "build/vgg10-radioml",
        "build folder: build.yaml, boards/, folding_config/, specialize_layers_config/")
    board: str = key("", "a board of the build folder (boards/<BOARD>.json); empty = the folder's default board")
    clock_ns: Optional[float] = key(None, "clock period; None = the board file's, else build.yaml's")
    target_fps: Optional[Union[int, Literal["max"]]] = key(
        None,
        "Automatic folding: frames/s, or \"max\" (the fastest folding within the budget); None = build.yaml's")
    budget: Optional[float] = key(
        None,
        "share of each board resource the folding may use; None = the board file's")
    checkpoint: str = key(
        "",
        "PyTorch checkpoint of the ONNX, compared too; empty = the run's, when the ONNX is the run's")
    verify_inputs: int = key(8, "random unit-power frames through every model")
    verify_synthetic: int = key(4, "synthetic modulated frames (toolchain generator, 30 dB), spread over the classes")
    seed: int = key(0, "seed of the verification frames")
    event_driven_frames: Optional[int] = key(
        None,
        "SNNs: test-split frames (of data.path, else the run's synthetic file) the event-driven accelerator is "
        "C-simulated and measured on, spread evenly over the split; None = all of it")
    require_bitstream: bool = key(
        False,
        "The user asks for a bitstream: missing Vivado/Vitis is then an error (exit 1) before any work, "
        "instead of a build that stops after HW code generation with exit 0.")

    def __post_init__(self) -> None:
        _check(bool(self.build), "finn.build", self.build, "a build folder path")
        _check(self.clock_ns is None or self.clock_ns > 0, "finn.clock_ns", self.clock_ns, "a positive number or null")
        _check(self.target_fps in (None, "max") or self.target_fps > 0, "finn.target_fps", self.target_fps,
               "a positive integer, max or null")
        _check(self.budget is None or 0 < self.budget <= 1, "finn.budget", self.budget, "a share in (0, 1] or null")
        _check(self.verify_inputs >= 0, "finn.verify_inputs", self.verify_inputs, "an integer >= 0")
        _check(self.verify_synthetic >= 0, "finn.verify_synthetic", self.verify_synthetic, "an integer >= 0")
        _check(self.verify_inputs + self.verify_synthetic > 0, "finn.verify_inputs", self.verify_inputs,
               "at least one frame together with finn.verify_synthetic")
        _check(self.seed >= 0, "finn.seed", self.seed, "an integer >= 0")
        _check(self.event_driven_frames is None or self.event_driven_frames > 0, "finn.event_driven_frames",
               self.event_driven_frames, "a positive integer or null")


@dataclass
class PruneConfig:
    """prune: iterative magnitude pruning with fine-tuning (docs/prune.md)."""

    method: Literal["imp", "fmp"] = key(
        "fmp",
        "imp: a fixed rate per step until prune.steps or the criterion fails; fmp: a failed step is rolled "
        "back and retried at rate / decay, until the rate falls below min_rate.")
    rate: float = key(0.2, "share of the still remaining weights removed per step (global L1 over all pruned layers)")
    steps: int = key(20, "pruning attempts at most, kept or rolled back: bounds the run time")
    decay: float = key(2.0, "fmp: a rolled-back step divides the rate by this")
    min_rate: float = key(0.05, "fmp: stop once the rate falls below this")
    target_sparsity: Optional[float] = key(
        None,
        "Stop at this overall sparsity of the pruned layers; the last step is cut short to land on it.")
    criterion: Literal["relative", "absolute"] = key(
        "relative",
        "absolute: val accuracy >= min_acc; relative: val accuracy >= the unpruned model's - max_drop "
        "(synthetic data has its own accuracy scale, so an absolute threshold rarely transfers).")
    min_acc: float = key(0.563, "absolute criterion: the challenge threshold")
    max_drop: float = key(0.01, "relative criterion: accuracy (0..1) a step may lose, 0.01 = 1 point")
    layer_types: list[Literal["conv", "linear"]] = key_factory(
        lambda: ["conv", "linear"],
        "Module types whose weights are pruned (conv: Conv1d/2d/3d, linear: Linear, Brevitas' quantized ones "
        "included; never BatchNorm), chosen by type, never by position in the model.")
    finetune_epochs: int = key(2, "fine-tuning epochs after each pruning step (0: judge the step untuned)")
    lr: float = key(0.001, "Adam learning rate of the fine-tuning")
    schedule: Literal["rewind", "plateau"] = key(
        "rewind",
        "rewind: each step restarts Adam and a cosine decay over finetune_epochs from prune.lr; plateau: one "
        "Adam and ReduceLROnPlateau (on val loss) across all steps.")
    plateau_factor: float = key(0.5, "plateau: learning-rate factor on a plateau")
    plateau_patience: int = key(1, "plateau: epochs without val-loss improvement before reducing")
    distill: bool = key(False, "knowledge distillation from the unpruned model while fine-tuning")
    temperature: float = key(2.0, "distillation temperature T (Imperial: 2)")
    alpha: float = key(0.5, "distillation weight: (1 - alpha) CE + alpha T^2 KL (Imperial: 0.5)")
    score: bool = key(True, "qonnx inference cost of every step (a few seconds each): the trade-off curve")
    resume: bool = key(
        False,
        "Continue the prune in run.out_dir from its prune_last.pth (`--resume`); without it an existing "
        "prune_last.pth or final_model.pth there is an error.")
    bits_weight: Optional[list[list[int]]] = key(
        None,
        "reduce_bits (docs/prune.md): the bit-width settings swept, one entry each. An entry lists the weight"
        " bits per conv/linear layer, input to output; a single value means every layer; null keeps the "
        "model's. bits_act: the same per QuantReLU, as many entries as bits_weight.")
    bits_act: Optional[list[list[int]]] = key(
        None,
        "reduce_bits: the activation bits per QuantReLU of each setting, as many entries as "
        "prune.bits_weight; null keeps the model's")
    bits_finetune_epochs: int = key(
        1,
        "reduce_bits: a fine-tuned copy of every setting besides the untuned one (0: none)")

    def __post_init__(self) -> None:
        _check(0.0 < self.rate < 1.0, "prune.rate", self.rate, "a number in (0, 1)")
        for key in ("bits_weight", "bits_act"):
            for entry in getattr(self, key) or []:
                _check(len(entry) > 0 and all(1 <= b <= 16 for b in entry), f"prune.{key}", getattr(self, key),
                       "a list of non-empty lists of integers in 1..16")
        if self.bits_weight is not None and self.bits_act is not None:
            _check(len(self.bits_act) == len(self.bits_weight), "prune.bits_act", self.bits_act,
                   f"{len(self.bits_weight)} entries, one per prune.bits_weight entry")
        _check(self.bits_finetune_epochs >= 0, "prune.bits_finetune_epochs", self.bits_finetune_epochs,
               "an integer >= 0")
        _check(self.steps > 0, "prune.steps", self.steps, "a positive integer")
        _check(self.decay > 1.0, "prune.decay", self.decay, "a number > 1")
        _check(0.0 < self.min_rate < 1.0, "prune.min_rate", self.min_rate, "a number in (0, 1)")
        _check(self.target_sparsity is None or 0.0 < self.target_sparsity < 1.0, "prune.target_sparsity",
               self.target_sparsity, "a number in (0, 1) or null")
        _check(0.0 <= self.min_acc <= 1.0, "prune.min_acc", self.min_acc, "a number in [0, 1]")
        _check(0.0 <= self.max_drop <= 1.0, "prune.max_drop", self.max_drop, "a number in [0, 1]")
        _check(len(self.layer_types) > 0, "prune.layer_types", self.layer_types, "a non-empty list of conv, linear")
        _check(self.finetune_epochs >= 0, "prune.finetune_epochs", self.finetune_epochs, "an integer >= 0")
        _check(self.lr > 0, "prune.lr", self.lr, "a positive number")
        _check(0.0 < self.plateau_factor < 1.0, "prune.plateau_factor", self.plateau_factor, "a number in (0, 1)")
        _check(self.plateau_patience >= 0, "prune.plateau_patience", self.plateau_patience, "an integer >= 0")
        _check(self.temperature > 0, "prune.temperature", self.temperature, "a positive number")
        _check(0.0 <= self.alpha <= 1.0, "prune.alpha", self.alpha, "a number in [0, 1]")
        for key in ("distill", "score", "resume"):
            _check(isinstance(getattr(self, key), bool), f"prune.{key}", getattr(self, key), "true or false")


@dataclass
class ConvertConfig:
    """convert: ANN->SNN conversion of a trained quantized ReLU CNN (docs/convert.md)."""

    time_steps: list[int] = key_factory(lambda: [8, 16, 32, 64], "T values evaluated (each divides the frame length)")
    percentile: float = key(99.9, "threshold = this percentile of each layer's ReLU activations")
    calibration_frames: int = key(1024, "training frames whose activations set the thresholds")
    finetune_epochs: int = key(0, "surrogate-gradient fine-tuning of the converted SNN (0: none)")
    finetune_lr: float = key(0.0005, "Adam learning rate of the fine-tuning (train.lr is for training from scratch)")
    save_time_steps: Optional[int] = key(
        None,
        "T of converted_model.pth (evaluated too if not in time_steps); None = the CNN's own T, i.e. "
        "input_length / its model.snn_group. Not the best T of the sweep: that is picked on test data.")

    def __post_init__(self) -> None:
        _check(len(self.time_steps) > 0 and all(t > 0 for t in self.time_steps), "convert.time_steps",
               self.time_steps, "a non-empty list of positive integers")
        _check(0.0 < self.percentile <= 100.0, "convert.percentile", self.percentile, "a number in (0, 100]")
        _check(self.calibration_frames > 0, "convert.calibration_frames", self.calibration_frames, "a positive integer")
        _check(self.finetune_epochs >= 0, "convert.finetune_epochs", self.finetune_epochs, "an integer >= 0")
        _check(self.finetune_lr > 0, "convert.finetune_lr", self.finetune_lr, "a positive number")
        _check(self.save_time_steps is None or self.save_time_steps > 0, "convert.save_time_steps",
               self.save_time_steps, "a positive integer or null")


@dataclass
class EnergyConfig:
    """evaluate (SNN): energy per operation of the energy report (docs/energy.md)."""

    # A row of toolchain.reports.energy.ENERGY_TABLE: the 45 nm figures (Horowitz, ISSCC 2014).
    # int32: the SNN's 24-bit state accumulates at int32 width (0.1 pJ an add) against int32 MACs.
    precision: Literal["int8", "int32", "fp32"] = key(
        "int8",
        "arithmetic the SNN's accumulates and the CNN's MACs are costed at")


@dataclass
class ClassifyConfig:
    """classify: the model, how a capture is read and cut into frames (docs/classify.md)."""

    model: str = key("", "a .pth checkpoint, a QONNX .onnx or a finn_build output folder (--model)")
    format: Literal["", "cf32", "ci16", "ci8"] = key("", "raw I/Q file's samples (little-endian); empty: SigMF or HDF5")
    rate: Optional[float] = key(None, "raw file's sample rate in Hz (SigMF files give theirs); None: time in samples")
    channels: int = key(1, "raw file: channels interleaved per sample (SigMF: core:num_channels)")
    channel: int = key(0, "channel classified, from 0")
    hop: Optional[int] = key(None, "samples between frame starts, after resampling; None = the frame length")
    resample: str = key("", "\"P/Q\": resample_poly by P/Q before framing; empty = none (see docs/classify.md)")
    normalize: Literal["unit_power", "none"] = key(
        "unit_power",
        "unit_power: each frame scaled to mean |I + jQ|^2 = 1, as RadioML's frames are; none: as read")
    chunk_samples: int = key(1 << 20, "samples read from the capture at a time (bounds the memory)")

    def __post_init__(self) -> None:
        _check(self.rate is None or self.rate > 0, "classify.rate", self.rate, "a positive number or null")
        _check(self.channels > 0, "classify.channels", self.channels, "a positive integer")
        _check(self.channel >= 0, "classify.channel", self.channel, "an integer >= 0")
        _check(self.hop is None or self.hop > 0, "classify.hop", self.hop, "a positive integer or null")
        _check(self.chunk_samples > 0, "classify.chunk_samples", self.chunk_samples, "a positive integer")


@dataclass
class RunConfig:
    """Where a stage writes and which stages `toolchain run` runs."""

    out_dir: str = key("runs/default", "run directory; `--out` overrides it")
    stages: list[str] = key_factory(lambda: ["data"], "order used by `toolchain run`")


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    cost: CostConfig = field(default_factory=CostConfig)
    finn: FinnConfig = field(default_factory=FinnConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    convert: ConvertConfig = field(default_factory=ConvertConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)


# ----------------------------------------------------------------------------------- loading
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


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read an optional YAML file, apply `key=value` overrides, and validate into a `Config`."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_yaml(Path(path))
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(raw, key, value)
    _apply_synth_preset(raw)
    return from_dict(Config, raw)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """`data.batch_size=512` -> ("data.batch_size", 512); the value is parsed as YAML."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. data.batch_size=512")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
    return key, value


def text_override(key: str, value: object) -> str:
    """`key=value` for a flag whose value is text (a path, a name): quoted, so YAML parsing of
    overrides cannot turn `123`, `yes` or `a: b` into a number, a bool or a mapping."""
    return f"{key}={json.dumps(str(value))}"


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"config key '{'.'.join(parts[: i + 1])}': is a value, not a section")
        node = child
    node[parts[-1]] = value


def from_dict(cls: type, data: Any, prefix: str = "") -> Any:
    """Build dataclass `cls` from a nested dict, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"config key '{prefix or '<top>'}': expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown config key '{where}{unknown[0]}' (known in {prefix or 'the top level'}: {', '.join(fields)})"
        )
    kwargs = {name: _coerce(hints[name], value, f"{prefix}.{name}" if prefix else name) for name, value in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(inner[0], value, key)
        for option in inner:  # e.g. an integer or the word "max"
            try:
                return _coerce(option, value, key)
            except ConfigError:
                pass
        _check(False, key, value, " or ".join(", ".join(map(repr, get_args(a))) if get_origin(a) is Literal
                                              else {int: "an integer", float: "a number"}.get(a, a.__name__)
                                              for a in inner))
    if origin is Literal:
        _check(value in args, key, value, f"one of {', '.join(map(str, args))}")
        return value
    if origin is list:
        _check(isinstance(value, (list, tuple)), key, value, "a list")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        _check(isinstance(value, bool), key, value, "true or false")
        return value
    if tp is int:
        _check(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
        return value
    if tp is float:
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), key, value, "a number")
        return float(value)
    if tp is str:
        _check(isinstance(value, str), key, value, "a string")
        return value
    raise TypeError(f"config field '{key}' has an unsupported type {tp!r}")  # a bug in this file


def to_dict(cfg: Any) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (for manifests and checkpoints)."""
    return dataclasses.asdict(cfg)
