"""Stage `classify`: a trained model on a recording -> the class of every frame (docs/classify.md).

INPUT is a SigMF recording (read with the `sigmf` package), a raw interleaved I/Q file
(`--format`, `--rate`) or a RadioML-format HDF5 file (every frame, no split; with its labels,
accuracy overall and per SNR as well). MODEL is a checkpoint, a QONNX model or a `finn_build`
output folder (`classify_models`). A capture is cut into frames of the model's length every
`classify.hop` samples (after the optional resampling), each scaled to unit power as RadioML
frames are, and streamed: memory does not depend on the capture's size.

Writes into DIR: `classes.json` and `classes.csv` (per frame: start sample, class, probability,
top 3), `classes_timeline.png`, and for a capture `<name>.classified.sigmf-meta`: the
predictions as SigMF annotations on the original data file (`core:dataset`, nothing copied).
Everything is written to temporary names and renamed together at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from contextlib import ExitStack
from pathlib import Path
import numpy as np

from ..atomic import atomic_path
from ..config import Config, text_override
from ..data import captures
from ..data.classes import CLASSES
from ..errors import ToolchainError
from ..rundir import ARTIFACTS, RunDir, stage_run, trained_model

SUMMARY = "classify every frame of a SigMF, raw I/Q or RadioML HDF5 recording -> classes.json/.csv, SigMF annotations"
FORMAT = "toolchain-classify/1"
NAMESPACE = "toolchain"  # SigMF extension namespace of the keys this stage adds
TOP = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="recording: a SigMF .sigmf-meta/.sigmf-data, a raw I/Q file (with "
                        "--format), or a RadioML-format .h5/.hdf5 (default: classify.input, else the run's "
                        "capture.sigmf-meta)")
    parser.add_argument("--model", metavar="MODEL", help="a .pth checkpoint, a QONNX .onnx, or a finn_build output "
                        "folder (classify.model)")
    parser.add_argument("--format", choices=["cf32", "ci16", "ci8"], help="raw file: interleaved I/Q samples "
                        "(little-endian; classify.format)")
    parser.add_argument("--rate", type=float, metavar="HZ", help="raw file: sample rate (classify.rate)")
    parser.add_argument("--channel", type=int, help="channel of a multi-channel capture, from 0 (classify.channel)")
    parser.add_argument("--hop", type=int, metavar="N", help="samples between frame starts, after resampling "
                        "(classify.hop; default: the frame length)")
    parser.add_argument("--resample", metavar="P/Q", help="resample the capture by P/Q first (polyphase FIR) to "
                        "the model's samples per symbol (classify.resample; see docs/classify.md)")


def overrides(args: argparse.Namespace) -> list[str]:
    out = [text_override(f"classify.{k}", getattr(args, k)) for k in ("model", "format", "resample")
           if getattr(args, k)]
    numbers = [k for k in ("rate", "channel", "hop") if getattr(args, k) is not None]
    return out + [f"classify.{k}={getattr(args, k)}" for k in numbers]


class Source:
    """Frames of the input with their start samples (and labels, SNRs for an HDF5 file)."""

    def __init__(self, path: Path, cfg: Config, frame_length: int):
        c = cfg.classify
        self.path, self.length = path, frame_length
        self.resampling = captures.Resampling.parse(c.resample) if c.resample else None
        name = path.name.lower()
        self.capture = None
        if not c.format and name.endswith((".h5", ".hdf5")):
            self._open_hdf5(path, c)
        else:
            if c.format:
                self.capture = captures.open_raw(path, c.format, c.rate, c.channels, c.channel)
            elif name.endswith((".sigmf-meta", ".sigmf-data")) or Path(f"{path}.sigmf-meta").is_file():
                self.capture = captures.open_sigmf(path, c.channel)
            elif path.exists():
                raise ToolchainError(f"{path}: not a SigMF recording (.sigmf-meta, .sigmf-data) or a RadioML HDF5 "
                                     "file (.h5, .hdf5); for raw I/Q give --format cf32|ci16|ci8 (and --rate HZ)")
            else:
                raise ToolchainError(f"{path}: no such recording")
            self.samples = self.capture.num_samples
            stream_len = self.resampling.output_length(self.samples) if self.resampling else self.samples
            self.hop = c.hop or frame_length
            self.total = captures.frame_count(stream_len, frame_length, self.hop)
            if self.total == 0:
                after = f" ({stream_len} after resampling {c.resample})" if self.resampling else ""
                raise ToolchainError(f"{self.capture.data_file}: {self.samples} samples{after}, shorter than one "
                                     "frame; "
                                     f"expected at least {frame_length} samples (the model's frame length)")
        self.ratio = (self.resampling.down / self.resampling.up) if self.resampling else 1.0

    def _open_hdf5(self, path: Path, c) -> None:
        from ..data.dataset import RadioMLDataset

        if c.resample or c.hop:
            raise ToolchainError(f"{path}: an HDF5 file holds whole frames; classify.resample and classify.hop "
                                 "apply to SigMF and raw captures only")
        self.ds = RadioMLDataset.every_frame(path)
        if self.ds.index.frame_length != self.length:
            raise ToolchainError(f"{path}: frames of {self.ds.index.frame_length} samples; the model takes "
                                 f"{self.length}")
        self.total = self.samples = len(self.ds)
        self.hop = self.length

    @property
    def files(self) -> list[Path]:
        if self.capture is None:
            return [self.path]
        return sorted({self.capture.path, self.capture.data_file})

    def batches(self, cfg: Config, batch: int):
        """(starts in input samples, raw frames, model input, labels or None, snrs or None), in
        batches of `batch` frames."""
        if self.capture is None:
            for lo in range(0, self.total, batch):
                x, labels, snrs = self.ds.read(np.arange(lo, min(lo + batch, self.total)))
                yield np.arange(lo, lo + len(x)) * self.length, x, x, labels, snrs
            return
        blocks = captures.stream(self.capture, cfg.classify.chunk_samples, self.resampling)
        for starts, x in captures.frames(blocks, self.length, self.hop, batch):
            scale = {"unit_power": captures.unit_power, "unit_variance": captures.unit_variance}
            model_in = scale[cfg.classify.normalize](x) if cfg.classify.normalize in scale else x
            yield np.round(starts * self.ratio).astype(np.int64), x, model_in, None, None

    def describe(self, cfg: Config) -> dict:
        if self.capture is None:
            return {"path": str(self.path), "kind": "radioml_hdf5", "frames": self.total,
                    "framing": "the file's frames, as stored (no split, no normalisation)"}
        cap, c = self.capture, cfg.classify
        return {"path": str(cap.path), "kind": cap.kind, "data_file": str(cap.data_file), "datatype": cap.datatype,
                "sample_rate": cap.sample_rate, "samples": cap.num_samples, "channels": cap.num_channels,
                "channel": cap.channel, "resample": c.resample or None, "frame_length": self.length, "hop": self.hop,
                "frame_samples_in_input": round(self.length * self.ratio), "normalisation": c.normalize,
                "frames": self.total}


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from tqdm import tqdm

    from ..reports.timeline import Timeline
    from .classify_models import load_classifier

    model_path = _model(cfg)
    recording = _recording(cfg, args)
    predictor = load_classifier(model_path, cfg)
    source = Source(recording, cfg, predictor.frame_length)
    names = [CLASSES[i] if i < len(CLASSES) else str(i) for i in range(predictor.num_outputs)]
    spans = captures.labelled_spans(source.capture, names) if source.capture is not None else None
    model_files = [p for p in [getattr(predictor, "hw_file", model_path)] if p.is_file()]
    with stage_run(cfg.run.out_dir, "classify", cfg, [*source.files, *model_files]) as run, ExitStack() as stack:
        tmp = {n: stack.enter_context(atomic_path(run.artifact(n))) for n in ("classes_json", "classes_csv")}
        header = {"format": FORMAT, "input": source.describe(cfg),
                  "model": {"path": str(model_path), "kind": predictor.kind, "engine": predictor.engine,
                            "probabilities": "softmax of the model's logits" if predictor.calibrated else
                            "none: the accelerator's integer scores rank the classes (top 3 lists scores)"}}
        timeline = Timeline(source.total, source.samples * (source.length if source.capture is None else 1), names)
        kept = {"start": [], "cls": [], "prob": [], "labels": [], "snrs": [], "known": []}
        start_time = time.perf_counter()
        with open(tmp["classes_json"], "w") as fj, open(tmp["classes_csv"], "w", newline="") as fc, \
                tqdm(total=source.total, unit="frame", desc=f"classify ({predictor.kind})", disable=None) as bar:
            writer = csv.writer(fc)
            writer.writerow(["frame", "sample_start", "sample_count", "class", "probability",
                             *[f"{k}{i}" for i in range(1, TOP + 1) for k in ("top", "p")]])
            fj.write(json.dumps(header, indent=2)[:-2] + ',\n  "frames": [\n')
            index = 0
            for starts, raw, x, labels, snrs in source.batches(cfg, predictor.batch_size):
                scores = predictor(x)
                rows = _frame_rows(index, starts, round(source.length * source.ratio), scores, names,
                                   predictor.calibrated)
                for row in rows:
                    fj.write((",\n" if row["frame"] else "") + "    " + json.dumps(row))
                    writer.writerow([row["frame"], row["sample_start"], row["sample_count"], row["class"],
                                     row["probability"], *[v for t in row["top3"] for v in (t["class"], t.get(
                                         "probability", t.get("score")))]])
                predicted = scores.argmax(1)
                timeline.add(index, raw, predicted)
                kept["start"].append(starts)
                kept["cls"].append(predicted.astype(np.int16))
                kept["prob"].append(np.asarray([r["probability"] if r["probability"] is not None else np.nan
                                                for r in rows], np.float32))
                if labels is not None:
                    kept["labels"].append(labels)
                    kept["snrs"].append(snrs)
                if spans is not None and len(spans):
                    kept["known"].append(captures.known_classes(spans, starts, round(source.length * source.ratio)))
                index += len(starts)
                bar.update(len(starts))
            seconds = time.perf_counter() - start_time
            arrays = {k: np.concatenate(v) if v else None for k, v in kept.items()}
            summary = _summary(arrays, names, seconds, cfg)
            fj.write('\n  ],\n  "summary": ' + json.dumps(summary, indent=2).replace("\n", "\n  ") + "\n}\n")
        tl = stack.enter_context(atomic_path(run.artifact("classes_timeline")))
        rate = source.capture.sample_rate if source.capture is not None else None
        timeline.plot(tl, f"{source.path.name}: {model_path.name} ({predictor.kind}), {index} frames", rate)
        if source.capture is not None:
            meta = Path(cfg.run.out_dir) / f"{_stem(source.capture.path)}.classified.sigmf-meta"
            run.outputs["sigmf_meta"] = meta.name
            doc = sigmf_document(source, arrays, names, model_path, Path(cfg.run.out_dir))
            stack.enter_context(atomic_path(meta)).write_text(json.dumps(doc, indent=2) + "\n")
        run.extra["classify"] = {**summary, "model": str(model_path), "engine": predictor.engine}
    print(_summary_line(summary, predictor.engine, run))
    return run


def _recording(cfg: Config, args: argparse.Namespace | None) -> Path:
    """INPUT, else classify.input, else the run's capture (the capture stage's recording)."""
    if args is not None and getattr(args, "input", None):
        return Path(args.input)
    if cfg.classify.input:
        return Path(cfg.classify.input)
    own = Path(cfg.run.out_dir) / ARTIFACTS["capture_meta"]
    if own.is_file():
        return own
    raise ToolchainError(f"classify needs a recording: give INPUT, set classify.input, or run the capture stage "
                         f"first to write {own}")


def _model(cfg: Config) -> Path:
    """classify.model, else the run's FINN build, else its trained checkpoint."""
    if cfg.classify.model:
        return Path(cfg.classify.model)
    from ..hw.finn.predict import is_finn_output

    build = Path(cfg.run.out_dir) / ARTIFACTS["finn_output"]
    if is_finn_output(build):
        return build
    try:
        return trained_model(cfg)
    except ToolchainError:
        raise ToolchainError("config key 'classify.model': no model; give --model MODEL (.pth, .onnx or a "
                             f"finn_build output folder), or run classify in a run directory ({cfg.run.out_dir}) "
                             "holding finn_output/ or a trained checkpoint") from None


def _frame_rows(first: int, starts: np.ndarray, count: int, scores: np.ndarray, names: list[str],
                calibrated: bool) -> list[dict]:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :TOP]
    if calibrated:
        z = np.exp(scores - scores.max(1, keepdims=True))
        probs = z / z.sum(1, keepdims=True)
    rows = []
    for i, start in enumerate(starts):
        if calibrated:
            top = [{"class": names[k], "probability": round(float(probs[i, k]), 6)} for k in order[i]]
        else:
            top = [{"class": names[k], "score": float(scores[i, k])} for k in order[i]]
        rows.append({"frame": first + i, "sample_start": int(start), "sample_count": count, "class": top[0]["class"],
                     "probability": top[0].get("probability"), "top3": top})
    return rows


def _summary(arrays: dict, names: list[str], seconds: float, cfg: Config) -> dict:
    n = 0 if arrays["cls"] is None else len(arrays["cls"])
    counts = np.bincount(arrays["cls"], minlength=len(names)) if n else np.zeros(len(names), int)
    out = {"frames": n, "seconds": round(seconds, 3), "frames_per_second": round(n / seconds, 1) if seconds else None,
           "class_counts": {names[i]: int(v) for i, v in enumerate(counts) if v}}
    if arrays["labels"] is not None:
        from ..reports.accuracy import accuracy_report

        report = accuracy_report(arrays["labels"], arrays["cls"].astype(np.int64), arrays["snrs"],
                                 cfg.eval.confusion_snrs)
        out["accuracy"] = {"overall": report["overall"], "per_snr": report["per_snr"]}
    if arrays["known"] is not None:
        out["known_classes"] = _agreement(arrays["known"], arrays["cls"], names)
    return out


def _agreement(known: np.ndarray, predicted: np.ndarray, names: list[str]) -> dict:
    """How the predictions agree with the classes the recording's annotations give its frames."""
    labelled = known >= 0
    hits = labelled & (known == predicted)
    per_class = {names[k]: {"frames": int((known == k).sum()), "agreeing": int(hits[known == k].sum())}
                 for k in np.unique(known[labelled])}
    n = int(labelled.sum())
    return {"source": "core:label of the recording's annotations", "frames": n, "agreeing": int(hits.sum()),
            "agreement": round(int(hits.sum()) / n, 4) if n else None, "unlabelled_frames": int((~labelled).sum()),
            "per_class": per_class}


def _summary_line(summary: dict, engine: str, run: RunDir) -> str:
    n = summary["frames"]
    top = sorted(summary["class_counts"].items(), key=lambda kv: -kv[1])[:3]
    common = ", ".join(f"{k} {100 * v / n:.0f} %" for k, v in top)
    acc = ""
    if "accuracy" in summary:
        acc = f"; accuracy {100 * summary['accuracy']['overall']['accuracy']:.2f} % over {n} labelled frames"
    known = summary.get("known_classes")
    if known and known["frames"]:
        acc += (f"; agreement with the recording's annotated classes {known['agreeing']}/{known['frames']} frames "
                f"({100 * known['agreement']:.1f} %)")
    return (f"classified {n} frames in {summary['seconds']:.1f} s ({summary['frames_per_second']} frames/s, {engine})"
            f"; most frequent: {common}{acc}; wrote {run.root}/: {', '.join(run.outputs.values())}")


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".sigmf-meta", ".sigmf-data"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def sigmf_document(source: Source, arrays: dict, names: list[str], model_path: Path, out_dir: Path) -> dict:
    """SigMF metadata for the original data file (`core:dataset`, relative to DIR) with one
    annotation per frame; the recording's own global fields, captures and annotations are kept."""
    cap = source.capture
    info = cap.global_info()
    info["core:dataset"] = os.path.relpath(cap.data_file.resolve(), out_dir.resolve())
    info.setdefault("core:version", "1.2.0")
    ext = [e for e in info.get("core:extensions", []) if e.get("name") != NAMESPACE]
    info["core:extensions"] = ext + [{"name": NAMESPACE, "version": "1.0.0", "optional": True}]
    count = round(source.length * source.ratio)
    ours = [{"core:sample_start": int(s), "core:sample_count": count, "core:label": names[int(k)],
             "core:generator": captures.PREDICTIONS_GENERATOR, f"{NAMESPACE}:model": model_path.name,
             f"{NAMESPACE}:channel": cap.channel,
             **({f"{NAMESPACE}:probability": round(float(p), 6)} if np.isfinite(p) else {})}
            for s, k, p in zip(arrays["start"], arrays["cls"], arrays["prob"])]
    kept = list(cap.handle.get_annotations())
    annotations = sorted(kept + ours, key=lambda a: a["core:sample_start"])
    return {"global": info, "captures": cap.captures() or [{"core:sample_start": 0}], "annotations": annotations}

