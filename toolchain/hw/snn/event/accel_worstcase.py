"""The guaranteed bound of the event-driven accelerator, checked in RTL simulation (Verilator).

`rtl_bound` is the kernels' cycle formula when every input event is present
(`resources.cycle_bound`, with the RTL readout's extra cycles); `worst_case` streams each kernel
alone, fed its worst-case frames (`worst_case_streams`: every input event present), and measures
its cycles per frame beside it. All at an assumed 250 MHz (accel_rtl.CLOCK_MHZ).
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
    from .spike_words import encode_frame

    e = spec.encoder
    r = e.resolution
    cell = np.arange(e.frame) % e.group % (r * r)  # distinct cells within a step
    i_code = {int(b): c for c, b in reversed(list(enumerate(e.ibin)))}  # a code of each bin
    q_code = {int(b): c for c, b in reversed(list(enumerate(e.qbin)))}
    if len(i_code) < r or len(q_code) < r:
        raise ToolchainError(f"encoder: its binning tables reach {len(i_code)} x {len(q_code)} of {r} x {r} cells")
    half = 1 << e.input_bits
    codes = np.array([[i_code[c % r], q_code[c // r]] for c in cell], np.int64)
    codes = np.where(codes >= half // 2, codes - half, codes)  # table index -> two's complement code
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
               frames: int = 3) -> dict[str, Any]:
    """Each kernel alone fed `frames` worst-case frames back to back at full rate, output always
    ready: its cycles per frame (between its last two frame ends out) beside `rtl_bound`; the
    guaranteed interval is the slowest kernel's."""
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
    return {"label": LABEL, "per_kernel": measured, "formula_per_kernel": bound, "bound_cycles_per_frame":
            measured[worst], "bounded_by": worst, "frames_per_s": fps(measured[worst]),
            "formula_frames_per_s": fps(max(bound.values())),
            "case": "each kernel alone on frames with every input event present (conv0: `group` events a step on "
                    "distinct cells, later layers: every neuron of the layer before spiking in every step), "
                    "back to back at full rate"}
