"""What the run report shows for each stage: headline figures, tables and images, read from the
artifacts the stage wrote (`page.Outputs`). A stage without a builder here still gets its
section: its files, config, versions and timings."""

from __future__ import annotations

from typing import Any, Callable

from .page import Outputs, Section, Table, figure, fmt, pct
from .page_finn import finn_section
from .page_plots import training_curves


def data_section(s: Section, out: Outputs) -> None:
    def facts(d: dict[str, Any]) -> None:
        snrs = d["snrs_db"]
        s.summary = (f"{d['frames']:,} frames of {d['frame_length']:,} I/Q samples, {len(d['classes'])} classes, "
                     f"{len(snrs)} SNRs from {snrs[0]} to {snrs[-1]} dB")
        s.fact("file", str(d["file"]))
        s.fact("frames", f"{d['frames']:,} x {d['frame_length']:,} I/Q samples ({d['x_dtype']})")
        s.fact("classes", f"{len(d['classes'])}: {', '.join(d['classes'])}")
        s.fact("SNRs (dB)", ", ".join(str(v) for v in snrs))
        s.fact("split", ", ".join(f"{k} {v:,}" for k, v in d["split_sizes"].items()))

    if out.has("data_summary"):
        out.use("data_summary", facts)
    s.figures += [f for f in [out.png("data_overview", "Example frames: I/Q traces and constellations")] if f]


def train_section(s: Section, out: Outputs) -> None:
    def curves(history: list[dict[str, Any]]) -> None:
        if not history:
            s.notes.append("train_log.jsonl holds no epoch yet")
            return
        last = history[-1]
        val = f", val accuracy {pct(last['val_acc'])}" if last.get("val_acc") is not None else " (no val split)"
        s.summary = (f"{last['epoch']} epoch(s); last: train loss {last['train_loss']:.4f}, train accuracy "
                     f"{pct(last['train_acc'])}{val}")
        s.figures.append(figure(training_curves(history), "Loss and accuracy per epoch (train_log.jsonl)",
                                 "measured"))
        rows = [[r["epoch"], f"{r['train_loss']:.4f}", pct(r["train_acc"]),
                 "n/a" if r.get("val_loss") is None else f"{r['val_loss']:.4f}", pct(r.get("val_acc")),
                 f"{r['lr']:.2e}", f"{r['seconds']:.1f}", fmt(r.get("frames_per_s"))] for r in history]
        s.tables.append(Table("Epochs", ["epoch", "train loss", "train acc", "val loss", "val acc", "lr", "s",
                                         "frames/s"], rows, "measured"))

    if out.has("train_log"):
        out.use("train_log", curves)
    training = out.entry.get("training") or {}
    if training:
        s.fact("device", f"{training.get('device')} x {training.get('world_size', 1)}")
        if training.get("resumed_after_epoch") is not None:
            s.fact("resumed after epoch", training["resumed_after_epoch"])
        if training.get("best_val_acc") is not None:
            s.fact("best val accuracy", f"{pct(training['best_val_acc'])} (epoch {training.get('best_epoch')})",
                   "measured")


def evaluate_section(s: Section, out: Outputs) -> None:
    def accuracy(a: dict[str, Any]) -> None:
        o, top = a["overall"], a["highest_snr"]
        s.summary = (f"accuracy {pct(o['accuracy'])} over {o['frames']:,} frames; {pct(top['accuracy'])} at "
                     f"{top['snr']} dB ({top['frames']:,} frames)")
        data = a.get("data", {})
        s.fact("model", f"{a['model']['path']} ({a['model'].get('name', a['model'].get('kind'))})")
        s.fact("frames", f"{o['frames']:,} of the {data.get('split', '?')} split of {data.get('path', '?')}")
        s.fact("overall accuracy", f"{pct(o['accuracy'])} ({o['correct']:,} of {o['frames']:,}); challenge "
                                   f"threshold {pct(a['challenge_threshold'], 0)}: "
                                   f"{'met' if a['meets_threshold'] else 'not met'}", "measured")
        s.fact(f"accuracy at {top['snr']} dB", f"{pct(top['accuracy'])} ({top['correct']:,} of {top['frames']:,})",
               "measured")
        inference = a.get("inference") or {}
        if inference:
            s.fact("inference", f"{inference.get('engine')} on {inference.get('device', 'cpu')}, "
                                f"{fmt(inference.get('frames_per_second'))} frames/s", "measured")
        rows = [[p["snr"], p["frames"], pct(p["accuracy"])] for p in a["per_snr"]]
        s.tables.append(Table("Accuracy per SNR", ["SNR (dB)", "frames", "accuracy"], rows, "measured"))
        if a.get("spike_rates"):
            s.fact("spike rates", ", ".join(f"{k} {pct(v)}" for k, v in a["spike_rates"].items()), "measured")

    if out.has("accuracy"):
        out.use("accuracy", accuracy)
    for name, caption, how in (("accuracy_vs_snr", "Accuracy against SNR", "measured"),
                               ("confusion_matrix", "Confusion matrices (rows: true class, normalised)", "measured"),
                               ("energy_plot", "Energy per frame, SNN against the equivalent CNN", "estimate"),
                               ("spike_raster", "Spikes of one frame, layer by layer", "measured")):
        fig = out.png(name, caption, how)
        if fig:
            s.figures.append(fig)
    if out.has("energy_report"):
        out.use("energy_report", lambda e: energy(s, e))


def energy(s: Section, e: dict[str, Any]) -> None:
    t, en = e["totals"], e["totals"]["energy"]
    s.fact("energy per frame", f"SNN {fmt(en['snn_total_pj'] / 1e3)} nJ against CNN {fmt(en['cnn_total_pj'] / 1e3)} nJ "
                               f"(SNN/CNN {fmt(t['ratio_snn_cnn'], 3)}; {e['precision']}, 45 nm energy table)",
           "estimate")
    rows = [[layer["name"], layer["kind"], fmt(layer["neurons"]),
             "membrane readout" if layer["spike_rate"] is None else pct(layer["spike_rate"]), pct(layer["input_rate"]),
             fmt(layer["synops_per_frame"]), fmt(layer["energy"]["snn_total_pj"] / 1e3),
             fmt(layer["energy"]["cnn_total_pj"] / 1e3)] for layer in e["layers"]]
    s.tables.append(Table(f"Spike rates and energy per layer ({e['frames']:,} frames, {e['steps']} time steps)",
                          ["layer", "kind", "neurons", "spike rate", "input rate", "SynOps/frame", "SNN nJ/frame",
                           "CNN nJ/frame"], rows, "estimate",
                          note="Spike rates are measured on the evaluated frames; energies are estimates from "
                               "those rates and a 45 nm energy-per-operation table (docs/energy.md)."))


def export_onnx_section(s: Section, out: Outputs) -> None:
    check = out.entry.get("verification") or {}
    if check:
        verdict = "passed" if check.get("passed") else "FAILED"
        if "compared_values" in check:  # an SNN: every layer at every time step
            what = f"{check['compared_values']:,} values, {check.get('mismatches', 0):,} mismatches"
        else:
            what = (f"{fmt(check.get('inputs'))} random inputs, {fmt(check.get('class_mismatches'))} class mismatches, "
                    f"largest output difference {fmt(check.get('max_abs_diff'), 3)} (tolerance {fmt(check.get('atol'))})")
        s.summary = f"QONNX checked against PyTorch: {verdict} ({what})"
        rows = [[k.replace("_", " "), v if isinstance(v, str) else fmt(v)] for k, v in check.items()
                if not isinstance(v, (dict, list)) or k.endswith("per_layer")]
        s.tables.append(Table("Verification of the export (QONNX execution against PyTorch)", ["check", "result"],
                              rows, "measured"))


def cost_section(s: Section, out: Outputs) -> None:
    def cost(c: dict[str, Any]) -> None:
        base = c["baseline"]
        s.summary = (f"challenge score {c['score']:.4f} (baseline 1.0): {c['total_bops']:,.0f} bit operations, "
                     f"{c['total_mem_w_bits']:,.0f} weight bits")
        s.fact("challenge score", f"{c['score']:.4f} (the VGG10 w8a8 baseline scores 1.0; lower is cheaper)", "counted")
        s.fact("bit operations", f"{c['total_bops']:,.0f} ({pct(c['total_bops'] / base['total_bops'])} of the "
                                 f"baseline's {base['total_bops']:,})", "counted")
        s.fact("weight bits", f"{c['total_mem_w_bits']:,.0f} ({pct(c['total_mem_w_bits'] / base['total_mem_w_bits'])} "
                              f"of the baseline's {base['total_mem_w_bits']:,})", "counted")
        s.fact("sparsity discounted", c.get("discount_sparsity"))
        if c.get("snn"):
            s.fact("time steps", c["snn"].get("time_steps"))
            s.fact("state bits", c.get("total_mem_state_bits"), "counted")
        rows = [[layer.get("name"), layer.get("op_type"), fmt(layer.get("bops")), fmt(layer.get("mem_w_bits"))]
                for layer in c.get("layers", [])]
        if rows:
            s.tables.append(Table("Per layer (qonnx inference_cost)", ["layer", "op", "bit operations", "weight bits"],
                                  rows, "counted"))

    if out.has("model_cost"):
        out.use("model_cost", cost)
    s.figures += [f for f in [out.png("model_cost_plot", "Bit operations and weight bits per layer", "counted")] if f]


def classify_section(s: Section, out: Outputs) -> None:
    def summary(doc: dict[str, Any]) -> None:
        summ, model, source = doc["summary"], doc["model"], doc.get("input", {})
        n = summ["frames"]
        top = sorted(summ["class_counts"].items(), key=lambda kv: -kv[1])
        s.summary = (f"{n:,} frames classified at {fmt(summ.get('frames_per_second'))} frames/s; most frequent: "
                     + ", ".join(f"{k} {pct(v / n, 0)}" for k, v in top[:3]))
        s.fact("input", str(source.get("path", "?")) + (f" ({source['kind']})" if "kind" in source else ""))
        s.fact("model", f"{model['path']} ({model['kind']}, {model['engine']})")
        s.fact("frames", f"{n:,} in {summ['seconds']:.1f} s ({fmt(summ.get('frames_per_second'))} frames/s)",
               "measured")
        if "accuracy" in summ:
            s.fact("accuracy (labelled input)", pct(summ["accuracy"]["overall"]["accuracy"]), "measured")
        s.tables.append(Table("Frames per predicted class", ["class", "frames", "share"],
                              [[k, f"{v:,}", pct(v / n, 1)] for k, v in top]))

    if out.has("classes_json"):
        out.use("classes_json", summary)
    s.figures += [f for f in [out.png("classes_timeline", "Timeline: spectrogram and predicted class per frame")]
                  if f]


def prune_section(s: Section, out: Outputs) -> None:
    def headline(p: dict[str, Any]) -> None:
        final, base = p["final"], p["baseline"]
        s.summary = (f"sparsity {pct(p['sparsity'])} after {p['steps_kept']} of {p['steps_tried']} steps kept "
                     f"({p['stop_reason']})")
        s.fact("validation accuracy", f"{pct(final.get('val_acc'))} (before pruning {pct(base.get('val_acc'))})",
               "measured")
        if final.get("score") is not None:
            s.fact("challenge score", f"{fmt(final['score'])}" + (f" ({fmt(p['score_reduction'], 3)}x lower)"
                                                                 if p.get("score_reduction") else ""), "counted")

    if out.has("prune_report"):
        out.use("prune_report", headline)
    generic_figures(s, out)


def generic_figures(s: Section, out: Outputs) -> None:
    """Stages without their own builder: every PNG they wrote, captioned by its artifact name."""
    for name, value in out.loaded.items():
        if isinstance(value, bytes):
            s.figures.append(figure(value, name.replace("_", " ")))


BUILDERS: dict[str, Callable[[Section, Outputs], None]] = {
    "data": data_section, "train_initial": train_section, "evaluate": evaluate_section,
    "export_onnx": export_onnx_section, "export_inference_cost": cost_section, "finn_build": finn_section,
    "classify": classify_section, "convert": generic_figures, "prune": prune_section,
    "reduce_bits": generic_figures, "export_nir": generic_figures,
}
