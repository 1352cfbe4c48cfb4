"""The closing summary of `toolchain run`: key figures read back from the run's artifacts, each
hardware figure labelled by how it was obtained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..rundir import ARTIFACTS, MANIFEST


def run_summary(root: Path) -> str:
    lines = [f"run directory {root}"]
    accuracy = _load(root / ARTIFACTS["accuracy"])
    if accuracy:
        top = accuracy["highest_snr"]
        lines.append(f"  accuracy              {accuracy['overall']['accuracy']:.2%} overall, {top['accuracy']:.2%} at "
                     f"{top['snr']} dB ({accuracy['data']['split']} split, {accuracy['overall']['frames']} frames, "
                     f"{top['frames']} at {top['snr']} dB)")
    cost = _load(root / ARTIFACTS["model_cost"])
    if cost:
        lines.append(f"  cost                  {cost['total_bops']:,} bit operations, {cost['total_mem_w_bits']:,} weight bits, "
                     f"challenge score {cost['score']:.4f} (baseline 1.0)")
    finn = _load(root / ARTIFACTS["finn_output"] / "finn_report.json")
    if finn:
        lines += accelerator_lines(finn)
    manifest = _load(root / MANIFEST) or {"stages": {}}
    known = manifest["stages"].get("classify", {}).get("classify", {}).get("known_classes")
    if known and known["frames"]:
        lines.append(capture_line(manifest["stages"]["classify"], known))
    for stage, entry in manifest["stages"].items():
        outputs = ", ".join(entry.get("outputs", {}).values())
        lines.append(f"  {stage:<22}{entry.get('seconds', 0):7.1f} s  {outputs}")
    return "\n".join(lines)


def accelerator_lines(report: dict[str, Any]) -> list[str]:
    """Frames/s, LUT, BRAM36 and DSP of a finn_build, with the board's share and how each was
    obtained: FINN's analytical estimates for a FINN dataflow build; for the SNN's event-driven
    accelerator the stitched RTL's sustained rate and latency where it was simulated (with the
    FIFO model's prediction), then the rate from its C simulation's cycle counts (median over the
    frames it ran), and the resources from the project's analytic estimates."""
    board, t = report["board"], report["totals"]
    totals = board["resources"]
    event = report.get("event_driven") or {}
    if event.get("mapped") and event.get("passed"):
        cycles = event["cycles_per_frame"]
        fps = 1e9 / t["clock_ns"] / cycles["median"]
        res = event["resources"]
        figures = {"LUT": (res["lut"], True), "BRAM36": (res["bram36"], True), "DSP": (res["dsp"], True)}
        rate = (f"{fps:,.0f} frames/s (C-simulated cycle counts, median of {event['frames']} test frames; "
                f"{1e9 / t['clock_ns'] / event['bound_cycles_per_frame']:,.0f} guaranteed)")
        how = "analytic estimates of the project's kernels"
    else:
        r = t["resources"]
        # Block RAM and DSP counted from the generated RTL where the build counted them: FINN's
        # own estimate errs for RTL MVAUs (docs/finn.md); LUT stays FINN's estimate.
        counted = [k for k in ("BRAM36", "DSP") if r[k].get("counted") is not None]
        figures = {k: (r[k]["counted"], True) if k in counted else (r[k]["estimate"], r[k]["complete"])
                   for k in ("LUT", "BRAM36", "DSP")}
        rate = f"{t['estimated_fps']:,.0f} frames/s (FINN estimate; slowest layer {t['bottleneck']})"
        how = (f"{' and '.join(counted)} counted from the generated RTL, the rest FINN estimates" if counted
               else "FINN estimates")
    parts = []
    for name, (value, complete) in figures.items():
        share = f"{100 * value / totals[name]:.1f} %" if totals.get(name) else "n/a"
        parts.append(f"{name} {'>= ' if not complete else ''}{value:,.6g} ({share} of {totals.get(name, 0):,})")
    synthesized = "no Vivado step ran" if "note" in report.get("measured", {}) else "see finn_output/report/"
    rtl = event.get("rtl_simulated") or {}
    if rtl.get("ran"):  # the stitched RTL (the default build's kernels) leads, the HLS C model's figure after
        us = t["clock_ns"] / 1000
        f = rtl.get("formula", {})
        pred = (f", formula {f['frames_per_s']:,.0f}" if "frames_per_s" in f else "",
                f" (formula {f['latency_cycles']['median'] * us:,.1f} us)" if "latency_cycles" in f else "")
        lines = [f"  accelerator           {board['name']} @ {t['clock_mhz']:g} MHz: {rtl['frames_per_s']:,.0f} frames/s "
                 f"sustained by the stitched RTL (RTL-simulated in Verilator, {rtl['frames']} test frames back to back, "
                 f"clock assumed{pred[0]}), latency {rtl['latency_cycles']['median'] * us:,.1f} us median{pred[1]}"
                 + _guaranteed(rtl, us),
                 f"  HLS C model           {rate}"]
    else:
        lines = [f"  accelerator           {board['name']} @ {t['clock_mhz']:g} MHz: {rate}"]
    return lines + [f"  resources             {', '.join(parts)} ({how}; {synthesized})"]


def _guaranteed(rtl: dict[str, Any], us: float) -> str:
    """The stitched RTL's guaranteed rate and latency (worst-case frames), where it ran."""
    st = (rtl.get("worst_case") or {}).get("stitched") or {}
    if not st.get("ran"):
        return ""
    return (f"; guaranteed {st['frames_per_s']:,.0f} frames/s, {st['latency_cycles']['alone'] * us:,.1f} us a frame "
            "alone (the stitched RTL on worst-case frames)")


def capture_line(entry: dict[str, Any], known: dict[str, Any]) -> str:
    summary = entry["classify"]
    model = Path(summary["model"]).name if "model" in summary else "the model"
    return (f"  capture               {known['agreeing']}/{known['frames']} frames agree with the recording's known "
            f"classes ({100 * known['agreement']:.1f} %), classified through {model}")


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None
