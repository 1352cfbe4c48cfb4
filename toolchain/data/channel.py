"""Channel impairments for synthetic frames, vectorised over frames (rows).

Order follows a receiver's view of the link: the transmitter's clock drifts against the
receiver's (sample-rate offset), the signal crosses a static multipath channel, arrives with a
carrier frequency and phase offset, and picks up thermal noise. Every frame is rescaled to unit
mean power at the end, as the frames of the real RadioML file are. A generator that can make a
few samples more than the frame passes them as a `guard`, so the channel's memory at the frame
edges holds signal rather than zeros.
"""

from __future__ import annotations

import numpy as np

from ..config import ChannelConfig
from .modulators import row_power, unit_power

# Lagrange points of the sample-rate-offset interpolator. On a tone at 0.2 cycles/sample (the
# widest RRC band, 4 sps and roll-off 0.5, plus CFO) 6 points err by ~-46 dB at the 0.1-sample
# shifts of 200 ppm and ~-36 dB at a half-sample shift; 4 points would be ~10 dB worse.
INTERP_POINTS = 6


def awgn(x: np.ndarray, snr_db: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add complex white Gaussian noise so that each row's (last axis) signal power over noise
    power equals 10^(snr_db/10). `snr_db` is a scalar or one value per row."""
    x = np.asarray(x, dtype=np.complex128)
    power = row_power(x)
    snr = np.asarray(snr_db, dtype=np.float64)
    if snr.ndim:
        snr = snr[..., None]
    std = np.sqrt(power / 10.0 ** (snr / 10.0) / 2.0)  # per real dimension
    noise = rng.standard_normal((*x.shape, 2)).view(np.complex128)[..., 0]
    noise *= std
    noise += x
    return noise


def resample(x: np.ndarray, eps: np.ndarray, points: int = INTERP_POINTS) -> np.ndarray:
    """Read each row at positions c + (j - c)(1 + eps[row]) around the frame centre c, by
    `points`-point Lagrange interpolation: one flat gather per tap, no per-frame loop.

    Centring halves the drift that falls outside the frame; samples needed beyond the ends take
    the edge value, which matters only for offsets far larger than real clocks have. Work arrays
    are reused in place because fresh large allocations (page faults) dominate the cost here.
    """
    n, length = x.shape
    centre = (length - 1) / 2
    taps = range(1 - points // 2, points // 2 + 1)  # sample offsets around floor(position)
    pad = int(np.ceil(centre * np.max(np.abs(eps), initial=0.0))) + points // 2  # end drift + taps
    padded = np.pad(x, ((0, 0), (pad, pad)), mode="edge").ravel()
    mu = (np.arange(length) - centre)[None, :] * (1.0 + eps[:, None]) + centre
    base = np.floor(mu)
    mu -= base  # fractional part of the read position
    flat = base.astype(np.int64)
    flat += (np.arange(n) * (length + 2 * pad) + pad)[:, None]

    out = np.zeros_like(x)
    sample = np.empty_like(x)
    weight, factor = np.empty_like(mu), np.empty_like(mu)
    index = np.empty_like(flat)
    for k in taps:  # a few taps, not a loop over frames
        others = [j for j in taps if j != k]  # Lagrange: prod over j != k of (mu - j)/(k - j)
        np.subtract(mu, others[0], out=weight)
        for j in others[1:]:
            np.subtract(mu, j, out=factor)
            weight *= factor
        weight /= np.prod([k - j for j in others])
        np.add(flat, k, out=index)
        np.take(padded, index, out=sample)
        sample *= weight
        out += sample
    return out


def rotation(freq: np.ndarray, phase: np.ndarray, length: int) -> np.ndarray:
    """exp(j(2 pi freq[i] t + phase[i])) for t = 0..length-1, as (n, length).

    Built as the outer product of a coarse and a fine phasor (t = 32a + b), so the costly complex
    exponential runs on ~length/16 values per frame instead of length.
    """
    step = 32
    coarse = np.exp(1j * (2 * np.pi * freq[:, None] * step * np.arange(-(-length // step))[None, :] + phase[:, None]))
    fine = np.exp(2j * np.pi * freq[:, None] * np.arange(step)[None, :])
    return (coarse[:, :, None] * fine[:, None, :]).reshape(len(freq), -1)[:, :length]


def fading_taps(n: int, cfg: ChannelConfig, rng: np.random.Generator) -> np.ndarray:
    """(n, taps) complex channel taps at delays 0..taps-1: exponential power profile, Rician
    first tap with K = cfg.rician_k, each frame's taps scaled to unit total power."""
    profile = cfg.multipath_decay ** np.arange(cfg.multipath_taps)
    profile /= profile.sum()
    shape = (n, cfg.multipath_taps)
    taps = np.sqrt(profile / 2) * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    k = cfg.rician_k
    line_of_sight = np.sqrt(profile[0]) * np.exp(1j * rng.uniform(0, 2 * np.pi, size=n))
    taps[:, 0] = np.sqrt(k / (k + 1)) * line_of_sight + np.sqrt(1 / (k + 1)) * taps[:, 0]
    return taps / np.sqrt(np.sum(np.abs(taps) ** 2, axis=1, keepdims=True))


def multipath(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Per-row FIR with each row's own taps; the first taps-1 samples see zeros before the frame."""
    out = x * taps[:, :1]
    for d in range(1, taps.shape[1]):  # a handful of delays, not a loop over frames
        out[:, d:] += x[:, :-d] * taps[:, d : d + 1]
    return out


def guard_samples(cfg: ChannelConfig, length: int) -> int:
    """Extra samples a generator should add at each end of a `length`-sample frame so that the
    channel's memory (multipath delay spread, sample-rate drift plus interpolator reach) is filled
    with real signal instead of zeros or held edge values; see `apply_channel(guard=...)`."""
    if not cfg.enabled:
        return 0
    drift = int(np.ceil(cfg.max_sro_ppm * 1e-6 * length / 2))
    return cfg.multipath_taps - 1 + drift + INTERP_POINTS // 2


def apply_channel(
    x: np.ndarray, snr_db: float, rng: np.random.Generator, cfg: ChannelConfig, guard: int = 0
) -> np.ndarray:
    """Impair clean frames (n, length): with `cfg.enabled` sample-rate offset, multipath fading,
    carrier frequency and phase offset; always AWGN at `snr_db`; then unit mean power per frame.

    With `guard` > 0 the first and last `guard` samples of each row only give the channel its
    history and are cut off before the noise: the result has length - 2*guard samples.
    """
    y = np.array(x, dtype=np.complex128, ndmin=2)
    n, length = y.shape
    if not 0 <= 2 * guard < length:
        raise ValueError(f"guard {guard} leaves no samples of a {length}-sample frame")
    if cfg.enabled:
        eps = rng.uniform(-1.0, 1.0, size=n) * cfg.max_sro_ppm * 1e-6
        if cfg.max_sro_ppm > 0:
            y = resample(y, eps)
        y = multipath(y, fading_taps(n, cfg, rng))
        cfo = rng.uniform(-cfg.max_cfo, cfg.max_cfo, size=n)
        phase = rng.uniform(0, 2 * np.pi, size=n)
        y *= rotation(cfo, phase, length)
    if guard:
        y = y[:, guard : length - guard]
    y = awgn(y, snr_db, rng)
    return unit_power(y, inplace=True)
