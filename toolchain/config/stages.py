"""Config sections of the stages after the model: train, eval, export, cost, finn, prune,
convert, energy, classify, run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Union

from ..data.classes import CLASSES
from .fields import check, key, key_factory


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
        check(self.epochs > 0, "train.epochs", self.epochs, "a positive integer")
        check(isinstance(self.resume, bool), "train.resume", self.resume, "true or false")
        check(isinstance(self.deterministic, bool), "train.deterministic", self.deterministic, "true or false")
        check(self.lr > 0, "train.lr", self.lr, "a positive number")
        check(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, "a number >= 0")
        check(self.t0 > 0, "train.t0", self.t0, "a positive integer")
        check(self.max_batches is None or self.max_batches > 0, "train.max_batches", self.max_batches, "a positive integer or null")
        check(self.threads is None or self.threads > 0, "train.threads", self.threads, "a positive integer or null")


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
        check(self.max_frames is None or self.max_frames > 0, "eval.max_frames", self.max_frames, "a positive integer or null")
        check(self.batch_size is None or self.batch_size > 0, "eval.batch_size", self.batch_size,
              "a positive integer or null")
        check(self.onnx_batch_size > 0, "eval.onnx_batch_size", self.onnx_batch_size, "a positive integer")


@dataclass
class ExportConfig:
    """export_onnx: verification of the exported QONNX against PyTorch."""

    verify_inputs: int = key(16, "random inputs run through both")
    atol: float = key(1e-4, "tolerance on the outputs (float rounding); the class must match exactly")
    seed: int = key(0, "seed of the verification inputs")

    def __post_init__(self) -> None:
        check(self.verify_inputs > 0, "export.verify_inputs", self.verify_inputs, "a positive integer")
        check(self.atol >= 0, "export.atol", self.atol, "a number >= 0")


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
    event_driven_rtl: bool = key(
        True,
        "SNNs: also stream those frames back to back through the stitched RTL accelerator, cycle by cycle in "
        "Verilator, and report the measured frames/s, latency, kernels' busy cycles, FIFO occupancy and the "
        "worst case (RTL-simulated) beside the formulas (~2 min for the shipped network's test split on 2 "
        "loaded cores, half of it the Verilator build); skipped with the reason where Verilator is missing")
    event_impl_style: Literal["rtl", "hls"] = key(
        "rtl",
        "SNNs: the backend of the event-driven build's nodes (its preferred_impl_style): rtl = the SystemVerilog "
        "kernels (<Op>_rtl; generate_hdl writes each kernel's .sv, wrapper and ROM files, and finn_output/rtl_project "
        "the stitched accelerator for Vivado), hls = the Vitis HLS kernels (<Op>_hls, top_<node>.cpp). The "
        "verification and the C-simulated and RTL-simulated figures are the same either way")
    require_bitstream: bool = key(
        False,
        "The user asks for a bitstream: missing Vivado/Vitis is then an error (exit 1) before any work, "
        "instead of a build that stops after HW code generation with exit 0.")
    synthesize_rtl: bool = key(
        False,
        "Synthesize every RTL layer out of context with Yosys for the board's family (minutes per large layer, "
        "cached by the RTL's hash in the run folder's yosys_cache/) and report its LUT, LUTRAM, FF, BRAM and DSP "
        "beside FINN's estimate; HLS layers keep FINN's estimate. SNNs: also the event-driven accelerator's RTL "
        "kernels and its stitched top (event_driven.synthesized, beside the formula estimates; the shipped "
        "network's take over half an hour on 2 cores the first time)")

    def __post_init__(self) -> None:
        check(bool(self.build), "finn.build", self.build, "a build folder path")
        check(self.clock_ns is None or self.clock_ns > 0, "finn.clock_ns", self.clock_ns, "a positive number or null")
        check(self.target_fps in (None, "max") or self.target_fps > 0, "finn.target_fps", self.target_fps,
              "a positive integer, max or null")
        check(self.budget is None or 0 < self.budget <= 1, "finn.budget", self.budget, "a share in (0, 1] or null")
        check(self.verify_inputs >= 0, "finn.verify_inputs", self.verify_inputs, "an integer >= 0")
        check(self.verify_synthetic >= 0, "finn.verify_synthetic", self.verify_synthetic, "an integer >= 0")
        check(self.verify_inputs + self.verify_synthetic > 0, "finn.verify_inputs", self.verify_inputs,
              "at least one frame together with finn.verify_synthetic")
        check(self.seed >= 0, "finn.seed", self.seed, "an integer >= 0")
        check(self.event_driven_frames is None or self.event_driven_frames > 0, "finn.event_driven_frames",
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
        check(0.0 < self.rate < 1.0, "prune.rate", self.rate, "a number in (0, 1)")
        for k in ("bits_weight", "bits_act"):
            for entry in getattr(self, k) or []:
                check(len(entry) > 0 and all(1 <= b <= 16 for b in entry), f"prune.{k}", getattr(self, k),
                      "a list of non-empty lists of integers in 1..16")
        if self.bits_weight is not None and self.bits_act is not None:
            check(len(self.bits_act) == len(self.bits_weight), "prune.bits_act", self.bits_act,
                  f"{len(self.bits_weight)} entries, one per prune.bits_weight entry")
        check(self.bits_finetune_epochs >= 0, "prune.bits_finetune_epochs", self.bits_finetune_epochs,
              "an integer >= 0")
        check(self.steps > 0, "prune.steps", self.steps, "a positive integer")
        check(self.decay > 1.0, "prune.decay", self.decay, "a number > 1")
        check(0.0 < self.min_rate < 1.0, "prune.min_rate", self.min_rate, "a number in (0, 1)")
        check(self.target_sparsity is None or 0.0 < self.target_sparsity < 1.0, "prune.target_sparsity",
              self.target_sparsity, "a number in (0, 1) or null")
        check(0.0 <= self.min_acc <= 1.0, "prune.min_acc", self.min_acc, "a number in [0, 1]")
        check(0.0 <= self.max_drop <= 1.0, "prune.max_drop", self.max_drop, "a number in [0, 1]")
        check(len(self.layer_types) > 0, "prune.layer_types", self.layer_types, "a non-empty list of conv, linear")
        check(self.finetune_epochs >= 0, "prune.finetune_epochs", self.finetune_epochs, "an integer >= 0")
        check(self.lr > 0, "prune.lr", self.lr, "a positive number")
        check(0.0 < self.plateau_factor < 1.0, "prune.plateau_factor", self.plateau_factor, "a number in (0, 1)")
        check(self.plateau_patience >= 0, "prune.plateau_patience", self.plateau_patience, "an integer >= 0")
        check(self.temperature > 0, "prune.temperature", self.temperature, "a positive number")
        check(0.0 <= self.alpha <= 1.0, "prune.alpha", self.alpha, "a number in [0, 1]")
        for k in ("distill", "score", "resume"):
            check(isinstance(getattr(self, k), bool), f"prune.{k}", getattr(self, k), "true or false")


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
        check(len(self.time_steps) > 0 and all(t > 0 for t in self.time_steps), "convert.time_steps",
              self.time_steps, "a non-empty list of positive integers")
        check(0.0 < self.percentile <= 100.0, "convert.percentile", self.percentile, "a number in (0, 100]")
        check(self.calibration_frames > 0, "convert.calibration_frames", self.calibration_frames, "a positive integer")
        check(self.finetune_epochs >= 0, "convert.finetune_epochs", self.finetune_epochs, "an integer >= 0")
        check(self.finetune_lr > 0, "convert.finetune_lr", self.finetune_lr, "a positive number")
        check(self.save_time_steps is None or self.save_time_steps > 0, "convert.save_time_steps",
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

    model: str = key(
        "",
        "A .pth checkpoint, a QONNX .onnx or a finn_build output folder (--model); empty in `toolchain run`: the "
        "run's finn_output, else its trained checkpoint.")
    input: str = key(
        "",
        "Recording classified by `toolchain run` (the command line's INPUT wins); empty: the run's capture "
        "(capture.sigmf-meta, written by the capture stage).")
    format: Literal["", "cf32", "ci16", "ci8"] = key("", "raw I/Q file's samples (little-endian); empty: SigMF or HDF5")
    rate: Optional[float] = key(None, "raw file's sample rate in Hz (SigMF files give theirs); None: time in samples")
    channels: int = key(1, "raw file: channels interleaved per sample (SigMF: core:num_channels)")
    channel: int = key(0, "channel classified, from 0")
    hop: Optional[int] = key(None, "samples between frame starts, after resampling; None = the frame length")
    resample: str = key("", "\"P/Q\": resample_poly by P/Q before framing; empty = none (see docs/classify.md)")
    normalize: Literal["unit_power", "unit_variance", "none"] = key(
        "unit_power",
        "unit_power: each frame scaled to mean |I + jQ|^2 = 1, as RadioML's frames are; unit_variance: to unit "
        "variance, mean kept (as the synthetic generator's radioml2018 preset scales them); none: as read")
    chunk_samples: int = key(1 << 20, "samples read from the capture at a time (bounds the memory)")

    def __post_init__(self) -> None:
        check(self.rate is None or self.rate > 0, "classify.rate", self.rate, "a positive number or null")
        check(self.channels > 0, "classify.channels", self.channels, "a positive integer")
        check(self.channel >= 0, "classify.channel", self.channel, "an integer >= 0")
        check(self.hop is None or self.hop > 0, "classify.hop", self.hop, "a positive integer or null")
        check(self.chunk_samples > 0, "classify.chunk_samples", self.chunk_samples, "a positive integer")


@dataclass
class CaptureConfig:
    """capture: a SigMF test recording of known modulations from the synthetic generator (docs/classify.md)."""

    classes: Optional[list[str]] = key(
        None,
        "Classes of the segments, in recording order; null = all 24 once each, in an order shuffled by "
        "capture.seed.")
    frames_per_segment: int = key(2, "length of each segment in frames of synth.length samples")
    snr: float = key(30.0, "SNR of every segment, dB (read as synth.channel.snr_reading says)")
    seed: int = key(1, "seed of the segments' signals, channel and order (independent of synth.seed's frames)")
    sample_rate: float = key(
        200e3,
        "core:sample_rate written to the recording: nominal (the generator works in samples; the 2016 RadioML "
        "tools ran their analog transmitters at 200 kHz)")

    def __post_init__(self) -> None:
        if self.classes is not None:
            check(len(self.classes) > 0, "capture.classes", self.classes, "a non-empty list or null")
            for name in self.classes:
                check(name in CLASSES, "capture.classes", name, f"one of {', '.join(CLASSES)}")
        check(self.frames_per_segment > 0, "capture.frames_per_segment", self.frames_per_segment, "a positive integer")
        check(self.seed >= 0, "capture.seed", self.seed, "an integer >= 0")
        check(self.sample_rate > 0, "capture.sample_rate", self.sample_rate, "a positive number")


@dataclass
class RunConfig:
    """Where a stage writes and which stages `toolchain run` runs."""

    out_dir: str = key("runs/default", "run directory; `--out` overrides it")
    stages: list[str] = key_factory(lambda: ["data"],
                                    "order used by `toolchain run`, which then runs `report` (the run's page)")
