"""Clean baseband modulators for the 24 RadioML 2018.01A classes, vectorised over frames.

`modulate` returns `n` frames of one class at once as complex128 (n, length), each frame scaled
to unit mean power. Samples per symbol and roll-off are drawn per frame; rather than grouping
frames by sps, every frame's pulse-shaping filter is laid on one common tap grid and all frames
are filtered by a single batched FFT, so the cost does not depend on the mix of sps values.
How a class is built beyond that (pulse, ASK levels, GMSK BT, analog message) is a
`Modulation`; its defaults are the generator's historical ones, the `radioml2018` preset's
choices come from `SynthConfig` (docs/data.md gives their sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Literal

import numpy as np
from scipy import fft as sfft
from scipy import signal

from .classes import CLASSES

RRC_SPAN = 10  # symbols; even, so the tap grid has an integer centre for every sps
GMSK_H = 0.5  # modulation index: each bit turns the phase by +-pi/2
GAUSS_SPAN = 4  # symbols; the BT=0.3 Gaussian is negligible beyond +-2 symbols

Range = tuple[float, float]

# The overall pulse measured on a real RadioML 2018.01A frame (16QAM, +30 dB; docs/data.md):
# magnitude in dB at frequencies in units of the symbol rate (the frame has 8 samples/symbol:
# flat to 0.04 fs, -3 dB at 0.052 fs, -9 dB at 0.0625 fs, -25 dB at 0.075 fs, < -50 dB beyond
# 0.085 fs). Linear in dB between the points.
MEASURED_PULSE_F = (0.0, 0.32, 0.416, 0.5, 0.6, 0.68, 1.0)
MEASURED_PULSE_DB = (0.0, 0.0, -3.0, -9.0, -25.0, -50.0, -120.0)
MEASURED_SPAN = 20  # symbols; 10 would smear the steep skirt (-20 dB instead of -25 at 0.075 fs)


@dataclass(frozen=True)
class Modulation:
    """How the classes are built beyond sps and roll-off. Defaults: the historical generator."""

    pulse: Literal["rrc", "measured"] = "rrc"  # RRC of the drawn roll-off, or the real file's measured pulse
    ask: Literal["bipolar", "unipolar"] = "bipolar"  # 4/8ASK levels: -(M-1)..M-1 or 0..M-1 (OOK's 0, 1 family)
    gmsk_bt: float = 0.3
    message_bw: Range = (0.01, 0.08)  # upper band edge of the analog message, cycles/sample, per frame
    message_slope: float = 0.0  # dB per octave the message spectrum falls above its lower band edge (0: flat)
    am_index: Range = (0.3, 0.9)
    fm_deviation: Range = (0.02, 0.10)  # peak frequency deviation, cycles/sample
    ssb_carrier: float = 0.0  # frequency the AM-SSB classes' carrier sits at, cycles/sample


# ------------------------------------------------------------------------------ constellations
def _unit(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.complex128)
    return points / np.sqrt(np.mean(np.abs(points) ** 2))


def _pam(m: int) -> np.ndarray:
    return np.arange(-(m - 1), m, 2, dtype=np.float64)


def _psk(m: int) -> np.ndarray:
    # Points at 2*pi*k/M (QPSK on the axes): the convention of the closed-form cumulant tables.
    return np.exp(2j * np.pi * np.arange(m) / m)


def _square_qam(m: int) -> np.ndarray:
    levels = _pam(int(round(np.sqrt(m))))
    i, q = np.meshgrid(levels, levels)
    return (i + 1j * q).ravel()


def _cross_qam(m: int) -> np.ndarray:
    # 32QAM: 6x6 grid without its 4 corner points; 128QAM: 12x12 without four 2x2 corners.
    side, corner = {32: (6, 1), 128: (12, 2)}[m]
    grid = _square_qam(side * side)
    edge = side - 1 - 2 * corner
    keep = ~((np.abs(grid.real) > edge) & (np.abs(grid.imag) > edge))
    return grid[keep]


# (points, radius) per ring, inner first. 16/32APSK use DVB-S2 rate-3/4 ratios, 64APSK the
# DVB-S2X 4+12+20+28 layout; 128APSK follows the DVB-S2X 16x5+48 ring structure with radii
# close to the standard's. Rings are exact only up to the standard's per-code-rate tuning.
_APSK_RINGS: dict[int, tuple[tuple[int, float], ...]] = {
    16: ((4, 1.0), (12, 2.57)),
    32: ((4, 1.0), (12, 2.53), (16, 4.30)),
    64: ((4, 1.0), (12, 2.4), (20, 4.3), (28, 7.0)),
    128: ((16, 1.0), (16, 1.715), (16, 2.118), (16, 2.681), (16, 2.75), (48, 3.812)),
}


def _apsk(m: int) -> np.ndarray:
    rings = []
    for r, (count, radius) in enumerate(_APSK_RINGS[m]):
        # Alternate a half-step rotation between rings so neighbouring rings interleave.
        offset = np.pi / count if r % 2 == 0 else 0.0
        rings.append(radius * np.exp(1j * (2 * np.pi * np.arange(count) / count + offset)))
    return np.concatenate(rings)


_CONSTELLATIONS: dict[str, Callable[[], np.ndarray]] = {
    "OOK": lambda: np.array([0.0, 1.0]),
    "4ASK": lambda: _pam(4),
    "8ASK": lambda: _pam(8),
    "BPSK": lambda: _psk(2),
    "QPSK": lambda: _psk(4),
    "8PSK": lambda: _psk(8),
    "16PSK": lambda: _psk(16),
    "32PSK": lambda: _psk(32),
    "16APSK": lambda: _apsk(16),
    "32APSK": lambda: _apsk(32),
    "64APSK": lambda: _apsk(64),
    "128APSK": lambda: _apsk(128),
    "16QAM": lambda: _square_qam(16),
    "32QAM": lambda: _cross_qam(32),
    "64QAM": lambda: _square_qam(64),
    "128QAM": lambda: _cross_qam(128),
    "256QAM": lambda: _square_qam(256),
}

LINEAR_CLASSES: tuple[str, ...] = tuple(_CONSTELLATIONS)


@lru_cache(maxsize=None)
def _constellation_cached(name: str) -> np.ndarray:
    return _unit(_CONSTELLATIONS[name]())


def constellation(name: str) -> np.ndarray:
    """Complex symbol alphabet of a linearly modulated class, unit average power."""
    if name not in _CONSTELLATIONS:
        raise ValueError(f"{name!r} has no constellation (one of {', '.join(_CONSTELLATIONS)})")
    return _constellation_cached(name).copy()


# ------------------------------------------------------------------------------ pulse shaping
def rrc(t: np.ndarray, beta: np.ndarray | float) -> np.ndarray:
    """Root-raised-cosine impulse response at times `t` in symbols (broadcast with `beta`)."""
    t, beta = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(beta, dtype=np.float64))
    x4 = 4.0 * beta * t
    at_zero = np.abs(t) < 1e-8
    at_pole = np.abs(np.abs(x4) - 1.0) < 1e-8  # t = +-1/(4 beta): 0/0 in the closed form
    den = np.where(at_zero | at_pole, 1.0, np.pi * t * (1.0 - x4**2))
    h = (np.sin(np.pi * t * (1.0 - beta)) + x4 * np.cos(np.pi * t * (1.0 + beta))) / den
    h = np.where(at_zero, 1.0 - beta + 4.0 * beta / np.pi, h)
    safe_beta = np.where(beta > 0, beta, 1.0)
    pole = (safe_beta / np.sqrt(2.0)) * (
        (1 + 2 / np.pi) * np.sin(np.pi / (4 * safe_beta)) + (1 - 2 / np.pi) * np.cos(np.pi / (4 * safe_beta))
    )
    return np.where(at_pole, pole, h)


def rrc_taps(sps: int, beta: float, span: int = RRC_SPAN) -> np.ndarray:
    """RRC filter of `span` symbols at `sps` samples per symbol, unit energy, odd length."""
    t = (np.arange(span * sps + 1) - span * sps / 2) / sps
    h = rrc(t, beta)
    return h / np.sqrt(np.sum(h**2))


def _pulse_train(symbols: np.ndarray, sps: np.ndarray, size: int, delay: np.ndarray | int = 0) -> np.ndarray:
    """Impulses carrying `symbols` every sps[i] samples (from `delay`) in rows of `size` samples."""
    n, nsym = symbols.shape
    pos = np.arange(nsym)[None, :] * sps[:, None] + np.asarray(delay).reshape(-1, 1)
    keep = pos < size
    rows = np.broadcast_to(np.arange(n)[:, None], pos.shape)
    out = np.zeros((n, size), dtype=np.complex128)
    out[rows[keep], pos[keep]] = symbols[keep]
    return out


def _filter_rows(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Circular convolution of each row with its own taps; callers keep only outputs at index
    >= taps-1, where circular and linear convolution agree."""
    size = x.shape[1]
    return sfft.ifft(sfft.fft(x, axis=1, workers=-1) * sfft.fft(taps, n=size, axis=1), axis=1, workers=-1)


def _crop(y: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    return np.take_along_axis(y, start[:, None] + np.arange(length)[None, :], axis=1)


def _draw_sps(n: int, rng: np.random.Generator, sps_range: Range) -> np.ndarray:
    lo, hi = int(sps_range[0]), int(sps_range[1])
    if not 1 <= lo <= hi:
        raise ValueError(f"sps_range must be (min, max) with 1 <= min <= max, got {sps_range}")
    return rng.integers(lo, hi + 1, size=n)


def measured_pulse_response(f_symbols: np.ndarray) -> np.ndarray:
    """Magnitude of the measured real-frame pulse at frequencies in units of the symbol rate."""
    return 10.0 ** (np.interp(np.abs(f_symbols), MEASURED_PULSE_F, MEASURED_PULSE_DB) / 20.0)


@lru_cache(maxsize=None)
def measured_pulse_taps(sps: int, span: int = MEASURED_SPAN) -> np.ndarray:
    """Real, symmetric FIR of span*sps+1 taps whose response is the measured pulse (frequency
    sampling on a fine grid, then a Hann window over the span), unit energy."""
    grid = 64 * span * sps
    h = np.fft.fftshift(np.fft.irfft(measured_pulse_response(np.fft.rfftfreq(grid) * sps), n=grid))
    centre = grid // 2
    h = h[centre - span * sps // 2 : centre + span * sps // 2 + 1] * np.hanning(span * sps + 3)[1:-1]
    h.setflags(write=False)
    return h / np.sqrt(np.sum(h**2))


def _pulse_bank(sps: np.ndarray, beta: np.ndarray, pulse: str) -> np.ndarray:
    """One pulse per frame on a common grid of span*max(sps)+1 taps, centred, unit energy."""
    span = MEASURED_SPAN if pulse == "measured" else RRC_SPAN
    width = span * int(sps.max()) + 1
    if pulse == "measured":
        bank = np.zeros((len(sps), width))
        for s in np.unique(sps):
            pad = (width - span * int(s) - 1) // 2
            bank[sps == s, pad : width - pad] = measured_pulse_taps(int(s), span)
        return bank
    t = (np.arange(width)[None, :] - (width - 1) / 2) / sps[:, None]
    h = np.where(np.abs(t) <= span / 2, rrc(t, beta[:, None]), 0.0)
    return h / np.sqrt(np.sum(h**2, axis=1, keepdims=True))


def _shaped(
    n: int,
    length: int,
    rng: np.random.Generator,
    sps_range: Range,
    rolloff_range: Range,
    pulse: str,
    make_train: Callable[[np.ndarray, int, int], np.ndarray],
) -> np.ndarray:
    """Shape the pulse train from `make_train(sps, size, nsym)`, cropped past the transient
    at a random start so each frame's symbol timing phase is random."""
    sps = _draw_sps(n, rng, sps_range)
    beta = rng.uniform(rolloff_range[0], rolloff_range[1], size=n)
    taps = _pulse_bank(sps, beta, pulse)
    width = taps.shape[1]
    size = sfft.next_fast_len(length + width - 1 + int(sps.max()))
    nsym = -(-size // int(sps.min()))
    y = _filter_rows(make_train(sps, size, nsym), taps)
    start = width - 1 + rng.integers(0, sps)
    return _crop(y, start, length)


def _points(name: str, m: Modulation) -> np.ndarray:
    if m.ask == "unipolar" and name in ("4ASK", "8ASK"):
        return _unit(np.arange(int(name[0]), dtype=np.float64))  # 0..M-1, as OOK is 0, 1
    return constellation(name)


def _linear(name: str) -> Callable[..., np.ndarray]:
    def generate(n: int, length: int, rng: np.random.Generator, sps_range: Range, rolloff_range: Range,
                 m: Modulation) -> np.ndarray:
        points = _points(name, m)

        def train(sps: np.ndarray, size: int, nsym: int) -> np.ndarray:
            return _pulse_train(points[rng.integers(0, len(points), size=(n, nsym))], sps, size)

        return _shaped(n, length, rng, sps_range, rolloff_range, m.pulse, train)

    return generate


def _oqpsk(n: int, length: int, rng: np.random.Generator, sps_range: Range, rolloff_range: Range,
           m: Modulation) -> np.ndarray:
    def train(sps: np.ndarray, size: int, nsym: int) -> np.ndarray:
        i = rng.choice([-1.0, 1.0], size=(n, nsym))
        q = rng.choice([-1.0, 1.0], size=(n, nsym))
        # Q lags I by half a symbol (rounded down for odd sps), so I and Q never switch together.
        return _pulse_train(i, sps, size) + 1j * _pulse_train(q, sps, size, delay=sps // 2)

    return _shaped(n, length, rng, sps_range, rolloff_range, m.pulse, train)


def _gmsk(n: int, length: int, rng: np.random.Generator, sps_range: Range, rolloff_range: Range,
          m: Modulation) -> np.ndarray:
    sps = _draw_sps(n, rng, sps_range)
    width = GAUSS_SPAN * int(sps.max()) + 1
    t = (np.arange(width)[None, :] - (width - 1) / 2) / sps[:, None]
    sigma = np.sqrt(np.log(2.0)) / (2 * np.pi * m.gmsk_bt)  # in symbols
    g = np.where(np.abs(t) <= GAUSS_SPAN / 2, np.exp(-(t**2) / (2 * sigma**2)), 0.0)
    g /= g.sum(axis=1, keepdims=True)  # unit DC gain keeps a full symbol's phase turn at pi*h

    size = sfft.next_fast_len(length + width - 1 + int(sps.max()))
    nsym = -(-size // int(sps.min()))
    bits = rng.choice([-1.0, 1.0], size=(n, nsym))
    nrz = np.take_along_axis(bits, np.arange(size)[None, :] // sps[:, None], axis=1)
    freq = sfft.irfft(sfft.rfft(nrz, axis=1) * sfft.rfft(g, n=size, axis=1), n=size, axis=1)
    start = width - 1 + rng.integers(0, sps)
    freq = _crop(freq, start, length)
    phase = np.pi * GMSK_H * np.cumsum(freq, axis=1) / sps[:, None]
    phase += rng.uniform(0, 2 * np.pi, size=(n, 1))
    return np.exp(1j * phase)


# ------------------------------------------------------------------------------ analog classes
def _message(n: int, length: int, rng: np.random.Generator, m: Modulation) -> np.ndarray:
    """Band-limited Gaussian message, zero mean (no DC bin), peak |m| = 1, periodic in the frame
    so an FFT Hilbert transform of it is exact."""
    f = sfft.rfftfreq(length)
    hi = np.maximum(rng.uniform(*m.message_bw, size=(n, 1)), 4.0 / length)
    lo = np.maximum(0.1 * hi, 1.0 / length)  # voice-like: nothing at or near DC
    band = (f[None, :] >= lo) & (f[None, :] <= hi)
    if m.message_slope:  # power spectrum (1 + (f/lo)^2)^(-slope/6.02): slope dB per octave well above lo
        band = band * (1.0 + (f[None, :] / lo) ** 2) ** (-m.message_slope / (20 * np.log10(2.0)) / 2)
    spectrum = (rng.standard_normal(band.shape) + 1j * rng.standard_normal(band.shape)) * band
    msg = sfft.irfft(spectrum, n=length, axis=1)
    return msg / np.max(np.abs(msg), axis=1, keepdims=True)


def _analytic(msg: np.ndarray) -> np.ndarray:
    return signal.hilbert(msg, axis=1)  # m + j*H{m}: upper sideband only


def _am_dsb_wc(n: int, length: int, rng: np.random.Generator, _s: Range, _r: Range, m: Modulation) -> np.ndarray:
    return (1.0 + rng.uniform(*m.am_index, size=(n, 1)) * _message(n, length, rng, m)).astype(np.complex128)


def _am_dsb_sc(n: int, length: int, rng: np.random.Generator, _s: Range, _r: Range, m: Modulation) -> np.ndarray:
    return _message(n, length, rng, m).astype(np.complex128)


def _carrier(length: int, m: Modulation) -> np.ndarray:
    return np.exp(2j * np.pi * m.ssb_carrier * np.arange(length))


def _am_ssb_wc(n: int, length: int, rng: np.random.Generator, _s: Range, _r: Range, m: Modulation) -> np.ndarray:
    return (1.0 + rng.uniform(*m.am_index, size=(n, 1)) * _analytic(_message(n, length, rng, m))) * _carrier(length, m)


def _am_ssb_sc(n: int, length: int, rng: np.random.Generator, _s: Range, _r: Range, m: Modulation) -> np.ndarray:
    return _analytic(_message(n, length, rng, m)) * _carrier(length, m)


def _fm(n: int, length: int, rng: np.random.Generator, _s: Range, _r: Range, m: Modulation) -> np.ndarray:
    deviation = rng.uniform(*m.fm_deviation, size=(n, 1))
    phase = 2 * np.pi * np.cumsum(deviation * _message(n, length, rng, m), axis=1)
    return np.exp(1j * (phase + rng.uniform(0, 2 * np.pi, size=(n, 1))))


_GENERATORS: dict[str, Callable[..., np.ndarray]] = {name: _linear(name) for name in LINEAR_CLASSES}
_GENERATORS.update(
    {
        "OQPSK": _oqpsk,
        "GMSK": _gmsk,
        "FM": _fm,
        "AM-DSB-WC": _am_dsb_wc,
        "AM-DSB-SC": _am_dsb_sc,
        "AM-SSB-WC": _am_ssb_wc,
        "AM-SSB-SC": _am_ssb_sc,
    }
)
assert set(_GENERATORS) == set(CLASSES), "every RadioML class needs exactly one generator"


def row_power(x: np.ndarray) -> np.ndarray:
    """Mean |x|^2 along the last axis, keeping it (no full-size temporary)."""
    re, im = x.real, x.imag
    p = np.einsum("...i,...i->...", re, re)
    if np.iscomplexobj(x):
        p = p + np.einsum("...i,...i->...", im, im)
    return (p / x.shape[-1])[..., None]


def unit_power(x: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Scale each row (last axis) to unit mean power; all-zero rows stay zero."""
    p = row_power(x)
    scale = 1.0 / np.sqrt(np.where(p > 0, p, 1.0))
    if inplace:
        x *= scale
        return x
    return x * scale


def unit_variance(x: np.ndarray) -> np.ndarray:
    """Scale each row (last axis), in place, to unit variance: mean |x - mean(x)|^2 = 1. The mean
    (a carrier, OOK's on-off offset) is kept and scaled with the rest; constant rows stay."""
    var = row_power(x - x.mean(axis=-1, keepdims=True))
    x *= 1.0 / np.sqrt(np.where(var > 0, var, 1.0))
    return x


def modulate(
    name: str,
    n: int,
    length: int,
    rng: np.random.Generator,
    sps_range: Range = (4, 8),
    rolloff_range: Range = (0.2, 0.5),
    modulation: Modulation = Modulation(),
) -> np.ndarray:
    """`n` clean frames (no channel) of class `name`: complex128 (n, length), unit mean power.

    Samples per symbol (integer, inclusive range) and RRC roll-off are drawn per frame, and the
    symbol timing phase is random. Analog classes and GMSK ignore the roll-off, the measured
    pulse too (its roll-off is fixed by the measurement).
    """
    if name not in _GENERATORS:
        raise ValueError(f"unknown modulation {name!r} (one of {', '.join(CLASSES)})")
    if n < 0 or length < 1:
        raise ValueError(f"need n >= 0 and length >= 1, got n={n}, length={length}")
    if n == 0:
        return np.zeros((0, length), dtype=np.complex128)
    if not 0.0 < rolloff_range[0] <= rolloff_range[1] <= 1.0:
        raise ValueError(f"rolloff_range must be (min, max) within (0, 1], got {rolloff_range}")
    x = _GENERATORS[name](n, length, rng, sps_range, rolloff_range, modulation)
    return unit_power(np.asarray(x, dtype=np.complex128), inplace=True)
