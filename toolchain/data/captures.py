"""I/Q captures as a stream of model-sized frames: SigMF recordings and raw interleaved files.

Both are read through the `sigmf` package (`SigMFFile.read_samples`, which seeks and reads only
the samples asked for), a raw file as a SigMF dataset described by `--format` and `--rate`, so
the datatypes, their scaling and multi-channel layouts are SigMF's. Memory stays bounded
whatever the capture's size: samples are read `chunk` at a time, resampled chunk by chunk with
an overlap that makes the result identical to resampling the whole capture at once, and cut
into frames with at most one frame's worth carried over between chunks.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from ..errors import ToolchainError

# SigMF 1.x sample formats that hold I/Q: complex, float or signed/unsigned integer components.
COMPLEX_DATATYPE = re.compile(r"^c(f32|f64|i32|i16|u32|u16)_(le|be)$|^c(i8|u8)$")
RAW_FORMATS = {"cf32": "cf32_le", "ci16": "ci16_le", "ci8": "ci8"}
PREDICTIONS_GENERATOR = "toolchain classify"  # core:generator of the annotations classify writes


@dataclass
class Capture:
    """One channel of a recording: `read(start, count)` gives complex64 samples."""

    path: Path  # what the user named (the .sigmf-meta, or the raw file)
    data_file: Path
    datatype: str
    sample_rate: Optional[float]
    num_samples: int
    num_channels: int
    channel: int
    handle: Any  # sigmf.SigMFFile
    kind: str  # "sigmf" or "raw"

    def read(self, start: int, count: int) -> np.ndarray:
        x = self.handle.read_samples(start_index=start, count=count)
        if self.num_channels > 1:
            x = x[:, self.channel]
        return np.ascontiguousarray(x, dtype=np.complex64)

    def global_info(self) -> dict:
        return dict(self.handle.get_global_info())

    def captures(self) -> list[dict]:
        return [dict(c) for c in self.handle.get_captures()]


def _check_datatype(path: Path, datatype: Any) -> str:
    if not isinstance(datatype, str) or not COMPLEX_DATATYPE.match(datatype):
        raise ToolchainError(f"{path}: core:datatype {datatype!r} is not a complex SigMF datatype; expected one of "
                             "cf32_le, cf64_le, ci32_le, ci16_le, ci8, cu8 ... (_le or _be; I/Q, not real samples)")
    return datatype


def _channel(path: Path, channel: int, channels: int) -> int:
    if not 0 <= channel < channels:
        raise ToolchainError(f"{path}: channel {channel} does not exist; expected --channel 0.."
                             f"{channels - 1} ({channels} channel{'s' if channels > 1 else ''} in core:num_channels)")
    return channel


def open_sigmf(path: Path, channel: int = 0) -> Capture:
    """A SigMF recording named by its .sigmf-meta or .sigmf-data file (or the common stem)."""
    import json

    from sigmf import sigmffile
    from sigmf.error import SigMFError

    meta = sigmffile.get_sigmf_filenames(path)["meta_fn"]
    if not Path(meta).is_file():
        raise ToolchainError(f"{path}: no SigMF metadata file {meta}; expected a .sigmf-meta beside the data")
    try:
        raw = json.loads(Path(meta).read_text())
        _check_datatype(Path(meta), raw.get("global", {}).get("core:datatype"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sigmf warns about trailing bytes; counted below instead
            handle = sigmffile.fromfile(meta, skip_checksum=True)
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ToolchainError(f"{meta}: not a SigMF metadata file ({exc})") from None
    except SigMFError as exc:
        raise ToolchainError(f"{meta}: {str(exc).strip().splitlines()[0]}") from None
    if handle.data_file is None:
        expected = sigmffile.get_sigmf_filenames(path)["data_fn"]
        raise ToolchainError(f"{meta}: its data file {expected} does not exist; expected the recording's samples "
                             "there (or named by core:dataset)")
    channels = int(handle.get_global_field("core:num_channels", 1) or 1)
    return Capture(Path(meta), Path(handle.data_file), handle.get_global_field("core:datatype"),
                   handle.get_global_field("core:sample_rate"), int(handle.sample_count), channels,
                   _channel(Path(meta), channel, channels), handle, "sigmf")


def open_raw(path: Path, fmt: str, rate: Optional[float], channels: int = 1, channel: int = 0) -> Capture:
    """Raw interleaved I/Q (I, Q, I, Q, ...; channels interleaved per sample) in `fmt`."""
    from sigmf import SigMFFile

    if fmt not in RAW_FORMATS:
        raise ToolchainError(f"{path}: --format {fmt!r}: expected one of {', '.join(RAW_FORMATS)}")
    if not path.is_file():
        raise ToolchainError(f"{path}: no such capture file")
    info = {"core:datatype": RAW_FORMATS[fmt], "core:num_channels": channels}
    if rate is not None:
        info["core:sample_rate"] = float(rate)
    handle = SigMFFile(global_info=info, data_file=str(path), skip_checksum=True)
    return Capture(path, path, RAW_FORMATS[fmt], rate, int(handle.sample_count), channels,
                   _channel(path, channel, channels), handle, "raw")


@dataclass(frozen=True)
class Resampling:
    """Rational resampling by up / down (scipy.signal.resample_poly's polyphase FIR)."""

    up: int
    down: int

    @classmethod
    def parse(cls, text: str) -> "Resampling":
        try:
            up, down = (int(p) for p in text.split("/"))
            if up <= 0 or down <= 0:
                raise ValueError
        except ValueError:
            raise ToolchainError(f"--resample {text!r}: expected P/Q with positive integers, e.g. 8/5") from None
        f = Fraction(up, down)
        return cls(f.numerator, f.denominator)

    @property
    def margin(self) -> int:
        """Input samples each side of a chunk that reach into it through the filter (its half
        length, 10 * max(up, down) taps at the up-sampled rate), rounded up to a multiple of down."""
        half = math.ceil(10 * max(self.up, self.down) / self.up) + 1
        return math.ceil(half / self.down) * self.down

    def output_length(self, n: int) -> int:
        return n * self.up // self.down


def stream(capture: Capture, chunk: int, resampling: Optional[Resampling] = None) -> Iterator[np.ndarray]:
    """The capture's samples (resampled if asked) in consecutive blocks of about `chunk`."""
    n = capture.num_samples
    if resampling is None:
        for start in range(0, n, chunk):
            yield capture.read(start, min(chunk, n - start))
        return
    from scipy.signal import resample_poly

    r = resampling
    step = max(r.down, chunk // r.down * r.down)  # starts on multiples of down: output index = start*up/down
    pad = r.margin
    for start in range(0, n, step):
        stop = min(start + step, n)
        lo = max(0, start - pad)
        x = capture.read(lo, min(n, stop + pad) - lo)
        # the block starts `pad` samples before `start`: zeros before the capture, as resample_poly
        # pads the whole signal; past its end resample_poly pads this block the same way itself
        x = np.concatenate([np.zeros(pad - (start - lo), np.complex64), x])
        y = resample_poly(x, r.up, r.down)
        first = pad * r.up // r.down
        yield y[first: first + r.output_length(stop) - r.output_length(start)].astype(np.complex64)


def frames(blocks: Iterator[np.ndarray], length: int, hop: int, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(start positions in the stream, frames (B, 2, length) float32 I/Q) in batches of `batch`;
    frames start every `hop` samples and only whole frames are produced."""
    buf = np.zeros(0, np.complex64)
    offset = 0  # stream position of buf[0]
    next_start = 0
    starts: list[int] = []
    out: list[np.ndarray] = []
    for block in blocks:
        buf = np.concatenate([buf, block])
        while next_start + length <= offset + len(buf):
            i = next_start - offset
            seg = buf[i: i + length]
            out.append(np.stack([seg.real, seg.imag]).astype(np.float32))
            starts.append(next_start)
            next_start += hop
            if len(out) == batch:
                yield np.asarray(starts, np.int64), np.stack(out)
                starts, out = [], []
        drop = min(max(0, next_start - offset), len(buf))
        buf, offset = buf[drop:], offset + drop
    if out:
        yield np.asarray(starts, np.int64), np.stack(out)


def frame_count(samples: int, length: int, hop: int) -> int:
    return 0 if samples < length else (samples - length) // hop + 1


def unit_power(x: np.ndarray) -> np.ndarray:
    """Each frame (B, 2, L) scaled to unit mean power |I + jQ|^2, as RadioML frames are
    ("normalized to unit variance") and the synthetic generator makes them; zero frames stay zero."""
    p = (x.astype(np.float64) ** 2).sum(axis=1).mean(axis=1)
    scale = 1.0 / np.sqrt(np.where(p > 0, p, 1.0))
    return (x * scale[:, None, None]).astype(np.float32)


def unit_variance(x: np.ndarray) -> np.ndarray:
    """Each frame (B, 2, L) scaled to unit variance, mean |z - mean(z)|^2 = 1 with the mean kept
    and scaled (the synthetic generator's radioml2018 scaling: an OOK or AM carrier keeps its
    offset); constant frames stay as they are."""
    centred = x.astype(np.float64) - x.mean(axis=2, keepdims=True)
    v = (centred ** 2).sum(axis=1).mean(axis=1)
    scale = 1.0 / np.sqrt(np.where(v > 0, v, 1.0))
    return (x * scale[:, None, None]).astype(np.float32)


def labelled_spans(capture: Capture, names: list[str]) -> np.ndarray:
    """(first sample, end sample, class index) rows of the recording's annotations whose
    `core:label` is one of the model's class names: the known classes a recording may carry (the
    capture stage writes one per segment). An annotation without a sample count runs to the end;
    those `classify` wrote (its predictions, generator "toolchain classify") are not known classes."""
    index = {n: i for i, n in enumerate(names)}
    rows = []
    for a in capture.handle.get_annotations():
        label = a.get("core:label")
        if label in index and a.get("core:generator") != PREDICTIONS_GENERATOR:
            start = int(a.get("core:sample_start", 0))
            rows.append((start, start + int(a.get("core:sample_count", capture.num_samples - start)), index[label]))
    return np.asarray(rows, np.int64).reshape(-1, 3)


def known_classes(spans: np.ndarray, starts: np.ndarray, count: int) -> np.ndarray:
    """Per frame (input samples starts .. starts + count): the class of the labelled spans holding
    the whole frame, else -1 (unlabelled, straddling two spans, or in spans of different classes)."""
    s = np.asarray(starts, np.int64)[:, None]
    inside = (spans[None, :, 0] <= s) & (s + count <= spans[None, :, 1])  # (frames, spans)
    cls = np.where(inside, spans[None, :, 2], -1)
    first = cls.max(axis=1, initial=-1)
    agree = ~(inside & (cls != first[:, None])).any(axis=1)
    return np.where(agree, first, -1)
