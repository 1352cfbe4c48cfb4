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
    """`banks` memories of depth x width, as Yosys maps a registered-read RAM for UltraScale+
    (checked on the synthesized kernels): up to 32 deep RAM32M16 (8 LUTs hold 32 x 14 bits with
    a separate write port), up to 64 deep RAM64M8 (8 LUTs: 64 x 7 bits), deeper RAMB18s."""
    if depth <= 32:
        return {"lut": banks * 8 * math.ceil(width / 14), "bram18": 0}
    if depth <= 64:
        return {"lut": banks * 8 * math.ceil(width / 7), "bram18": 0}
    return {"lut": 0, "bram18": banks * bram18_count(depth, width)}


def rom(banks: int, depth: int, width: int) -> dict[str, int]:
    """`banks` constant tables: logic (a LUT6 per 64 entries and output bit) up to 64 entries,
    else RAMB18s (what Yosys made of the convs' and readouts' ROMs)."""
    if depth <= 64:
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
    """constellation_encoder.sv: the binning tables (a LUT per output bit: a threshold table of
    the code; the uniform grids collapse further), the frame and step
    counters (increment, compare, clear: two LUTs a bit), the output word; BINARY adds its
    R x R seen-bitmap (a register per cell, set and clear: two LUTs each, and the R^2 : 1
    multiplexer that reads it)."""
    e = spec.encoder
    cell = _bits(e.resolution)
    kb, gb = _bits(e.frame + 1), _bits(e.group)
    out = 2 * cell + 4
    seen = e.resolution ** 2 if e.binary else 0
    lut = 2 * cell + 2 * (kb + gb) + out + 2 * seen + (mux_luts(seen) if seen else 0)
    return {"lut": lut, "ff": kb + gb + 4 + out + seen, "bram18": 0, "dsp": 0}


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def conv_parts(c) -> dict[str, dict[str, int]]:
    """spiking_conv.sv part by part, in LUTs of logic (before `CONV_LUT_SCALE`), memory LUTs,
    RAMB18s and flip-flops: BH x BW accumulator banks (DEPTH words of CO x A bits, registered
    read, `memory`) each with its adders and the forwarding and clear multiplexers in front of
    the write (about 2 LUTs per bit), its read, forwarding and address registers, its weight
    ROM (CI x BH x BW words of CO x W bits, `rom`; a ROM in LUTs also has a read register) and
    its address arithmetic (the event's output position, in-plane test, the sweep's address);
    SP sweep lanes, each selecting its bank's word through a BH x BW : 1 multiplexer, a current
    register and CO LIF updates; SP membrane banks (H W / SP words of CO x (B + Rb) bits); the
    issue stage (lowest set lane: isolate, clear, number), the pipeline registers and the
    output register slice (two words)."""
    bh, bw = c.banks
    banks = bh * bw
    depth = math.ceil(c.height / bh) * math.ceil(c.width / bw)
    p = c.params
    rb = refractory_bits(p.refractory)
    cw, ww = c.cout * c.acc_bits, c.cout * c.weight_bits
    ab, ad = _bits(depth), _bits(c.height * c.width)
    out_bits = c.sp * c.cout + ad + 3
    acc = memory(banks, depth, cw)
    rows = c.cin * bh * bw
    weights = rom(banks, rows, ww)
    state = memory(c.sp, c.groups, c.cout * (p.state_bits + rb))
    lif = c.sp * c.cout * lif_lane_luts(p.state_bits, c.acc_bits, p.leak_shift, False, rb)
    return {
        "accumulate": {"lut": banks * 2 * cw, "ff": banks * (2 * cw + 3 * ab + 3)},
        "accumulators": {"lutram": acc["lut"], "bram18": acc["bram18"]},
        "weight_rom": {"lut": weights["lut"], "bram18": weights["bram18"], "ff": banks * ww if weights["lut"] else 0},
        "address": {"lut": banks * (3 * ab + 8), "ff": 0},
        "sweep_mux": {"lut": c.sp * cw * mux_luts(banks), "ff": c.sp * cw},
        "lif_lanes": {"lut": lif, "ff": c.sp * c.cout * (p.state_bits + rb) if state["lut"] else 0},
        "membranes": {"lutram": state["lut"], "bram18": state["bram18"]},
        "issue_and_pipeline": {"lut": CONTROL_LUTS + 3 * c.in_lanes, "ff": 2 * c.in_lanes + 6 * ad + 32},
        "output_slice": {"lut": out_bits, "ff": 2 * out_bits + c.sp * c.cout},
    }


# Fitted on synthesized kernels (Yosys 0.70 synth_xilinx -family xcup, out of context; the fit
# set, the held-out check and the tolerance: docs/snn_hardware.md, "Synthesis (Yosys) and the
# fitted resource formulas"; `python bench/snn_synth.py --fit`): the logic LUTs Yosys maps a
# LUT-held weight ROM bit and every other counted LUT of `conv_parts` to, and its flip-flops
# per counted one.
CONV_ROM_LUT_SCALE = 2.18
CONV_LUT_SCALE = 1.06
CONV_FF_SCALE = 1.0


def conv(c) -> dict[str, Any]:
    """The convolution's LUTs (logic x CONV_LUT_SCALE + LUTRAM, as Vivado's "CLB LUTs"), FF,
    RAMB18s and DSPs (none: no run-time product), with the parts (`conv_parts`)."""
    parts = conv_parts(c)
    rom_luts = parts["weight_rom"].get("lut", 0)
    logic = sum(v.get("lut", 0) for v in parts.values()) - rom_luts
    lutram = sum(v.get("lutram", 0) for v in parts.values())
    return {"lut": round(CONV_ROM_LUT_SCALE * rom_luts + CONV_LUT_SCALE * logic) + lutram, "lutram": lutram,
            "ff": round(CONV_FF_SCALE * sum(v.get("ff", 0) for v in parts.values())),
            "bram18": sum(v.get("bram18", 0) for v in parts.values()), "dsp": 0,
            "parts": {k: v.get("lut", 0) + v.get("lutram", 0) for k, v in parts.items()}}


def rom_2p(depth: int, width: int) -> dict[str, int]:
    """A constant table read through two ports at once: two LUT copies up to 64 entries, else
    RAMB18s in true dual-port mode (18 bits a port: UG573), as Yosys maps the readout's ROM."""
    if depth <= 64:
        return {"lut": 2 * width * math.ceil(depth / 64), "bram18": 0}
    return {"lut": 0, "bram18": math.ceil(depth / 1024) * math.ceil(width / 18)}


def dense_parts(d) -> dict[str, dict[str, int]]:
    """spiking_dense.sv part by part (logic LUTs before `DENSE_LUT_SCALE`): the weight ROM (CI x POS
    words of NO x W bits, both ports read: `rom_2p`), the two lowest set lanes of the input
    word and their row addresses, NO A-bit accumulators adding two rows (two adders a bit),
    the NO neurons' registers (membrane, refractory count, spike count for a count readout)
    with their write enables and clears, the NO : 1 multiplexers that bring neuron u to the one
    LIF lane, the lane and its pipeline registers (the neuron read, the update), the running
    argmax (compare, best value and class) and the output packet's word multiplexer."""
    p = d.params
    rb = refractory_bits(p.refractory)
    count = 0 if d.membrane else 16
    rows = d.cin * d.positions
    weights = rom_2p(rows, d.outputs * d.weight_bits)
    neuron = p.state_bits + rb + count
    best = p.state_bits if d.membrane else 16
    ub = _bits(d.outputs + 1)
    return {
        "weight_rom": {"lut": weights["lut"], "bram18": weights["bram18"]},
        # isolate and clear the two lowest set lanes (carry chains), then each one's ROM row: an OR
        # of the lanes' row bases, a stage later, and the word's position added
        "lanes": {"lut": 4 * d.in_lanes + 2 * _bits(rows) * (1 + math.ceil(d.in_lanes / 5)),
                  "ff": 3 * d.in_lanes + 2 * _bits(d.positions) + 6},
        "accumulate": {"lut": 2 * d.outputs * d.acc_bits, "ff": d.outputs * d.acc_bits},
        "neurons": {"lut": d.outputs * neuron, "ff": d.outputs * neuron},
        "neuron_mux": {"lut": (d.acc_bits + neuron) * mux_luts(d.outputs)},
        "lif_lane": {"lut": lif_lane_luts(p.state_bits, d.acc_bits, p.leak_shift, d.membrane, rb) + count,
                     "ff": d.acc_bits + 2 * p.state_bits + rb + 2 * count + 3 * ub + 2},
        "argmax": {"lut": best, "ff": best + 16 + 2 * ub},
        "output": {"lut": p.state_bits * mux_luts(d.outputs) + 32 + CONTROL_LUTS, "ff": 4},
    }


# Fitted on the shipped readout (Yosys, as the conv's scales; held out: the small network's)
DENSE_LUT_SCALE = 1.17
DENSE_FF_SCALE = 1.14


def dense(d) -> dict[str, Any]:
    """The readout's LUTs (logic x DENSE_LUT_SCALE), FF, RAMB18s and DSPs, with the parts."""
    parts = dense_parts(d)
    return {"lut": round(DENSE_LUT_SCALE * sum(v.get("lut", 0) for v in parts.values())),
            "ff": round(DENSE_FF_SCALE * sum(v.get("ff", 0) for v in parts.values())),
            "bram18": sum(v.get("bram18", 0) for v in parts.values()), "dsp": 0,
            "parts": {k: v.get("lut", 0) for k, v in parts.items()}}


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


def fifo_bram18(depth: int, width: int) -> int:
    """RAMB18s (a RAMB36 counted as two) of the cheapest aspect ratio for one depth x width
    simple dual-port memory (UG573: RAMB18 16K x 1 .. 512 x 36, RAMB36 32K x 1 .. 512 x 72)."""
    r18 = min(math.ceil(depth / d) * math.ceil(width / w)
              for d, w in ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)))
    r36 = min(math.ceil(depth / d) * math.ceil(width / w)
              for d, w in ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72)))
    return min(r18, 2 * r36)


def axis_fifos(spec, depths: list[int]) -> dict[str, Any]:
    """The stitched RTL's FIFOs (axis_fifo.sv), as Yosys maps them: up to 64 words `memory`'s
    LUTRAM; deeper, block RAM (the read pointer register becomes the RAM's address register);
    the registered output (a data register behind a 2 : 1 select of the memory's word or the
    input's, one LUT a bit), read and write pointers and two level counters (increment or
    decrement, compare: about six LUTs a counter bit), five flag registers."""
    lut = ff = bram = 0
    for width, depth in zip(stream_widths(spec), depths):
        ab = _bits(depth)
        if depth <= 64:
            lut += memory(1, depth, width)["lut"]
        else:
            bram += fifo_bram18(depth, width)
        lut += 6 * (ab + 1) + width
        ff += 2 * ab + 2 * (ab + 1) + 5 + width
    return {"lut": lut, "ff": ff, "bram18": bram, "dsp": 0}


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
