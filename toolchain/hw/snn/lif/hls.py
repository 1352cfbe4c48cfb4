"""`LIF_hls`: the HLS implementation of the `LIF` op (domain `finn.custom_op.fpgadataflow.hls`).

FINN's HLS code paths fill templates that include finn-hlslib's `bnn-library.h`, and its C
simulation links Vitis libraries; neither exists here and the kernel needs neither. So this op
overrides the code generation itself, keeping FINN's file names and node attributes:
- `code_generation_ipgen` (called by FINN's `PrepareIP`) writes `top_<node>.cpp` (the glue of
  `csim.render_top`), a copy of `lif.hpp`, and `hls_syn_<node>.tcl` into `code_gen_dir_ipgen`,
  so that FINN's `HLSSynthIP` runs Vitis HLS on it unchanged where Vitis exists;
- `code_generation_cppsim` / `compile_singlenode_code` (FINN's `PrepareCppSim` /
  `CompileCppSim`) write and compile the g++ harness of `csim.py`, and `execute_node` with
  exec_mode "cppsim" runs it; exec_mode "" runs toolchain.snn.lif (the Python reference).
`generate_hls(model, node, out_dir)` is the same code generation for a caller outside FINN's
transformations.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from onnx import NodeProto
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from finn.custom_op.fpgadataflow.hlsbackend import HLSBackend

from ....errors import ToolchainError
from . import csim
from .op import LIF

HLS_DOMAIN = "finn.custom_op.fpgadataflow.hls"

# FINN's ipgen tcl without the finn-hlslib / FINN_CUSTOM_HLS include paths the kernel does not
# use (an unset FINN_CUSTOM_HLS would stop the script); file and project names are FINN's, so
# HLSSynthIP and the IP stitching find the results where they look.
_IPGEN_TCL = """set config_proj_name project_{name}
set config_hwsrcdir "{src}"
set config_proj_part "{part}"
set config_toplevelfxn "{name}"
set config_clkperiod {clk}

open_project $config_proj_name
add_files $config_hwsrcdir/top_{name}.cpp -cflags "-std=c++14 -I$config_hwsrcdir"
set_top $config_toplevelfxn
open_solution sol1
set_part $config_proj_part

{directives}

create_clock -period $config_clkperiod -name default
csynth_design
export_design -format ip_catalog
exit 0
"""


class LIF_hls(LIF, HLSBackend):  # noqa: N801 - FINN's <Op>_hls naming selects the backend
    """HLS variant of `LIF`: lif.hpp's `lif_layer`, one neuron per PE per cycle."""

    def get_nodeattr_types(self):
        attrs = LIF.get_nodeattr_types(self)
        attrs.update(HLSBackend.get_nodeattr_types(self))
        return attrs

    # ---------------------------------------------------------------- execution
    def execute_node(self, context, graph):
        mode = self.get_nodeattr("exec_mode")
        if mode in ("", "python"):
            self.execute_python(context)
        elif mode == "cppsim":
            self.execute_cppsim(context)
        else:  # rtlsim: FINN's own path, needs the IP from Vitis HLS and Vivado's simulator
            HLSBackend.execute_node(self, context, graph)

    def execute_cppsim(self, context) -> None:
        """The kernel compiled with g++ (csim.py), on the same frames as execute_python."""
        frames = self._frames(context)
        exe = self.get_nodeattr("executable_path")
        exe = exe if exe and Path(exe).is_file() else None
        cfg = self.kernel_config()
        cache = self.get_nodeattr("code_gen_dir_cppsim") or None
        y = csim.run_csim(frames.reshape(-1, cfg.neurons), cfg, cache_dir=cache, exe=exe)
        context[self.onnx_node.output[0]] = y.reshape(context[self.onnx_node.input[0]].shape).astype("float32")

    def code_generation_cppsim(self, model):
        out = Path(self.get_nodeattr("code_gen_dir_cppsim"))
        (out / f"execute_{self.onnx_node.op_type}.cpp").write_text(csim.render_harness(self.kernel_config()))

    def compile_singlenode_code(self):
        cache = self.get_nodeattr("code_gen_dir_cppsim") or None
        self.set_nodeattr("executable_path", str(csim.compile_harness(self.kernel_config(), cache)))

    # ---------------------------------------------------------------- IP code generation
    def code_generation_ipgen(self, model, fpgapart, clk):
        name = self.onnx_node.name
        if not name:
            raise ToolchainError("a LIF_hls node has no name: run GiveUniqueNodeNames before code generation")
        self._check()
        out = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        out.mkdir(parents=True, exist_ok=True)
        # The kernel travels with the generated top so the HLS project is self-contained.
        shutil.copyfile(csim.KERNEL, out / csim.KERNEL.name)
        (out / f"top_{name}.cpp").write_text(csim.render_top(self.kernel_config(), name))
        directives = "\n".join(self.ipgen_default_directives() + self.ipgen_extra_directives())
        (out / f"hls_syn_{name}.tcl").write_text(
            _IPGEN_TCL.format(name=name, src=out, part=fpgapart, clk=clk, directives=directives))

    # FINN's template hooks, for callers that assemble code from code_gen_dict themselves.
    def global_includes(self):
        self.code_gen_dict["$GLOBALS$"] = [f'#include "{csim.KERNEL.name}"']

    def defines(self, var):
        self.code_gen_dict["$DEFINES$"] = []

    def blackboxfunction(self):
        self.code_gen_dict["$BLACKBOXFUNCTION$"] = [
            f"void {self.onnx_node.name}(hls::stream<ap_uint<{self.get_instream_width()}> > &in0_V, "
            f"hls::stream<ap_uint<{self.get_outstream_width()}> > &out0_V)"]

    def docompute(self):
        self.code_gen_dict["$DOCOMPUTE$"] = [f"lif_layer<{self.kernel_config().template_args()}>(in0_V, out0_V);"]


def generate_hls(model: ModelWrapper, node: NodeProto, out_dir: str | Path,
                 fpgapart: str = "xczu3eg-sbva484-1-e", clk_ns: float = 5.0) -> Path:
    """Write the Vitis HLS sources of one LIF_hls node into out_dir (FINN's ipgen layout) and
    record the folder in the node, as FINN's PrepareIP does; returns the top .cpp path."""
    inst = getCustomOp(node)
    if not isinstance(inst, LIF_hls):
        raise ToolchainError(f"{node.name}: generate_hls expects a LIF_hls node, got {node.op_type}")
    out = Path(out_dir).resolve()
    inst.set_nodeattr("code_gen_dir_ipgen", str(out))
    inst.code_generation_ipgen(model, fpgapart, clk_ns)
    return out / f"top_{node.name}.cpp"


class SpecializeLIF(Transformation):
    """LIF (abstraction) -> LIF_hls. FINN's SpecializeLayers only knows the ops listed in its
    own modules, so this op is specialised here; the attributes carry over unchanged."""

    def apply(self, model):
        changed = False
        for node in model.graph.node:
            if node.op_type == "LIF" and node.domain == "finn.custom_op.fpgadataflow":
                node.op_type = "LIF_hls"
                node.domain = HLS_DOMAIN
                changed = True
        return model, changed
