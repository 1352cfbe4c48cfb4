"""Automatic folding within a board's budget: PE/SIMD (and weight memory styles) for every HW layer.

FINN's own SetFolding raises each layer's parallelism until a cycle target is met and ignores
resources. Here each layer (a `Unit`: one node, or a depthwise sliding window with the pool it
feeds, which must fold alike) lists every configuration that passes `constraints.violation`,
with FINN's cycle estimate and its resources: the primitives its generated RTL instantiates
where the layer is RTL (`rtl_count`: DSPs, memories), FINN's estimate for the rest. For a cycle target every unit takes its
cheapest configuration that meets it (cost: each resource as a share of its budget, the
weights raised for a resource that overflows); `max` searches the smallest target whose
folding fits. The result says which layer bounds the rate and which resource bounds the folding.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from .constraints import dims, generic_op, violation
from .rtl_count import layer_cost
from .structure import places

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
DEFAULT_BUDGET = 0.7
NEVER = 1 << 30  # a depth trigger no memory reaches


@dataclass
class Option:
    attrs: dict[str, dict[str, Any]]  # node name -> {attribute: value}
    cycles: int
    cost: tuple[float, ...]  # RESOURCES

    @property
    def parallelism(self) -> int:
        return math.prod(v for attrs in self.attrs.values() for a, v in attrs.items() if a in ("PE", "SIMD", "sp"))


@dataclass
class Unit:
    place: str  # e.g. conv1.mvau (+ conv1.pool for a tied pair)
    options: list[Option] = field(default_factory=list)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _choices(inst, uram: bool) -> list[dict[str, Any]]:
    """Every combination of the node's folding attributes (constraints are checked later)."""
    op, known = inst.onnx_node.op_type, inst.get_nodeattr_types()
    axes: dict[str, list[Any]] = {a: _divisors(d) for a, d in dims(inst).items()}
    if generic_op(op) == "ConvolutionInputGenerator" and "parallel_window" in known:
        axes["parallel_window"] = [0, 1]
    if generic_op(op) in ("MVAU", "VVAU") and inst.get_nodeattr("mem_mode") == "internal_decoupled":
        # explicit styles, so that the counted memory is the one the RTL asks for ("auto": Vivado's choice)
        axes["ram_style"] = ["block", "distributed"] + (["ultra"] if uram else [])
        if op.endswith("_hls"):
            axes["resType"] = ["lut", "dsp"]
    if op == "Thresholding_rtl":  # memories at least this deep go to BRAM, shallower ones to LUTRAM
        axes["depth_triggers"] = [(d, NEVER) for d in (1, 64, 256, NEVER)] + ([(1, 1024)] if uram else [])
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]


def _estimate(inst, model, part: str) -> tuple[float, ...]:
    cost = layer_cost(inst, model, part)
    return tuple(cost[r] for r in RESOURCES)


def _set(inst, attrs: dict[str, Any]) -> None:
    for attr, value in attrs.items():
        if attr == "depth_triggers":
            inst.set_nodeattr("depth_trigger_bram", value[0])
            inst.set_nodeattr("depth_trigger_uram", value[1])
        else:
            inst.set_nodeattr(attr, value)


def _evaluate(insts: list, configs: list[dict[str, Any]], model, part: str) -> Optional[Option]:
    for inst, attrs in zip(insts, configs):
        _set(inst, attrs)
    if any(violation(inst) is not None for inst in insts):
        return None
    cycles = max(int(inst.get_exp_cycles()) for inst in insts)
    cost = tuple(map(sum, zip(*(_estimate(inst, model, part) for inst in insts))))
    return Option({inst.onnx_node.name: dict(attrs) for inst, attrs in zip(insts, configs)}, cycles, cost)


def _folding_attrs(inst) -> tuple[Any, dict[str, Any]]:
    names = ("PE", "SIMD", "sp", "parallel_window", "ram_style", "resType", "depth_trigger_bram", "depth_trigger_uram")
    return inst, {a: inst.get_nodeattr(a) for a in names if a in inst.get_nodeattr_types()}


def units(model: ModelWrapper, part: str, uram: bool) -> list[Unit]:
    """The model's HW nodes grouped into units, each with its valid configurations."""
    from finn.util.fpgadataflow import is_hls_node, is_rtl_node

    where = places(model)
    tied: set[str] = set()
    out = []
    for node in model.graph.node:
        if not (is_hls_node(node) or is_rtl_node(node)) or node.name in tied:
            continue
        inst = getCustomOp(node)
        consumer = model.find_consumer(node.output[0])
        saved = [_folding_attrs(inst)] + ([_folding_attrs(getCustomOp(consumer))] if consumer is not None else [])
        if generic_op(node.op_type) == "ConvolutionInputGenerator" and inst.get_nodeattr("depthwise") and \
                consumer is not None and generic_op(consumer.op_type) in ("Pool", "VVAU"):
            # a depthwise window's SIMD is the channels its consumer takes per cycle
            pool = getCustomOp(consumer)
            tied.add(consumer.name)
            unit = Unit(f"{where[node.name]}+{where[consumer.name].role}")
            for d in _divisors(int(inst.get_nodeattr("IFMChannels"))):
                extra = {"parallel_window": 0} if "parallel_window" in inst.get_nodeattr_types() else {}
                option = _evaluate([inst, pool], [{"SIMD": d, **extra}, {"PE": d}], model, part)
                if option is not None:
                    unit.options.append(option)
        else:
            unit = Unit(str(where[node.name]))
            for config in _choices(inst, uram):
                option = _evaluate([inst], [config], model, part)
                if option is not None:
                    unit.options.append(option)
        for inst_, attrs in saved:  # the chosen option is set at the end; until then, as found
            for attr, value in attrs.items():
                inst_.set_nodeattr(attr, value)
        if not unit.options:  # nothing valid to choose (a layer without folding attributes): as it is
            unit.options.append(_evaluate([inst], [{}], model, part) or Option({}, int(inst.get_exp_cycles()),
                                                                               _estimate(inst, model, part)))
        out.append(unit)
    return out


@dataclass
class Folding:
    choice: list[Option]
    cycles: int
    totals: tuple[float, ...]

    def fits(self, budget: tuple[float, ...]) -> bool:
        return all(t <= b + 1e-9 for t, b in zip(self.totals, budget))

    def over(self, budget: tuple[float, ...]) -> list[str]:
        return [r for r, t, b in zip(RESOURCES, self.totals, budget) if t > b + 1e-9]


def _select(all_units: list[Unit], target: int, budget: tuple[float, ...]) -> Folding:
    """Each unit's cheapest option within `target` cycles (else its fastest), cost weighted by
    budget shares; then, while a resource overflows, the option switches that free most of it
    per share of the other resources they take (`_repair`)."""
    weights = [1.0 / b if b > 0 else 1e6 for b in budget]
    choice = []
    for unit in all_units:
        meeting = [o for o in unit.options if o.cycles <= target]
        pool = meeting or [min(unit.options, key=lambda o: o.cycles)]
        # equal cost (FINN estimates nothing for many small layers): the least parallel option
        choice.append(min(pool, key=lambda o: (round(sum(w * c for w, c in zip(weights, o.cost)), 9),
                                               o.parallelism, o.cycles)))
    return _repair(all_units, choice, target, budget)


def _repair(all_units: list[Unit], choice: list[Option], target: int, budget: tuple[float, ...]) -> Folding:
    """Greedy: the weighted choice moves whole classes of layers at once (all thresholds to
    LUTRAM or all to BRAM); a mix that fits is found one switch at a time."""
    scale = [max(b, 1.0) for b in budget]
    totals = [sum(o.cost[i] for o in choice) for i in range(len(RESOURCES))]
    while True:
        over = [i for i, (t, b) in enumerate(zip(totals, budget)) if t > b + 1e-9]
        if not over:
            break
        best, best_score = None, 0.0
        for k, unit in enumerate(all_units):
            current = choice[k]
            for option in unit.options:
                if option.cycles > max(target, current.cycles):
                    continue
                delta = [n - c for n, c in zip(option.cost, current.cost)]
                gain = sum(-delta[i] / scale[i] for i in over)
                if gain <= 1e-12 or any(i not in over and totals[i] + delta[i] > budget[i] + 1e-9
                                        for i in range(len(delta))):
                    continue
                loss = sum(max(0.0, d) / scale[i] for i, d in enumerate(delta) if i not in over)
                score = gain / (loss + 1e-9)
                if score > best_score:
                    best, best_score = (k, option, delta), score
        if best is None:
            break  # nothing frees the overflowing resources: this target does not fit
        k, option, delta = best
        choice[k] = option
        totals = [t + d for t, d in zip(totals, delta)]
    return Folding(choice, max(o.cycles for o in choice), tuple(totals))


def auto_fold(model: ModelWrapper, part: str, board: dict[str, int], target: Union[int, str, None],
              clock_ns: float, fraction: float = DEFAULT_BUDGET) -> dict[str, Any]:
    """Set every HW node's folding; returns what was chosen and why (for finn_report.json).

    `target`: frames/s, or "max" (the fastest folding within budget). `board`: LUT, BRAM36,
    URAM, DSP totals; the budget is `fraction` of each.
    """
    budget = _budget(board, fraction)
    all_units = units(model, part, uram=board.get("URAM", 0) > 0)
    steps = steps_per_frame(model)
    levels = sorted({o.cycles for u in all_units for o in u.options})
    floor = max(min(o.cycles for o in u.options) for u in all_units)  # no folding is faster than this
    levels = [c for c in levels if c >= floor]
    clock_hz = 1e9 / clock_ns
    wanted = None if target in (None, "max") else max(1, int(clock_hz / (int(target) * steps)))
    folding = _select(all_units, max(wanted, floor), budget) if wanted is not None else None
    faster: Optional[Folding] = None  # the next faster folding, which does not fit
    if folding is None or not folding.fits(budget):
        lo, hi = 0, len(levels) - 1
        if wanted is not None:
            lo = next((i for i, c in enumerate(levels) if c >= wanted), hi)
        found = _select(all_units, levels[hi], budget)
        if found.fits(budget):
            while lo < hi:  # the smallest level that fits (fitting grows with the cycle budget)
                mid = (lo + hi) // 2
                trial = _select(all_units, levels[mid], budget)
                if trial.fits(budget):
                    hi, found = mid, trial
                else:
                    lo, faster = mid + 1, trial
            if hi > 0 and faster is None:  # the level just below was never tried
                trial = _select(all_units, levels[hi - 1], budget)
                found, faster = (trial, None) if trial.fits(budget) else (found, trial)
        folding = found
    for option in folding.choice:
        for name, attrs in option.attrs.items():
            _set(getCustomOp(model.get_node_from_name(name)), attrs)
    return _explain(all_units, folding, faster, floor, wanted, target, budget, fraction, clock_hz, steps)


def _explain(all_units, folding: Folding, faster: Optional[Folding], floor: int, wanted: Optional[int], target,
             budget, fraction, clock_hz, steps) -> dict[str, Any]:
    # the slowest unit; among equals, one that cannot go faster (it is what stops the search)
    slowest = max(range(len(all_units)), key=lambda i: (folding.choice[i].cycles,
                                                        min(o.cycles for o in all_units[i].options)))
    fits = folding.fits(budget)
    if folding.cycles <= floor:
        why = "its limit: no valid folding of this layer is faster"
    elif wanted is not None and folding.cycles <= wanted:
        why = "the target"
    elif not fits:
        why = "the budget: even the slowest folding does not fit"
    else:
        why = f"the budget: a faster folding needs more {', '.join(faster.over(budget))}" if faster else "the budget"
    shares = _shares(folding.totals, budget)
    tight = faster.over(budget) if faster is not None else []
    resource = tight[0] if tight else max(shares, key=shares.get)
    return {
        "mode": "automatic", "target_fps": target, "target_cycles": wanted, "budget_fraction": fraction,
        "budget": dict(zip(RESOURCES, budget)), "cycles": folding.cycles, "steps_per_frame": steps,
        "estimated_fps": round(clock_hz / (folding.cycles * steps), 1), "fits": fits,
        "rate_bound": {"layer": all_units[slowest].place, "cycles": folding.cycles, "by": why},
        "resource_bound": {"resource": resource, "share_of_budget": _finite(shares[resource]),
                           "over_budget_if_faster": tight},
        "totals": dict(zip(RESOURCES, folding.totals)),
        "layers": {all_units[i].place: {"cycles": o.cycles, "attrs": list(o.attrs.values())}
                   for i, o in enumerate(folding.choice)},
    }


def _budget(board: dict[str, int], fraction: float) -> tuple[float, ...]:
    return (fraction * board.get("LUT", 0), fraction * 2 * board.get("BRAM36", 0), fraction * board.get("URAM", 0),
            fraction * board.get("DSP", 0))


def _shares(totals: tuple[float, ...], budget: tuple[float, ...]) -> dict[str, float]:
    """Each resource as a share of its budget (a resource the board lacks: 0 if unused, else inf)."""
    return {r: (t / b if b > 0 else (math.inf if t > 0 else 0.0)) for r, t, b in zip(RESOURCES, totals, budget)}


def _finite(share: float) -> Optional[float]:
    return round(share, 4) if math.isfinite(share) else None  # None: needs a resource the board lacks


def steps_per_frame(model: ModelWrapper) -> int:
    """Images streamed per frame: an SNN's LIF nodes hold its time steps, a CNN takes one."""
    steps = [getCustomOp(n).get_nodeattr("time_steps") for n in model.graph.node if generic_op(n.op_type) == "LIF"]
    return max(steps, default=1)


def current_folding(model: ModelWrapper, part: str, board: dict[str, int], clock_ns: float,
                    fraction: float = DEFAULT_BUDGET) -> dict[str, Any]:
    """The same figures as `auto_fold` returns, for the folding the model has now (a hand file's)."""
    from finn.util.fpgadataflow import is_hls_node, is_rtl_node

    budget = _budget(board, fraction)
    where = places(model)
    nodes = [n for n in model.graph.node if is_hls_node(n) or is_rtl_node(n)]
    cycles = {n.name: int(getCustomOp(n).get_exp_cycles()) for n in nodes}
    totals = tuple(map(sum, zip(*(_estimate(getCustomOp(n), model, part) for n in nodes))))
    slowest = max(cycles, key=cycles.get)
    shares = _shares(totals, budget)
    resource = max(shares, key=shares.get)
    steps = steps_per_frame(model)
    return {"cycles": cycles[slowest], "estimated_fps": round(1e9 / clock_ns / (cycles[slowest] * steps), 1),
            "fits": all(t <= b + 1e-9 for t, b in zip(totals, budget)),
            "rate_bound": {"layer": str(where[slowest]), "cycles": cycles[slowest], "by": "the hand folding file"},
            "resource_bound": {"resource": resource, "share_of_budget": _finite(shares[resource]),
                               "over_budget_if_faster": []},
            "totals": dict(zip(RESOURCES, totals))}
