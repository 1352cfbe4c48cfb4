"""`execute_frame` runs any per-time-step graph, not only the current build's layer types: a node
that declares `time_steps` gets the whole frame (it carries state over the steps), every other
node runs once per step. Shown with an op this project does not have: a running sum."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

pytest.importorskip("qonnx")

from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.custom_op.base import CustomOp  # noqa: E402
from qonnx.custom_op.registry import add_op_to_domain  # noqa: E402
from qonnx.transformation.infer_shapes import InferShapes  # noqa: E402
from qonnx.util.basic import qonnx_make_model  # noqa: E402

from toolchain.hw.snn.dense.execute import execute_frame  # noqa: E402

DOMAIN = "toolchain.tests"


class RunningSum(CustomOp):
    """out[t] = sum of in[0..t] within each frame of `time_steps` rows."""

    def get_nodeattr_types(self):
        return {"time_steps": ("i", True, 1)}

    def make_shape_compatible_op(self, model):
        return helper.make_node("Identity", [self.onnx_node.input[0]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model):
        pass

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]]
        t = self.get_nodeattr("time_steps")
        context[self.onnx_node.output[0]] = x.reshape(-1, t, *x.shape[1:]).cumsum(1).reshape(x.shape)

    def verify_node(self):
        return []


add_op_to_domain(DOMAIN, RunningSum)


def test_a_node_with_time_steps_carries_state_across_the_frame_others_run_per_step():
    steps = 5
    nodes = [helper.make_node("Mul", ["x", "two"], ["doubled"]),
             helper.make_node("RunningSum", ["doubled"], ["summed"], domain=DOMAIN, time_steps=steps),
             helper.make_node("Relu", ["summed"], ["y"])]
    graph = helper.make_graph(nodes, "per_step", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                                helper.make_opsetid(DOMAIN, 1)]))
    model = model.transform(InferShapes())
    frame = np.random.default_rng(0).standard_normal((steps, 3)).astype(np.float32)
    out = execute_frame(model, frame)
    assert out["doubled"].shape == (steps, 3)
    np.testing.assert_allclose(out["y"], np.maximum(np.cumsum(2 * frame, 0), 0), rtol=1e-6)
    # per step (no state) it would be the doubled input itself
    assert not np.allclose(out["y"], np.maximum(2 * frame, 0))
