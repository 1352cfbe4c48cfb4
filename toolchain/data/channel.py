"""Channel impairments for synthetic frames, vectorised over frames (rows).

Order follows a receiver's view of the link: the transmitter's clock drifts against the
receiver's (sample-rate offset) and the frame starts at a random time offset, the signal crosses
a static multipath channel, arrives with a carrier frequency and phase offset, and picks up
noise (white, or band-limited as in the real file). The caller rescales each frame at the end
(`normalise` in synth.py). A generator that can make a few samples more than the frame passes
them as a `guard`, so the channel's memory at the frame edges holds signal rather than zeros.
Offsets are drawn from a normal distribution (`*_std`) plus a uniform one (`max_*`): the
radioml2018 preset uses the first, the hard preset the second (docs/data.md).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from ..config import ChannelConfig
from .modulators import measured_pulse_taps, row_power

# Lagrange points of the sample-rate-offset interpolator. On a tone at 0.2 cycles/sample (the
# widest RRC band, 4 sps and roll-off 0.5, plus CFO) 6 points err by ~-46 dB at the 0.1-sample
# shifts of 200 ppm and ~-36 dB at a half-sample shift; 4 points would be ~10 dB worse.
INTERP_POINTS = 6


def awgn(x: np.ndarray, snr_db: float | np.ndarray, rng: np.random.Generator,
         shape: np.ndarray | None = None, white_fraction: float = 0.0) -> np.ndarray:
    """Add complex Gaussian noise so that each row's (last axis) signal power over noise power
    equals 10^(snr_db/10). `snr_db` is a scalar or one value per row. With `shape` (FIR taps of
    unit energy) the noise is band-limited through them except for `white_fraction` of its power,
    which stays white; the total noise power is the same either way."""
    x = np.asarray(x, dtype=np.complex128)
    power = row_power(x)
    snr = np.asarray(snr_db, dtype=np.float64)
    if snr.ndim:
        snr = snr[..., None]
    std = np.sqrt(power / 10.0 ** (snr / 10.0) / 2.0)  # per real dimension
    if shape is None:
        noise = rng.standard_normal((*x.shape, 2)).view(np.complex128)[..., 0]
    else:
        n, length = x.shape
        extra = len(shape) - 1  # 'valid' filtering of a longer draw: stationary from sample 0
        white = rng.standard_normal((n, length + extra, 2)).view(np.complex128)[..., 0]
        spectrum = sfft.fft(white, axis=1, workers=-1) * sfft.fft(shape, n=length + extra)
        noise = sfft.ifft(spectrum, axis=1, workers=-1)[:, extra:]
        noise *= np.sqrt(1.0 - white_fraction)
        noise += np.sqrt(white_fraction) * white[:, :length]
    noise *= std
    noise += x
    return noise


def resample(x: np.ndarray, eps: np.ndarray, shift: np.ndarray | None = None, points: int = INTERP_POINTS) -> np.ndarray:
    """Read each row at positions c + (j - c)(1 + eps[row]) + shift[row] around the frame centre
    c, by `points`-point Lagrange interpolation: one flat gather per tap, no per-frame loop.

    Centring halves the drift that falls outside the frame; samples needed beyond the ends take
    the edge value, which matters only for offsets far larger than real clocks have. Work arrays
    are reused in place because fresh large allocations (page faults) dominate the cost here.
    """
    n, length = x.shape
    centre = (length - 1) / 2
    taps = range(1 - points // 2, points // 2 + 1)  # sample offsets around floor(position)
    shift = np.zeros(n) if shift is None else shift
    reach = centre * np.max(np.abs(eps), initial=0.0) + np.max(np.abs(shift), initial=0.0)
    pad = int(np.ceil(reach)) + points // 2  # end drift + shift + taps
    padded = np.pad(x, ((0, 0), (pad, pad)), mode="edge").ravel()
    mu = (np.arange(length) - centre)[None, :] * (1.0 + eps[:, None]) + (centre + shift[:, None])
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


def delay_profiles(n: int, cfg: ChannelConfig, rng: np.random.Generator) -> np.ndarray:
    """(n, taps) mean power of each tap at delays 0..taps-1, summing to 1 per frame. With
    `cfg.delay_spreads` each frame draws a spread tau from the list (equally likely) and gets
    the exponential profile exp(-d / tau) (tau = 0: one tap, flat fading); otherwise every frame
    has `multipath_taps` taps decaying by `multipath_decay`."""
    if cfg.delay_spreads is None:
        profile = cfg.multipath_decay ** np.arange(cfg.multipath_taps)
        return np.broadcast_to(profile / profile.sum(), (n, cfg.multipath_taps))
    spreads = np.asarray(cfg.delay_spreads, dtype=np.float64)
    tau = spreads[rng.integers(0, len(spreads), size=n)]
    d = np.arange(multipath_taps(cfg))[None, :]
    profile = np.where(tau[:, None] > 0, np.exp(-d / np.where(tau > 0, tau, 1.0)[:, None]), d == 0)
    return profile / profile.sum(axis=1, keepdims=True)


def multipath_taps(cfg: ChannelConfig) -> int:
    """Taps of the channel FIR: 3 * the largest delay spread + 1 (the exponential profile is
    below -26 dB beyond), or `multipath_taps`."""
    if cfg.delay_spreads is None:
        return cfg.multipath_taps
    return int(np.ceil(3 * max(cfg.delay_spreads))) + 1


def fading_taps(n: int, cfg: ChannelConfig, rng: np.random.Generator) -> np.ndarray:
    """(n, taps) complex channel taps at delays 0..taps-1: Rayleigh gains on the power profile
    of `delay_profiles`, a Rician first tap with K = cfg.rician_k (0: Rayleigh), each frame's
    taps scaled to unit total power."""
    profile = delay_profiles(n, cfg, rng)
    shape = profile.shape
    taps = np.sqrt(profile / 2) * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    k = cfg.rician_k
    line_of_sight = np.sqrt(profile[:, 0]) * np.exp(1j * rng.uniform(0, 2 * np.pi, size=n))
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
    drift = int(np.ceil(sro_bound(cfg) * length / 2))
    return multipath_taps(cfg) - 1 + drift + int(np.ceil(cfg.max_time_offset)) + INTERP_POINTS // 2


def sro_bound(cfg: ChannelConfig) -> float:
    """Largest |sample-rate offset| that matters: the uniform bound plus 5 normal sigmas."""
    return cfg.max_sro_ppm * 1e-6 + 5 * cfg.sro_std


def draw_offsets(n: int, cfg: ChannelConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-frame sample-rate offset (ratio), time offset (samples), carrier frequency offset
    (cycles/sample) and carrier phase (radians), drawn in that order."""
    sro = rng.normal(0.0, cfg.sro_std, size=n) + rng.uniform(-1.0, 1.0, size=n) * cfg.max_sro_ppm * 1e-6
    time = rng.uniform(0.0, cfg.max_time_offset, size=n)
    cfo = rng.normal(0.0, cfg.cfo_std, size=n) + rng.uniform(-cfg.max_cfo, cfg.max_cfo, size=n)
    phase = rng.uniform(0, 2 * np.pi, size=n)
    return {"sro": sro, "time": time, "cfo": cfo, "phase": phase}


def apply_channel(
    x: np.ndarray, snr_db: float, rng: np.random.Generator, cfg: ChannelConfig, guard: int = 0
) -> np.ndarray:
    """Impair clean frames (n, length): with `cfg.enabled` sample-rate and time offset, multipath
    fading, carrier frequency and phase offset; always noise at `snr_db` (`cfg.noise`).

    With `guard` > 0 the first and last `guard` samples of each row only give the channel its
    history and are cut off before the noise: the result has length - 2*guard samples.
    """
    y = np.array(x, dtype=np.complex128, ndmin=2)
    n, length = y.shape
    if not 0 <= 2 * guard < length:
        raise ValueError(f"guard {guard} leaves no samples of a {length}-sample frame")
    if cfg.enabled:
        o = draw_offsets(n, cfg, rng)
        if sro_bound(cfg) > 0 or cfg.max_time_offset > 0:
            y = resample(y, o["sro"], o["time"])
        y = multipath(y, fading_taps(n, cfg, rng))
        y *= rotation(o["cfo"], o["phase"], length)
    if guard:
        y = y[:, guard : length - guard]
    if cfg.snr_reading == "voltage":
        snr_db = 2.0 * snr_db  # the label scales the noise amplitude, so it counts twice in power
    if cfg.noise == "white":
        return awgn(y, snr_db, rng)
    return awgn(y, snr_db, rng, measured_pulse_taps(cfg.noise_sps), cfg.noise_white_fraction)
