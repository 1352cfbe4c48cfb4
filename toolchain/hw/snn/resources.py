"""Resource formulas of the SNN kernels (docs/snn_hardware.md writes every one of them out):
memories (FINN's rules: LUTRAM up to 128 deep, else RAMB18s in simple dual-port mode), the
integer LIF datapath of one lane, and the event-driven kernels (constellation encoder,
spiking conv, spiking dense) of `accelerator.py`. Analytic models of about one LUT per bit per
operation, not fitted to synthesis (no Vitis here): use them to compare designs.
"""

from __future__ import annotations

import math
from typing import Any

from ...snn.lif import refractory_bits

LUTRAM_MAX_DEPTH = 128  # FINN's MVAU threshold for small memories kept in LUTs
CONTROL_LUTS = 40  # loop counters, flags, stream handshakes (per kernel)
# A block-RAM FIFO's read/write pointers, level counter and output register: FINN's fitted
# cost of its fifo.sv in block RAM (finn.util.resource_models, 54 + 3 per cascade level) for
# one RAMB18 level.
BRAM_FIFO_LUTS = 57


def bram18_count(depth: int, width: int) -> int:
    """RAMB18s for one depth x width memory in simple dual-port mode (UG573 Table 1-10), the
    aspect ratios FINN's MVAU.bram_estimation uses."""
    if width <= 0 or depth <= 0:
        return 0
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(depth / 2048) * math.ceil(width / 9)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / 18)
    return math.ceil(depth / 512) * math.ceil(width / 36)


def memory(banks: int, depth: int, width: int) -> dict[str, int]:
    """`banks` memories of depth x width: up to 32 deep UltraScale+'s RAM32M16 (8 LUTs hold 32 x
    14 bits with a separate write port), up to LUTRAM_MAX_DEPTH width x ceil(depth / 64) LUTs
    (FINN's LUT6-as-64x1 rule), else RAMB18s."""
    if depth <= 32:
        return {"lut": banks * 8 * math.ceil(width / 14), "bram18": 0}
    if depth <= LUTRAM_MAX_DEPTH:
        return {"lut": banks * width * math.ceil(depth / 64), "bram18": 0}
    return {"lut": 0, "bram18": banks * bram18_count(depth, width)}


def rom(banks: int, depth: int, width: int) -> dict[str, int]:
    """`banks` constant tables: logic (a LUT6 per 64 entries and output bit) up to
    LUTRAM_MAX_DEPTH entries, else RAMB18s."""
    if depth <= LUTRAM_MAX_DEPTH:
        return {"lut": banks * width * math.ceil(depth / 64), "bram18": 0}
    return {"lut": 0, "bram18": banks * bram18_count(depth, width)}


def mux_luts(n: int) -> int:
    """LUTs per bit of an n:1 multiplexer: a LUT6 is a 4:1 mux and the slice's F7/F8/F9 muxes
    combine up to eight of them (32:1) without LUTs; wider ones add a level."""
    if n <= 1:
        return 0
    if n <= 32:
        return math.ceil(n / 4)
    return math.ceil(n / 4) + mux_luts(math.ceil(n / 32))


def lif_lane_luts(state_bits: int, in_bits: int, leak_shift: int, readout: bool, ref_bits: int) -> int:
    """One neuron update (one lane) as LUT6 + carry-chain logic (UltraScale+): one LUT per bit of
    an adder or a multiplexer, nothing for logic that fits an adder's spare LUT inputs.
    - frame-start gate (the stored state read as 0): 3 inputs of the first adder's LUT6s, 0;
    - leak v - (v >> k): B (k > 0);
    - add v1 + I: S = max(B, A) + 1 bits (the sum of two signed operands);
    - saturation: the sum is out of range iff its S - B + 1 top bits are not all equal, a LUT
      tree of ceil((S - B) / 5); the clamp selects sum, low or high bound per bit: B;
    - lif: threshold v2 >= theta, a constant, on the carry chain (an equal and a greater bit of
      two input bits per LUT6_2): ceil(B / 2); reset, subtract theta or clear when it fires: B;
      refractory: select B + counter 2 Rb + 1."""
    b, s = state_bits, max(state_bits, in_bits) + 1
    luts = (b if leak_shift > 0 else 0) + s + math.ceil((s - b) / 5) + b
    if not readout:
        luts += math.ceil(b / 2) + b + ((b + 2 * ref_bits + 1) if ref_bits else 0)
    return luts


def encoder(spec) -> dict[str, int]:
    """Two binning ROMs of 2^b x bits(R) (LUTs, 64 entries each), counters, BINARY's R x R seen-bitmap (set + clear)."""
    e = spec.encoder
    bins = 2 * max(1, (e.resolution - 1).bit_length()) * math.ceil((1 << e.input_bits) / 64)  # LUT6 per 64 x 1
    seen = e.resolution ** 2 if e.binary else 0
    return {"lut": CONTROL_LUTS + bins + seen, "ff": 2 * e.input_bits + 1 + 3 * 16 + seen, "bram18": 0, "dsp": 0}


def sweep_banks(c) -> int:
    """Accumulator banks one sweep lane reads from: lane j of a group at column w0 (a multiple of
    SP) reads bank (h mod BH, (w0 + j) mod BW), so it sees every bank row and each column residue
    its groups reach; the kernel selects it through a mux of that many inputs."""
    bh, bw = c.banks
    cols = max(len({(w0 + j) % bw for w0 in range(0, c.width, c.sp)}) for j in range(c.sp))
    return min(bh, c.height) * cols


def conv(c) -> dict[str, Any]:
    """spiking_conv.hpp: BH x BW accumulator banks (DEPTH words of CO x A bits) with one A-bit
    adder per bank and filter, BH x BW weight ROMs (CI x BH x BW words of CO x W bits; none of
    their own up to 32 words, merged into the adders' LUTs), SP x CO
    LIF lanes each reading its current through a mux over the banks it sweeps (`sweep_banks`),
    SP membrane banks (H W / SP words of CO x (B + Rb) bits), a priority encoder over the input
    lanes."""
    bh, bw = c.banks
    depth = math.ceil(c.height / bh) * math.ceil(c.width / bw)
    p = c.params
    rb = refractory_bits(p.refractory)
    acc = memory(bh * bw, depth, c.cout * c.acc_bits)
    adders = bh * bw * c.cout * c.acc_bits
    # A ROM of <= 32 entries is a function of its 5 address bits: with the accumulator bit it
    # adds to, one LUT6 computes that adder bit's propagate, so the ROM costs no LUT of its own.
    rom_depth = c.cin * bh * bw
    weights = rom(bh * bw, rom_depth, c.cout * c.weight_bits) if rom_depth > 32 else {"lut": 0, "bram18": 0}
    lanes = c.sp * c.cout
    lif = lanes * lif_lane_luts(p.state_bits, c.acc_bits, p.leak_shift, False, rb)
    mux = lanes * c.acc_bits * mux_luts(sweep_banks(c))
    state = memory(c.sp, c.groups, c.cout * (p.state_bits + rb))
    lut = CONTROL_LUTS + c.in_lanes + acc["lut"] + adders + weights["lut"] + lif + mux + state["lut"]
    ff = adders + lanes * (p.state_bits + max(p.state_bits, c.acc_bits) + 2) + 64
    return {"lut": lut, "ff": ff, "bram18": acc["bram18"] + weights["bram18"] + state["bram18"], "dsp": 0,
            "parts": {"accumulators": acc["lut"], "adders": adders, "weight_rom": weights["lut"], "lif_lanes": lif,
                      "sweep_mux": mux, "membranes": state["lut"]}}


def dense(d) -> dict[str, Any]:
    """spiking_dense.hpp: a weight ROM of CI x POS words of NO x W bits (two read ports), EPC x NO
    A-bit adders and NO current registers, ONE LIF lane reading a neuron's current, membrane
    (+ refractory, + 16-bit count) through NO:1 muxes and writing it back through a decoder of
    NO enables (they also clear its current), the running argmax's compare (a subtractor of B,
    or 16 bits for counts) and its best value and class registers."""
    p = d.params
    rb = refractory_bits(p.refractory)
    weights = rom(1, d.cin * d.positions, d.outputs * d.weight_bits)
    count = 0 if d.membrane else 16
    lif = lif_lane_luts(p.state_bits, d.acc_bits, p.leak_shift, d.membrane, rb)
    mux = mux_luts(d.outputs) * (d.acc_bits + p.state_bits + rb + count)
    compare = p.state_bits if d.membrane else 16
    adders = d.events_per_cycle * d.outputs * d.acc_bits
    lut = CONTROL_LUTS + d.events_per_cycle * d.in_lanes + weights["lut"] + adders + lif + mux + d.outputs + compare
    ff = d.outputs * (d.acc_bits + p.state_bits + rb + count) + compare + max(1, (d.outputs - 1).bit_length()) + 64
    return {"lut": lut, "ff": ff, "bram18": weights["bram18"], "dsp": 0,
            "parts": {"adders": adders, "lif_lane": lif, "neuron_mux": mux, "decoder": d.outputs,
                      "argmax": compare}}


def stream_widths(spec) -> list[int]:
    """Bits of the words on each FIFO: encoder -> conv0, conv_i -> conv_i+1 / the readout."""
    addr = [max(1, (spec.encoder.resolution ** 2 - 1).bit_length())] + \
        [max(1, (c.height * c.width - 1).bit_length()) for c in spec.convs]
    lanes = [1] + [c.out_lanes for c in spec.convs]
    return [la + ad + 3 for la, ad in zip(lanes, addr)]


def fifo_storage(depth: int, width: int) -> str:
    """"srl" or "bram": up to 32 deep one SRL32 per bit (FINN's fifo.sv builds a shift register
    up to 33 whatever the style asked); deeper, the cheaper in LUTs of width x ceil(depth / 32)
    SRL32s and a block-RAM FIFO's BRAM_FIFO_LUTS of control."""
    return "bram" if depth > 32 and width * math.ceil(depth / 32) > BRAM_FIFO_LUTS else "srl"


def fifos(spec, depths: list[int]) -> dict[str, Any]:
    """The FIFOs between the kernels, each in its `fifo_storage`."""
    lut = bram = 0
    storage = []
    for width, depth in zip(stream_widths(spec), depths):
        storage.append(fifo_storage(depth, width))
        if storage[-1] == "srl":
            lut += width * math.ceil(depth / 32)
        else:
            lut += BRAM_FIFO_LUTS
            bram += bram18_count(depth, width)
    return {"lut": lut, "ff": 0, "bram18": bram, "dsp": 0, "storage": storage}


def accelerator(spec, fifo_depths: list[int] | None = None) -> dict[str, Any]:
    """Per kernel and in total, with the FIFOs between the kernels when their depths are given."""
    layers = {"encoder": encoder(spec), **{c.name: conv(c) for c in spec.convs}, spec.dense.name: dense(spec.dense)}
    if fifo_depths is not None:
        layers["fifos"] = fifos(spec, fifo_depths)
    total = {k: sum(v[k] for v in layers.values()) for k in ("lut", "ff", "bram18", "dsp")}
    total["bram36"] = total["bram18"] / 2
    return {"layers": layers, "total": total}


def cycle_bound(spec) -> dict[str, int]:
    """Cycles per frame when every input is active (the guaranteed bound): conv0 gets `group`
    events a step (distinct cells at most R^2 with BINARY), a later layer every neuron of the
    layer before (the readout takes them `events_per_cycle` at a time)."""
    e, t = spec.encoder, spec.steps
    out = {"encoder": e.frame + 1}
    events = min(e.group, e.resolution ** 2) if e.binary else e.group
    for c in spec.convs:
        out[c.name] = t * (events + c.groups) + 1
        events = c.height * c.width * c.cout
    out[spec.dense.name] = t * (-(-events // spec.dense.events_per_cycle) + spec.dense.outputs) + 1
    return out
