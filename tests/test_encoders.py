"""Spike encoders: no sample lost, bins where worked out by hand, delta reconstructs."""

from __future__ import annotations

import torch

from toolchain.snn.encoders import ENCODERS, constellation, delta, delta_reconstruct, plot_raster


def test_constellation_keeps_every_sample():
    x = 1.5 * torch.randn(3, 2, 128, generator=torch.Generator().manual_seed(0))  # some beyond range
    out = ENCODERS["constellation"](x, resolution=16, range=2.0, group=8)
    assert out.shape == (3, 16, 1, 16, 16)
    assert torch.all(out.sum(dim=(2, 3, 4)) == 8)  # one spike per sample, group per step
    warped = constellation(x, resolution=8, gamma=0.5, group=128)
    assert warped.shape == (3, 1, 1, 8, 8) and torch.all(warped.sum(dim=(2, 3, 4)) == 128)


def test_constellation_bins_by_hand():
    # range 2, R = 4: cells [-2,-1) [-1,0) [0,1) [1,2]; row = Q bin, column = I bin
    i = torch.tensor([-1.5, 0.5, 1.99, 5.0, -0.01, 0.0])
    q = torch.tensor([1.5, 0.5, -2.0, 0.2, -0.01, -9.0])
    out = constellation(torch.stack([i, q])[None], resolution=4, range=2.0, group=1)[0, :, 0]
    expected = [(3, 0), (2, 2), (0, 3), (2, 3), (1, 1), (0, 2)]  # (row Q, column I) per sample
    for t, (row, col) in enumerate(expected):
        assert out[t, row, col] == 1 and out[t].sum() == 1


def test_constellation_counts_and_binary():
    x = torch.zeros(1, 2, 4)  # four samples in the same cell of one step
    assert constellation(x, resolution=4, group=4).max() == 4
    assert constellation(x, resolution=4, group=4, binary=True).max() == 1


def test_gamma_widens_the_centre():
    x = torch.tensor([[[0.25], [0.0]]])  # radius 0.25: cell 2 of 8 at gamma 1, further out at 0.5
    plain = constellation(x, resolution=8, group=1)[0, 0, 0].nonzero()[0]
    warped = constellation(x, resolution=8, gamma=0.5, group=1)[0, 0, 0].nonzero()[0]
    assert plain.tolist() == [4, 4] and warped.tolist() == [4, 5]  # 2 * sqrt(0.125) = 0.71 -> bin 5


def test_delta_reconstructs_within_a_step():
    t = torch.arange(256.0)
    x = torch.stack([torch.cos(0.05 * t), 0.7 * torch.sin(0.11 * t)])[None].repeat(2, 1, 1)
    x[1] *= -1.3
    for step in (0.05, 0.2):
        spikes = delta(x, step=step, group=16)
        assert spikes.shape == (2, 16, 4, 16) and spikes.min() >= 0
        error = (delta_reconstruct(spikes, step) - x).abs().max()
        assert error < step + 1e-5


def test_delta_by_hand():
    x = torch.tensor([[[0.25, 0.05, -0.15, -0.15], [0.0, 0.0, 0.0, 0.0]]])  # I only, step 0.1
    s = delta(x, step=0.1, group=2)  # levels 2, 0, -2, -2
    assert s[0, :, 0].flatten().tolist() == [2, 0, 0, 0]  # I_on
    assert s[0, :, 1].flatten().tolist() == [0, 2, 2, 0]  # I_off
    assert s[0, :, 2:].sum() == 0


def test_raster_png(tmp_path):
    x = torch.randn(1, 2, 64, generator=torch.Generator().manual_seed(1))
    path = plot_raster(constellation(x, resolution=8, group=4)[0], tmp_path / "raster.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    plot_raster(delta(x, step=0.1, group=4)[0], tmp_path / "delta.png")
