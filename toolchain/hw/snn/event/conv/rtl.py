"""The spiking convolution's RTL (`spiking_conv.sv`): its parameters from a `ConvSpec` (the op's
node attributes and weights), the `stream_top` the Verilator testbench drives, and the word
formats of its input and output streams."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .....errors import ToolchainError
from ...lif.rtl import SOURCE as LIF_SOURCE
from ...lif.rtl import generics as lif_generics
from ..accelerator import ConvSpec
from ..spike_words import WordFormat, addr_bits

SOURCE = Path(__file__).with_name("spiking_conv.sv")
SOURCES = (LIF_SOURCE, SOURCE)
# cycles from a stage-A op to its word on m_tdata: stage B, then the output register
LATENCY = 2
# The weights travel as one packed parameter, and Verilator takes numbers of at most 65,536 bits
# (the shipped network's convs need 80,000 and 1.28 M: those become per-bank ROM files next).
MAX_WEIGHT_BITS = 65536


def in_format(spec: ConvSpec) -> WordFormat:
    return WordFormat(spec.in_lanes, addr_bits(spec.height * spec.width))


def out_format(spec: ConvSpec) -> WordFormat:
    return WordFormat(spec.sp * spec.cout, addr_bits(spec.height * spec.width))


def _packed(values: np.ndarray, bits: int) -> str:
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ToolchainError(f"weights in [{v.min()}, {v.max()}] do not fit {bits} bits")
    mask = (1 << bits) - 1
    total = 0
    for k, x in enumerate(v.tolist()):
        total |= (x & mask) << (k * bits)
    return f"{v.size * bits}'h{total:x}"


def generics(spec: ConvSpec) -> dict[str, str]:
    """The module's parameters as SystemVerilog literals; a one-line error naming the layer for
    what the module cannot take."""
    if spec.width % spec.sp:
        raise ToolchainError(f"{spec.name}: SP {spec.sp} must divide the plane width {spec.width}")
    if spec.in_lanes % spec.cin or spec.width % (spec.in_lanes // spec.cin):
        raise ToolchainError(f"{spec.name}: an input word of {spec.in_lanes} lanes must carry whole positions "
                             f"of one row ({spec.cin} channels, width {spec.width})")
    bits = spec.bank_weights().size * spec.weight_bits
    if bits > MAX_WEIGHT_BITS:
        raise ToolchainError(f"{spec.name}: its bank weight ROMs hold {bits} bits; the RTL kernel takes at most "
                             f"{MAX_WEIGHT_BITS} as a parameter")
    lif = lif_generics(spec.params, spec.acc_bits, what=spec.name)
    return {"H": str(spec.height), "W": str(spec.width), "CI": str(spec.cin), "CO": str(spec.cout),
            "K": str(spec.kernel), "IN_LANES": str(spec.in_lanes), "SP": str(spec.sp),
            "W_BITS": str(spec.weight_bits), "ACC_BITS": str(spec.acc_bits),
            "STATE_BITS": str(lif["STATE_BITS"]), "LEAK_SHIFT": str(lif["LEAK_SHIFT"]),
            "THRESHOLD": str(lif["THRESHOLD"]), "RESET_ZERO": f"1'b{lif['RESET_ZERO']}",
            "REFRACTORY": str(lif["REFRACTORY"]), "WEIGHTS": _packed(spec.bank_weights(), spec.weight_bits)}


def render_top(spec: ConvSpec, module: str = "spiking_conv") -> str:
    """`stream_top`: the kernel with this layer's parameters and weights."""
    i, o = in_format(spec), out_format(spec)
    params = ",\n      ".join(f".{k}({v})" for k, v in generics(spec).items())
    return f"""// Rendered by toolchain/hw/snn/event/conv/rtl.py: layer {spec.name} for the stream testbench.
module stream_top (
    input  logic clk,
    input  logic rst,
    input  logic [{i.width - 1}:0] s_tdata,
    input  logic s_tvalid,
    output logic s_tready,
    output logic [{o.width - 1}:0] m_tdata,
    output logic m_tvalid,
    input  logic m_tready
);
  {module} #(
      {params}
  ) u_conv (.clk, .rst, .s_tdata, .s_tvalid, .s_tready, .m_tdata, .m_tvalid, .m_tready);
endmodule
"""
