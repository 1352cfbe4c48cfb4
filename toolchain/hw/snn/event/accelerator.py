"""The event-driven SNN accelerator as data: an SNN model (toolchain/models/snn.py) mapped onto
the kernels constellation_encoder.hpp -> spiking_conv.hpp x N -> spiking_dense.hpp, with the
integer weights, the encoder's binning tables and every template argument, checked before any
code is written. Also the kernels' cycle formulas (the C simulation's counters are tested
against them). docs/snn_hardware.md, "Event-driven accelerator".

A configuration the kernels cannot reproduce bit for bit is a one-line `ToolchainError`
("cannot map ...") naming the config key or the layer and the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ....errors import ToolchainError
from ....snn.layers import int_weight
from ....snn.lif import LIFParams
from ..resources import LUTRAM_MAX_DEPTH

MAX_INPUT_BITS = 8  # the int8 I/Q stream of the CNN accelerator (binning tables of 2**bits entries)
MAX_PLANE = 256  # H, W (the address field of an event word)
MAX_KERNEL = 15
MAX_WORD_BITS = 1000  # a stream word (event lanes + address + flags; readout membranes): ap_uint's 1024
MAX_ACC_BITS = 32  # a step current; wider needs a wider adder per tap than the kernel budgets


@dataclass(frozen=True)
class EncoderSpec:
    input_bits: int  # the int I/Q codes (the CNN accelerator's input quantizer)
    scale: float  # code -> float sample the model sees: code * scale
    resolution: int  # R: plane R x R
    group: int  # samples per time step
    frame: int  # samples per frame
    binary: bool
    ibin: np.ndarray  # (2**input_bits,) column of each code (two's complement index)
    qbin: np.ndarray  # (2**input_bits,) row of each code


@dataclass(frozen=True)
class ConvSpec:
    name: str
    height: int
    width: int
    cin: int
    cout: int
    kernel: int
    in_lanes: int  # lanes of the input event word (positions per word x cin)
    sp: int  # positions swept per cycle
    weight_bits: int
    acc_bits: int
    params: LIFParams
    weights: np.ndarray  # (cin, k, k, cout) int64: [ci][kh][kw][co]
    ram_style: str = "distributed"  # the accumulators (read-add-write each cycle); membranes: "block"

    @property
    def groups(self) -> int:
        return self.height * self.width // self.sp

    @property
    def state_ram_style(self) -> str:
        """The membranes: LUTRAM while a bank is shallow (FINN's rule), else block RAM."""
        return "distributed" if self.groups <= LUTRAM_MAX_DEPTH else "block"

    @property
    def banks(self) -> tuple[int, int]:
        return self.kernel, max(self.kernel, self.sp)

    def bank_weights(self) -> np.ndarray:
        """The kernel's per-bank ROMs [bh][bw][ci][h mod BH][w mod BW][co] (spiking_conv.hpp):
        the weight that an event at a position with those residues adds into bank (bh, bw)."""
        bh_n, bw_n = self.banks
        k, p = self.kernel, self.kernel // 2
        out = np.zeros((bh_n, bw_n, self.cin, bh_n, bw_n, self.cout), dtype=np.int64)
        for bh in range(bh_n):
            for rh in range(bh_n):
                dh = (bh - (rh - p)) % bh_n
                for bw in range(bw_n):
                    for rw in range(bw_n):
                        dw = (bw - (rw - p)) % bw_n
                        if dw < k:
                            out[bh, bw, :, rh, rw, :] = self.weights[:, k - 1 - dh, k - 1 - dw, :]
        return out

    @property
    def out_lanes(self) -> int:
        return self.sp * self.cout


@dataclass(frozen=True)
class DenseSpec:
    name: str
    positions: int  # H * W of the input plane
    cin: int
    in_lanes: int
    outputs: int
    weight_bits: int
    acc_bits: int
    params: LIFParams
    membrane: bool  # li_step + argmax of the membranes, or lif_step + argmax of the spike counts
    weights: np.ndarray  # (cin * positions, outputs) int64
    events_per_cycle: int = 2  # two weight rows a cycle through the ROM's two read ports
    ram_style: str = "auto"  # the weight ROM; "auto": LUTs up to LUTRAM_MAX_DEPTH rows, else block RAM

    @property
    def rom_style(self) -> str:
        if self.ram_style != "auto":
            return self.ram_style
        return "distributed" if self.cin * self.positions <= LUTRAM_MAX_DEPTH else "block"


@dataclass(frozen=True)
class AcceleratorSpec:
    encoder: EncoderSpec
    convs: tuple[ConvSpec, ...]
    dense: DenseSpec

    @property
    def steps(self) -> int:
        return self.encoder.frame // self.encoder.group


def _signed_bits(bound: int) -> int:
    """Bits of a signed integer holding -bound..bound."""
    return max(int(bound).bit_length() + 1, 2)


def _cannot(what: str, expected: str) -> ToolchainError:
    return ToolchainError(f"cannot map {what} onto the event-driven kernels: {expected}")


def _bins(cfg, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The model's own encoder evaluated on every input code: I (column) and Q (row) tables."""
    from ....snn.encoders import encode

    n = 1 << cfg.input_bits
    codes = np.arange(n)
    signed = np.where(codes >= n // 2, codes - n, codes).astype(np.float32)
    x = torch.zeros(n, 2, cfg.input_length)
    x[:, 0] = torch.from_numpy(signed * np.float32(scale))[:, None]
    x[:, 1] = torch.from_numpy(signed[::-1].copy() * np.float32(scale))[:, None]  # Q independent of I
    first = encode(cfg, x)[:, 0, 0]  # (n, R, R): all samples in one cell
    flat = first.reshape(n, -1).argmax(1).numpy()
    r = cfg.snn_resolution
    ibin = flat % r
    qbin = np.empty(n, dtype=np.int64)
    qbin[::-1] = flat // r
    return ibin.astype(np.int64), qbin


@dataclass(frozen=True)
class LayerData:
    """What the mapping needs of one LIF layer, from a PyTorch model or a QONNX graph."""

    weights: np.ndarray  # int64: conv (co, ci, kh, kw) as torch's Conv2d; readout (outputs, cin * h * w)
    params: LIFParams
    readout: bool = False  # li_step (membrane readout) rather than lif_step


def model_layers(model) -> list[LayerData]:
    """The integer weights and neuron parameters of an `SNN` model's layers."""
    return [LayerData(int_weight(layer.synapse).detach().round().long().numpy(), layer.params, bool(layer.readout))
            for layer in model.layers]


def map_model(model, sweep_positions: int | Sequence[int] | None = None) -> AcceleratorSpec:
    """The accelerator for a (trained or initialised) `SNN` model; raises before any code exists.
    `sweep_positions` (SP), one for every conv or one per conv: default the smallest divisor of
    the plane width that sweeps a step within 2 x group cycles in conv0 and group cycles after
    (the estimates' best trade of LUTs for cycles on the shipped network, bench/RESULTS.md)."""
    return map_layers(model.config, model_layers(model), sweep_positions)


def map_layers(cfg, layers: Sequence[LayerData], sweep_positions: int | Sequence[int] | None = None) -> AcceleratorSpec:
    """`map_model` on a model config (`ModelConfig`) and its layers' integer data."""
    if cfg.snn_encoder != "constellation":
        raise _cannot(f"model.snn_encoder={cfg.snn_encoder}",
                      "only the constellation encoder is built from int I/Q codes (the delta encoder is not)")
    if cfg.snn_gamma != 1.0:
        raise _cannot(f"model.snn_gamma={cfg.snn_gamma}",
                      "the hardware bins I and Q separately, so only snn_gamma = 1 (no radius warping)")
    if not 2 <= cfg.input_bits <= MAX_INPUT_BITS:
        raise _cannot(f"model.input_bits={cfg.input_bits}", f"int I/Q codes of 2..{MAX_INPUT_BITS} bits")
    r = cfg.snn_resolution
    if r > MAX_PLANE:
        raise _cannot(f"model.snn_resolution={r}", f"a plane of at most {MAX_PLANE} x {MAX_PLANE}")
    scale = cfg.input_range / (1 << (cfg.input_bits - 1))
    ibin, qbin = _bins(cfg, scale)
    enc = EncoderSpec(cfg.input_bits, scale, r, cfg.snn_group, cfg.input_length, cfg.snn_binary, ibin, qbin)

    convs: list[ConvSpec] = []
    h = w = r
    in_lanes, cin = 1, 1
    # conv0's input: at most `group` events per step, each adding one weight per reached neuron
    max_count = 1 if cfg.snn_binary else cfg.snn_group
    layers = list(layers)
    sps = list(sweep_positions) if isinstance(sweep_positions, Sequence) else [sweep_positions] * (len(layers) - 1)
    if len(sps) != len(layers) - 1:
        raise ToolchainError(f"sweep positions: expected one per conv layer ({len(layers) - 1}), got {sps}")
    for i, layer in enumerate(layers[:-1]):
        name = f"conv{i}"
        wt = np.asarray(layer.weights, dtype=np.int64)  # (co, ci, kh, kw)
        co, ci, kh, kw = wt.shape
        if ci != cin:
            raise _cannot(f"layer {name} ({ci} input channels)", f"the {cin} channels of the layer before it")
        if kh != kw or kh % 2 == 0 or kh > MAX_KERNEL or kh > min(h, w):
            raise _cannot(f"layer {name} (kernel {kh}x{kw})", f"a square odd kernel of at most "
                          f"{min(MAX_KERNEL, h, w)} on its {h}x{w} plane")
        # conv0's events are fixed (group per step), so its sweep may take 2 x group; a later conv's
        # events vary with activity, so its sweep gets group cycles and the events the rest
        budget = cfg.snn_group * (2 if i == 0 else 1)
        sp = sps[i] or next(d for d in range(1, w + 1) if w % d == 0 and (h * w // d <= budget or d == w))
        if w % sp or sp * co + 32 > MAX_WORD_BITS:
            raise _cannot(f"layer {name} (SP {sp})", f"SP must divide the plane width {w} and SP x {co} "
                          f"filters + 32 <= {MAX_WORD_BITS} bits of an event word")
        fan_in = int(np.abs(wt).reshape(co, -1).sum(1).max())  # largest current from binary spikes
        # conv0: each of the step's <= group events adds one weight to a neuron it reaches
        bound = min(fan_in * max_count, int(np.abs(wt).max()) * cfg.snn_group) if i == 0 else fan_in
        acc = _signed_bits(bound)
        if acc > MAX_ACC_BITS:
            raise _cannot(f"layer {name}", f"its step current needs {acc} bits, the kernel adds <= {MAX_ACC_BITS}")
        wbits = _signed_bits(int(np.abs(wt).max()))
        convs.append(ConvSpec(name, h, w, ci, co, kh, in_lanes, sp, wbits, acc, layer.params,
                              np.ascontiguousarray(wt.transpose(1, 2, 3, 0))))
        in_lanes, cin = sp * co, co
    ro = layers[-1]
    wt = np.asarray(ro.weights, dtype=np.int64)  # (outputs, cin * h * w)
    if wt.shape[1] != cin * h * w:
        raise _cannot(f"layer dense0 (readout, {wt.shape[1]} inputs)",
                      f"the {cin} x {h} x {w} spikes of the layer before")
    if wt.shape[0] * ro.params.state_bits > MAX_WORD_BITS:
        raise _cannot(f"layer dense0 (readout, {wt.shape[0]} outputs)", f"outputs x state bits <= {MAX_WORD_BITS} "
                      "(the final membranes leave in one word)")
    bound = int(np.abs(wt).sum(1).max())
    acc = _signed_bits(bound)
    if acc > MAX_ACC_BITS:
        raise _cannot("layer dense0 (readout)", f"its step current needs {acc} bits, the kernel adds <= {MAX_ACC_BITS}")
    dense = DenseSpec("dense0", h * w, cin, in_lanes, wt.shape[0], _signed_bits(int(np.abs(wt).max())), acc,
                      ro.params, ro.readout, np.ascontiguousarray(wt.T))
    return AcceleratorSpec(enc, tuple(convs), dense)


def layer_cycles(spec: AcceleratorSpec, loops: list[np.ndarray]) -> dict[str, int]:
    """The kernels' cycle formulas (II = 1 iterations per frame) from each layer's event-loop
    iterations per step, `loops[i]` for layer i (0 = conv0, last = the readout): the sum over
    its input words of max(1, ceil(events / events per cycle)) (`word_iterations`), plus each
    conv's sweep and the readout's one-lane update (H W / SP and NO cycles per step). The
    encoder: one per sample plus the FRAME word (and a short frame's partial-step marker)."""
    steps = spec.steps
    out = {"encoder": spec.encoder.frame + 1}
    for i, c in enumerate(spec.convs):
        out[c.name] = int(loops[i].sum()) + steps * c.groups + 1
    out[spec.dense.name] = int(loops[-1].sum()) + steps * spec.dense.outputs + 1
    return out


def word_iterations(spikes: np.ndarray, sp: int, events_per_cycle: int) -> np.ndarray:
    """Event-loop iterations per (frame, step) of a kernel fed by a conv's sweep: spikes
    (n, T, C, H, W) 0/1 of that conv, sent as one word per group of `sp` positions of a row
    with a spike, and the step's last group always (it carries STEP)."""
    n, t, c, h, w = spikes.shape
    pop = spikes.reshape(n, t, c, h, w // sp, sp).sum((2, 5)).reshape(n, t, -1)
    it = -(-pop // events_per_cycle)
    it[..., -1] = np.maximum(it[..., -1], 1)
    return it.sum(2)
