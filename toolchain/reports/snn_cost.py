"""Inference cost of an exported SNN (QONNX graph with `toolchain.snn` LIF nodes), in the JSON
format of the CNN report (`toolchain.reports.cost`), pure: dicts and a ModelWrapper in, dict out.

Synapses: qonnx's `inference_cost` costs the Conv / MatMul nodes from their shapes and input
datatypes (the count datatype for the first layer, BINARY spikes after a LIF node, so a spike
MAC costs weight_bits x 1 bit operations). The graph's leading dimension is T time steps of one
frame, so qonnx's MACs are already totals over T; per-step figures are those over T.

Neurons: qonnx cannot cost the LIF node, so this module does. Per neuron and step (one state
update) it counts additions of state_bits width, each state_bits bit operations:
    leak       v - (v >> k)          1 subtraction (the shift is wiring); none when k = 0
    integrate  sat(v1 + I)           1 addition (saturation = the adder's overflow bits + a mux)
    fire       v2 >= theta           1 comparison (a subtraction)            [LIF only]
    reset      v2 - theta            1 subtraction for "subtract"; "zero" is a mux, 0 [LIF only]
    refractory r' = max(r - 1, 0)    1 decrement of the ceil(log2(R+1))-bit counter, if R > 0
State memory: neurons x (state_bits + counter bits), held across the T steps of a frame.

Activity (`cost.activity`, evaluate's energy_report.json): a spike-driven synapse does one
accumulate per input spike and fan-out instead of a dense MAC, so with measured input rates the
synapse work is synops = input_rate x dense MACs, each synop weight_bits bit operations (an
input count of c is c spikes), times the weight density when sparsity is discounted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ToolchainError
from ..snn.lif import refractory_bits
from ..snn.qonnx_ops import DOMAIN
from .cost import BASELINE_BOPS, BASELINE_MEM_W_BITS, _num, challenge_score, unsupported_ops

COUNTED = ("per neuron and step, in additions of state_bits width: leak subtraction (if leak_shift > 0), "
           "saturating add, threshold compare and subtract-reset (LIF only; a zero reset is a mux, not "
           "counted), plus a refractory-counter decrement of counter width (if refractory > 0)")


def is_snn_graph(wrapper) -> bool:
    return any(n.op_type == "LIF" and n.domain == DOMAIN for n in wrapper.graph.node)


def neuron_ops(attrs: dict[str, Any]) -> dict[str, int]:
    """State-width additions and counter decrements of one neuron in one step (module docstring)."""
    lif = attrs["mode"] == "lif"
    adds = int(attrs["leak_shift"] > 0) + 1 + (2 if lif and attrs["reset"] == "subtract" else 1 if lif else 0)
    counter = int(lif and attrs["refractory"] > 0)
    return {"state_adds": adds, "counter_decrements": counter}


def _attrs(node) -> dict[str, Any]:
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    return {k: op.get_nodeattr(k) for k in op.get_nodeattr_types()}


def load_activity(path: str | Path, expected: list[dict[str, Any]]) -> list[float]:
    """Per-layer input rates from evaluate's energy report, checked against the graph's layers
    (`expected`: name, macs_per_step, neurons of each synapse layer)."""
    path = Path(path)
    where = f"{path} (cost.activity)"
    if not path.is_file():
        raise ToolchainError(f"{where}: no such file (run evaluate on an SNN to write energy_report.json)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolchainError(f"{where}: not a readable JSON file ({type(exc).__name__})") from None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise ToolchainError(f"{where}: key 'layers': expected a list of per-layer spike rates, "
                             f"got {type(layers).__name__}")
    if len(layers) != len(expected):
        raise ToolchainError(f"{where}: key 'layers': {len(layers)} entries, the model has {len(expected)} synapse "
                             f"layers ({', '.join(e['name'] for e in expected)})")
    rates = []
    for i, (entry, want) in enumerate(zip(layers, expected)):
        key = f"layers[{i}]"
        if not isinstance(entry, dict) or entry.get("name") != want["name"]:
            got = entry.get("name") if isinstance(entry, dict) else entry
            raise ToolchainError(f"{where}: key '{key}.name': expected {want['name']!r}, got {got!r}")
        rate = entry.get("input_rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate < 0:
            raise ToolchainError(f"{where}: key '{key}.input_rate': expected a number >= 0, got {rate!r}")
        # the report must describe this model: its dense work and neuron count must agree
        for field in ("macs_per_step", "neurons"):
            if field in entry and entry[field] != want[field]:
                raise ToolchainError(f"{where}: key '{key}.{field}': {entry[field]!r}, but the model's layer has "
                                     f"{want[field]} (a report of another model?)")
        rates.append(float(rate))
    return rates


def _layers(wrapper) -> list[dict[str, Any]]:
    """One entry per LIF node, with the Conv/MatMul feeding it: names, shapes, datatypes."""
    out = []
    for lif in (n for n in wrapper.graph.node if n.op_type == "LIF" and n.domain == DOMAIN):
        syn = wrapper.find_producer(lif.input[0])
        if syn is None or syn.op_type not in ("Conv", "MatMul"):
            raise ToolchainError(f"LIF node {lif.name!r}: expected a Conv or MatMul feeding it, got "
                                 f"{syn.op_type if syn is not None else 'a graph input'}")
        attrs = _attrs(lif)
        i_shape, o_shape = wrapper.get_tensor_shape(syn.input[0]), wrapper.get_tensor_shape(syn.output[0])
        weights = wrapper.get_initializer(syn.input[1])
        if syn.op_type == "Conv":  # qonnx's convention: output positions x C_out x C_in x k x k, pads ignored
            macs = int(np.prod(o_shape[1:])) * int(i_shape[1]) * int(np.prod(weights.shape[2:]))
        else:
            macs = int(i_shape[-1]) * int(np.prod(o_shape[1:]))
        rows = int(o_shape[0])
        out.append({"name": f"syn{len(out)}", "syn": syn, "lif": lif, "attrs": attrs, "macs_per_step": macs,
                    "neurons": int(np.prod(wrapper.get_tensor_shape(lif.output[0])[1:])),
                    "steps": attrs["time_steps"], "frames": rows // attrs["time_steps"],
                    "w_bits": wrapper.get_tensor_datatype(syn.input[1]).bitwidth(),
                    "density": float(np.count_nonzero(weights)) / weights.size})
    return out


def snn_cost_report(result: dict[str, Any], wrapper, activity: str = "") -> dict[str, Any]:
    """`result`: qonnx inference_cost(..., cost_breakdown=True) of the SNN graph; `wrapper`: the
    graph it costed (its `output_onnx`); `activity`: path of an energy report, "" = dense."""
    total = {k: _num(v) for k, v in result["total_cost"].items()}
    unsupported = [op for op in unsupported_ops(total) if op != "LIF"]  # costed here
    discount = bool(total.get("discount_sparsity", True))
    layers = _layers(wrapper)
    rates = load_activity(activity, layers) if activity else None
    rows = []
    for i, layer in enumerate(layers):
        cost = result["node_cost"][layer["syn"].name]
        steps, frames, attrs = layer["steps"], layer["frames"], layer["attrs"]
        per_frame = steps * frames  # qonnx's figures cover every row of the graph's leading dimension
        ops = neuron_ops(attrs)
        lif = attrs["mode"] == "lif"
        rbits = refractory_bits(attrs["refractory"]) if lif else 0
        update_bops = ops["state_adds"] * attrs["state_bits"] + ops["counter_decrements"] * rbits
        neuron_bops_step = layer["neurons"] * update_bops
        row: dict[str, Any] = {
            "name": layer["name"], "op_type": layer["syn"].op_type, "node": layer["syn"].name,
            "lif_node": layer["lif"].name, "mode": attrs["mode"],
            "input_datatype": wrapper.get_tensor_datatype(layer["syn"].input[0]).name,
            "weight_bits": layer["w_bits"], "weight_density": layer["density"],
            "macs_per_step": layer["macs_per_step"], "macs": _num(cost.get("total_macs", 0)),
            "dense_synapse_bops": _num(cost.get("total_bops", 0)),
        }
        if rates is not None:
            synops_step = rates[i] * layer["macs_per_step"]
            density = layer["density"] if discount else 1.0
            synapse_bops_step = synops_step * density * layer["w_bits"]
            row.update(input_rate=rates[i], synops_per_step=synops_step, synops=synops_step * per_frame)
        else:
            synapse_bops_step = cost.get("total_bops", 0) / per_frame
        row.update({
            "synapse_bops_per_step": _num(float(synapse_bops_step)),
            "synapse_bops": _num(float(synapse_bops_step * per_frame)),
            "neurons": layer["neurons"], "state_updates_per_step": layer["neurons"],
            "state_bits": attrs["state_bits"], "neuron_ops_per_update": ops,
            "neuron_bops_per_step": neuron_bops_step, "neuron_bops": neuron_bops_step * per_frame,
            "mem_w_bits": _num(cost.get("total_mem_w_bits", 0)), "mem_w_elems": _num(cost.get("total_mem_w_elems", 0)),
            "mem_o_bits": _num(cost.get("total_mem_o_bits", 0)),
            "mem_state_bits": layer["neurons"] * (attrs["state_bits"] + rbits),
        })
        row["bops_per_step"] = _num(float(row["synapse_bops_per_step"] + neuron_bops_step))
        row["bops"] = _num(float(row["synapse_bops"] + row["neuron_bops"]))
        rows.append(row)
    steps, frames = (layers[0]["steps"], layers[0]["frames"]) if layers else (1, 1)

    def sums(key: str) -> Any:
        return _num(float(sum(r[key] for r in rows)))

    flat = {k: v for k, v in total.items() if k != "unsupported"}
    bops, mem_state = sums("bops"), sum(r["mem_state_bits"] for r in rows)
    # "macs" as qonnx counts them (zero weights discounted when discount_sparsity), "dense_macs"
    # every weight of every step (the energy report's macs_per_step)
    per_step = {"macs": _num(float(total.get("total_macs", 0)) / (steps * frames)),
                "dense_macs": sum(r["macs_per_step"] for r in rows), "synapse_bops": sums("synapse_bops_per_step"),
                "neuron_bops": sums("neuron_bops_per_step"), "bops": sums("bops_per_step"),
                "state_updates": sum(r["state_updates_per_step"] for r in rows)}
    over_t = {"macs": total.get("total_macs", 0), "dense_macs": per_step["dense_macs"] * steps * frames,
              "synapse_bops": sums("synapse_bops"),
              "neuron_bops": sums("neuron_bops"), "bops": bops}
    if rates is not None:
        per_step["synops"] = sums("synops_per_step")
        over_t["synops"] = sums("synops")
    score_mem = total["total_mem_w_bits"] + mem_state
    return {
        **flat,
        "total_bops": bops,  # synapses (dense, or activity-discounted) + LIF state updates, over T
        "total_mem_state_bits": mem_state,
        "unsupported": unsupported,
        # the challenge formula with the neuron state counted as memory beside the weights: the
        # state must be held on chip through a frame, which a CNN does not need
        "score": challenge_score(bops, score_mem),
        "score_mem_bits": score_mem,
        "baseline": {"total_bops": BASELINE_BOPS, "total_mem_w_bits": BASELINE_MEM_W_BITS},
        "total_cost": {**total, "unsupported": unsupported},
        "snn": {"time_steps": steps, "frames": frames, "activity": str(activity) or None,
                "per_step": per_step, "over_time_steps": over_t,
                "neuron_ops_counted": COUNTED,
                "synapse_work": "activity: input_rate x dense MACs accumulates of weight_bits each" if rates is not None
                else "dense: every MAC of every step, input_bits x weight_bits each (qonnx)"},
        "layers": rows,
    }
