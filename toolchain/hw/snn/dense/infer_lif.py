"""`InferLIFLayer`: the project's QONNX LIF node (op_type "LIF", domain "toolchain.snn") ->
FINN's `LIF` HW op (domain "finn.custom_op.fpgadataflow"), as FINN's Infer*Layer rewrites do.

The QONNX node works elementwise on (N * T, ...) with its state reset every `time_steps`
entries of dim 0 (or on (1, ...) tensors of one time step each, in graphs run frame by frame
by `execute.py`); the HW op streams channels-last tensors. A node whose tensors are annotated
NCHW gets Transposes around it (FINN's ad-hoc conversion for MultiThreshold; streamlining
usually removes them); otherwise the last dim is taken as the channels. PE starts at 1: folding
is set later, like every other FINN layer.
"""

from __future__ import annotations

import qonnx.core.data_layout as dl
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name
from qonnx.util.onnx import nchw_to_nhwc

from ....errors import ToolchainError

QONNX_DOMAIN = "toolchain.snn"
HW_DOMAIN = "finn.custom_op.fpgadataflow"
_INT_ATTRS = ("state_bits", "leak_shift", "threshold", "refractory", "time_steps")
_STR_ATTRS = {"reset": "subtract", "mode": "lif"}


def _attr(node, name, default=None):
    a = get_by_name(node.attribute, name)
    if a is None:
        if default is None:
            raise ToolchainError(f"{node.name or node.op_type}: LIF node lacks the attribute {name!r}")
        return default
    value = helper.get_attribute_value(a)
    return value.decode() if isinstance(value, bytes) else value


class InferLIFLayer(Transformation):
    def apply(self, model: ModelWrapper):
        graph = model.graph
        changed = False
        node_ind = 0
        for node in list(graph.node):
            node_ind += 1
            if node.op_type != "LIF" or node.domain != QONNX_DOMAIN:
                continue
            name = node.name or f"LIF_{node_ind}"
            ints = {k: int(_attr(node, k, 0 if k in ("leak_shift", "refractory") else None)) for k in _INT_ATTRS}
            strs = {k: str(_attr(node, k, d)) for k, d in _STR_ATTRS.items()}
            inp, outp = node.input[0], node.output[0]
            ishape = model.get_tensor_shape(inp)
            if ishape is None or len(ishape) < 2:
                raise ToolchainError(f"{name}: LIF input needs a known shape (N*T, ..., C), got {ishape}")
            idt = model.get_tensor_datatype(inp)
            if not idt.is_integer():
                raise ToolchainError(f"{name}: LIF currents must have an integer datatype, got {idt.name} "
                                     "(annotate the tensor, e.g. with InferDataTypes after the MVAU)")
            t = ints["time_steps"]
            if t < 1 or (ishape[0] % t and ishape[0] != 1):
                raise ToolchainError(f"{name}: dim 0 ({ishape[0]}) must be 1 (one time step per image) "
                                     f"or a multiple of time_steps={t}")

            pos = list(graph.node).index(node)
            if model.get_tensor_layout(inp) == dl.NCHW and model.get_tensor_layout(outp) == dl.NCHW:
                inp = nchw_to_nhwc(inp, model, pos)
                pos += 1
                outp = nchw_to_nhwc(outp, model, pos + 1, reverse=True)
                ishape = model.get_tensor_shape(inp)

            odt = f"INT{ints['state_bits']}" if strs["mode"] == "li" else "UINT1"
            new = helper.make_node(
                "LIF", [inp], [outp], domain=HW_DOMAIN, backend="fpgadataflow", name=f"LIF_{name}",
                NumChannels=int(ishape[-1]), PE=1, numInputVectors=[int(d) for d in ishape[:-1]],
                inputDataType=idt.name, outputDataType=odt, **ints, **strs)
            graph.node.insert(pos, new)
            graph.node.remove(node)
            model.set_tensor_datatype(outp, DataType[odt])
            changed = True
        return model, changed
