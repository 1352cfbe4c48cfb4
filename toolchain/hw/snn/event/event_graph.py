"""The event-driven accelerator as a FINN HW graph, and back (docs/snn_hardware.md, "FINN HW ops").

- `spec_from_qonnx`: the exported QONNX SNN (model config in its metadata, integer weights as
  Quant(scale 1) initializers, LIF attributes on the LIF nodes) -> `AcceleratorSpec`, through
  the same checks as `map_model` (a layer the kernels cannot map: one line naming it and the limit);
- `spec_graph`: spec -> graph iq -> ConstellationEncoder -> SpikingConv x N -> SpikingDense
  (class, membranes), every template argument a node attribute, weights and tables initializers;
- `graph_spec`: graph -> spec, read from the node attributes and initializers only, so the C
  simulation (`csim`) and the estimates of a graph are generated from what the graph says;
- `execute`: FINN's Python execution of the graph (qonnx `execute_onnx`, each op's integer model);
- `annotate_cycles`: the measured event-loop iterations (`exp_event_cycles`) of each node.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from ....errors import ToolchainError
from ....snn.lif import LIFParams
from .accelerator import AcceleratorSpec, LayerData, map_layers

HW_DOMAIN = "finn.custom_op.fpgadataflow"
INPUT, CLASS, MEMBRANES = "iq", "class_index", "membranes"
OPS = ("ConstellationEncoder", "SpikingConv", "SpikingDense")


def _op(node) -> str:
    """The abstraction op of a node, specialised (`_hls`, `_rtl`) or not."""
    return node.op_type.removesuffix("_hls").removesuffix("_rtl")


def is_event_graph(model: ModelWrapper) -> bool:
    return any(_op(n) in OPS for n in model.graph.node)


# ------------------------------------------------------------------------------- QONNX -> spec
def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _weights(model: ModelWrapper, tensor: str, layer: str) -> np.ndarray:
    """The integer weights behind a synapse's weight input: an initializer, or a Quant of one
    with scale 1 and zero point 0 (the export's form)."""
    value = model.get_initializer(tensor)
    if value is None:
        q = model.find_producer(tensor)
        params = [model.get_initializer(i) for i in q.input] if q is not None and q.op_type == "Quant" else [None]
        if any(p is None for p in params) or float(np.max(np.abs(params[1] - 1))) or float(np.max(np.abs(params[2]))):
            raise ToolchainError(f"cannot map layer {layer} onto the event-driven kernels: its weights must be integer "
                                 "initializers or a Quant of them with scale 1 and zero point 0")
        value = params[0]
    if np.any(value != np.round(value)):
        raise ToolchainError(f"cannot map layer {layer} onto the event-driven kernels: its weights are not integers")
    return np.asarray(value).round().astype(np.int64)


def spec_from_qonnx(model: ModelWrapper, sweep_positions=None) -> AcceleratorSpec:
    from ....config import ModelConfig
    from ....snn.export_qonnx import MODEL_CONFIG_KEY

    text = model.get_metadata_prop(MODEL_CONFIG_KEY)
    if not text:
        raise ToolchainError(f"the SNN QONNX has no metadata '{MODEL_CONFIG_KEY}' (export it with toolchain "
                             "export_onnx): the encoder cannot be rebuilt without the model config")
    try:
        cfg = ModelConfig(**json.loads(text))
    except (TypeError, ValueError) as exc:
        raise ToolchainError(f"the SNN QONNX's metadata '{MODEL_CONFIG_KEY}': {exc}".splitlines()[0]) from None
    layers = []
    lifs = [n for n in model.graph.node if n.op_type == "LIF"]
    for i, lif in enumerate(lifs):
        syn = model.find_producer(lif.input[0])
        name = f"conv{i}" if i < len(lifs) - 1 else "dense0 (readout)"
        a = _attrs(lif)
        params = LIFParams(state_bits=a["state_bits"], leak_shift=a["leak_shift"], threshold=a["threshold"],
                           reset=a["reset"].decode() if isinstance(a["reset"], bytes) else a["reset"],
                           refractory=a["refractory"])
        mode = a.get("mode", b"lif")
        readout = (mode.decode() if isinstance(mode, bytes) else mode) == "li"
        if i < len(lifs) - 1:
            sa = _attrs(syn) if syn is not None else {}
            k = list(sa.get("kernel_shape", []))
            if syn is None or syn.op_type != "Conv" or list(sa.get("strides", [1, 1])) != [1, 1] or \
                    sa.get("group", 1) != 1 or not k or list(sa.get("pads", [])) != [k[0] // 2, k[1] // 2] * 2:
                raise ToolchainError(f"cannot map layer {name} onto the event-driven kernels: expected a stride-1 "
                                     "'same' Conv (group 1) feeding its LIF node")
            layers.append(LayerData(_weights(model, syn.input[1], name), params, readout))
        else:
            if syn is None or syn.op_type != "MatMul":
                raise ToolchainError(f"cannot map layer {name} onto the event-driven kernels: expected a MatMul "
                                     "feeding the last LIF node")
            layers.append(LayerData(_weights(model, syn.input[1], name).T, params, readout))
    if len(layers) < 2:
        raise ToolchainError(f"cannot map the SNN QONNX onto the event-driven kernels: {len(layers)} LIF layers, "
                             "expected conv LIF layers and a readout")
    return map_layers(cfg, layers, sweep_positions)


# ------------------------------------------------------------------------------- spec <-> graph
def _lif(p: LIFParams) -> dict:
    return dict(state_bits=p.state_bits, leak_shift=p.leak_shift, threshold=p.threshold, reset=p.reset,
                refractory=p.refractory)


# The backend FINN's specialisation picks for every event node (finn.event_impl_style): the RTL
# kernels since the stitched RTL accelerator met issue 24's Must (bit exact over the test split in
# Verilator, measured there); "hls" selects the Vitis HLS kernels.
IMPL_STYLES = ("rtl", "hls")
IMPL_STYLE = "rtl"


def spec_graph(spec: AcceleratorSpec, impl_style: str = IMPL_STYLE) -> ModelWrapper:
    """The accelerator as a graph of abstraction ops (domain finn.custom_op.fpgadataflow), each
    node's preferred_impl_style `impl_style` (rtl or hls)."""
    if impl_style not in IMPL_STYLES:
        raise ToolchainError(f"event-driven implementation style {impl_style!r}: expected one of "
                             f"{', '.join(IMPL_STYLES)}")
    e, d, t = spec.encoder, spec.dense, spec.steps
    nodes, inits = [], []

    def init(name, value):
        inits.append(helper.make_tensor(name, TensorProto.FLOAT, value.shape, value.astype(np.float32).ravel()))
        return name

    nodes.append(helper.make_node(
        "ConstellationEncoder", [INPUT, init("ibin", e.ibin), init("qbin", e.qbin)], ["counts"], domain=HW_DOMAIN,
        backend="fpgadataflow", preferred_impl_style=impl_style, name="ConstellationEncoder_0",
        input_bits=e.input_bits, resolution=e.resolution,
        group=e.group, frame=e.frame, binary=int(e.binary), scale=float(e.scale), time_steps=t))
    src, events = "counts", min(e.group, e.resolution ** 2) if e.binary else e.group
    words = e.frame + 1
    for i, c in enumerate(spec.convs):
        out = f"spikes{i}"
        nodes.append(helper.make_node(
            "SpikingConv", [src, init(f"{c.name}_w", c.weights)], [out], domain=HW_DOMAIN, backend="fpgadataflow",
            preferred_impl_style=impl_style, name=f"SpikingConv_{i}", height=c.height, width=c.width, cin=c.cin,
            cout=c.cout, kernel=c.kernel,
            in_lanes=c.in_lanes, sp=c.sp, weight_bits=c.weight_bits, acc_bits=c.acc_bits, ram_style=c.ram_style,
            max_in_events=events, max_in_words=words, layer_index=i + 1, time_steps=t, **_lif(c.params)))
        src, events, words = out, c.height * c.width * c.cout, t * c.groups + 1
    h, w = (spec.convs[-1].height, spec.convs[-1].width)
    nodes.append(helper.make_node(
        "SpikingDense", [src, init(f"{d.name}_w", d.weights)], [CLASS, MEMBRANES], domain=HW_DOMAIN,
        backend="fpgadataflow", preferred_impl_style=impl_style, name="SpikingDense_0",
        height=h, width=w, cin=d.cin, in_lanes=d.in_lanes,
        classes=d.outputs, weight_bits=d.weight_bits, acc_bits=d.acc_bits, membrane=int(d.membrane),
        events_per_cycle=d.events_per_cycle, ram_style=d.ram_style, max_in_events=events, max_in_words=words,
        layer_index=len(spec.convs) + 1, time_steps=t, **_lif(d.params)))
    graph = helper.make_graph(
        nodes, "snn_event_driven", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, e.frame, 2])],
        [helper.make_tensor_value_info(CLASS, TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info(MEMBRANES, TensorProto.FLOAT, [1, d.outputs])], inits)
    model = ModelWrapper(qonnx_make_model(graph, producer_name="toolchain"))
    model.set_tensor_datatype(INPUT, DataType[f"INT{e.input_bits}"])
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    return model.transform(InferShapes()).transform(InferDataTypes())


def graph_spec(model: ModelWrapper) -> AcceleratorSpec:
    """The accelerator a graph describes, from its node attributes and initializers alone."""
    nodes = [n for n in model.graph.node if _op(n) in OPS]
    kinds = [_op(n) for n in nodes]
    if not nodes or kinds[0] != "ConstellationEncoder" or kinds[-1] != "SpikingDense" or \
            set(kinds[1:-1]) != {"SpikingConv"}:
        raise ToolchainError(f"not an event-driven SNN graph (encoder, spiking convs, readout): {kinds}")
    enc = getCustomOp(nodes[0]).model_spec(model)
    convs = tuple(getCustomOp(n).model_spec(model, f"conv{i}") for i, n in enumerate(nodes[1:-1]))
    return AcceleratorSpec(enc, convs, getCustomOp(nodes[-1]).model_spec(model))


# ------------------------------------------------------------------------------- running it
def exec_contexts(model: ModelWrapper, codes: np.ndarray, full: bool) -> list[dict]:
    """qonnx execute_onnx of the graph on each frame (n, 2, L): the outputs, or every tensor (`full`)."""
    from qonnx.core.onnx_exec import execute_onnx

    iname = model.graph.input[0].name
    return [execute_onnx(model, {iname: f.T[None].astype(np.float32)}, return_full_exec_context=full) for f in codes]


def execute(model: ModelWrapper, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FINN's Python execution of the graph on frames (n, 2, L) of int I/Q codes: (classes (n,),
    final membranes (n, NO)), one frame per call as the hardware takes them."""
    outs = exec_contexts(model, codes, False)
    cls, mem = (o.name for o in model.graph.output)
    return (np.array([int(o[cls].ravel()[0]) for o in outs]),
            np.stack([o[mem].ravel() for o in outs]).round().astype(np.int64))


def annotate_cycles(model: ModelWrapper, codes: np.ndarray) -> dict[str, int]:
    """Sets every conv's and the readout's `exp_event_cycles` to the median over the frames of
    its event-loop iterations (the graph's own Python execution gives the spikes); returns them."""
    from .accel_verify import event_loops

    spec = graph_spec(model)
    nodes = [n for n in model.graph.node if _op(n) in OPS]
    contexts = exec_contexts(model, codes, True)
    spikes = [np.stack([c[n.output[0]] for c in contexts]).astype(np.int8) for n in nodes[1:-1]]
    out = {}
    for node, loops in zip(nodes[1:], event_loops(spec, codes, spikes)):
        cycles = int(np.median(loops.sum(1)))
        getCustomOp(node).set_nodeattr("exp_event_cycles", cycles)
        out[node.name] = cycles
    return out


def restream(model: ModelWrapper) -> None:
    """After a change of SP (the automatic folding): each kernel's input word is its upstream's
    output word (lanes, words per frame)."""
    nodes = [getCustomOp(n) for n in model.graph.node if _op(n) in OPS]
    for up, down in zip(nodes, nodes[1:]):
        lanes = 1 if _op(up.onnx_node) == "ConstellationEncoder" else up.get_nodeattr("sp") * up.get_nodeattr("cout")
        down.set_nodeattr("in_lanes", lanes)
        down.set_nodeattr("max_in_words", up.max_out_words())


def csim(model: ModelWrapper, codes: np.ndarray, cache_dir: Path | None = None):
    """The whole accelerator generated from the graph (`graph_spec`), compiled with g++ and run
    on the frames (accel_csim.CsimResult)."""
    from .accel_csim import compile_accelerator, run_frames

    spec = graph_spec(model)
    return run_frames(spec, codes, exe=compile_accelerator(spec, cache_dir))

