"""The RTL backend of an event op (`<Op>_rtl`, beside `<Op>_hls`): FINN's RTLBackend hooks over
the kernel's SystemVerilog. `generate_hdl` copies the kernel's `.sv` files into the node's
code_gen_dir_ipgen and renders a wrapper module named after the node with FINN's port names
(ap_clk, ap_rst_n, in0_V_*, out0_V_*; TDATA padded to whole bytes), the kernel inside with the
node's attributes and initializers as its parameters.

The event build's default: `event_graph.spec_graph` sets `preferred_impl_style = rtl` on every
event node (`hls` with `finn.event_impl_style: hls`; docs/snn_hardware.md, "`_rtl` backends"),
and FINN's specialisation makes the nodes these classes. Where the ports differ from the HLS
node's: the encoder's input is the byte-aligned int8 I/Q word (I [7:0], Q [15:8]) with TLAST,
and the readout has one output, the 32-bit packet of the class (BAD in bit 31) and the final
membranes with TLAST (readout/rtl.py), instead of the HLS node's two streams.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from ....errors import ToolchainError


def _bytes(bits: int) -> int:
    return -(-bits // 8) * 8


class EventRTL(RTLBackend):
    """Subclasses give RTL_SOURCES (the kernel's .sv files) and `rtl_kernel(model)`: (module,
    generics, ports) where ports = (input bits, input has TLAST, output bits, output has TLAST,
    how s_tdata is taken from in0_V_TDATA or None for its low bits)."""

    RTL_SOURCES: tuple[Path, ...] = ()

    def rtl_kernel(self, model):
        raise NotImplementedError

    def rtl_data_files(self, model) -> dict[str, str]:
        """Memory-initialisation files the kernel reads ($readmemh), by name: none unless a kernel says."""
        return {}

    def _name(self) -> str:
        name = self.onnx_node.name
        if not name:
            raise ToolchainError(f"a {self.onnx_node.op_type} node has no name: run GiveUniqueNodeNames first")
        return name

    def render_wrapper(self, model) -> tuple[list[Path], str]:
        module, generics, (ib, in_last, ob, out_last, s_tdata) = self.rtl_kernel(model)
        name = self._name()
        iw, ow = _bytes(ib), _bytes(ob)
        params = ",\n      ".join(f".{k}({v})" for k, v in generics.items())
        ports = ["    input  logic ap_clk,", "    input  logic ap_rst_n,",
                 f"    input  logic [{iw - 1}:0] in0_V_TDATA,", *(["    input  logic in0_V_TLAST,"] if in_last else []),
                 "    input  logic in0_V_TVALID,", "    output logic in0_V_TREADY,",
                 f"    output logic [{ow - 1}:0] out0_V_TDATA,", *(["    output logic out0_V_TLAST,"] if out_last else []),
                 "    output logic out0_V_TVALID,", "    input  logic out0_V_TREADY"]
        used = s_tdata or f"in0_V_TDATA[{ib - 1}:0]"
        body = [f"  logic [{ob - 1}:0] m_tdata;"]
        if ow > ob:
            body.append(f"  assign out0_V_TDATA = {{{ow - ob}'d0, m_tdata}};")
        else:
            body.append("  assign out0_V_TDATA = m_tdata;")
        if s_tdata is not None or iw > ib:  # the input's padding bits (Verilator skips signals named unused*)
            body += ["  logic unused_pad;", "  assign unused_pad = ^in0_V_TDATA;"]
        conns = [".clk(ap_clk)", ".rst(!ap_rst_n)", f".s_tdata({used})", *([".s_tlast(in0_V_TLAST)"] if in_last else []),
                 ".s_tvalid(in0_V_TVALID)", ".s_tready(in0_V_TREADY)", ".m_tdata", *([".m_tlast(out0_V_TLAST)"]
                                                                                 if out_last else []),
                 ".m_tvalid(out0_V_TVALID)", ".m_tready(out0_V_TREADY)"]
        text = (f"// Rendered by toolchain/hw/snn/event/event_rtl.py: node {name} ({self.onnx_node.op_type}).\n"
                f"module {name} (\n" + "\n".join(ports) + "\n);\n" + "\n".join(body) + "\n"
                f"  {module} #(\n      {params}\n  ) u_kernel ({', '.join(conns)});\nendmodule\n")
        return list(self.RTL_SOURCES), text

    def generate_hdl(self, model, fpgapart, clk):
        sources, text = self.render_wrapper(model)  # refused before anything is written
        data = self.rtl_data_files(model)
        out = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        out.mkdir(parents=True, exist_ok=True)
        for src in sources:
            shutil.copyfile(src, out / src.name)
        for name, content in data.items():  # beside the sources: $readmemh names them relative to the run
            (out / name).write_text(content)
        (out / f"{self._name()}_wrapper.sv").write_text(text)
        self.set_nodeattr("gen_top_module", self._name())

    def get_rtl_file_list(self, abspath=False):
        names = [s.name for s in self.RTL_SOURCES] + [f"{self._name()}_wrapper.sv"] + list(self.rtl_data_files(None))
        if abspath:
            base = Path(self.get_nodeattr("code_gen_dir_ipgen"))
            return [base / n for n in names]
        return names

    def code_generation_ipi(self):
        files = " ".join(str(p) for p in self.get_rtl_file_list(abspath=True))
        name = self._name()
        return [f"add_files -copy_to [get_property DIRECTORY [current_project]]/{name} -norecurse {files}",
                f"create_bd_cell -type module -reference {name} {name}"]

    def execute_node(self, context, graph):
        mode = self.get_nodeattr("exec_mode")
        if mode not in ("", "python"):
            raise ToolchainError(f"{self.onnx_node.name}: exec_mode {mode!r}: FINN's rtlsim needs Vivado's simulator; "
                                 "the RTL runs here through the project's Verilator harness (accel_rtl)")
        self.execute_python(context)
