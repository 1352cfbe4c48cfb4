"""The FINN build's section of the run report, from `finn_output/finn_report.json`.

Every figure carries how it was obtained, as the build report states it: FINN's (and the
toolchain's) analytical models are estimates; the event-driven SNN accelerator's cycles per frame
are counted in its g++ C simulation; `measured` holds what the Vivado steps produced where they
ran (RTL simulation of the stitched design, synthesis). Nothing here claims a tool ran that the
report does not say ran.
"""

from __future__ import annotations

from typing import Any, Optional

from .page import Outputs, Section, Table, fmt, pct

RESOURCES = ("LUT", "FF", "BRAM36", "URAM", "DSP")
# finn_report.json's `measured` entries (written only where Vivado ran) and how each was obtained.
MEASURED_HOW = {"rtlsim_performance": "RTL-simulated", "fifo_sizing": "RTL-simulated",
                "post_synth_resources": "synthesized", "ooc_synth_and_timing": "synthesized"}


def finn_section(s: Section, out: Outputs) -> None:
    if out.has("finn_report"):
        out.use("finn_report", lambda r: _report(s, r))
    for name, caption, how in (("finn_report_plot", "Cycles and resources per layer", "estimate"),
                               ("event_driven_plot", "Event-driven accelerator: cycles per frame over the test "
                                                     "frames", "C-simulated")):
        fig = out.png(name, caption, how)
        if fig:
            s.figures.append(fig)


def _report(s: Section, r: dict[str, Any]) -> None:
    t, board, event = r["totals"], r["board"], r.get("event_driven")
    s.summary = (f"{board['name']} at {t['clock_mhz']:g} MHz: {t['cycles_per_frame']:,} cycles per frame, "
                 f"{t['estimated_fps']:,.0f} frames/s, rate bound by {_rate_bound(r)} (estimates)")
    s.fact("build", f"{r.get('build_folder', r.get('build', '?'))} on {board['name']} ({board.get('part', '?')}), "
                    f"clock {t['clock_mhz']:g} MHz")
    per_step = f" ({t['time_steps']} time steps x {t['cycles_per_step']:,})" if "time_steps" in t else ""
    s.fact("cycles per frame", f"{t['cycles_per_frame']:,}{per_step}", "estimate")
    s.fact("frames per second", f"{t['estimated_fps']:,.1f}", "estimate")
    s.fact("latency", f"{t['estimated_latency_us']:,.2f} us ({t['latency_cycles']:,} cycles)", "estimate")
    s.fact("rate-bounding layer", _rate_bound(r), "estimate")
    folding = _folding(r.get("folding") or {})
    if folding:
        s.fact("folding", folding)
    steps = r.get("steps") or {}
    if steps:
        s.fact("FINN steps run", ", ".join(steps.get("ran", [])))
        if steps.get("skipped"):
            s.fact("steps skipped", f"{', '.join(steps['skipped'])} ({steps.get('skipped_because', 'not run')})")
    verification = _verification(r.get("verification") or {})
    if verification:
        s.fact("verification", *verification)
    s.tables.append(_resources(r))
    s.tables.append(_layers(r, event))
    if event:
        _event_driven(s, event)
    _labelled_extras(s, r)
    for name, found in (r.get("measured") or {}).items():
        if name in MEASURED_HOW and isinstance(found, dict):
            rows = [[k, v if isinstance(v, str) else fmt(v)] for k, v in _flat(found)]
            s.tables.append(Table(f"{name.replace('_', ' ')} ({name}.json)", ["figure", "value"], rows,
                                  how_of(found, MEASURED_HOW[name])))
    if not any(name in MEASURED_HOW for name in (r.get("measured") or {})):
        s.notes.append("No Vivado/Vitis step ran: nothing here is RTL-simulated or synthesized.")
    s.notes += list(r.get("notes", []))


def how_of(entry: Any, default: str = "") -> str:
    """The label of an entry that says how it was obtained (a `source`, `obtained` or `how` text
    such as "synthesized (Yosys 0.70 synth_xilinx, out of context)"); else `default`."""
    text = next((entry[k] for k in ("how", "obtained", "source") if isinstance(entry, dict)
                 and isinstance(entry.get(k), str)), "").lower()
    for label in ("synthesized", "rtl-simulated", "c-simulated", "estimate", "measured"):
        if text.startswith(label) or (label == "rtl-simulated" and text.startswith("rtl simulat")):
            return {"rtl-simulated": "RTL-simulated", "c-simulated": "C-simulated"}.get(label, label)
    return default


def _labelled_extras(s: Section, r: dict[str, Any]) -> None:
    """Entries of finn_report.json this page has no layout for but that say how they were
    obtained (e.g. an RTL synthesis of the kernels): a table each, with their label."""
    known = {"model", "build_folder", "build", "board", "folding", "steps", "layers", "totals", "notes", "code",
             "verification", "measured", "event_driven"}
    for name, entry in r.items():
        if name not in known and how_of(entry):
            rows = [[k, v if isinstance(v, str) else fmt(v)] for k, v in _flat(entry)]
            s.tables.append(Table(name.replace("_", " "), ["figure", "value"], rows, how_of(entry)))


def _rate_bound(r: dict[str, Any]) -> str:
    bound = (r.get("folding") or {}).get("rate_bound")
    if bound:
        return f"{bound['layer']} ({bound['cycles']:,} cycles; {bound['by']})"
    return str(r["totals"]["bottleneck"])


def _folding(f: dict[str, Any]) -> str:
    if "rate_bound" not in f:
        return str(f.get("note", f.get("mode", "")))
    hand = f.get("hand_file")
    if hand and hand.get("applied"):
        how = f"the hand folding file {hand['file']}"
    else:
        target = f.get("target_fps")
        how = (f"automatic, target {'max' if target == 'max' else fmt(target) + ' fps'} within "
               f"{pct(f.get('budget_fraction'), 0)} of {f.get('board', 'the board')}")
    res = f["resource_bound"]
    fit = "fits the budget" if f.get("fits") else "DOES NOT FIT the budget"
    return f"{how}; resource bound: {res['resource']} ({pct(res.get('share_of_budget'), 0)} of budget); {fit}"


def _verification(v: dict[str, Any]) -> Optional[tuple[str, str]]:
    if "passed" not in v:
        return None
    frames = v.get("frames", v.get("inputs"))
    csim = v.get("csim") or {}
    how = "C-simulated" if csim.get("ran") else ""  # else: graphs executed in Python, no hardware model
    what = "classes identical" if v["passed"] else "MISMATCH: " + ", ".join(
        f"{k} {n}" for k, n in (v.get("mismatches") or {}).items() if n)
    compared = [m for m in ("pytorch", "qonnx", "streamlined", "hw", "csim") if m in (v.get("classes") or {})]
    models = f" ({', '.join(compared)})" if compared else ""
    return f"{'passed' if v['passed'] else 'FAILED'} on {fmt(frames)} frames: {what}{models}", how


def _resources(r: dict[str, Any]) -> Table:
    res, board = r["totals"]["resources"], r["board"]
    fraction = (r.get("folding") or {}).get("budget_fraction")
    rows = []
    for name in RESOURCES:
        e = res.get(name)
        if e is None:
            continue
        value = "n/a" if e["estimate"] is None else (">= " if not e.get("complete", True) else "") + fmt(e["estimate"])
        share = pct(e.get("share")) + (" (lower bound)" if e.get("share_is_lower_bound") else "")
        total = e.get("board", board.get("resources", {}).get(name))
        row = [name, value, fmt(total), share]
        if fraction is not None:
            row.append(fmt(round(fraction * total)) if total else "n/a")
        rows.append(row)
    columns = ["resource", "design", "board", "share of board"] + (["folding budget"] if fraction is not None else [])
    missing = {n: res[n]["not_estimated"] for n in RESOURCES if res.get(n, {}).get("not_estimated")}
    layers = len(r["layers"])
    note = "; ".join(f"{n}: {res[n].get('note', 'no estimate')}" if v == ["all"] or len(v) == layers else
                     f"{n}: not estimated for {len(v)} of {layers} layers (n/a in the per-layer table), so the "
                     "design's figure is a lower bound" for n, v in missing.items())
    return Table(f"Resources against the {board['name']} ({board.get('part', '')})", columns, rows, "estimate",
                 note=note)


def _layers(r: dict[str, Any], event: Optional[dict[str, Any]]) -> Table:
    layers = r["layers"]
    bound = (r.get("folding") or {}).get("rate_bound")
    bottleneck = str(r["totals"]["bottleneck"])
    slowest = next((i for i, row in enumerate(layers)
                    if (row["layer"] == bound["layer"] if bound else f"({row['name']})" in bottleneck)), None)
    footnotes: list[str] = []  # each distinct note once, referenced by number from its layers
    rows = []
    for row in layers:
        marks = []
        for text in row.get("notes", []):
            if text not in footnotes:
                footnotes.append(text)
            marks.append(f"[{footnotes.index(text) + 1}]")
        rows.append([row["layer"], row["op_type"], fmt(row.get("PE")), fmt(row.get("SIMD")), fmt(row["cycles"]),
                     fmt(row.get("LUT")), fmt(row.get("FF")), fmt(row.get("BRAM_18K")), fmt(row.get("URAM")),
                     fmt(row.get("DSP")), " ".join(marks)])
    note = "The highlighted row bounds the frame rate. n/a: no model for that figure. " + " ".join(
        f"[{i}] {text}." for i, text in enumerate(footnotes, 1))
    if event:
        note += (" Event-driven kernels: cycles are the median over the build's verification frames of their "
                 "C-simulated event loops; resources are the toolchain's analytic estimates.")
    labels = {how_of(row, "estimate") for row in layers}
    return Table("Per layer", ["layer", "op", "PE", "SIMD", "cycles", "LUT", "FF", "BRAM_18K", "URAM", "DSP",
                               "notes"], rows, labels.pop() if len(labels) == 1 else "", note=note, highlight=slowest)


def _event_driven(s: Section, e: dict[str, Any]) -> None:
    if not e.get("mapped"):
        s.notes.append(f"event-driven accelerator not mapped: {e.get('reason')}")
        return
    check, src = e["check"], e.get("frames_source", {})
    where = f"the {src['split']} split of {src['file']}" if "file" in src else "the verification frames"
    s.fact("event-driven accelerator", f"{'bit exact' if e['passed'] else 'NOT bit exact'} against PyTorch on "
                                       f"{check['frames']:,} frames of {where}", "C-simulated")
    if not e["passed"]:
        return
    f = e["cycles_per_frame"]
    s.fact("cycles per frame (accelerator)", f"median {f['median']:,.0f}, p99 {f['p99']:,.0f}, worst {f['worst']:,}; "
                                             f"guaranteed bound {e['bound_cycles_per_frame']:,}", "C-simulated")
    rows = [[name, fmt(c["median"]), fmt(c["p99"]), fmt(c["worst"]), fmt(e["bound_per_kernel"].get(name))]
            for name, c in e["cycles_per_kernel"].items()]
    s.tables.append(Table("Event-driven accelerator: cycles per frame per kernel",
                          ["kernel", "median", "p99", "worst", "bound (every input active)"], rows, "C-simulated",
                          note="median, p99 and worst: counted in the C simulation over the frames above; the bound "
                               "is analytic."))
    res = e.get("resources") or {}
    if res:
        s.fact("accelerator resources", ", ".join(f"{k.upper()} {fmt(v)}" for k, v in res.items()), "estimate")
    if e.get("fifo_depths"):
        s.fact("FIFO depths", ", ".join(f"{k} {v}" for k, v in e["fifo_depths"].items()), "estimate")
    _rtl_measured(s, e.get("rtl_simulated"))


def _rtl_measured(s, m: dict[str, Any] | None) -> None:
    """The stitched RTL accelerator's measured figures (accel_measure.py) beside the formulas'."""
    if not m:
        return
    if not m.get("ran"):
        s.notes.append(f"stitched RTL accelerator not simulated: {m.get('reason')}")
        return
    f, lat, w = m["formula"], m["latency_cycles"], m["worst_case"]
    s.fact("sustained frames/s (stitched RTL)",
           f"{m['frames_per_s']:,.0f} on {m['frames']:,} frames back to back at {m['clock']}; formula "
           f"{f['frames_per_s']:,.0f}; classes {'equal to' if m['passed'] else 'DIFFERENT from'} the model's",
           "RTL-simulated")
    s.fact("latency, first sample in to class out",
           f"median {lat['median']:,.0f}, p99 {lat['p99']:,.0f}, worst {lat['worst']:,} cycles back to back (with the "
           f"wait behind earlier frames); a frame alone: median {m['latency_alone_cycles']['median']:,.0f}",
           "RTL-simulated")
    s.fact("worst case, each kernel alone on its worst-case frames",
           f"{w['bound_cycles_per_frame']:,} cycles ({w['bounded_by']}); formula {max(w['formula_per_kernel'].values()):,}",
           "RTL-simulated")
    st = w.get("stitched") or {}
    if st.get("ran"):
        s.fact("guaranteed (the stitched accelerator on worst-case frames)",
               f"{st['guaranteed_cycles_per_frame']:,} cycles between class words ({st['frames_per_s']:,.0f} "
               f"frames/s at {m['clock']}; FIFO model {st['formula']['fifo_model_interval']:,}), latency "
               f"{st['latency_cycles']['alone']:,} cycles alone, {st['latency_cycles']['back_to_back']['worst']:,} "
               f"back to back; classes and membranes {'equal to' if st['passed'] else 'DIFFERENT from'} the worst-case "
               f"network's model{'' if not st['problems'] else '; BOUND BROKEN: ' + '; '.join(st['problems'])}",
               "RTL-simulated")
    rows = [[k, fmt(b["median"]), fmt(b["p99"]), fmt(b["worst"]), fmt(f["busy_cycles_per_kernel"][k]["median"]),
             fmt(w["per_kernel"][k])] for k, b in m["busy_cycles_per_kernel"].items()]
    rows += [[f"FIFO {k} (depth {m['fifo_depths'][k]:,})", fmt(p), "", "", fmt(f["fifo_peak_occupancy"][k]), ""]
             for k, p in m["fifo_peak_occupancy"].items()]
    s.tables.append(Table("Stitched RTL accelerator: busy cycles per frame per kernel, FIFO occupancy",
                          ["kernel / FIFO", "median (FIFO: highest occupancy)", "p99", "worst", "formula median",
                           "worst-case frame"], rows, "RTL-simulated",
                          note="Verilator, cycle by cycle, input valid every cycle and output always ready; the "
                               "formula column is the cycle formulas' (FIFOs: the FIFO model's) on the same frames."))


def _flat(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += _flat(v, f"{prefix}{k}.")
        elif not isinstance(v, list):
            rows.append((f"{prefix}{k}", v))
    return rows
