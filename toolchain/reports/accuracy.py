"""Accuracy metrics as plain data: (labels, predictions, snrs) -> a JSON-able dict.

Pure numpy, no model or file access, so the numbers can be checked against a hand-computed
example. Class indices are the RadioML order (`CLASSES`); a class filter keeps that indexing.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..data.classes import CLASSES

CHALLENGE_THRESHOLD = 0.56  # ITU-ML5G-PS-007: a submission must reach 56 % overall test accuracy


def snr_value(snr: float) -> int | float:
    """SNRs are stored as floats; 10.0 reads better as 10 in JSON and plot labels."""
    s = float(snr)
    return int(s) if s.is_integer() else s


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class, both in the order of `classes`."""
    lut = np.full(max(max(classes), int(labels.max(initial=0)), int(predictions.max(initial=0))) + 1, -1)
    lut[list(classes)] = np.arange(len(classes))
    rows, cols = lut[labels], lut[predictions]
    if (rows < 0).any() or (cols < 0).any():
        raise ValueError("a label or prediction is not in `classes`")
    m = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(m, (rows, cols), 1)
    return m


def _rate(correct: int, frames: int) -> float | None:
    return correct / frames if frames else None


def _grouped(keys: np.ndarray, hits: np.ndarray, values: Iterable) -> list[tuple]:
    """(value, frames, correct) for every value of `keys`, in the given order."""
    return [(v, int((keys == v).sum()), int(hits[keys == v].sum())) for v in values]


def per_class_snr(labels: np.ndarray, hits: np.ndarray, snrs: np.ndarray, classes: list[int],
                  snr_grid: list[float], names: Sequence[str]) -> dict:
    frames = np.zeros((len(classes), len(snr_grid)), dtype=np.int64)
    correct = np.zeros_like(frames)
    ci = np.searchsorted(classes, labels)
    si = np.searchsorted(snr_grid, snrs)
    np.add.at(frames, (ci, si), 1)
    np.add.at(correct, (ci, si), hits.astype(np.int64))
    acc = [[_rate(int(c), int(n)) for c, n in zip(cr, fr)] for cr, fr in zip(correct, frames)]
    return {"classes": [names[c] for c in classes], "snrs": [snr_value(s) for s in snr_grid],
            "frames": frames.tolist(), "accuracy": acc}


def confusion_report(labels: np.ndarray, predictions: np.ndarray, snrs: np.ndarray,
                     confusion_snrs: Sequence[float], names: Sequence[str]) -> dict:
    """The overall matrix and one per requested SNR that the frames hold; absent SNRs are
    listed in `missing_snrs` rather than given an empty matrix."""
    axis = sorted(set(labels.tolist()) | set(predictions.tolist()))
    present = set(np.unique(snrs).tolist())
    per_snr, missing = [], []
    for s in confusion_snrs:
        if float(s) in present:
            sel = snrs == float(s)
            per_snr.append({"snr": snr_value(s), "frames": int(sel.sum()),
                            "matrix": confusion_matrix(labels[sel], predictions[sel], axis).tolist()})
        else:
            missing.append(snr_value(s))
    return {"classes": [names[c] for c in axis], "class_indices": axis,
            "overall": confusion_matrix(labels, predictions, axis).tolist(),
            "per_snr": per_snr, "requested_snrs": [snr_value(s) for s in confusion_snrs],
            "missing_snrs": missing}


def accuracy_report(labels, predictions, snrs, confusion_snrs: Sequence[float] = (),
                    class_names: Sequence[str] = CLASSES) -> dict:
    """Overall, per-SNR, per-class and per-(class, SNR) accuracy plus confusion matrices.

    Accuracies are fractions in [0, 1]; a (class, SNR) cell without frames is None.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    snrs = np.asarray(snrs, dtype=np.float64)
    if not labels.size or not labels.shape == predictions.shape == snrs.shape:
        raise ValueError(f"need equal, non-empty 1-D arrays, got {labels.shape}, {predictions.shape}, {snrs.shape}")
    hits = labels == predictions
    classes = sorted(set(labels.tolist()))
    snr_grid = sorted(set(snrs.tolist()))
    per_snr = [{"snr": snr_value(s), "frames": n, "correct": c, "accuracy": _rate(c, n)}
               for s, n, c in _grouped(snrs, hits, snr_grid)]
    return {
        "overall": {"frames": int(labels.size), "correct": int(hits.sum()), "accuracy": float(hits.mean())},
        "challenge_threshold": CHALLENGE_THRESHOLD,
        "meets_threshold": bool(hits.mean() >= CHALLENGE_THRESHOLD),
        "highest_snr": per_snr[-1],
        "per_snr": per_snr,
        "per_class": [{"class": class_names[k], "index": k, "frames": n, "correct": c, "accuracy": _rate(c, n)}
                      for k, n, c in _grouped(labels, hits, classes)],
        "per_class_snr": per_class_snr(labels, hits, snrs, classes, snr_grid, class_names),
        "confusion": confusion_report(labels, predictions, snrs, confusion_snrs, class_names),
    }


def format_summary(report: dict) -> str:
    o, top = report["overall"], report["highest_snr"]
    verdict = "meets" if report["meets_threshold"] else "below"
    return (f"accuracy {100 * o['accuracy']:.2f} % over {o['frames']} frames ({verdict} the challenge's "
            f"{100 * report['challenge_threshold']:.0f} %); at the highest SNR ({top['snr']} dB): "
            f"{100 * top['accuracy']:.2f} % of {top['frames']}")
