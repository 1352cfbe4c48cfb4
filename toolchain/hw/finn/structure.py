"""Name FINN's HW nodes by their place in the network and apply per-layer settings by those names.

FINN's node names (`ConvolutionInputGenerator_rtl_4`) depend on how many nodes of that type
precede a node, which changes between FINN versions (finn-plus splits each MaxPool into a
sliding-window generator and a Pool, so conv generator j became `_2j`). A folding file keyed by
those names silently configures the wrong nodes. Here every compute layer (an MVAU or VVAU)
starts a layer: `conv<k>` if a sliding-window generator feeds it, else `dense<k>`. Its input
generators are its `pad` and `swg`; every other node belongs to the layer before it, named by
its role (`thresholds`, `pool_swg`, `pool`, `add`, `label_select`, ...). Nodes before the first
layer belong to `input`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ...errors import ConfigError
from .constraints import generic_op, violation

COMPUTE = ("MVAU", "VVAU", "SpikingConv", "SpikingDense")  # the last two: the SNN's event-driven kernels
FEEDERS = {"FMPadding": "pad", "ConvolutionInputGenerator": "swg"}
ROLES = {"MVAU": "mvau", "VVAU": "vvau", "Thresholding": "thresholds", "Pool": "pool", "StreamingMaxPool": "pool",
         "LabelSelect": "label_select", "ElementwiseAdd": "add", "ElementwiseMul": "mul",
         "ChannelwiseOp": "channelwise", "FMPadding": "pad", "StreamingDataWidthConverter": "dwc",
         "StreamingFIFO": "fifo", "Requant": "requant", "LIF": "lif",
         "ConstellationEncoder": "encoder", "SpikingConv": "spiking_conv", "SpikingDense": "spiking_dense"}


@dataclass(frozen=True)
class Place:
    layer: str  # conv0, dense2, input
    role: str  # mvau, swg, pool, ...

    def __str__(self) -> str:
        return f"{self.layer}.{self.role}"


def places(model: ModelWrapper) -> dict[str, Place]:
    """Node name -> Place for every node of a (FINN HW) graph, in graph order."""
    nodes = list(model.graph.node)
    feeders: dict[str, tuple[int, str]] = {}  # node name -> (index of the compute node it feeds, role)
    for i, node in enumerate(nodes):
        if generic_op(node.op_type) not in COMPUTE:
            continue
        producer = model.find_producer(node.input[0])
        while producer is not None and generic_op(producer.op_type) in FEEDERS and \
                len(model.find_consumers(producer.output[0])) == 1:
            feeders[producer.name] = (i, FEEDERS[generic_op(producer.op_type)])
            producer = model.find_producer(producer.input[0])

    layer_of: dict[int, str] = {}
    counts = {"conv": 0, "dense": 0}
    for i, node in enumerate(nodes):
        if generic_op(node.op_type) in COMPUTE:
            conv = any(idx == i and role == "swg" for idx, role in feeders.values())
            kind = "conv" if conv or generic_op(node.op_type) in ("VVAU", "SpikingConv") else "dense"
            layer_of[i] = f"{kind}{counts[kind]}"
            counts[kind] += 1

    out: dict[str, Place] = {}
    current = "input"
    used: dict[str, set[str]] = {}
    for i, node in enumerate(nodes):
        op = generic_op(node.op_type)
        if node.name in feeders:
            idx, role = feeders[node.name]
            layer = layer_of[idx]
        elif op in COMPUTE:
            current = layer = layer_of[i]
            role = ROLES[op]
        else:
            layer = current
            role = ROLES.get(op) or _snake(op)
            if op == "ConvolutionInputGenerator":
                consumer = model.find_consumer(node.output[0])
                role = "pool_swg" if consumer is not None and generic_op(consumer.op_type) == "Pool" else "swg"
        taken = used.setdefault(layer, set())
        name, k = role, 1
        while name in taken:  # a second node of the same role in one layer: thresholds_1, ...
            name, k = f"{role}_{k}", k + 1
        taken.add(name)
        out[node.name] = Place(layer, name)
    return out


# Node attributes that fix a layer's shape (not its folding): what a folding is written for.
SHAPE_ATTRS = ("MW", "MH", "Channels", "NumChannels", "IFMChannels", "IFMDim", "ConvKernelDim", "Stride", "Labels",
               "KernelSize", "numInputVectors", "time_steps")


def signature(model: ModelWrapper) -> str:
    """A short hash of the HW graph's structure: every node in graph order (hence its place) with
    its op, shape attributes and, for the compute layers, input (activation) type. Weight types and thresholds are left out:
    FINN narrows them to the trained values, and a folding's constraints do not depend on them."""
    entries = []
    for node in model.graph.node:
        if node.domain.startswith("finn.custom_op.fpgadataflow") or node.domain.startswith("toolchain"):
            inst = getCustomOp(node)
            known = inst.get_nodeattr_types()
            shape = {a: _plain(inst.get_nodeattr(a)) for a in SHAPE_ATTRS if a in known}
            if generic_op(node.op_type) in COMPUTE:
                shape["input"] = inst.get_input_datatype(0).name
            entries.append([generic_op(node.op_type), shape])
        else:
            entries.append([node.op_type, {}])
    text = json.dumps(entries, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _plain(value: Any) -> Any:
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else value


def _snake(op: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()


def resolve(model: ModelWrapper, spec: dict[str, Any], source: Path) -> dict[str, dict[str, Any]]:
    """A structural file -> FINN's ApplyConfig dict {node name: {attribute: value}}.

    Defaults (by role) apply to every node of that role, layer entries override them. A layer or
    role the model does not have, or an attribute the node does not know, is an error naming it.
    """
    where = places(model)
    by_place = {str(p): name for name, p in where.items()}
    layers = sorted({p.layer for p in where.values()}, key=_layer_order)
    roles = {p.role for p in where.values()}
    config: dict[str, dict[str, Any]] = {}
    for role, attrs in spec["defaults"].items():
        if role not in roles:
            raise ConfigError(f"{source}: defaults.{role}: no node has this role (roles: {', '.join(sorted(roles))})")
        for name, p in where.items():
            if p.role == role:
                config.setdefault(name, {}).update(attrs)
    for layer, entries in spec["layers"].items():
        if layer not in layers:
            raise ConfigError(f"{source}: layers.{layer}: no such layer in this model (layers: {', '.join(layers)})")
        for role, attrs in entries.items():
            key = f"{layer}.{role}"
            if key not in by_place:
                here = sorted(p.role for p in where.values() if p.layer == layer)
                raise ConfigError(f"{source}: layers.{key}: layer {layer} has no '{role}' "
                                  f"(its roles: {', '.join(here)})")
            config.setdefault(by_place[key], {}).update(attrs)
    for name, attrs in config.items():
        inst = getCustomOp(model.get_node_from_name(name))
        known = inst.get_nodeattr_types()
        for attr in attrs:
            if attr not in known:
                raise ConfigError(f"{source}: {where[name]}.{attr}: not an attribute of {inst.onnx_node.op_type} "
                                  f"(node {name})")
    return config


def _layer_order(layer: str) -> tuple[int, int]:
    m = re.fullmatch(r"(conv|dense)(\d+)", layer)
    return ({"conv": 1, "dense": 2}[m.group(1)], int(m.group(2))) if m else (0, 0)


class ApplyStructuralConfig(Transformation):
    """Set node attributes from a structural folding/specialisation file (see `resolve`).

    Checks, after setting, that every PE/SIMD divides the dimension it folds, so a bad folding
    fails here with the layer's name instead of as an assertion inside FINN.
    """

    def __init__(self, spec: dict[str, Any], source: Path):
        super().__init__()
        self.spec, self.source = spec, source

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        config = resolve(model, self.spec, self.source)
        where = places(model)
        for name, attrs in config.items():
            inst = getCustomOp(model.get_node_from_name(name))
            for attr, value in attrs.items():
                try:
                    inst.set_nodeattr(attr, value)
                except Exception as exc:  # qonnx raises bare Exceptions/AssertionErrors for bad values
                    raise ConfigError(f"{self.source}: {where[name]}.{attr}={value!r}: {exc}".splitlines()[0]) from None
            broken = violation(inst)
            if broken is not None:
                attr, constraint = broken
                raise ConfigError(f"{self.source}: {where[name]}.{attr}={inst.get_nodeattr(attr)}: {constraint} "
                                  f"(node {name})")
        return model, False
