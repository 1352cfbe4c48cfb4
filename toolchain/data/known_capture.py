"""A SigMF recording of known modulations, made by the synthetic generator: the demo's check that
a trained model (or its FINN build) classifies a *recording*, not only the frames of its own file.

The recording is a sequence of segments, one class each, back to back; each segment is one
continuous transmission of `frames_per_segment` frames' worth of samples from the project's
modulators and channel (`synth.*`: the same signal model as the training file) at `capture.snr`,
scaled as the generator scales a frame (`synth.normalise`, over the whole segment: a transmitter
of constant gain). Every segment is a SigMF annotation whose `core:label` is its class: the known
sequence `classify` compares its predictions with.

Randomness: generators keyed by (capture.seed, 2, segment) and (capture.seed, 3) for the order,
spawn keys the training file's generators (0 and 1) never use, so no segment repeats a training
frame even with capture.seed = synth.seed.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..config import CaptureConfig, SynthConfig
from .channel import apply_channel, guard_samples
from .classes import CLASSES
from .modulators import modulate
from .synth import modulation, normalise

DATATYPE = "cf32_le"
GENERATOR = "toolchain capture"


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def segment_classes(cap: CaptureConfig) -> list[str]:
    """The known sequence: `capture.classes` as given, else all classes in a seeded order."""
    if cap.classes is not None:
        return list(cap.classes)
    return [CLASSES[i] for i in _rng(cap.seed, 3).permutation(len(CLASSES))]


def segment(synth: SynthConfig, cap: CaptureConfig, index: int, name: str) -> np.ndarray:
    """Complex64 samples of segment `index`: class `name`, frames_per_segment * synth.length long."""
    length = cap.frames_per_segment * synth.length
    guard = guard_samples(synth.channel, length)
    rng = _rng(cap.seed, 2, index)
    clean = modulate(name, 1, length + 2 * guard, rng, sps_range=tuple(synth.samples_per_symbol),
                     rolloff_range=tuple(synth.rolloff), modulation=modulation(synth))
    y = apply_channel(clean, float(cap.snr), rng, synth.channel, guard=guard)
    return normalise(y, synth.normalise)[0].astype(np.complex64)


def write_capture(meta_path: Path, synth: SynthConfig, cap: CaptureConfig) -> dict:
    """Write `<stem>.sigmf-data` and `<stem>.sigmf-meta` (both or neither) and return the metadata."""
    from sigmf import SigMFFile

    if not meta_path.name.endswith(".sigmf-meta"):
        raise ValueError(f"{meta_path}: expected a .sigmf-meta path")
    data_path = meta_path.with_name(meta_path.name[: -len(".sigmf-meta")] + ".sigmf-data")
    names = segment_classes(cap)
    count = cap.frames_per_segment * synth.length
    with ExitStack() as stack:
        data_tmp = stack.enter_context(atomic_path(data_path))
        meta_tmp = stack.enter_context(atomic_path(meta_path))
        with open(data_tmp, "wb") as f:
            for i, name in enumerate(names):
                f.write(segment(synth, cap, i, name).tobytes())
        handle = SigMFFile(data_file=str(data_tmp), global_info={
            "core:datatype": DATATYPE,
            "core:sample_rate": float(cap.sample_rate),
            "core:num_channels": 1,
            "core:generator": GENERATOR,
            "core:description": (
                f"{len(names)} segments of known modulation, {cap.frames_per_segment} frames of {synth.length} "
                f"samples each, at {cap.snr:g} dB (synthetic generator, preset {synth.preset}, seed {cap.seed}); "
                "each segment is an annotation whose core:label is its class"),
        })
        handle.add_capture(0, metadata={})
        for i, name in enumerate(names):
            handle.add_annotation(i * count, count, metadata={
                "core:label": name, "core:generator": GENERATOR,
                "core:comment": f"segment {i}: {name} at {cap.snr:g} dB"})
        handle.validate()
        meta = json.loads(handle.dumps())
        meta["global"].pop("core:dataset", None)  # sigmf names the temporary file; the stem pairs them
        meta_tmp.write_text(json.dumps(meta, indent=2) + "\n")
    return meta
