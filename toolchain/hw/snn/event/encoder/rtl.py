"""The constellation encoder's RTL (`constellation_encoder.sv`): its parameters from an
`EncoderSpec` (the op's node attributes and binning tables), the `stream_top` the Verilator
testbench drives, and the input words (I, Q, TLAST) of int I/Q frames.

The stream_top's input word is the HLS kernel's: I in [0, b), Q in [b, 2b), TLAST at bit 2b.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .....errors import ToolchainError
from ....rtl.stream import pack
from ..accelerator import EncoderSpec
from ..spike_words import WordFormat, addr_bits

SOURCE = Path(__file__).with_name("constellation_encoder.sv")


def cell_bits(spec: EncoderSpec) -> int:
    return max(1, (spec.resolution - 1).bit_length())


def out_format(spec: EncoderSpec) -> WordFormat:
    return WordFormat(1, addr_bits(spec.resolution ** 2))


def _table(values: np.ndarray, bits: int, what: str) -> str:
    v = np.asarray(values, dtype=np.int64)
    if v.min() < 0 or v.max() >= 1 << bits:
        raise ToolchainError(f"encoder: {what} holds {v.min()}..{v.max()}, expected 0..{(1 << bits) - 1}")
    total = sum(int(x) << (k * bits) for k, x in enumerate(v))
    return f"{len(v) * bits}'h{total:x}"


def generics(spec: EncoderSpec) -> dict[str, str]:
    """The module's parameters as SystemVerilog literals (the tables as packed vectors)."""
    n = 1 << spec.input_bits
    if len(spec.ibin) != n or len(spec.qbin) != n:
        raise ToolchainError(f"encoder: binning tables of {len(spec.ibin)} / {len(spec.qbin)} entries, "
                             f"expected {n} (2^input_bits)")
    cb = cell_bits(spec)
    return {"IN_BITS": str(spec.input_bits), "R": str(spec.resolution), "GROUP": str(spec.group),
            "FRAME_LEN": str(spec.frame), "BINARY": "1'b1" if spec.binary else "1'b0",
            "IBIN": _table(spec.ibin, cb, "ibin"), "QBIN": _table(spec.qbin, cb, "qbin")}


def render_top(spec: EncoderSpec, module: str = "constellation_encoder") -> str:
    """`stream_top`: the kernel with this layer's parameters, TLAST as the input word's top bit."""
    b = spec.input_bits
    fmt = out_format(spec)
    params = ",\n      ".join(f".{k}({v})" for k, v in generics(spec).items())
    return f"""// Rendered by toolchain/hw/snn/event/encoder/rtl.py: the encoder of one layer for the stream testbench.
module stream_top (
    input  logic clk,
    input  logic rst,
    input  logic [{2 * b}:0] s_tdata,  // TLAST, Q, I
    input  logic s_tvalid,
    output logic s_tready,
    output logic [{fmt.width - 1}:0] m_tdata,
    output logic m_tvalid,
    input  logic m_tready
);
  {module} #(
      {params}
  ) u_encoder (
      .clk, .rst,
      .s_tdata(s_tdata[{2 * b - 1}:0]), .s_tlast(s_tdata[{2 * b}]), .s_tvalid, .s_tready,
      .m_tdata, .m_tvalid, .m_tready
  );
endmodule
"""


def input_words(spec: EncoderSpec, codes: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Words of samples: codes (n, 2) int I, Q; last (n,) TLAST flags."""
    b = spec.input_bits
    codes = np.asarray(codes, np.int64)
    return pack([(codes[:, 0], b), (codes[:, 1], b), (np.asarray(last, np.int64), 1)])
