"""The readout's RTL (`spiking_dense.sv`): its parameters from a `DenseSpec` (the op's node
attributes and weights), the `stream_top` the Verilator testbench drives, and its output packet.

Its weight ROM is a $readmemh file (`rom_files`), as the convs' are: the simulation runs where
the file is, and synthesis and the Vivado hand-off take it with the sources.

Output packet per frame (32-bit words, TLAST on the last; in stream_top TLAST is bit 32): word 0
= the class in bits [15:0] and BAD in bit 31, then the NO final membranes sign-extended.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .....errors import ToolchainError
from ....rtl.memfile import hex_text, write_files
from ...lif.rtl import SOURCE as LIF_SOURCE
from ...lif.rtl import generics as lif_generics
from ..accelerator import DenseSpec
from ..spike_words import WordFormat, addr_bits

SOURCE = Path(__file__).with_name("spiking_dense.sv")
SOURCES = (LIF_SOURCE, SOURCE)
OUT_BITS = 32
LAST_BIT = 32  # TLAST in the stream testbench's words
# cycles a step beyond the NO update cycles (spiking_dense.sv: 2 drain the event pipeline before the
# LIF lane, 2 drain the lane after it); with the NO + 1 output words a frame, what the RTL readout
# takes beyond the HLS loops' count (accel_measure.formula_busy, measured there)
STEP_EXTRA_CYCLES = 4
MAX_CLASSES = 1 << 16


def in_format(spec: DenseSpec) -> WordFormat:
    return WordFormat(spec.in_lanes, addr_bits(spec.positions))


def weight_file(spec: DenseSpec) -> str:
    """The layer's ROM file, relative to the working folder of the simulator or synthesis tool."""
    return f"{spec.name}_w.hex"


def rom_files(spec: DenseSpec) -> dict[str, str]:
    """The weight ROM as $readmemh text, by file name: one line per input neuron (c * POS + pos,
    torch's flatten of (C, H, W)) holding the NO weights of its row, output 0 lowest."""
    return {weight_file(spec): hex_text(spec.weights, spec.weight_bits, spec.name)}


def write_roms(spec: DenseSpec, folder: Path) -> list[Path]:
    """The ROM file in `folder` (written whole, then renamed into place)."""
    return write_files(rom_files(spec), folder)


def generics(spec: DenseSpec) -> dict[str, str]:
    """The module's parameters as SystemVerilog literals; a one-line error naming the layer for
    what the module cannot take."""
    if spec.events_per_cycle not in (1, 2):
        raise ToolchainError(f"{spec.name}: events_per_cycle {spec.events_per_cycle}, expected 1 or 2 "
                             "(the weight ROM's read ports)")
    if spec.in_lanes % spec.cin:
        raise ToolchainError(f"{spec.name}: an input word of {spec.in_lanes} lanes must carry whole positions "
                             f"({spec.cin} channels)")
    if spec.outputs > MAX_CLASSES:
        raise ToolchainError(f"{spec.name}: {spec.outputs} classes, the output word holds at most {MAX_CLASSES}")
    lif = lif_generics(spec.params, spec.acc_bits, readout=spec.membrane, what=spec.name)
    return {"POS": str(spec.positions), "CI": str(spec.cin), "IN_LANES": str(spec.in_lanes), "NO": str(spec.outputs),
            "W_BITS": str(spec.weight_bits), "ACC_BITS": str(spec.acc_bits),
            "STATE_BITS": str(lif["STATE_BITS"]), "LEAK_SHIFT": str(lif["LEAK_SHIFT"]),
            "THRESHOLD": str(lif["THRESHOLD"]), "RESET_ZERO": f"1'b{lif['RESET_ZERO']}",
            "REFRACTORY": str(lif["REFRACTORY"]), "MEMBRANE": f"1'b{int(spec.membrane)}",
            "EPC": str(spec.events_per_cycle), "WEIGHT_FILE": f'"{weight_file(spec)}"'}


def instance(spec: DenseSpec, name: str, ports: str, module: str = "spiking_dense") -> str:
    params = ",\n      ".join(f".{k}({v})" for k, v in generics(spec).items())
    return f"  {module} #(\n      {params}\n  ) {name} ({ports});\n"


def render_top(spec: DenseSpec, module: str = "spiking_dense") -> str:
    """`stream_top`: the kernel with this layer's parameters; TLAST as bit 32. Its weights are
    `rom_files(spec)`, read from the simulator's working folder."""
    i = in_format(spec)
    return f"""// Rendered by toolchain/hw/snn/event/readout/rtl.py: layer {spec.name} for the stream testbench.
module stream_top (
    input  logic clk,
    input  logic rst,
    input  logic [{i.width - 1}:0] s_tdata,
    input  logic s_tvalid,
    output logic s_tready,
    output logic [{OUT_BITS}:0] m_tdata,  // TLAST, TDATA
    output logic m_tvalid,
    input  logic m_tready
);
{instance(spec, "u_dense", f".clk, .rst, .s_tdata, .s_tvalid, .s_tready, .m_tdata(m_tdata[{OUT_BITS - 1}:0]), "
          f".m_tlast(m_tdata[{OUT_BITS}]), .m_tvalid, .m_tready", module)}endmodule
"""


def decode_packets(words: np.ndarray, outputs: int, state_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes, bad, membranes (n, NO)) of the output packets; a ToolchainError where a packet
    is not NO + 1 words with TLAST on its last only."""
    words = np.asarray(words, np.uint64)
    n = len(words) // (outputs + 1)
    last = ((words >> np.uint64(LAST_BIT)) & np.uint64(1)).astype(bool)
    want = np.zeros(len(words), bool)
    want[outputs::outputs + 1] = True
    if len(words) % (outputs + 1) or (last != want).any():
        raise ToolchainError(f"readout packets: {len(words)} words with TLAST at {np.flatnonzero(last)[:8].tolist()}, "
                             f"expected packets of {outputs + 1} words with TLAST on the last")
    p = (words & np.uint64(0xFFFFFFFF)).astype(np.int64).reshape(n, outputs + 1)
    v = np.where(p[:, 1:] >= 1 << 31, p[:, 1:] - (1 << 32), p[:, 1:])
    lo, hi = -(1 << (state_bits - 1)), (1 << (state_bits - 1)) - 1
    if (v < lo).any() or (v > hi).any():
        raise ToolchainError(f"readout packets: a membrane outside the {state_bits}-bit state")
    return p[:, 0] & 0xFFFF, (p[:, 0] >> 31).astype(bool), v
