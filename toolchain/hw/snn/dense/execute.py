"""Run a whole frame (T time steps) through an SNN graph whose tensors are one time step.

FINN's HW layers (padding, sliding window, MVAU) describe one image with batch 1; in the SNN
build each time step is one such image, and a frame is T consecutive images in the stream. Only
the stateful layers hold state from one image to the next: the LIF layers (the project's QONNX
node or the FINN op) and any other op that declares a `time_steps` attribute, the convention by
which an op says it carries state over a frame's T steps. So a frame runs node by node: a
stateful node gets the whole (T, ...) tensor at once and carries its state across the leading
dimension; every other node runs once per time step on its slice, exactly as the hardware
streams it. Nothing here depends on which layer types a build's graph holds.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_node

LIF_OP_TYPES = frozenset({"LIF", "LIF_hls"})


def is_lif(node) -> bool:
    return node.op_type in LIF_OP_TYPES


def carries_state(node) -> bool:
    return is_lif(node) or any(a.name == "time_steps" for a in node.attribute)


def graph_layout(model: ModelWrapper, frame: np.ndarray) -> np.ndarray:
    """One frame of encoded counts (T, C, H, W) in the layout of the graph's input: channels
    last (T, H, W, C) where the build moved the channels there (FINN's HW layers are NHWC)."""
    shape = model.get_tensor_shape(model.graph.input[0].name)
    nhwc = len(shape) == 4 and shape[-1] == frame.shape[1] and shape[1] != frame.shape[1]
    return frame.transpose(0, 2, 3, 1) if nhwc else frame


def execute_frame(model: ModelWrapper, frame: np.ndarray) -> dict[str, np.ndarray]:
    """`frame`: the graph input for all T steps, (T, *per-step shape[1:]). Returns every tensor
    that depends on the input, for all steps, (T, ...), keyed by name."""
    steps = frame.shape[0]
    context = model.make_empty_exec_context()
    opset = next((o.version for o in model.model.opset_import if o.domain in ("", "ai.onnx")), 11)
    timed = {model.graph.input[0].name: frame.astype(np.float32)}  # tensors with a time axis
    for node in model.graph.node:
        if not any(name in timed for name in node.input):  # weights only (e.g. a Quant of weights)
            execute_node(node, context, model.graph, opset)
            continue
        if carries_state(node):
            local = {**context, **timed}
            execute_node(node, local, model.graph, opset)
            timed.update((out, local[out]) for out in node.output)
            continue
        per_step: dict[str, list[np.ndarray]] = {out: [] for out in node.output}
        for t in range(steps):
            local = dict(context)
            local.update((name, timed[name][t: t + 1]) for name in node.input if name in timed)
            execute_node(node, local, model.graph, opset)
            for out in node.output:
                per_step[out].append(local[out])
        timed.update((out, np.concatenate(parts)) for out, parts in per_step.items())
    return timed
