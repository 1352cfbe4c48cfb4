"""finn_report.json from a FINN HW model: pure functions, no file I/O.

Per layer: FINN's analytical cycle and resource estimates (`get_exp_cycles`,
`node_res_estimation`), labelled as such, beside the DSPs and memories counted from the
generated RTL for RTL layers (`rtl_count`) and, with `finn.synthesize_rtl`, Yosys' synthesis. Where FINN has no model for a resource of an op, the value is None with
a note, never a 0 that reads like a measurement:
- LUTs of ops that do not override `lut_estimation` (FMPadding, Pool, LabelSelect, ...);
- LUTs of the RTL matrix/vector units (FINN counts their DSPs and memories only);
- LUTs of the elementwise ops beyond their parameter memory;
- flip-flops: FINN estimates none;
- FIFOs and data width converters: they are inserted by FIFO sizing (needs Vivado), after
  the estimates.
Totals sum what is estimated and say which layers are missing.
"""

from __future__ import annotations

from typing import Any, Optional

from .rtl_count import HOW as COUNTED, layer_counts
from .structure import generic_op, places

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
LUT_NOT_MODELLED = {
    "MVAU_rtl": "FINN models the RTL matrix-vector unit by its DSPs and memories; its LUTs are not estimated",
    "VVAU_rtl": "FINN models the RTL vector unit by its DSPs and memories; its LUTs are not estimated",
}
LUT_PARTIAL = {
    "ElementwiseAdd": "FINN counts only LUTs of distributed parameter memory ({lut}), not the arithmetic",
    "ElementwiseMul": "FINN counts only LUTs of distributed parameter memory ({lut}), not the arithmetic",
}
ESTIMATE = "FINN estimate (analytical model)"
COUNTED_RESOURCES = ("BRAM_18K", "URAM", "DSP")
NOTES = [
    "Estimates are FINN's analytical models (before synthesis), not measurements.",
    "counted: DSP slices the RTL layers instantiate and their memories mapped to BRAM/URAM/LUTRAM, from the "
    "generated RTL's parameters (toolchain/hw/finn/rtl_count.py, equal to Yosys' elaboration); HLS layers "
    "and memories not modelled there keep FINN's estimate. The folding and the budget check use the counted figures.",
    "FIFOs and data width converters are inserted by FIFO sizing (step_set_fifo_depths, needs Vivado); "
    "they are not in these figures.",
    "BRAM/URAM/DSP: ops without a FINN model for them (e.g. FMPadding, Pool, LabelSelect) count as using none.",
    "FF: FINN has no flip-flop estimate; only the toolchain's own ops (the SNN's LIF) give one, so the FF total is a lower bound.",
]
SNN_NOTES = [
    "SNN: each layer's cycles are per time step (FINN's graph is one step); a frame is time_steps steps "
    "streamed back to back, so cycles_per_frame = time_steps x the slowest layer's cycles.",
    "SNN: the LIF layers' LUT and BRAM figures are the toolchain's own model (docs/snn_hardware.md), "
    "not fitted to synthesis results yet.",
]


EVENT_NOTES = [
    "SNN (event-driven): the graph is one frame; each kernel's cycles are the median over the build's "
    "verification frames of its measured event-loop iterations plus its sweeps (node attribute exp_event_cycles; "
    "the guaranteed bound with every input active is in event_driven.bound_per_kernel).",
    "SNN (event-driven): LUT, FF and BRAM of the kernels are the toolchain's analytic formulas "
    "(toolchain/hw/snn/resources.py, docs/snn_hardware.md), not fitted to synthesis results.",
    "SNN (event-driven): the nodes are the kernels' RTL backends (<Op>_rtl; <Op>_hls with finn.event_impl_style: "
    "hls); their cycles and estimates are the op's and the same for either backend; event_driven.rtl_simulated "
    "is the stitched RTL measured in Verilator.",
]


def _lut_gap(inst) -> Optional[str]:
    from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp

    op = inst.onnx_node.op_type
    if op in LUT_NOT_MODELLED:
        return LUT_NOT_MODELLED[op]
    if generic_op(op) in LUT_PARTIAL:
        return LUT_PARTIAL[generic_op(op)]
    if type(inst).lut_estimation is HWCustomOp.lut_estimation:
        return f"FINN has no LUT model for {op}"
    return None


def layer_rows(model, fpgapart: str) -> list[dict[str, Any]]:
    """One row per HW node, in graph order."""
    from finn.util.basic import getHWCustomOp
    from finn.util.fpgadataflow import is_hls_node, is_rtl_node

    where = places(model)
    rows = []
    for node in model.graph.node:
        if not (is_hls_node(node) or is_rtl_node(node)):
            continue
        inst = getHWCustomOp(node)
        attrs = inst.get_nodeattr_types()
        est = inst.node_res_estimation(fpgapart)
        row: dict[str, Any] = {
            "name": node.name, "layer": str(where[node.name]), "op_type": node.op_type,
            "PE": inst.get_nodeattr("PE") if "PE" in attrs else None,
            "SIMD": inst.get_nodeattr("SIMD") if "SIMD" in attrs else None,
            "cycles": int(inst.get_exp_cycles()),
            **{r: float(est.get(r, 0)) for r in RESOURCES},
            # FINN has no flip-flop model; an op of the toolchain's own may bring one
            "FF": float(inst.ff_estimation(fpgapart)) if hasattr(inst, "ff_estimation") else None,
            "notes": [],
        }
        if hasattr(inst, "get_bound_cycles"):  # data-dependent cycles (the SNN's event-driven ops): every input active
            row["bound_cycles"] = int(inst.get_bound_cycles())
        gap = _lut_gap(inst)
        if gap is not None:
            row["notes"].append(gap.format(lut=int(row["LUT"])))
            row["LUT"] = None
        row["source"] = ESTIMATE
        counted = layer_counts(inst, model, fpgapart)
        row["counted"] = None if counted is None else {**counted, "source": COUNTED}
        if counted is not None and counted["DSP"] != row["DSP"]:
            row["notes"].append(f"DSP: the RTL instantiates {counted['DSP']:,}, FINN estimates {row['DSP']:g}")
        rows.append(row)
    return rows


def network_performance(model) -> dict[str, Any]:
    """FINN's dataflow_performance: the slowest layer and the critical path, in cycles."""
    from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles

    perf = model.transform(AnnotateCycles()).analysis(dataflow_performance)
    return {"max_cycles": int(perf["max_cycles"]), "max_cycles_node": perf["max_cycles_node_name"],
            "critical_path_cycles": int(perf["critical_path_cycles"])}


def totals(rows: list[dict[str, Any]], perf: dict[str, Any], clock_ns: float,
           board: dict[str, int], time_steps: int = 1) -> dict[str, Any]:
    """Cycles per frame (the slowest layer: the pipeline's initiation interval), fps and
    latency at the clock, resource sums and their share of the board. An SNN's graph is one
    time step and a frame is `time_steps` of them streamed back to back: the slowest layer
    sets the interval between steps, and the last step leaves T - 1 intervals after the first."""
    clock_hz = 1e9 / clock_ns
    bottleneck = next((r for r in rows if r["name"] == perf["max_cycles_node"]), None)
    frame = perf["max_cycles"] * time_steps
    latency = perf["critical_path_cycles"] + (time_steps - 1) * perf["max_cycles"]
    out: dict[str, Any] = {
        "cycles_per_frame": frame,
        "bottleneck": f"{bottleneck['layer']} ({bottleneck['name']})" if bottleneck else perf["max_cycles_node"],
        "clock_ns": clock_ns, "clock_mhz": round(clock_hz / 1e6, 3),
        "estimated_fps": round(clock_hz / frame, 1),
        "latency_cycles": latency,
        "estimated_latency_us": round(latency * clock_ns / 1e3, 3),
        "resources": {},
    }
    if time_steps > 1:
        out.update(time_steps=time_steps, cycles_per_step=perf["max_cycles"])
    for res in ("LUT", "BRAM_18K", "URAM", "DSP"):
        missing = [r["layer"] for r in rows if r[res] is None]
        value = sum(r[res] for r in rows if r[res] is not None)
        out["resources"][res] = {"estimate": value, "complete": not missing, "not_estimated": missing}
    bram = out["resources"]["BRAM_18K"]
    out["resources"]["BRAM36"] = {**bram, "estimate": bram["estimate"] / 2, "note": "BRAM_18K / 2"}
    for res in COUNTED_RESOURCES:  # FINN's estimate stands in where a layer has no count
        entry = out["resources"][res]
        known = [(r.get("counted") or {}).get(res) is not None for r in rows]
        entry["counted"] = sum(r["counted"][res] if k else (r[res] or 0) for r, k in zip(rows, known))
        entry["counted_layers"] = sum(known)
        entry["estimate_stands_in_for"] = [r["layer"] for r, k in zip(rows, known) if not k and r[res]]
        entry["counted_source"] = COUNTED
    bram = out["resources"]["BRAM_18K"]
    out["resources"]["BRAM36"].update(counted=bram["counted"] / 2, counted_layers=bram["counted_layers"],
                                      estimate_stands_in_for=bram["estimate_stands_in_for"], counted_source=COUNTED)
    lutram = [r["counted"]["LUTRAM"] for r in rows if (r.get("counted") or {}).get("LUTRAM") is not None]
    out["resources"]["LUT"]["lutram_counted"] = sum(lutram)
    ff = [r["FF"] for r in rows if r.get("FF") is not None]
    out["resources"]["FF"] = {"estimate": sum(ff) if ff else None, "complete": False,
                              "not_estimated": [r["layer"] for r in rows if r.get("FF") is None] or ["all"],
                              "note": "FINN has no flip-flop estimate; only the toolchain's own ops (LIF) give one"}
    for res in ("LUT", "FF", "BRAM36", "URAM", "DSP"):
        entry, total = out["resources"][res], board.get(res, 0)
        entry["board"] = total
        if entry["estimate"] is None:
            entry["share"] = None
        elif total > 0:
            entry["share"] = round(entry["estimate"] / total, 4)
        else:
            entry["share"] = 0.0 if entry["estimate"] == 0 else None
            if entry["estimate"]:
                entry["note"] = f"the design needs {res} but the board has none"
        if entry["share"] is not None and not entry["complete"]:
            entry["share_is_lower_bound"] = True
        if "counted" in entry:
            entry["counted_share"] = round(entry["counted"] / total, 4) if total > 0 else (
                0.0 if entry["counted"] == 0 else None)
    return out


def add_synthesis(rows: list[dict[str, Any]], totals_: dict[str, Any], synth: dict[str, dict[str, Any]]) -> None:
    """Yosys' figures per RTL layer (`synthesized`) and their sums; HLS layers say they have none."""
    for row in rows:
        row["synthesized"] = synth.get(row["name"])
        if row["synthesized"] is None:
            row["notes"].append("not synthesized: an HLS layer has no RTL before Vitis HLS runs (FINN estimate only)")
    done = [r["synthesized"] for r in rows if r["synthesized"] is not None]
    sums = {k: sum(s[k] for s in done) for k in ("LUT", "LUTRAM", "SRL", "FF", "BRAM_18K", "URAM", "DSP")}
    totals_["synthesized"] = {**sums, "layers": len(done), "not_synthesized": [r["layer"] for r in rows
                                                                               if r["synthesized"] is None],
                              "source": done[0]["source"] if done else None,
                              "note": "RTL layers only, each out of context; Yosys infers no SRLs from FINN's "
                                      "shift-register coding, so FF runs high"}
    # The budget check cannot use these (synthesis follows the folding), so say where Yosys'
    # count alone already exceeds the board: the official baseline's LUTs on ZCU104 do.
    boards = {k: (totals_.get("resources", {}).get(k) or {}).get("board") for k in ("LUT", "FF", "DSP", "BRAM_18K")}
    share = {k: round(sums[k] / b, 4) for k, b in boards.items() if b}
    totals_["synthesized"].update(share=share, over_board=sorted(k for k, v in share.items() if v > 1))


def budget_check(totals_: dict[str, Any], budget: dict[str, float]) -> dict[str, Any]:
    """The counted DSP, BRAM and URAM of the finished HW graph against the folding's budget."""
    pairs = {"DSP": "DSP", "BRAM_18K": "BRAM_18K", "URAM": "URAM"}
    over = {r: {"counted": totals_["resources"][r]["counted"], "budget": budget[b]}
            for r, b in pairs.items() if totals_["resources"][r]["counted"] > budget[b] + 1e-9}
    return {"within_budget": not over, "over": over, "source": COUNTED}


def summary_line(report: dict[str, Any]) -> str:
    t = report["totals"]
    res = t["resources"]

    def fig(name: str) -> str:
        e = res[name]
        if e["estimate"] is None:
            return f"{name} n/a"
        share = f" ({100 * e['share']:.1f} %)" if e["share"] is not None else ""
        return f"{name} {'>= ' if not e['complete'] else ''}{e['estimate']:,.0f}{share}"

    def counted(name: str) -> str:
        e = res[name]
        share = f" ({100 * e['counted_share']:.1f} %)" if e.get("counted_share") is not None else ""
        return f"{name} {e['counted']:,.0f}{share}"

    return (f"{report['board']['name']} @ {t['clock_mhz']:g} MHz: {t['cycles_per_frame']} cycles/frame -> "
            f"{t['estimated_fps']:,.0f} fps, latency {t['estimated_latency_us']:,.1f} us (estimates); "
            + ", ".join(fig(n) for n in ("LUT", "BRAM36", "URAM", "DSP"))
            + "; counted from the RTL: " + ", ".join(counted(n) for n in ("BRAM36", "URAM", "DSP")))


def folding_line(folding: dict[str, Any]) -> str:
    """One line: how the folding was chosen, which layer bounds the rate and which resource the folding."""
    if "rate_bound" not in folding:
        return f"folding: {folding.get('note', folding.get('mode'))}"
    hand, rate, res = folding.get("hand_file"), folding["rate_bound"], folding["resource_bound"]
    if hand and hand["applied"]:
        how = f"{hand['file']} (written for this model, {folding['signature']}) over the automatic folding"
    else:
        target = folding["target_fps"]
        how = (f"automatic, target {'max' if target == 'max' else f'{target:,} fps'} within "
               f"{100 * folding['budget_fraction']:g} % of {folding['board']}")
        if hand:
            how += (f" ({hand['file']} is written for model {hand['written_for']['signature']}, this one is "
                    f"{folding['signature']})")
    share = res["share_of_budget"]
    fit = "" if folding["fits"] else "; DOES NOT FIT the budget"
    return (f"folding {how}: rate bound by {rate['layer']} ({rate['cycles']:,} cycles, {rate['by']}); "
            f"resource bound: {res['resource']} ({'n/a' if share is None else f'{100 * share:.0f} %'} of budget){fit}")
