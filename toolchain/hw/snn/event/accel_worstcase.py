"""The guaranteed bound of the event-driven accelerator, checked in RTL simulation (Verilator).

`rtl_bound` is the kernels' cycle formula when every input event is present
(`resources.cycle_bound`, with the RTL readout's extra cycles), `reachable_bound` the same where a
refractory period keeps a neuron that fired silent (then not every neuron can fire in every
step). `worst_case` streams each kernel alone, fed its worst-case frames (`worst_case_streams`:
every input event present), and measures its cycles per frame beside `rtl_bound`; `stitched`
runs the whole stitched accelerator on frames where every kernel meets its worst case at once
(accel_worstnet.py), where the kernels also wait on each other through the FIFOs: its interval
between class words is the guaranteed figure, checked bit exact and against the formulas and
the FIFO model. All at an assumed 250 MHz (accel_rtl.CLOCK_MHZ): nothing here checks timing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ....errors import ToolchainError
from ...rtl import stream
from .. import resources
from . import accel_rtl
from .accel_measure import LABEL, fps, readout_extra
from .accelerator import AcceleratorSpec
from .conv import rtl as conv_rtl
from .encoder import rtl as enc_rtl
from .readout import rtl as dense_rtl


def rtl_bound(spec: AcceleratorSpec) -> dict[str, int]:
    """`resources.cycle_bound` (every input event present) for the RTL kernels: the readout takes
    STEP_EXTRA_CYCLES more a step (its pipelines drain) and sends NO + 1 output words a frame."""
    bound = dict(resources.cycle_bound(spec))
    bound[spec.dense.name] += readout_extra(spec)
    return bound


def _conv0_counts(spec: AcceleratorSpec) -> np.ndarray:
    """conv0's worst-case input counts (T, 1, R, R): `group` events a step, on distinct cells while
    there are cells enough (BINARY keeps at most one per cell and step), then round again."""
    e = spec.encoder
    cells = e.resolution ** 2
    events = min(e.group, cells) if e.binary else e.group
    per_step = np.bincount(np.arange(events) % cells, minlength=cells)
    return np.broadcast_to(per_step.reshape(1, 1, e.resolution, e.resolution),
                           (spec.steps, 1, e.resolution, e.resolution)).copy()


def worst_case_streams(spec: AcceleratorSpec) -> list[tuple[str, str, np.ndarray, int]]:
    """Per kernel: (name, its stream_top, the words of one worst-case frame, the frame bit of its
    output): every input event present (the encoder: every sample kept on a cell of its own)."""
    from .accel_worstnet import cell_codes
    from .spike_words import encode_frame

    e = spec.encoder
    r = e.resolution
    cell = np.arange(e.frame) % e.group % (r * r)  # distinct cells within a step
    codes = cell_codes(spec, cell)
    last = np.eye(1, e.frame, e.frame - 1, dtype=np.int64)[0]
    out = [("encoder", enc_rtl.render_top(e), enc_rtl.input_words(e, codes, last), enc_rtl.out_format(e).frame_bit)]
    counts = _conv0_counts(spec)
    for c in spec.convs:
        fmt = conv_rtl.in_format(c)
        words = stream.to_words(encode_frame(counts, fmt, c.cin, c.width), fmt.width)
        out.append((c.name, conv_rtl.render_top(c), words, conv_rtl.out_format(c).frame_bit))
        counts = np.ones((spec.steps, c.cout, c.height, c.width), np.int64)
    d = spec.dense
    words = stream.to_words(encode_frame(counts, dense_rtl.in_format(d), d.cin, spec.convs[-1].width),
                            dense_rtl.in_format(d).width)
    out.append((d.name, dense_rtl.render_top(d), words, dense_rtl.LAST_BIT))
    return out


def worst_case(spec: AcceleratorSpec, work_dir: Path, cache_dir: Optional[os.PathLike] = None,
               frames: int = 3, model_cfg=None, depths: Optional[list[int]] = None,
               optimize: bool = True) -> dict[str, Any]:
    """Each kernel alone fed `frames` worst-case frames back to back at full rate, output always
    ready: its cycles per frame (between its last two frame ends out) beside `rtl_bound`; and,
    given the model config `spec` was mapped from and the FIFO `depths`, the whole stitched
    accelerator on worst-case frames (`stitched`, key "stitched"): the guaranteed interval is
    the stitched one, where the kernels also wait on each other through the FIFOs."""
    bound = rtl_bound(spec)
    accel_rtl.write_roms(spec, work_dir)
    measured = {}
    for name, top, words, frame_bit in worst_case_streams(spec):
        sources = {"encoder": (enc_rtl.SOURCE,),
                   spec.dense.name: dense_rtl.SOURCES}.get(name, conv_rtl.SOURCES)
        exe = stream.build(sources, top, work_dir / name, cache_dir=cache_dir)
        rep = np.concatenate([words] * frames) if words.ndim == 1 else np.vstack([words] * frames)
        res = stream.run(exe, rep, frame_bit=frame_bit, frames=frames, cwd=work_dir)
        ends = res.cycles_out[stream.field(res.words, frame_bit, 1) == 1]
        measured[name] = int(ends[-1] - ends[-2])
    worst = max(measured, key=measured.get)
    if model_cfg is None or depths is None:
        whole: dict[str, Any] = {"ran": False, "reason": "no model config given: the worst-case network is built "
                                                         "from the accelerator's model config"}
    else:
        whole = stitched(spec, model_cfg, depths, work_dir, optimize=optimize)
    return {"label": LABEL, "stitched": whole, "per_kernel": measured, "formula_per_kernel": bound,
            "bound_cycles_per_frame": measured[worst], "bounded_by": worst, "frames_per_s": fps(measured[worst]),
            "formula_frames_per_s": fps(max(bound.values())),
            "case": "each kernel alone on frames with every input event present (conv0: `group` events a step on "
                    "distinct cells, later layers: every neuron of the layer before spiking in every step), "
                    "back to back at full rate"}


MEMBRANE_FRAMES = 2  # worst-case frames whose final membranes are checked (stitched)
MAX_DP_WORK = 2_000_000  # the refractory bound's search (`_word_max`): past this the plain bound stands


def _word_max(lanes: int, steps: int, refractory: int, epc: int, last: bool) -> Optional[int]:
    """The most event-loop cycles one input word (of `lanes` neurons, each silent for `refractory`
    steps after a spike) takes over a frame: p_t spikes in step t cost ceil(p_t / epc), a step's
    last word costs 1 without spikes (it carries STEP). Any counts with at most `lanes` spikes in
    every `refractory` + 1 consecutive steps are reachable (each step's spikes go to the neurons
    not refractory), so a search over the last `refractory` counts finds the most; None where
    that search is too large."""
    if refractory == 0:
        return steps * max(-(-lanes // epc), 1 if last else 0)
    from math import comb

    if comb(lanes + refractory, refractory) * (lanes + 1) * steps > MAX_DP_WORK:
        return None
    best: dict[tuple[int, ...], int] = {(0,) * refractory: 0}
    for _ in range(steps):
        nxt: dict[tuple[int, ...], int] = {}
        for recent, total in best.items():
            for p in range(lanes - sum(recent) + 1):
                key = (*recent[1:], p)
                cost = total + (-(-p // epc) if p else int(last))
                if nxt.get(key, -1) < cost:
                    nxt[key] = cost
        best = nxt
    return max(best.values())


def reachable_bound(spec: AcceleratorSpec) -> dict[str, Optional[int]]:
    """`rtl_bound` where a layer's refractory period keeps its neurons silent after a spike: a
    kernel after a conv then gets the most events its input neurons can fire (`_word_max` per
    input word), not every neuron in every step. Equal to `rtl_bound` without refractory (and
    for the encoder and conv0, whose inputs are samples); None where the search is too large."""
    out: dict[str, Optional[int]] = dict(rtl_bound(spec))
    t = spec.steps
    layers = [*spec.convs, spec.dense]
    for prev, layer in zip(spec.convs, layers[1:]):
        epc = spec.dense.events_per_cycle if layer is spec.dense else 1
        lanes, words, refr = prev.sp * prev.cout, prev.groups, prev.params.refractory
        inner, last = (_word_max(lanes, t, refr, epc, False), _word_max(lanes, t, refr, epc, True))
        if inner is None or last is None:
            out[layer.name] = None
            continue
        own = t * spec.dense.outputs + 1 + readout_extra(spec) if layer is spec.dense else t * layer.groups + 1
        out[layer.name] = own + (words - 1) * inner + last
    return out


def _frame_formula(spec: AcceleratorSpec, loops: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each kernel's cycle formula per frame on the events of `loops` (model_reference's)."""
    from .accel_measure import formula_busy
    from .accelerator import layer_cycles

    per = [layer_cycles(spec, [lp[f] for lp in loops]) for f in range(len(loops[0]))]
    return formula_busy(spec, {k: np.array([p[k] for p in per]) for k in per[0]})


def frames_to_fill(words: list[np.ndarray], depths: list[int], spare: int = 3) -> int:
    """Worst-case frames back to back until every FIFO has filled (a frame's latency then stops
    growing), plus `spare`: per FIFO its depth over the words a frame sends into it (the sent
    ones of `words`, model_reference's of one frame, and the FRAME word)."""
    # a word is sent where it has events, and each step's last always (it carries STEP)
    per_frame = [int(((w[:1] > 0) | (np.arange(w.shape[-1]) == w.shape[-1] - 1)).sum()) + 1 for w in words]
    return spare + sum(-(-d // max(n, 1)) for d, n in zip(depths, per_frame))


def stitched(spec: AcceleratorSpec, model_cfg, depths: list[int], work_dir: Path, frames: Optional[int] = None,
             optimize: bool = True, sources: Optional[list[Path]] = None, membranes: bool = True) -> dict[str, Any]:
    """The whole stitched accelerator (FIFOs at `depths`) on worst-case frames
    (accel_worstnet.py: every kernel meets its worst case at once), `frames` (default
    `frames_to_fill`) back to back at full
    rate with the output always ready, then the first alone: the interval between class words,
    the latency, each kernel's busy cycles beside `rtl_bound`, `reachable_bound` and the cycle
    formula on the frames' own events, the FIFO model's cycles on the same frames, and the
    classes and final membranes against the worst-case network's PyTorch model (bit exact).
    {"ran": False, "reason": ...} where no worst-case network or frames exist for this geometry.
    `sources`: accel_rtl.sources() unless given (a test's broken copy); `membranes`: False checks
    the classes only (no second Verilator build: the membranes leave in the stream testbench's run)."""
    from . import accel_measure
    from .accel_verify import model_reference
    from .accel_worstnet import worst_codes, worst_network

    try:  # a geometry the worst-case frames cannot cover is reported, not a failed build
        model, wspec = worst_network(model_cfg, spec)
        if frames is None:
            frames = frames_to_fill(model_reference(model, wspec, worst_codes(wspec, 1))["words"], depths)
        codes = worst_codes(wspec, frames)
    except ToolchainError as exc:
        return {"ran": False, "reason": str(exc)}
    ref = model_reference(model, wspec, codes)
    work = Path(work_dir) / "worst_stitched"
    exe = accel_measure.build(wspec, depths, work, sources=sources, optimize=optimize)
    res = accel_measure.run(wspec, codes, exe, work)
    alone = accel_measure.run(wspec, codes[:1], exe, work)
    # the membranes from the first MEMBRANE_FRAMES (the same spikes in every frame; the
    # unoptimised stream testbench is the slow part on a large plane)
    m = min(frames, MEMBRANE_FRAMES)
    classes, bad, v = res["classes"][:m], res["bad"][:m], ref["membranes"][:m]
    if membranes:  # the final membranes leave in the output packet: the stream testbench keeps every word
        sexe = stream.build(sources or accel_rtl.sources(),
                            accel_rtl.render_top(wspec, depths) + accel_rtl.render_stream_top(wspec), work, probes=True)
        out_words = stream.run(sexe, accel_measure.input_words(codes[:m]), frame_bit=dense_rtl.LAST_BIT,
                               frames=m, cwd=work).words
        classes, bad, v = dense_rtl.decode_packets(out_words, wspec.dense.outputs, wspec.dense.params.state_bits)

    names = accel_measure.kernel_names(wspec)
    bound, reach = rtl_bound(wspec), reachable_bound(wspec)
    formula = _frame_formula(wspec, ref["loops"])
    busy = {k: int(res["busy"][k][1:].max()) for k in names}  # the first frame also holds the reset's clearing
    interval = np.diff(res["class_out"])
    # the FIFO model with the RTL kernels' schedules and timing: every frame's first sample in and class word out
    pred = accel_measure.predicted_times(wspec, ref["words"], depths, n_alone=1)
    pred_lat = np.asarray(pred["class_out"]) - pred["first_in"]
    lat, lat_alone = res["class_out"] - res["first_in"], int(alone["class_out"][0] - alone["first_in"][0])
    worst = int(interval.max())
    # the measurement top's classes and BAD flags, and the stream testbench's (where it ran)
    mismatches = {"classes": int((res["classes"] != ref["classes"]).sum()
                                 + (membranes and (classes != ref["classes"][:m]).sum())),
                  "membranes": int((v != ref["membranes"][:m]).any(1).sum()) if membranes else None,
                  "bad": int(res["bad"].sum() + (membranes and (bad != 0).sum()))}
    refractory = {c.name: c.params.refractory for c in wspec.convs}
    frame = {k: int(formula[k][1:].max()) for k in names}
    over = {what: [k for k in names if b[k] is not None and busy[k] > b[k]]
            for what, b in (("bound", bound), ("reachable bound", reach))}
    problems = [f"{k}: {busy[k]:,} busy cycles a frame, over its {what} {b[k]:,}"
                for (what, ks), b in zip(over.items(), (bound, reach)) for k in ks]
    problems += [f"{k}: {busy[k]:,} busy cycles a frame, its cycle formula on these frames {frame[k]:,}"
                 for k in names if busy[k] != frame[k]]
    problems += [f"{n} frames' {what} differ from the worst-case network's model"
                 for what, n in mismatches.items() if n]
    predicted = {"interval": (worst, int(np.diff(pred["class_out"]).max())),
                 "latency alone": (lat_alone, pred["latency_alone"][0]),
                 "latency back to back": (int(lat.max()), int(pred_lat.max()))}
    problems += [f"{what}: {got:,} cycles, the FIFO model's {want:,}" for what, (got, want) in predicted.items()
                 if got != want]
    return {
        "label": LABEL, "clock": accel_measure.CLOCK, "ran": True, "frames": frames,
        "case": "the whole stitched accelerator on frames where every kernel meets its worst case at once: a network "
                "of the same geometry, FIFO depths and LIF neuron whose every conv neuron fires in every step its "
                "refractory period allows (largest positive weights, threshold = that weight), fed every sample "
                "on a cell of its own within its step, the first cells reaching every conv0 neuron; back to back "
                "at full rate, output always ready",
        "network": {"conv_threshold": int(wspec.convs[0].params.threshold), "refractory": refractory,
                    "every_neuron_every_step": not any(refractory.values())},
        "passed": not any(mismatches.values()), "mismatches": mismatches,
        "membranes_checked": m if membranes else 0,
        "checks": {"within_bound": not over["bound"], "within_reachable_bound": not over["reachable bound"],
                   "frame_formula": busy == frame, "fifo_model": all(a == b for a, b in predicted.values())},
        "problems": problems,
        "interval_cycles": accel_measure.stat(interval), "guaranteed_cycles_per_frame": worst,
        "frames_per_s": accel_measure.fps(worst), "bounded_by": max(busy, key=busy.get),
        # back to back, a frame's latency grows while the FIFOs fill: steady once the last two are equal
        "latency_cycles": {"alone": lat_alone, "back_to_back": accel_measure.stat(lat),
                           "back_to_back_steady": bool(len(lat) > 1 and lat[-1] == lat[-2])},
        "latency_us": {"alone": lat_alone / accel_rtl.CLOCK_MHZ,
                       "back_to_back_worst": int(lat.max()) / accel_rtl.CLOCK_MHZ},
        "cycles": int(res["cycles"]), "busy_cycles_per_kernel": busy,
        "formula": {"label": "estimate: the cycle formulas; the FIFO model with the RTL kernels' schedules and timing",
                    "bound_per_kernel": bound, "reachable_bound_per_kernel": reach,
                    "frame_formula_per_kernel": frame,
                    "bound_cycles_per_frame": max(bound.values()),
                    "fifo_model_cycles": int(pred["cycles"]),
                    "fifo_model_latency_alone": predicted["latency alone"][1],
                    "fifo_model_latency_back_to_back_worst": int(pred_lat.max()),
                    "fifo_model_interval": predicted["interval"][1]},
        "fifo_peak_occupancy": {f"{a}->{b}": p for a, b, p in zip(names, names[1:], res["fifo_peaks"])},
        "fifo_model_peak_occupancy": {f"{a}->{b}": p for a, b, p in zip(names, names[1:], pred["peaks"])},
    }


def guaranteed_text(w: dict[str, Any]) -> str:
    """The summary's guaranteed figures: the stitched accelerator's on worst-case frames where it
    ran, else the slowest kernel's alone."""
    s = w.get("stitched") or {}
    if not s.get("ran"):
        return f"guaranteed {w['frames_per_s']:,.0f} frames/s ({w['bounded_by']}, each kernel alone)"
    return (f"guaranteed {s['frames_per_s']:,.0f} frames/s, {s['latency_us']['alone']:.1f} us latency "
            f"({s['latency_us']['back_to_back_worst']:.1f} us back to back: the stitched accelerator on worst-case "
            f"frames{'' if s['passed'] else ', CLASSES DIFFER'})")
