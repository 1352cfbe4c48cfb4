"""What the event-driven kernels' FINN HW ops share (`encoder/op.py`, `conv/op.py`,
`readout/op.py`): the abstraction op's common attributes, and the HLS backend that writes a
node's Vitis HLS project from the kernel headers and `accel_csim`'s glue.

Tensors between the nodes in Python execution are dense and per time step (encoder: int I/Q
(1, L, 2) -> counts (T, 1, R, R); conv: (T, C, H, W) -> spikes; readout: -> class (1, 1) and
final membranes (1, NO)); the event words are the hardware's packing of the same values. Every
template argument is a node attribute, the weights and tables are initializers, so the whole
accelerator can be read back from the graph (`event_graph.graph_spec`).

Cycles are data dependent: `exp_event_cycles` holds the event-loop iterations per frame that the
build measured on its verification frames (0 = not measured: then the guaranteed bound, every
input active, is used); `get_bound_cycles` is that bound. docs/snn_hardware.md, "FINN HW ops".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from finn.custom_op.fpgadataflow.hlsbackend import HLSBackend
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp

from ....errors import ToolchainError
from ....snn.lif import LIFParams, initial_state, li_step, lif_step
from . import accel_csim
from ..lif.hls import _IPGEN_TCL

RAM_STYLES = {"distributed", "block", "ultra"}
# the neuron's template arguments (LIFParams of toolchain/snn/lif.py)
LIF_ATTRS = {
    "state_bits": ("i", True, 24),
    "leak_shift": ("i", False, 0),
    "threshold": ("i", True, 0),
    "reset": ("s", False, "subtract", {"subtract", "zero"}),
    "refractory": ("i", False, 0),
}


class EventOp(HWCustomOp):
    """Base of the three abstraction ops: time steps, the measured cycles, stream words."""

    def common_attrs(self) -> dict:
        attrs = {
            "time_steps": ("i", True, 0),
            # event-loop iterations per frame, median over the build's verification frames; 0: unmeasured
            "exp_event_cycles": ("i", False, 0),
            "inputDataType": ("s", False, ""),
        }
        attrs.update(HWCustomOp.get_nodeattr_types(self))
        return attrs

    def attr(self, name: str):
        return self.get_nodeattr(name)

    def lif_params(self) -> LIFParams:
        try:
            return LIFParams(**{k: self.get_nodeattr(k) for k in LIF_ATTRS})
        except ValueError as exc:
            raise ToolchainError(f"{self.onnx_node.name}: {exc}") from None

    def initializer(self, model, index: int, what: str) -> np.ndarray:
        value = model.get_initializer(self.onnx_node.input[index]) if len(self.onnx_node.input) > index else None
        if value is None:
            raise ToolchainError(f"{self.onnx_node.name}: input {index} ({what}) must be an initializer")
        return np.asarray(value).round().astype(np.int64)

    def context_input(self, context, index: int) -> np.ndarray:
        x = np.asarray(context[self.onnx_node.input[index]])
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ToolchainError(f"{self.onnx_node.name}: input {index} must hold integers")
        return x.astype(np.int64)

    def check_shape(self, x: np.ndarray) -> None:
        expected = tuple(self.get_normal_input_shape())
        if tuple(x.shape) != expected:
            raise ToolchainError(f"{self.onnx_node.name}: input shape {tuple(x.shape)}, expected {expected}")

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType")]

    def infer_node_datatype(self, model):
        node = self.onnx_node
        self.set_nodeattr("inputDataType", model.get_tensor_datatype(node.input[0]).name)
        for i, out in enumerate(node.output):
            model.set_tensor_datatype(out, self.get_output_datatype(i))

    def make_shape_compatible_op(self, model):
        # the readout's second output (membranes) keeps the shape the graph declares for it
        return self.make_const_shape_op(self.get_normal_output_shape(0))

    def verify_node(self):
        return []

    def execute_node(self, context, graph):
        mode = self.get_nodeattr("exec_mode") if "exec_mode" in self.get_nodeattr_types() else ""
        if mode not in ("", "python"):
            raise ToolchainError(f"{self.onnx_node.name}: exec_mode {mode!r}: the event-driven kernels run in Python "
                                 "here, and as one accelerator in the g++ C simulation (event_graph.csim)")
        self.execute_python(context)

    # words of a frame on each stream (at most): FINN's folded shapes are (1, words, 1)
    def get_folded_input_shape(self, ind=0):
        return (1, self.max_in_words(), 1)

    def get_folded_output_shape(self, ind=0):
        return (1, self.max_out_words(), 1)

    def get_exp_cycles(self):
        measured = self.get_nodeattr("exp_event_cycles")
        return self.fixed_cycles() + (measured if measured > 0 else self.bound_event_cycles())

    def get_bound_cycles(self) -> int:
        """Cycles per frame with every input active (resources.cycle_bound)."""
        return self.fixed_cycles() + self.bound_event_cycles()

    def dsp_estimation(self, fpgapart=None):
        return 0  # adds, shifts and compares: the spike inputs gate the weights, nothing multiplies

    def uram_estimation(self, fpgapart=None):
        return 0

    def estimate(self) -> dict:
        raise NotImplementedError

    def lut_estimation(self, fpgapart=None):
        return int(self.estimate()["lut"])

    def bram_estimation(self, fpgapart=None):
        return int(self.estimate()["bram18"])

    def ff_estimation(self, fpgapart=None) -> int:
        return int(self.estimate()["ff"])


class EventHLS(HLSBackend):
    """The HLS backend of an event op: `top_<node>.cpp` = the kernel's glue (its typedef,
    tables and memories with their storage pragmas, from `accel_csim`) as a top function with
    FINN's stream names, the kernel headers copied beside it, and FINN's ipgen tcl."""

    def layer_source(self, model=None) -> accel_csim.LayerSource:
        """The kernel's glue; its tables and weights from `model`'s initializers (zeros without one)."""
        raise NotImplementedError

    def code_generation_ipgen(self, model, fpgapart, clk):
        name = self.onnx_node.name
        if not name:
            raise ToolchainError(f"a {self.onnx_node.op_type} node has no name: run GiveUniqueNodeNames first")
        out = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        out.mkdir(parents=True, exist_ok=True)
        for header in accel_csim.HEADERS:  # the HLS project is self-contained
            shutil.copyfile(header, out / header.name)
        (out / f"top_{name}.cpp").write_text(accel_csim.render_node_top(self.layer_source(model), name))
        directives = "\n".join(self.ipgen_default_directives() + self.ipgen_extra_directives())
        (out / f"hls_syn_{name}.tcl").write_text(
            _IPGEN_TCL.format(name=name, src=out, part=fpgapart, clk=clk, directives=directives))

    # FINN's code_gen_dict hooks, for callers that assemble a top from them (code_generation_ipgen
    # above writes the same text itself): the kernel headers, the typedef and tables, the
    # top's signature, its interface pragmas and the kernel call.
    def _interface(self) -> accel_csim.NodeInterface:
        return accel_csim.node_interface(self.layer_source(), self.onnx_node.name)

    def global_includes(self):
        self.code_gen_dict["$GLOBALS$"] = list(accel_csim.INCLUDES)

    def defines(self, var):
        src = self.layer_source()
        self.code_gen_dict["$DEFINES$"] = [src.typedef]

    def blackboxfunction(self):
        self.code_gen_dict["$BLACKBOXFUNCTION$"] = [self._interface().signature]

    def pragmas(self):
        self.code_gen_dict["$PRAGMAS$"] = self._interface().pragmas

    def docompute(self):
        self.code_gen_dict["$DOCOMPUTE$"] = [self._interface().call]

    # the kernels are C-simulated as one accelerator (event_graph.csim), not node by node
    def _no_cppsim(self, *args):
        raise ToolchainError(f"{self.onnx_node.name}: FINN's node-by-node cppsim does not apply to the event-driven "
                             "ops; event_graph.csim simulates the whole accelerator generated from the graph")

    code_generation_cppsim = compile_singlenode_code = _no_cppsim


def run_neurons(currents: np.ndarray, params: LIFParams, readout: bool) -> tuple[np.ndarray, np.ndarray]:
    """int64 currents (T, neurons) of one frame -> (spikes (T, neurons), final membranes): lif_step
    (or li_step for a membrane readout) from the zero state, toolchain/snn/lif.py itself."""
    state = initial_state(currents[0])
    spikes = np.zeros_like(currents)
    for t, cur in enumerate(currents):
        if readout:
            state = state._replace(v=li_step(cur, state.v, params))
        else:
            spikes[t], state = lif_step(cur, state, params)
    return spikes, state.v


def check_ram_style(node, style: str, allowed=RAM_STYLES) -> str:
    if style not in allowed:
        raise ToolchainError(f"{node.name}: ram_style={style!r}: expected one of {', '.join(sorted(allowed))}")
    return style
