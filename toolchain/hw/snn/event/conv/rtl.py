"""The spiking convolution's RTL (`spiking_conv.sv`): its parameters from a `ConvSpec` (the op's
node attributes and weights), the `stream_top` the Verilator testbench drives, and the word
formats of its input and output streams."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .....errors import ToolchainError
from ....rtl.memfile import hex_text, write_files
from ...lif.rtl import SOURCE as LIF_SOURCE
from ...lif.rtl import generics as lif_generics
from ..accelerator import ConvSpec
from ..spike_words import WordFormat, addr_bits

SOURCE = Path(__file__).with_name("spiking_conv.sv")
SOURCES = (LIF_SOURCE, SOURCE)
# cycles from an op issued (stage I) to its word on m_tdata: stages E, A, B, C, O, then the output register
LATENCY = 6
# The most LUTs on one register-to-register path Yosys may map the kernel to (`SynthResult.lut_levels`):
# a budget for 250 MHz on UltraScale+ (~0.5 ns a LUT and its route, CARRY8 chains on top; a
# budget, not a timing result: nothing here checks timing). The retimed pipeline maps the small
# network's conv1 to 6, the shipped conv0 / conv1 to 6 / 7 (the unpipelined kernel took 13).
LUT_LEVEL_BUDGET = 7


def clear_cycles(spec: ConvSpec) -> int:
    """Cycles the kernel spends in CLEAR after reset (one accumulator word a cycle) before it takes
    its first word: the accumulator banks' depth, ceil(H / BH) * ceil(W / BW)."""
    bh, bw = spec.banks
    return -(-spec.height // bh) * -(-spec.width // bw)


def in_format(spec: ConvSpec) -> WordFormat:
    return WordFormat(spec.in_lanes, addr_bits(spec.height * spec.width))


def out_format(spec: ConvSpec) -> WordFormat:
    return WordFormat(spec.sp * spec.cout, addr_bits(spec.height * spec.width))


def weight_file(spec: ConvSpec) -> str:
    """The prefix of the layer's ROM files (`<prefix>_<bank>.hex`), relative to the working folder."""
    return f"{spec.name}_w"


def rom_files(spec: ConvSpec) -> dict[str, str]:
    """The per-bank weight ROMs as $readmemh text, by file name: bank (bh, bw) is file
    bh * BW + bw, one line per (ci, h mod BH, w mod BW) holding CO weights, co 0 lowest."""
    bh_n, bw_n = spec.banks
    rows = np.asarray(spec.bank_weights(), dtype=np.int64).reshape(bh_n * bw_n, -1, spec.cout)
    return {f"{weight_file(spec)}_{b}.hex": hex_text(bank, spec.weight_bits, spec.name) for b, bank in enumerate(rows)}


def write_roms(spec: ConvSpec, folder: Path) -> list[Path]:
    """The ROM files in `folder` (each written whole, then renamed into place)."""
    return write_files(rom_files(spec), folder)


def generics(spec: ConvSpec) -> dict[str, str]:
    """The module's parameters as SystemVerilog literals; a one-line error naming the layer for
    what the module cannot take."""
    if spec.width % spec.sp:
        raise ToolchainError(f"{spec.name}: SP {spec.sp} must divide the plane width {spec.width}")
    if spec.in_lanes % spec.cin or spec.width % (spec.in_lanes // spec.cin):
        raise ToolchainError(f"{spec.name}: an input word of {spec.in_lanes} lanes must carry whole positions "
                             f"of one row ({spec.cin} channels, width {spec.width})")
    lif = lif_generics(spec.params, spec.acc_bits, what=spec.name)
    return {"H": str(spec.height), "W": str(spec.width), "CI": str(spec.cin), "CO": str(spec.cout),
            "K": str(spec.kernel), "IN_LANES": str(spec.in_lanes), "SP": str(spec.sp),
            "W_BITS": str(spec.weight_bits), "ACC_BITS": str(spec.acc_bits),
            "STATE_BITS": str(lif["STATE_BITS"]), "LEAK_SHIFT": str(lif["LEAK_SHIFT"]),
            "THRESHOLD": str(lif["THRESHOLD"]), "RESET_ZERO": f"1'b{lif['RESET_ZERO']}",
            "REFRACTORY": str(lif["REFRACTORY"]), "WEIGHT_FILE": f'"{weight_file(spec)}"'}


def render_top(spec: ConvSpec, module: str = "spiking_conv") -> str:
    """`stream_top`: the kernel with this layer's parameters; its weights are `rom_files(spec)`,
    read from the simulator's working folder."""
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
