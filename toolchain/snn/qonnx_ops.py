"""The QONNX custom op `LIF` (domain "toolchain.snn"): a layer of integer LIF neurons (or leaky
integrators) in an ONNX graph, executed by `toolchain.snn.lif` itself.

Time is the leading dimension: the input `currents` has shape (N*T, ...), N frames of T =
`time_steps` steps each, t-major within a frame (row n*T + t is step t of frame n). Every other
element is one neuron; the node carries each neuron's state (v, r) from one row to the next and
resets it to zero at the start of every frame (every T rows). This is how FINN streams the
tensor too (one time step after the other), so a hardware op needs only per-neuron state.

Attributes (the FINN op that converts this node relies on these exact names):
    state_bits, leak_shift, threshold, reset ("subtract" | "zero"), refractory, time_steps,
    mode ("lif": output 0/1 spikes; "li": a leaky integrator, output its membrane v).

Importing this module registers the op with qonnx (`add_op_to_domain`); `toolchain.snn` also
exposes `custom_op` lazily, so qonnx finds the op by importing the domain's module even when
nobody imported this one.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp
from qonnx.custom_op.registry import add_op_to_domain

from .lif import LIFParams, initial_state, li_step, lif_step

DOMAIN = "toolchain.snn"
MODES = ("lif", "li")


def params_of(op: CustomOp) -> LIFParams:
    """The node's attributes as LIFParams (which validates them)."""
    return LIFParams(state_bits=op.get_nodeattr("state_bits"), leak_shift=op.get_nodeattr("leak_shift"),
                     threshold=op.get_nodeattr("threshold"), reset=op.get_nodeattr("reset"),
                     refractory=op.get_nodeattr("refractory"))


def run_frames(currents: np.ndarray, params: LIFParams, time_steps: int, mode: str) -> np.ndarray:
    """int64 currents (N*T, ...) -> int64 spikes (lif) or membranes (li) of the same shape,
    state reset at the start of every frame of `time_steps` rows."""
    rows = currents.shape[0]
    if time_steps <= 0 or rows % time_steps:
        raise ValueError(f"LIF: leading dimension {rows} is not a multiple of time_steps={time_steps}")
    frames = rows // time_steps
    # (N*T, ...) -> (T, N, neurons): all frames of one step are updated together, each with its own state
    cur = currents.reshape(frames, time_steps, -1).transpose(1, 0, 2)
    state = initial_state(cur[0])
    out = np.empty_like(cur)
    for t in range(time_steps):
        if mode == "li":
            v = li_step(cur[t], state.v, params)
            state = state._replace(v=v)
            out[t] = v
        else:
            out[t], state = lif_step(cur[t], state, params)
    return out.transpose(1, 0, 2).reshape(currents.shape)


class LIF(CustomOp):
    """A layer of integer LIF neurons (mode "lif") or leaky integrators (mode "li")."""

    def get_nodeattr_types(self):
        return {
            "state_bits": ("i", True, 24),
            "leak_shift": ("i", True, 4),
            "threshold": ("i", True, 128),
            "reset": ("s", True, "subtract", {"subtract", "zero"}),
            "refractory": ("i", True, 0),
            "time_steps": ("i", True, 1),
            "mode": ("s", True, "lif", set(MODES)),
        }

    def make_shape_compatible_op(self, model):
        # elementwise: the output has the input's shape
        return helper.make_node("Identity", [self.onnx_node.input[0]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model):
        if self.get_nodeattr("mode") == "li":
            dtype = DataType[f"INT{self.get_nodeattr('state_bits')}"]
        else:
            dtype = DataType["UINT1"]  # qonnx names it BINARY: {0, 1}
        model.set_tensor_datatype(self.onnx_node.output[0], dtype)

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.asarray(context[node.input[0]])
        cur = np.rint(x)
        # A non-integer current means the graph feeding the neurons is not the integer network
        # (wrong weights, a float scale left in): fail rather than round it away silently.
        if not np.array_equal(cur, x):
            raise ValueError(f"LIF node {node.name!r}: input {node.input[0]!r} holds non-integer currents "
                             f"(max |x - round(x)| {float(np.abs(x - cur).max()):.3g})")
        out = run_frames(cur.astype(np.int64), params_of(self), self.get_nodeattr("time_steps"),
                         self.get_nodeattr("mode"))
        # float32 holds the outputs exactly: spikes are 0/1 and states of <= 25 bits fit its
        # 24-bit mantissa (the training path has the same limit)
        context[node.output[0]] = out.astype(np.float32)

    def verify_node(self):
        messages = []
        node = self.onnx_node
        names = set(self.get_nodeattr_types())
        given = {a.name for a in node.attribute}
        if given == names:
            messages.append("All attributes of LIF are set")
        else:
            messages.append(f"LIF attributes missing: {sorted(names - given)}, unknown: {sorted(given - names)}")
        try:
            params_of(self)
            messages.append("The LIF parameters are valid")
        except Exception as exc:  # LIFParams raises ValueError, get_nodeattr asserts allowed values
            messages.append(f"Invalid LIF parameters: {exc}")
        if self.get_nodeattr("time_steps") > 0:
            messages.append("time_steps is positive")
        else:
            messages.append("LIF needs time_steps > 0")
        if len(node.input) == 1 and len(node.output) == 1:
            messages.append("LIF has one input and one output")
        else:
            messages.append("LIF needs exactly one input (currents) and one output")
        return messages


# qonnx's legacy lookup (module attribute `custom_op`) for `toolchain.snn.__getattr__`
custom_op = {"LIF": LIF}

add_op_to_domain(DOMAIN, LIF)
