"""Spike encoders: float I/Q frames (B, 2, L) -> spike counts (B, T, C, *space), registered by name.

Time is the leading axis after the batch: T = L / group steps, processed one after another by
the network (docs/snn.md). Every encoder returns float tensors holding small non-negative
integers (spike counts per neuron and step), so a quantized conv of them is an exact integer.

- `constellation` (the seed's event encoding): each sample is one spike at its binned (I, Q)
  cell of an R x R plane; `group` consecutive samples share a time step, so a step carries
  `group` spikes in all. Output (B, T, 1, R, R), row = Q bin (low to high), column = I bin.
- `delta` (level crossing, a multi-bit delta modulation): I and Q are each quantized to
  multiples of `step`; a rise by n levels from one sample to the next is n ON spikes, a fall n
  OFF spikes (the level before the frame is 0). step * cumsum(ON - OFF) reconstructs the signal
  within one step. Output (B, T, 4, group): channels I_on, I_off, Q_on, Q_off, the 1-D axis the
  sample's position inside its time step.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch

from ..config import ModelConfig


def _steps(length: int, group: int) -> int:
    if group <= 0 or length % group:
        raise ValueError(f"group: {group} samples per time step must divide the frame length {length}")
    return length // group


def constellation(x: torch.Tensor, resolution: int = 16, range: float = 2.0, gamma: float = 1.0,
                  group: int = 16, binary: bool = False) -> torch.Tensor:
    """(B, 2, L) -> (B, L/group, 1, R, R) spike counts; samples outside [-range, range] land in
    the edge cells (clipped), so every sample makes exactly one spike. gamma < 1 widens the
    plane's centre: the radius r becomes range * (r / range) ** gamma before binning."""
    b, _, length = x.shape
    t = _steps(length, group)
    r_cells = resolution
    i, q = x[:, 0], x[:, 1]
    if gamma != 1.0:
        radius = torch.sqrt(i * i + q * q)
        warped = range * (radius / range).clamp(min=0) ** gamma
        gain = torch.where(radius > 0, warped / radius.clamp(min=1e-12), torch.zeros_like(radius))
        i, q = i * gain, q * gain
    scale = r_cells / (2.0 * range)
    ib = torch.floor((i + range) * scale).clamp(0, r_cells - 1).long()
    qb = torch.floor((q + range) * scale).clamp(0, r_cells - 1).long()
    cell = (qb * r_cells + ib).reshape(b, t, group)
    counts = torch.zeros(b, t, r_cells * r_cells, dtype=x.dtype, device=x.device)
    counts.scatter_add_(2, cell, torch.ones_like(cell, dtype=x.dtype))
    if binary:
        counts = counts.clamp(max=1)
    return counts.reshape(b, t, 1, r_cells, r_cells)


def delta(x: torch.Tensor, step: float = 0.1, group: int = 16) -> torch.Tensor:
    """(B, 2, L) -> (B, L/group, 4, group) ON/OFF spike counts of I and Q (module docstring)."""
    b, _, length = x.shape
    t = _steps(length, group)
    level = torch.floor(x / step)
    prev = torch.cat([torch.zeros_like(level[..., :1]), level[..., :-1]], dim=-1)
    change = level - prev
    on, off = change.clamp(min=0), (-change).clamp(min=0)
    spikes = torch.stack([on[:, 0], off[:, 0], on[:, 1], off[:, 1]], dim=1)  # (B, 4, L)
    return spikes.reshape(b, 4, t, group).permute(0, 2, 1, 3).contiguous()


def delta_reconstruct(spikes: torch.Tensor, step: float) -> torch.Tensor:
    """(B, T, 4, group) -> (B, 2, L): the signal level the spikes encode (floor(x/step)*step)."""
    b, t, _, g = spikes.shape
    s = spikes.permute(0, 2, 1, 3).reshape(b, 4, t * g)
    return step * torch.stack([torch.cumsum(s[:, 0] - s[:, 1], -1), torch.cumsum(s[:, 2] - s[:, 3], -1)], 1)


def max_count(cfg: ModelConfig) -> int:
    """The largest spike count the configured encoder (`model.snn_*`) sends one neuron in one
    step. constellation: `group` samples can fall into one cell (1 when binary). delta: the
    levels crossed between two consecutive samples of a signal within [-snn_range, snn_range]
    (also from the level 0 before the frame); a larger jump is out of the hardware's input
    range, and `verify_snn` fails on it."""
    if cfg.snn_encoder == "constellation":
        return 1 if cfg.snn_binary else cfg.snn_group
    return int(math.floor(cfg.snn_range / cfg.snn_delta_step) - math.floor(-cfg.snn_range / cfg.snn_delta_step))


ENCODERS: dict[str, Callable[..., torch.Tensor]] = {
    "constellation": constellation,
    "delta": delta,
}


def encode(cfg: ModelConfig, x: torch.Tensor) -> torch.Tensor:
    """(B, 2, L) frames -> (B, T, C, H, W) spike counts by the model config's encoder keys;
    1-D encodings get H = 1."""
    if cfg.snn_encoder == "constellation":
        return constellation(x, resolution=cfg.snn_resolution, range=cfg.snn_range, gamma=cfg.snn_gamma,
                             group=cfg.snn_group, binary=cfg.snn_binary)
    return delta(x, step=cfg.snn_delta_step, group=cfg.snn_group).unsqueeze(-2)


def plot_raster(spikes: torch.Tensor, path: str | Path, title: str = "") -> Path:
    """PNG raster of one sample's spikes (T, C, *space): a dot per (step, neuron) that spiked,
    neurons numbered channel-major; larger dots for several spikes in a step."""
    from ..plotting import pyplot

    plt = pyplot()

    from ..atomic import save_figure

    flat = spikes.detach().cpu().reshape(spikes.shape[0], -1)
    steps, neurons = torch.nonzero(flat, as_tuple=True)
    counts = flat[steps, neurons]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.scatter(steps.numpy(), neurons.numpy(), s=4 * counts.numpy(), marker="|" if flat.max() <= 1 else "o",
               color="black", linewidths=0.6)
    ax.set_xlim(-0.5, flat.shape[0] - 0.5)
    ax.set_ylim(-0.5, flat.shape[1] - 0.5)
    ax.set_xlabel("time step")
    ax.set_ylabel("input neuron")
    ax.set_title(title or f"{int(flat.sum())} spikes, {flat.shape[0]} steps x {flat.shape[1]} neurons")
    return save_figure(fig, path)
