"""The stitched event-driven accelerator in RTL: Python renders `snn_accel`, a small
parameterised top (as FINN's RTL ops do) instantiating the kernels' SystemVerilog
(constellation_encoder.sv -> spiking_conv.sv x N -> spiking_dense.sv) with an `axis_fifo.sv`
after each kernel but the last, at the depths of the project's FIFO model (accel_fifo.py).

External ports, AXI4-Stream with back-pressure (docs/snn_hardware.md, "The stitched RTL
accelerator"):
- s_axis: TDATA 16 bits, I int8 in [7:0], Q int8 in [15:8] (the int I/Q codes of the CNN
  accelerator's input quantizer; a model of fewer input bits takes their low bits), TLAST on a
  frame's last sample;
- m_axis: TDATA 32 bits, one packet of NO + 1 words per frame (readout/rtl.py): the class with
  BAD in bit 31, then the final membranes sign-extended; TLAST on the packet's last word.
Between the kernels the frame end stays in-band (the event words' FRAME bit).
The depths live in the HW graph as FINN's own `outFIFODepths` / `inFIFODepths` node attributes
(`set_graph_fifo_depths`), which FINN's InsertFIFO reads, so a FINN stitched build and
`write_graph_project` (the graph's spec and depths -> the RTL project) use the same ones.
`write_project` writes what a Vivado user takes without FINN: the sources, a file list and a
250 MHz out-of-context clock constraint. `render_stream_top` wraps it for the stream testbench (TLAST as the words' top bit) with the
probes the tests assert on (a full FIFO, spikes into each kernel).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ....atomic import atomic_path
from ....errors import ToolchainError
from ...rtl.memfile import write_files
from ..lif.rtl import SOURCE as LIF_SOURCE
from .accelerator import AcceleratorSpec
from .conv import rtl as conv_rtl
from .encoder import rtl as enc_rtl
from .readout import rtl as dense_rtl

FIFO_SOURCE = Path(__file__).parents[2] / "rtl" / "axis_fifo.sv"
TOP = "snn_accel"
IN_BITS = 16
OUT_BITS = dense_rtl.OUT_BITS
CLOCK_MHZ = 250  # assumed, as every event-driven figure; nothing here checks timing
XDC = f"""# Out-of-context constraint for {TOP} (toolchain/hw/snn/event/accel_rtl.py): {CLOCK_MHZ} MHz, the
# clock every event-driven figure assumes. Read with the file list, then e.g.
#   synth_design -top {TOP} -part xczu7ev-ffvc1156-2-e -mode out_of_context
create_clock -period {1000 / CLOCK_MHZ:.3f} -name clk [get_ports clk]
"""


def sources() -> list[Path]:
    """The SystemVerilog files of the accelerator (the rendered top comes last)."""
    return [LIF_SOURCE, FIFO_SOURCE, enc_rtl.SOURCE, conv_rtl.SOURCE, dense_rtl.SOURCE]


def stream_widths(spec: AcceleratorSpec) -> list[int]:
    """The word width out of each kernel but the readout (the FIFOs' widths)."""
    return [enc_rtl.out_format(spec.encoder).width, *(conv_rtl.out_format(c).width for c in spec.convs)]


def _params(generics: dict[str, str]) -> str:
    return ",\n      ".join(f".{k}({v})" for k, v in generics.items())


def render_top(spec: AcceleratorSpec, depths: Sequence[int]) -> str:
    """`snn_accel` for this accelerator, FIFO k after kernel k at depths[k]; a one-line error
    naming the FIFO or the layer for what cannot be built."""
    widths = stream_widths(spec)
    if len(depths) != len(widths):
        raise ToolchainError(f"snn_accel: {len(depths)} FIFO depths for {len(widths)} FIFOs (one after each kernel "
                             "but the readout)")
    for k, d in enumerate(depths):
        if d < 2 or d & (d - 1):
            raise ToolchainError(f"snn_accel: FIFO {k} depth {d}, expected a power of two >= 2")
    b = spec.encoder.input_bits
    if b > 8:
        raise ToolchainError(f"snn_accel: input_bits {b}, the int8 I/Q input word takes at most 8")
    names = ["encoder", *(c.name for c in spec.convs)]
    lines = [f"// Rendered by toolchain/hw/snn/event/accel_rtl.py: the event-driven SNN accelerator,",
             f"// kernels {' -> '.join([*names, spec.dense.name])}, FIFO depths {list(depths)}.",
             f"module {TOP} (",
             "    input  logic        clk,",
             "    input  logic        rst,  // synchronous, active high: drops the frame in flight",
             f"    input  logic [{IN_BITS - 1}:0] s_axis_tdata,  // Q int8 [15:8], I int8 [7:0]",
             "    input  logic        s_axis_tlast,",
             "    input  logic        s_axis_tvalid,",
             "    output logic        s_axis_tready,",
             f"    output logic [{OUT_BITS - 1}:0] m_axis_tdata,  // class | BAD << 31, then NO membranes",
             "    output logic        m_axis_tlast,",
             "    output logic        m_axis_tvalid,",
             "    input  logic        m_axis_tready",
             ");"]
    for k, w in enumerate(widths):  # kernel k's output (k{k}_*) and FIFO k's output (f{k}_*)
        lines += [f"  logic [{w - 1}:0] k{k}_tdata, f{k}_tdata;", f"  logic k{k}_tvalid, k{k}_tready, f{k}_tvalid, "
                  f"f{k}_tready, f{k}_full;"]
    lines.append(f"  constellation_encoder #(\n      {_params(enc_rtl.generics(spec.encoder))}\n  ) u_encoder (\n"
                 f"      .clk, .rst, .s_tdata({{s_axis_tdata[{8 + b - 1}:8], s_axis_tdata[{b - 1}:0]}}), "
                 ".s_tlast(s_axis_tlast), .s_tvalid(s_axis_tvalid),\n      .s_tready(s_axis_tready), .m_tdata(k0_tdata), "
                 ".m_tvalid(k0_tvalid), .m_tready(k0_tready)\n  );")
    for k, c in enumerate(spec.convs):
        lines.append(f"  spiking_conv #(\n      {_params(conv_rtl.generics(c))}\n  ) u_{c.name} (\n"
                     f"      .clk, .rst, .s_tdata(f{k}_tdata), .s_tvalid(f{k}_tvalid), .s_tready(f{k}_tready),\n"
                     f"      .m_tdata(k{k + 1}_tdata), .m_tvalid(k{k + 1}_tvalid), .m_tready(k{k + 1}_tready)\n  );")
    n = len(widths)
    lines.append(dense_rtl.instance(spec.dense, f"u_{spec.dense.name}",
                                    f".clk, .rst, .s_tdata(f{n - 1}_tdata), .s_tvalid(f{n - 1}_tvalid), "
                                    f".s_tready(f{n - 1}_tready),\n      .m_tdata(m_axis_tdata), .m_tlast(m_axis_tlast), "
                                    ".m_tvalid(m_axis_tvalid), .m_tready(m_axis_tready)").rstrip())
    for k, (w, d) in enumerate(zip(widths, depths)):
        lines.append(f"  axis_fifo #(.WIDTH({w}), .DEPTH({d})) u_fifo{k} (\n      .clk, .rst, .s_tdata(k{k}_tdata), "
                     f".s_tvalid(k{k}_tvalid), .s_tready(k{k}_tready),\n      .m_tdata(f{k}_tdata), "
                     f".m_tvalid(f{k}_tvalid), .m_tready(f{k}_tready), .full(f{k}_full)\n  );")
    # the FIFOs' full flags are for testbenches' probes (Verilator skips signals named unused*)
    lines += ["  logic unused_full;", f"  assign unused_full = ^{{{', '.join(f'f{k}_full' for k in range(n))}}};"]
    lines.append("endmodule\n")
    return "\n".join(lines)


def probe_bits(spec: AcceleratorSpec) -> int:
    return 2 * len(stream_widths(spec)) + len(spec.convs)


def _forwarded(conv) -> str:
    """conv's stage B adds an event into the accumulator word the event just before it wrote
    (back-to-back events on the same word: the forwarding path), in any of its banks."""
    u = f"u_accel.u_{conv.name}"
    bh_n, bw_n = conv.banks
    banks = " || ".join(f"({b}.hit_b && {b}.fwd_hit)"
                        for b in (f"{u}.g_bh[{bh}].g_bw[{bw}]" for bh in range(bh_n) for bw in range(bw_n)))
    return f"{u}.adv && {u}.op_b == 2'd1 && {u}.op_c == 2'd1 && ({banks})"  # 2'd1: OP_EVENT


def render_stream_top(spec: AcceleratorSpec) -> str:
    """`stream_top` for stream_tb.cpp: s_tdata = {TLAST, Q, I}, m_tdata = {TLAST, TDATA}; probes
    (OR-ed over the run by the testbench): bit 2k FIFO k was full, bit 2k + 1 a word with an
    event left kernel k (spikes into the next kernel); bit 2 (N + 1) + c: conv c added two
    back-to-back events into the same accumulator word (its forwarding path), N convs."""
    probes = []
    for k, w in enumerate(stream_widths(spec)):
        lanes = w - 3 - (enc_rtl.out_format(spec.encoder).addr_bits if k == 0 else
                         conv_rtl.out_format(spec.convs[k - 1]).addr_bits)
        probes += [f"u_accel.f{k}_full",
                   f"u_accel.k{k}_tvalid && u_accel.k{k}_tready && u_accel.k{k}_tdata[{lanes - 1}:0] != '0"]
    probes += [_forwarded(c) for c in spec.convs]
    return f"""// Rendered by toolchain/hw/snn/event/accel_rtl.py: snn_accel for the stream testbench.
module stream_top (
    input  logic clk,
    input  logic rst,
    input  logic [{IN_BITS}:0] s_tdata,  // TLAST, Q, I
    input  logic s_tvalid,
    output logic s_tready,
    output logic [{OUT_BITS}:0] m_tdata,  // TLAST, TDATA
    output logic m_tvalid,
    input  logic m_tready,
    output logic [63:0] probes
);
  {TOP} u_accel (
      .clk, .rst, .s_axis_tdata(s_tdata[{IN_BITS - 1}:0]), .s_axis_tlast(s_tdata[{IN_BITS}]), .s_axis_tvalid(s_tvalid),
      .s_axis_tready(s_tready), .m_axis_tdata(m_tdata[{OUT_BITS - 1}:0]), .m_axis_tlast(m_tdata[{OUT_BITS}]),
      .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready)
  );
  assign probes = 64'({{{", ".join(reversed(probes))}}});
endmodule
"""


def rom_files(spec: AcceleratorSpec) -> dict[str, str]:
    """The weight ROMs the kernels read with $readmemh from the tool's working folder, by file
    name: each conv's per-bank <conv>_w_<bank>.hex and the readout's <dense>_w.hex."""
    files = {}
    for c in spec.convs:
        files.update(conv_rtl.rom_files(c))
    files.update(dense_rtl.rom_files(spec.dense))
    return files


def write_roms(spec: AcceleratorSpec, folder: Path) -> list[Path]:
    """`rom_files` in `folder` (where a simulation runs), each written whole."""
    return write_files(rom_files(spec), folder)


def write_project(spec: AcceleratorSpec, depths: Sequence[int], out_dir: Path) -> list[Path]:
    """`out_dir`/{the .sv sources, snn_accel.sv, snn_accel.f (the file list in compile order),
    snn_accel_ooc.xdc, the weight ROM files of `rom_files` (memory files: Vivado reads them
    from the project's working folder)}; everything is rendered (and refused) before the first file is written,
    and each file appears whole or not at all."""
    texts = {s.name: s.read_text() for s in sources()}
    texts[f"{TOP}.sv"] = render_top(spec, depths)
    texts[f"{TOP}.f"] = "".join(f"{name}\n" for name in texts)
    texts[f"{TOP}_ooc.xdc"] = XDC
    texts.update(rom_files(spec))
    out = []
    for name, text in texts.items():
        with atomic_path(Path(out_dir) / name) as tmp:
            tmp.write_text(text)
        out.append(Path(out_dir) / name)
    return out


def _event_nodes(model) -> list:
    from .event_graph import OPS, _op

    return [n for n in model.graph.node if _op(n) in OPS]


def set_graph_fifo_depths(model, depths: Sequence[int]) -> None:
    """Write the FIFO after each kernel but the readout into the graph: FINN's outFIFODepths of
    kernel k and inFIFODepths of kernel k + 1 (the same FIFO)."""
    from qonnx.custom_op.registry import getCustomOp

    nodes = _event_nodes(model)
    if len(depths) != len(nodes) - 1:
        raise ToolchainError(f"FIFO depths {list(depths)}: expected {len(nodes) - 1}, one between each pair of the "
                             f"graph's {len(nodes)} event nodes")
    for a, b, d in zip(nodes, nodes[1:], depths):
        getCustomOp(a).set_nodeattr("outFIFODepths", [int(d)])
        getCustomOp(b).set_nodeattr("inFIFODepths", [int(d)])


def graph_fifo_depths(model) -> list[int]:
    """The depths `set_graph_fifo_depths` wrote; a one-line error where the two ends of a FIFO disagree."""
    from qonnx.custom_op.registry import getCustomOp

    nodes = _event_nodes(model)
    out = []
    for a, b in zip(nodes, nodes[1:]):
        d_out, d_in = getCustomOp(a).get_nodeattr("outFIFODepths")[0], getCustomOp(b).get_nodeattr("inFIFODepths")[0]
        if d_out != d_in:
            raise ToolchainError(f"FIFO {a.name} -> {b.name}: outFIFODepths {d_out} but inFIFODepths {d_in}")
        out.append(int(d_out))
    return out


def write_graph_project(model, out_dir: Path) -> list[Path]:
    """`write_project` for the accelerator and FIFO depths a HW graph holds."""
    from .event_graph import graph_spec

    return write_project(graph_spec(model), graph_fifo_depths(model), out_dir)
