"""FINN build steps of the SNN path (`build/snn-radioml/build.yaml` and
`build/snn-radioml-dense/build.yaml` list them).

The default build (`step_snn_event_driven`) maps the exported QONNX onto the event-driven
kernels' HW ops in one step (`event_graph`): the graph takes the int I/Q stream and every node
is one kernel; FINN's own dataflow partition, specialisation, estimates and HLS code generation
follow, each node specialised to its RTL backend (`<Op>_rtl`, the default) or its HLS one
(`finn.event_impl_style`). The dense build below keeps FINN's MVAUs with the LIF op after them:

The exported QONNX SNN holds a whole frame: tensors (T, C, H, W), the LIF nodes carrying their
state across the leading dimension. FINN's HW layers describe one image with batch 1, so the
build makes every tensor one time step (`step_snn_time_steps`): a frame is then T consecutive
images in the stream, and only the LIF op knows about T (it keeps its state for T images).
The synapse layers become FINN's own padding, sliding-window and MVAU layers as for CNNs; the
LIF nodes become the project's `LIF` HW op (`infer_lif`), which FINN's own specialisation step
turns into `LIF_hls` (the op is registered in FINN's HLS op table, `toolchain/hw/snn/__init__.py`).
"""

from __future__ import annotations

import numpy as np
from onnx import helper as oh
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from ...errors import ToolchainError
from .dense.execute import is_lif

TIME_KEY = "toolchain_snn_time_steps"


def time_steps(model: ModelWrapper) -> int:
    """T of an SNN graph: from the metadata once per-step, else from its LIF nodes."""
    stored = model.get_metadata_prop(TIME_KEY)
    if stored:
        return int(stored)
    values = {oh.get_attribute_value(get_by_name(n.attribute, "time_steps")) for n in model.graph.node if is_lif(n)}
    if len(values) != 1:
        raise ToolchainError(f"the SNN graph's LIF nodes disagree on time_steps or have none: {sorted(values)}")
    return int(values.pop())


class PerTimeStep(Transformation):
    """(T, ...) tensors -> (1, ...): the graph describes one time step."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        steps = time_steps(model)
        model.set_metadata_prop(TIME_KEY, str(steps))
        for vi in [*model.graph.input, *model.graph.output]:
            dims = vi.type.tensor_type.shape.dim
            if dims and dims[0].dim_value == steps:
                dims[0].dim_value = 1
        del model.graph.value_info[:]  # stale (T, ...) shapes; InferShapes recomputes them
        for node in model.get_nodes_by_op_type("Reshape"):
            shape = model.get_initializer(node.input[1])
            if shape is not None and shape[0] == steps:
                model.set_initializer(node.input[1], np.array([1, *shape[1:]], dtype=np.int64))
        return model, False


class MoveTransposePastLIF(Transformation):
    """Transpose -> LIF becomes LIF -> Transpose: the LIF update is elementwise with one set of
    parameters for every neuron, so it commutes with any permutation that keeps dim 0 (time /
    batch). Lets the NCHW<->NHWC transposes that lowering puts around it cancel."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type != "Transpose" or model.is_fork_node(node):
                continue
            perm = list(oh.get_attribute_value(get_by_name(node.attribute, "perm")))
            nxt = model.find_consumer(node.output[0])
            if nxt is None or not is_lif(nxt) or perm[0] != 0:
                continue
            # x -T-> a -LIF-> b   becomes   x -LIF-> a' -T-> b
            x, b = node.input[0], nxt.output[0]
            moved = model.make_new_valueinfo_name()
            nxt.input[0], nxt.output[0] = x, moved
            node.input[0], node.output[0] = moved, b
            model.set_tensor_shape(moved, model.get_tensor_shape(x))
            model.set_tensor_datatype(moved, model.get_tensor_datatype(b))
            nodes = list(model.graph.node)
            model.graph.node.remove(nxt)
            model.graph.node.insert(nodes.index(node), nxt)
            return model, True
        return model, False


def _tidy(model: ModelWrapper) -> ModelWrapper:
    model = model.transform(InferShapes()).transform(InferDataTypes())
    return model.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())


# ------------------------------------------------------------------------------- steps
def step_snn_time_steps(model: ModelWrapper, cfg) -> ModelWrapper:
    """Each tensor becomes one time step; T goes into the model's metadata and stays on the
    LIF nodes (qonnx finds their op through the domain module `toolchain.snn`)."""
    return _tidy(model.transform(PerTimeStep()))


def step_snn_lower(model: ModelWrapper, cfg) -> ModelWrapper:
    """Convolutions -> channels-last Im2Col + MatMul, channels-last input, the LIF nodes moved
    across the layout transposes so that those cancel."""
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
    from qonnx.transformation.make_input_chanlast import MakeInputChannelsLast

    model = model.transform(LowerConvsToMatMul()).transform(InferShapes())
    if len(model.get_tensor_shape(model.graph.input[0].name)) == 4:
        model = model.transform(MakeInputChannelsLast())
    model = model.transform(MoveTransposePastLIF()).transform(AbsorbConsecutiveTransposes())
    return _tidy(model)


def step_snn_to_hw(model: ModelWrapper, cfg) -> ModelWrapper:
    """FINN's padding / sliding-window / MVAU layers for the synapses (no thresholds: the MVAU
    streams its accumulators into the LIF op), the project's LIF op for the neurons, and the
    NHWC flatten before the readout absorbed into its weights."""
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten

    from .dense.infer_lif import InferLIFLayer

    model = model.transform(InferConvInpGen()).transform(InferQuantizedMatrixVectorActivation())
    model = _tidy(model).transform(InferLIFLayer())
    model = _tidy(model).transform(RemoveCNVtoFCFlatten())
    left = sorted({n.op_type for n in model.graph.node if not n.domain.startswith("finn.custom_op.fpgadataflow")})
    if left:
        raise ToolchainError(f"these SNN graph nodes have no FINN HW layer: {', '.join(left)}")
    return _tidy(model)


def step_snn_spike_mvau(model: ModelWrapper, cfg) -> ModelWrapper:
    """After FINN's specialisation: the HLS MVAUs that take 1-bit spikes become the project's
    `MVAU_spike_hls` (FINN's own MVAU_hls refuses 0/1 inputs at code generation)."""
    from .dense.spike_mvau import SpecializeSpikeMVAU

    return model.transform(SpecializeSpikeMVAU())


IQ_CODES_FILE = "snn_iq_codes.npy"  # in output_dir/verification_output: finn_build's verification frames


def step_snn_event_driven(model: ModelWrapper, cfg, impl_style: str = "rtl") -> ModelWrapper:
    """The exported QONNX SNN -> the event-driven accelerator's HW graph (ConstellationEncoder ->
    SpikingConv x N -> SpikingDense), checked against the kernels' limits before anything is
    built; every node's preferred_impl_style is `impl_style` (finn.event_impl_style: rtl or hls,
    which FINN's specialisation then picks). Each node's `exp_event_cycles` is measured on the
    build's verification frames (int I/Q codes that `toolchain finn_build` leaves in
    verification_output/) by the graph's own Python execution; without them the nodes estimate
    the guaranteed bound."""
    from pathlib import Path

    from ...snn.export_qonnx import MODEL_CONFIG_KEY
    from .event.event_graph import spec_from_qonnx, spec_graph

    hw = spec_graph(spec_from_qonnx(model), impl_style)
    hw.set_metadata_prop(MODEL_CONFIG_KEY, model.get_metadata_prop(MODEL_CONFIG_KEY))
    measure_activity(hw, Path(cfg.output_dir))
    return hw.transform(GiveUniqueNodeNames())


def measure_activity(model: ModelWrapper, output_dir) -> None:
    """Each event-driven kernel's `exp_event_cycles` from the verification frames, if the build has them."""
    from pathlib import Path

    from .event.event_graph import annotate_cycles

    codes = Path(output_dir) / "verification_output" / IQ_CODES_FILE
    if codes.is_file():
        model.set_metadata_prop("toolchain_exp_event_cycles", repr(annotate_cycles(model, np.load(codes))))


SNN_STEPS = {f.__name__: f for f in (step_snn_event_driven, step_snn_time_steps, step_snn_lower, step_snn_to_hw,
                                     step_snn_spike_mvau)}
