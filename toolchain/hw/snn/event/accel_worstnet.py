"""A worst-case network of an accelerator's geometry and the frames that make every kernel meet
its worst case at once (the stitched worst case of accel_worstcase.py).

The kernels' cycles depend on the geometry (planes, channels, kernel, SP, lanes, FIFO depths) and
on the events only, never on weight values. So the worst-case network keeps the geometry and
the LIF neuron of the accelerator's own network (state width, leak, reset, refractory: these
decide how often a neuron can fire) and changes only what sets the activity: every conv weight
is the largest positive integer of its width and the convs' threshold is that weight, so any
input event reaching a neuron makes it fire in every step its refractory period lets it. The
encoder's frame puts every sample on a cell of its own within its step, the first cells covering
every conv0 neuron's window (`covering_cells`), so conv0 gets `group` events a step (BINARY keeps
all of them) and every conv0 neuron is reached. The readout keeps random weights (seeded): the
classes and membranes then have something to be checked bit exact against.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ....errors import ToolchainError
from .accelerator import AcceleratorSpec


def covering_cells(spec: AcceleratorSpec) -> np.ndarray:
    """Cells (flat, row * R + column) one of which lies in every conv0 neuron's K x K window:
    window centres every K along each axis (the last at the plane's edge)."""
    r, k = spec.encoder.resolution, spec.convs[0].kernel
    axis = sorted({min(k // 2 + i * k, r - 1) for i in range(-(-r // k))})
    return np.array([q * r + i for q in axis for i in axis], np.int64)


def cell_codes(spec: AcceleratorSpec, cells: np.ndarray) -> np.ndarray:
    """(n,) flat cells -> (n, 2) int I/Q codes the encoder bins into them (the first code of each bin)."""
    e = spec.encoder
    r = e.resolution
    i_code = {int(b): c for c, b in reversed(list(enumerate(e.ibin)))}
    q_code = {int(b): c for c, b in reversed(list(enumerate(e.qbin)))}
    if len(i_code) < r or len(q_code) < r:
        raise ToolchainError(f"encoder: its binning tables reach {len(i_code)} x {len(q_code)} of {r} x {r} cells")
    half = 1 << e.input_bits
    codes = np.array([[i_code[int(c) % r], q_code[int(c) // r]] for c in cells], np.int64)
    return np.where(codes >= half // 2, codes - half, codes)  # table index -> two's complement code


def worst_codes(spec: AcceleratorSpec, frames: int, seed: int = 0) -> np.ndarray:
    """(frames, 2, L) int I/Q codes: in every step the covering cells first, then the other cells
    (each frame in its own random order), every sample of a step on a cell of its own while there
    are cells enough. A ToolchainError where a step has fewer samples than covering cells."""
    e = spec.encoder
    cover = covering_cells(spec)
    if len(cover) > e.group:
        raise ToolchainError(f"worst case: {len(cover)} cells are needed to reach every conv0 neuron, a step has "
                             f"{e.group} samples (model.snn_group)")
    rest = np.setdiff1d(np.arange(e.resolution ** 2), cover)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(frames):
        order = np.concatenate([cover, rng.permutation(rest)])
        cells = np.tile(order[np.arange(e.group) % len(order)], spec.steps)
        out.append(cell_codes(spec, cells).T)
    return np.stack(out)


def _geometry(spec: AcceleratorSpec) -> tuple:
    e, d = spec.encoder, spec.dense
    return ((e.resolution, e.group, e.frame, e.binary, e.ibin.tolist(), e.qbin.tolist()),
            [(c.height, c.width, c.cin, c.cout, c.kernel, c.in_lanes, c.sp, c.params.refractory,
              c.params.state_bits) for c in spec.convs],
            (d.positions, d.cin, d.in_lanes, d.outputs, d.params))


def worst_network(model_cfg, spec: AcceleratorSpec, seed: int = 0):
    """(model, spec) of the worst-case network of `spec`'s geometry; `model_cfg`: the model config
    `spec` was mapped from (its encoder and neuron). The spec keeps `spec`'s folding and memory
    styles, with the worst-case weights, thresholds and the widths they need."""
    from ....models import build_model
    from ....models.snn import snn_layer_bits
    from .accelerator import map_model

    n = len(model_cfg.snn_filters)
    bits, _ = snn_layer_bits(model_cfg)
    theta = min(min((1 << (b - 1)) - 1 for b in bits[:n]), (1 << (model_cfg.snn_state_bits - 1)) - 1)
    cfg = dataclasses.replace(model_cfg, snn_thresholds=[theta] * n)
    torch.manual_seed(seed)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for layer in model.layers[:-1]:
            layer.synapse.weight.fill_(1.0)  # quantized: the largest integer of the layer's width
    mapped = map_model(model, sweep_positions=[c.sp for c in spec.convs])
    if _geometry(mapped) != _geometry(spec):
        raise ToolchainError("worst case: the model config does not give the accelerator's geometry "
                             f"({_geometry(mapped)[1]} vs {_geometry(spec)[1]})")
    keep = ("weights", "params", "acc_bits", "weight_bits")
    convs = tuple(dataclasses.replace(c, **{k: getattr(m, k) for k in keep}) for c, m in zip(spec.convs, mapped.convs))
    dense = dataclasses.replace(spec.dense, **{k: getattr(mapped.dense, k) for k in keep})
    return model, dataclasses.replace(spec, convs=convs, dense=dense)
