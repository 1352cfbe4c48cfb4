"""Primitives of FINN's RTL layers counted from what the RTL generates, not from FINN's estimate.

FINN's RTL matrix-vector unit (finn-rtllib `mvu_vvu_axi.sv` -> `mvu.sv` or
`mvu_vvu_8sx9_dsp58.sv`) instantiates its DSP slices itself, so their number follows from the
generate logic: `mvu.sv` packs NUM_LANES = 1 + (A_WIDTH - !NARROW - W) / (W + A - 1) products into
one DSP's A:D pre-adder path (A_WIDTH 25 on DSP48E1, 27 on DSP48E2/DSP58) and builds
ceil(PE / NUM_LANES) x SIMD DSPs; on DSP58 weights up to 8 bits, activations up to 9 and at
most 3 lanes take the INT8 dot-product core instead: PE x ceil(SIMD / 3). FINN's
`dsp_estimation` assumes four lanes on every DSP48 (true only for 4-bit weights and
activations); for 8-bit weights and activations the RTL builds twice what it says. The formulas
here are checked against Yosys' elaboration of FINN's generated RTL (tests/test_finn_rtl_count.py).

Memories are inferred, not instantiated: each RTL memory is (depth, width, ram_style) from the
same generate logic (the MVAU's weight streamer `memstream.sv`, each threshold stage of
`thresholding.sv`), mapped to primitives by `map_memory` (rule in docs/finn_build.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

VERSION = {"DSP48E1": 1, "DSP48E2": 2, "DSP58": 3}  # mvu.sv's VERSION parameter
HOW = "counted from the generated RTL (finn-rtllib generate logic; checked against Yosys elaboration)"


def dsp_version(part: str) -> int:
    from finn.util.basic import get_dsp_block

    return VERSION[get_dsp_block(part)]


def lanes(version: int, weight_bits: int, act_bits: int, narrow: bool) -> int:
    """Products packed into one DSP by mvu.sv (its NUM_LANES)."""
    a_width = 25 + 2 * (version > 1)
    if a_width == weight_bits:
        return 1
    return 1 + (a_width - (not narrow) - weight_bits) // (weight_bits + act_bits - 1)


@dataclass(frozen=True)
class MvuShape:
    pe: int
    simd: int
    weight_bits: int
    act_bits: int
    narrow: bool = False
    is_mvu: bool = True  # False: the VVAU (DSP58 only)
    pumped: bool = False  # pumpedCompute: SIMD split over two fast cycles

    def dsp_simd(self) -> int:
        simd = self.simd + 1 if self.pumped and self.simd % 2 else self.simd
        return simd // 2 if self.pumped else simd

    def int8_core(self, version: int) -> bool:
        """mvu_vvu_axi.sv's choice of the DSP58 INT8 dot-product core (always for the VVAU)."""
        return not self.is_mvu or (version > 2 and lanes(version, self.weight_bits, self.act_bits, self.narrow) <= 3
                                   and self.weight_bits <= 8 and self.act_bits <= 9)


def mvu_primitives(shape: MvuShape, version: int) -> dict[str, int]:
    """DSP slices and the LUT6_2 cross-lane correction LUTs the compute core instantiates."""
    simd = shape.dsp_simd()
    if shape.int8_core(version):
        return {"DSP": shape.pe * ((simd + 2) // 3), "LUT6_2": 0}
    n = lanes(version, shape.weight_bits, shape.act_bits, shape.narrow)
    pipes = (shape.pe - 1) // n + 1
    return {"DSP": pipes * simd, "LUT6_2": (shape.pe - pipes) * simd}  # one LUT per lane but the first


def mvu_shape(inst, model) -> MvuShape:
    """The parameters FINN's MVAU_rtl/VVAU_rtl code generation writes into the RTL wrapper."""
    from finn.custom_op.fpgadataflow.rtl.matrixvectoractivation_rtl import MVAU_rtl

    wdt = inst.get_input_datatype(1)
    weights = model.get_initializer(inst.onnx_node.input[1]) if model is not None else None
    # MVAU_rtl.generate_hdl: narrow only where the weights avoid the type's minimum (unknown: not narrow)
    narrow = not (weights is None or weights.min() == wdt.min()
                  or inst.get_nodeattr("mem_mode") in ("dynamic", "external_mem"))
    attrs = inst.get_nodeattr_types()
    return MvuShape(pe=inst.get_nodeattr("PE"), simd=inst.get_nodeattr("SIMD"), weight_bits=wdt.bitwidth(),
                    act_bits=inst.get_input_datatype(0).bitwidth(), narrow=bool(narrow and isinstance(inst, MVAU_rtl)),
                    is_mvu=isinstance(inst, MVAU_rtl),
                    pumped=bool("pumpedCompute" in attrs and inst.get_nodeattr("pumpedCompute")))


# ------------------------------------------------------------------------------- memories
@dataclass(frozen=True)
class Memory:
    depth: int
    width: int
    style: str  # RAM_STYLE: auto, block, distributed, ultra
    count: int = 1  # identical memories (one per PE)


def bram18(depth: int, width: int) -> int:
    """RAMB18 in simple dual-port mode: 512 x 36, 1k x 18, 2k x 9, 4k x 4, 8k x 2, 16k x 1 (UG573)."""
    for max_depth, bits in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)):
        if depth <= max_depth:
            return math.ceil(width / bits)
    return math.ceil(depth / 16384) * width


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of distributed RAM: up to 32 words 16 bits per 8 LUTs (RAM32M16, its write port read
    too: FINN's memories read and write one address), else one LUT per bit per 64 words."""
    return 8 * math.ceil(width / 16) if depth <= 32 else width * math.ceil(depth / 64)


AUTO_BLOCK_DEPTH = 64  # ram_style auto: deeper memories go to block RAM (as Yosys maps them; Vivado similar)


def map_memory(mem: Memory, uram: bool = True) -> dict[str, int]:
    """{BRAM_18K, URAM, LUTRAM (LUTs)} of one memory (times its count), by its ram_style."""
    style = mem.style.lower()
    if style == "auto":
        style = "block" if mem.depth > AUTO_BLOCK_DEPTH else "distributed"
    out = {"BRAM_18K": 0, "URAM": 0, "LUTRAM": 0}
    if style == "ultra" and uram:
        out["URAM"] = math.ceil(mem.width / 72) * math.ceil(mem.depth / 4096)
    elif style in ("block", "ultra"):
        out["BRAM_18K"] = bram18(mem.depth, mem.width)
    else:
        out["LUTRAM"] = lutram_luts(mem.depth, mem.width)
    return {k: v * mem.count for k, v in out.items()}


def memories(inst) -> Optional[list[Memory]]:
    """The memories an RTL layer's generated code declares; None where not modelled here."""
    op = inst.onnx_node.op_type
    if op in ("MVAU_rtl", "VVAU_rtl"):
        if inst.get_nodeattr("mem_mode") != "internal_decoupled":
            return []
        wbits = inst.get_input_datatype(1).bitwidth()
        pe, simd = inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD")
        return [Memory(depth=int(inst.calc_wmem()), width=pe * simd * wbits, style=inst.get_nodeattr("ram_style"))]
    if op == "Thresholding_rtl":
        bram, uram = inst.get_nodeattr("depth_trigger_bram"), inst.get_nodeattr("depth_trigger_uram")
        out = []
        for width, depth in inst.get_pe_mem_geometries():
            # thresholding.sv: RAM_STYLE by depth trigger; "distributed" below a set BRAM trigger
            style = ("ultra" if uram and depth >= uram else "block" if bram and depth >= bram
                     else "distributed" if bram else "auto")
            out.append(Memory(depth=int(depth), width=int(width), style=style, count=inst.get_nodeattr("PE")))
        # the output queue ADat[A_DEPTH] of PE x M bits: a shift register (SRLs in Vivado)
        m = math.ceil(math.log2(inst.get_nodeattr("numSteps") + 1))
        depth = (inst.get_nodeattr("deep_pipeline") + 1) * m + 2
        out.append(Memory(depth=depth, width=inst.get_nodeattr("PE") * m, style="distributed"))
        return out
    if op == "ConvolutionInputGenerator_rtl":
        if inst.select_impl_style() != "default":
            return None  # the parallel window's line buffers: FINN's estimate stands
        width = inst.get_nodeattr("SIMD") * inst.get_input_datatype().bitwidth()
        return [Memory(depth=int(inst.get_buffer_depth()), width=width, style=inst.get_nodeattr("ram_style"))]
    if op in ("FMPadding_rtl", "StreamingDataWidthConverter_rtl"):
        return []
    return None


def layer_counts(inst, model, part: str) -> Optional[dict[str, Any]]:
    """DSP, BRAM_18K, URAM and LUTRAM of an RTL layer counted from its RTL; None for HLS layers."""
    from finn.util.fpgadataflow import is_rtl_node

    if not is_rtl_node(inst.onnx_node):
        return None
    version = dsp_version(part)
    op = inst.onnx_node.op_type
    out: dict[str, Any] = {"DSP": 0, "LUT6_2": 0}
    if op in ("MVAU_rtl", "VVAU_rtl"):
        out.update(mvu_primitives(mvu_shape(inst, model), version))
    mems = memories(inst)
    if mems is None:  # e.g. the sliding window's buffers: FINN's estimate stands
        out.update(BRAM_18K=None, URAM=None, LUTRAM=None)
    else:
        uram = version > 1
        for key in ("BRAM_18K", "URAM", "LUTRAM"):
            out[key] = sum(map_memory(m, uram)[key] for m in mems)
    return out


def layer_cost(inst, model, part: str) -> dict[str, float]:
    """LUT, BRAM_18K, URAM, DSP of one layer as the folding and the budget check use them: the
    RTL's own counts where they exist, FINN's estimate for the rest. LUT stays FINN's estimate
    (a lower bound: none for the RTL MVAU's logic) plus the counted LUTRAM and LUT6_2 of the RTL
    layers whose memories are counted (replacing FINN's memory LUTs there)."""
    est = inst.node_res_estimation(part)
    out = {r: float(est.get(r, 0)) for r in ("LUT", "BRAM_18K", "URAM", "DSP")}
    counted = layer_counts(inst, model, part)
    if counted is None:
        return out
    out["DSP"] = float(counted["DSP"])
    if counted["BRAM_18K"] is not None:
        out["BRAM_18K"], out["URAM"] = float(counted["BRAM_18K"]), float(counted["URAM"])
        op = inst.onnx_node.op_type
        if op in ("MVAU_rtl", "VVAU_rtl", "Thresholding_rtl"):  # FINN's LUTs there are its memory's (or none)
            out["LUT"] = float(counted["LUTRAM"] + counted["LUT6_2"])
        elif op == "ConvolutionInputGenerator_rtl":  # FINN: 300 LUTs of logic + its own LUTRAM formula
            out["LUT"] = SWG_LOGIC_LUTS + float(counted["LUTRAM"])
    return out


SWG_LOGIC_LUTS = 300  # FINN's ConvolutionInputGenerator_rtl.lut_estimation without its buffer
