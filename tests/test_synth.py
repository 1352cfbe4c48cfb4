"""Synthetic RadioML generator: file format and order, determinism, and signal theory."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy import signal

from dataclasses import replace

from toolchain.config import ChannelConfig, SynthConfig, synth_preset
from toolchain.data.channel import apply_channel, awgn, fading_taps, guard_samples, resample
from toolchain.data.classes import CLASSES
from toolchain.data.modulators import LINEAR_CLASSES, constellation, modulate, rrc, rrc_taps
from toolchain.data.show import plot_overview
from toolchain.data.synth import generate, generate_blocks, snr_chunks, to_iq

TINY = dict(frames_per_pair=4, snrs=[-10, 0, 12], length=256)
SPS, BETA = 8, 0.35  # fixed shaping for the matched-filter tests
HARD = synth_preset("hard").channel  # uniform offsets and exponential multipath taps


def cumulants(s: np.ndarray) -> tuple[float, float]:
    """Normalised fourth-order cumulants (C40, C42) / M21^2 of complex samples."""
    m20 = np.mean(s**2)
    m21 = np.mean(np.abs(s) ** 2)
    m40 = np.mean(s**4)
    m42 = np.mean(np.abs(s) ** 4)
    c40 = (m40 - 3 * m20**2) / m21**2
    c42 = (m42 - np.abs(m20) ** 2 - 2 * m21**2) / m21**2
    return float(np.real(c40)), float(c42)


def matched_filter(x: np.ndarray, sps: int = SPS, beta: float = BETA) -> np.ndarray:
    h = rrc_taps(sps, beta)
    return signal.fftconvolve(x, h[None, :], mode="valid", axes=1)


def evm(x: np.ndarray, name: str, sps: int = SPS, beta: float = BETA) -> np.ndarray:
    """Per frame, the RMS error vector (relative to unit symbol power) after matched filtering,
    at the best of the sps sampling phases, with a decision-directed complex gain."""
    y = matched_filter(x, sps, beta)
    points = constellation(name)
    n = ((y.shape[1] - sps) // sps) * sps
    best = np.full(len(x), np.inf)
    for phase in range(sps):
        s = y[:, phase : phase + n : sps]
        gain = np.sqrt(np.mean(np.abs(s) ** 2, axis=1, keepdims=True))
        for _ in range(3):  # decide, refit the gain, decide again
            a = points[np.argmin(np.abs(s[..., None] / gain[..., None] - points), axis=-1)]
            gain = (np.sum(s * a.conj(), axis=1) / np.sum(np.abs(a) ** 2, axis=1))[:, None]
        best = np.minimum(best, np.sqrt(np.mean(np.abs(s / gain - a) ** 2, axis=1)))
    return best


def best_phase(y: np.ndarray) -> np.ndarray:
    """Per frame, the sample phase (0..SPS-1) with the most power: the symbol instants."""
    n = (y.shape[1] // SPS) * SPS
    power = np.mean(np.abs(y[:, :n].reshape(len(y), -1, SPS)) ** 2, axis=1)
    return np.argmax(power, axis=1)


def symbols(x: np.ndarray) -> np.ndarray:
    y = matched_filter(x)
    phase = best_phase(y)
    n = ((y.shape[1] - SPS) // SPS) * SPS
    idx = phase[:, None] + np.arange(0, n, SPS)[None, :]
    return np.take_along_axis(y, idx, axis=1).ravel()


def fixed(name: str, n: int = 48, length: int = 1024, seed: int = 0) -> np.ndarray:
    return modulate(name, n, length, np.random.default_rng(seed), sps_range=(SPS, SPS), rolloff_range=(BETA, BETA))


# ---------------------------------------------------------------------------------- file format
@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "tiny.h5"
    return generate(path, SynthConfig(seed=3, **TINY), progress=False)


def test_file_layout_and_order(tiny_file):
    fpp, snrs, length = TINY["frames_per_pair"], TINY["snrs"], TINY["length"]
    n = len(CLASSES) * len(snrs) * fpp
    with h5py.File(tiny_file, "r") as f:
        assert set(f) == {"X", "Y", "Z"}
        x, y, z = f["X"][()], f["Y"][()], f["Z"][()]
        assert list(f.attrs["classes"]) == list(CLASSES)
    assert x.shape == (n, length, 2) and x.dtype == np.float32
    assert y.shape == (n, len(CLASSES)) and y.dtype == np.int64
    assert z.shape == (n, 1) and z.dtype == np.int64
    # Modulation-major, then SNR in config order, fpp consecutive frames per block.
    assert np.array_equal(y.sum(axis=1), np.ones(n))
    assert np.array_equal(np.argmax(y, axis=1), np.repeat(np.arange(len(CLASSES)), len(snrs) * fpp))
    assert np.array_equal(z[:, 0], np.tile(np.repeat(snrs, fpp), len(CLASSES)))
    assert np.isfinite(x).all()
    z = x[..., 0].astype(np.float64) + 1j * x[..., 1]
    variance = np.mean(np.abs(z - z.mean(axis=1, keepdims=True)) ** 2, axis=1)  # radioml2018: unit variance
    assert np.allclose(variance, 1.0, atol=1e-3)
    assert not list(tiny_file.parent.glob("*.part")), "temporary file left behind"


def test_file_content_matches_its_labels(tmp_path):
    """Labels and frames stay aligned: without the channel at 30 dB, the frames labelled GMSK
    and FM have a constant envelope, AM-DSB-SC frames are real, 64QAM frames are neither."""
    cfg = SynthConfig(frames_per_pair=2, snrs=[0, 30], length=256, seed=1, channel=ChannelConfig(enabled=False))
    with h5py.File(generate(tmp_path / "clean.h5", cfg, progress=False), "r") as f:
        x, y, z = f["X"][()], f["Y"][()], f["Z"][()]
    frames = (x[..., 0] + 1j * x[..., 1]).astype(np.complex128)
    labels = [CLASSES[i] for i in np.argmax(y, axis=1)]

    def pick(name: str) -> np.ndarray:
        return frames[[i for i, label in enumerate(labels) if label == name and z[i, 0] == 30]]

    def envelope_spread(b: np.ndarray) -> float:
        return float(np.max(np.std(np.abs(b), axis=1)))

    assert envelope_spread(pick("GMSK")) < 0.1 and envelope_spread(pick("FM")) < 0.1
    assert envelope_spread(pick("64QAM")) > 0.3
    assert np.mean(pick("AM-DSB-SC").imag ** 2) < 0.01
    assert np.mean(pick("64QAM").imag ** 2) > 0.2


def test_interrupted_generation_leaves_no_file(tmp_path, monkeypatch):
    import toolchain.data.synth as synth

    calls = []
    real = synth.generate_blocks

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "generate_blocks", failing)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "x.h5", SynthConfig(**TINY), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_bytes(tmp_path):
    cfg = SynthConfig(seed=11, **TINY)
    a = generate(tmp_path / "a.h5", cfg, progress=False)
    b = generate(tmp_path / "b.h5", cfg, progress=False)
    c = generate(tmp_path / "c.h5", SynthConfig(seed=12, **TINY), progress=False)
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb, h5py.File(c, "r") as fc:
        assert fa["X"][()].tobytes() == fb["X"][()].tobytes()
        assert fa["X"][()].tobytes() != fc["X"][()].tobytes()
        assert np.array_equal(fa["Y"][()], fc["Y"][()]) and np.array_equal(fa["Z"][()], fc["Z"][()])


def test_blocks_do_not_depend_on_generation_order(tiny_file):
    """Each chunk of blocks has its own keyed generators: regenerating one class alone, after
    others in reverse order, reproduces the file's rows exactly (no shared random stream)."""
    cfg = SynthConfig(seed=3, **TINY)
    fpp, nsnr = cfg.frames_per_pair, len(cfg.snrs)
    with h5py.File(tiny_file, "r") as f:
        x = f["X"][()]
    for ci in (23, 7, 0):
        chunks = snr_chunks(cfg)
        assert [i for c in chunks for i in c] == list(range(nsnr))
        for chunk in chunks:
            start = (ci * nsnr + chunk.start) * fpp
            assert np.array_equal(to_iq(generate_blocks(cfg, ci, chunk)), x[start : start + len(chunk) * fpp])


# ---------------------------------------------------------------------------------- theory
KNOWN = {  # (C40, C42), Swami & Sadler closed forms
    "BPSK": (-2.0, -2.0),
    "QPSK": (1.0, -1.0),
    "8PSK": (0.0, -1.0),
    "16PSK": (0.0, -1.0),
    "32PSK": (0.0, -1.0),
    "4ASK": (-1.36, -1.36),
    "8ASK": (-1.2381, -1.2381),
    "16QAM": (-0.68, -0.68),
    "64QAM": (-0.619, -0.619),
    "256QAM": (-0.6047, -0.6047),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_constellation_cumulants_closed_form(name):
    c40, c42 = cumulants(constellation(name))
    assert c40 == pytest.approx(KNOWN[name][0], abs=5e-4)
    assert c42 == pytest.approx(KNOWN[name][1], abs=5e-4)


@pytest.mark.parametrize(
    "name, size, rings",
    [
        ("16APSK", 16, 2),
        ("32APSK", 32, 3),
        ("64APSK", 64, 4),
        ("128APSK", 128, 6),
        ("32QAM", 32, None),
        ("128QAM", 128, None),
    ],
)
def test_constellation_structure(name, size, rings):
    points = constellation(name)
    assert points.shape == (size,)
    assert np.mean(np.abs(points) ** 2) == pytest.approx(1.0)
    assert abs(points.mean()) < 1e-12  # symmetric: no carrier component
    dist = np.abs(points[:, None] - points[None, :]) + np.eye(size) * 10
    assert dist.min() > 0.05  # no two points collide
    if rings is not None:
        assert len(np.unique(np.round(np.abs(points), 9))) == rings
    else:  # cross QAM: odd-integer grid with the corners missing
        grid = points / np.min(np.abs(points.real))
        assert np.allclose(grid.real, np.round(grid.real)) and np.allclose(grid.imag, np.round(grid.imag))
        assert np.max(np.abs(grid.real)) < np.max(np.abs(grid))  # corners cut away


@pytest.mark.parametrize("name", LINEAR_CLASSES)
def test_shaped_signal_recovers_constellation_cumulants(name):
    """Matched filtering at the best timing phase must give back the constellation's statistics;
    wrong pulses, wrong timing or wrong mapping push the cumulants elsewhere (Gaussian: 0)."""
    c40, c42 = cumulants(symbols(fixed(name)))
    ref40, ref42 = cumulants(constellation(name))
    assert c40 == pytest.approx(ref40, abs=0.1)
    assert c42 == pytest.approx(ref42, abs=0.1)


@pytest.mark.parametrize("name", LINEAR_CLASSES)
def test_matched_filter_lands_on_the_constellation(name):
    """RRC transmit + RRC receive is a Nyquist pulse: at the right phase every frame's samples sit
    on the constellation (EVM ~ -40 dB from filter truncation). A rectangular or raised-cosine
    transmit pulse, a wrong mapping or a fractional timing offset gives 5-10 times more."""
    assert np.max(evm(fixed(name), name)) < 0.02


def test_per_frame_sps_and_rolloff():
    """Frames with different sps in one call each get their own, correct pulse."""
    x = modulate("16QAM", 24, 1024, np.random.default_rng(8), sps_range=(4, 5), rolloff_range=(0.3, 0.3))
    at4, at5 = evm(x, "16QAM", 4, 0.3), evm(x, "16QAM", 5, 0.3)
    assert np.max(np.minimum(at4, at5)) < 0.02
    assert np.min(np.maximum(at4, at5)) > 0.1  # the other sps is clearly wrong ...
    assert np.any(at4 < 0.02) and np.any(at5 < 0.02)  # ... and both values were drawn


def test_shaped_signal_is_not_symbol_spaced():
    """Between symbol instants the RRC-shaped QPSK must not sit on the constellation."""
    y = matched_filter(fixed("QPSK"))
    off = (best_phase(y) + SPS // 2) % SPS
    idx = off[:, None] + np.arange(0, y.shape[1] - SPS, SPS)[None, :]
    _, c42 = cumulants(np.take_along_axis(y, idx, axis=1).ravel())
    assert c42 > -0.8


def test_rrc_is_nyquist_and_handles_singular_points():
    for beta in (0.25, 0.5, 0.35):  # 0.25 and 0.5 put t = 1/(4 beta) on the sample grid
        h = rrc_taps(SPS, beta)
        assert np.isfinite(h).all()
        rc = np.convolve(h, h)
        centre = len(rc) // 2
        isi = rc[centre % SPS :: SPS]
        isi = np.delete(isi, centre // SPS)
        assert np.max(np.abs(isi)) < 0.01 * rc[centre]
        t = 1 / (4 * beta)
        assert rrc(t, beta) == pytest.approx(float(rrc(t + 1e-6, beta)), abs=1e-4)
    assert rrc(0.0, 0.3) == pytest.approx(float(rrc(1e-7, 0.3)), abs=1e-6)


def test_every_class_shape_dtype_power():
    rng = np.random.default_rng(0)
    for name in CLASSES:
        x = modulate(name, 5, 300, rng)
        assert x.shape == (5, 300) and x.dtype == np.complex128, name
        assert np.allclose(np.mean(np.abs(x) ** 2, axis=1), 1.0), name
    with pytest.raises(ValueError):
        modulate("QAM17", 1, 64, rng)


def test_modulate_is_deterministic_for_a_generator():
    a = modulate("16APSK", 3, 128, np.random.default_rng(9))
    b = modulate("16APSK", 3, 128, np.random.default_rng(9))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["GMSK", "FM"])
def test_constant_envelope(name):
    x = modulate(name, 16, 1024, np.random.default_rng(1))
    assert np.allclose(np.abs(x), 1.0, atol=1e-9)


def test_gmsk_phase_turns_pi_over_2_per_symbol():
    x = fixed("GMSK", n=8)
    turn = np.angle(x[:, SPS:] * np.conj(x[:, :-SPS]))  # phase change over one symbol
    assert np.max(np.abs(turn)) <= np.pi / 2 + 1e-6
    assert np.mean(np.abs(turn) > 0.3 * np.pi) > 0.5  # mostly near +-pi/2, not a constant tone


def test_am_dsb():
    sc = modulate("AM-DSB-SC", 16, 1024, np.random.default_rng(2))
    assert np.all(sc.imag == 0)
    wc = modulate("AM-DSB-WC", 16, 1024, np.random.default_rng(2))
    assert np.all(wc.imag == 0) and np.all(wc.real > 0)  # carrier kept, never over-modulated


@pytest.mark.parametrize("name", ["AM-SSB-SC", "AM-SSB-WC"])
def test_ssb_occupies_one_side(name):
    x = modulate(name, 16, 1024, np.random.default_rng(3))
    spec = np.abs(np.fft.fft(x, axis=1)) ** 2
    f = np.fft.fftfreq(x.shape[1])
    upper, lower = spec[:, f > 0].sum(axis=1), spec[:, f < 0].sum(axis=1)  # DC (the carrier) left out
    assert np.all(10 * np.log10(upper / lower) > 20)


def _branch_phase(x: np.ndarray) -> np.ndarray:
    return best_phase(matched_filter(x))


def test_oqpsk_offsets_q_by_half_a_symbol():
    x = fixed("OQPSK")
    lag = (_branch_phase(x.imag.astype(complex)) - _branch_phase(x.real.astype(complex))) % SPS
    assert np.all(np.abs(lag - SPS // 2) <= 1)
    assert np.mean(lag == SPS // 2) > 0.9
    q = fixed("QPSK")  # the same measurement on QPSK finds I and Q aligned (+-1 sample)
    lag = (_branch_phase(q.imag.astype(complex)) - _branch_phase(q.real.astype(complex))) % SPS
    assert np.all((lag <= 1) | (lag >= SPS - 1))


# ---------------------------------------------------------------------------------- channel
def test_awgn_snr():
    rng = np.random.default_rng(4)
    x = np.exp(2j * np.pi * 0.01 * np.arange(1 << 16))[None, :].repeat(3, axis=0) * np.array([[1.0], [0.1], [5.0]])
    for snr in (-10.0, 0.0, 7.0, 25.0):
        noise = awgn(x, snr, rng) - x
        measured = 10 * np.log10(np.mean(np.abs(x) ** 2, axis=1) / np.mean(np.abs(noise) ** 2, axis=1))
        assert np.allclose(measured, snr, atol=0.3)
    per_row = awgn(x, np.array([0.0, 10.0, 20.0]), rng) - x
    measured = 10 * np.log10(np.mean(np.abs(x) ** 2, axis=1) / np.mean(np.abs(per_row) ** 2, axis=1))
    assert np.allclose(measured, [0.0, 10.0, 20.0], atol=0.3)


def test_channel_snr_and_clean_passthrough():
    rng = np.random.default_rng(5)
    x = modulate("16QAM", 20, 512, rng)
    for cfg in (HARD, ChannelConfig()):
        assert apply_channel(x, -5.0, rng, cfg).shape == x.shape
    noisy = apply_channel(x, -5.0, rng, ChannelConfig(enabled=False, noise="shaped", snr_reading="power"))
    # Signal 1 + noise 10^0.5; band-limited noise has few degrees of freedom per frame: average.
    assert np.mean(np.abs(noisy) ** 2) == pytest.approx(1.0 + 10**0.5, rel=0.05)
    # The default reads the label as a noise amplitude: -5 dB is noise power 10^(10/10).
    noisy = apply_channel(x, -5.0, rng, ChannelConfig(enabled=False))
    assert np.mean(np.abs(noisy) ** 2) == pytest.approx(1.0 + 10**1.0, rel=0.05)
    clean = apply_channel(x, 100.0, rng, ChannelConfig(enabled=False))
    corr = np.abs(np.sum(clean * np.conj(x), axis=1)) / np.sqrt(
        np.sum(np.abs(clean) ** 2, axis=1) * np.sum(np.abs(x) ** 2, axis=1)
    )
    assert np.all(corr > 0.999)
    # Enabled at high SNR the frames change (fading, offsets) but stay finite and unit power.
    for cfg in (HARD, ChannelConfig()):
        faded = apply_channel(x, 100.0, rng, cfg)
        assert np.isfinite(faded).all() and not np.allclose(faded, x, atol=1e-2)


def test_guard_fills_the_channel_memory():
    """Without a guard the first samples of a frame miss the echoes of the signal before it; the
    guard gives the multipath its history, then is cut off."""
    cfg = replace(HARD, max_cfo=0.0, max_sro_ppm=0.0, multipath_taps=3)
    guard = guard_samples(cfg, 64)
    assert guard >= cfg.multipath_taps - 1
    tone = np.ones((6, 64 + 2 * guard), dtype=complex)  # a carrier: multipath only scales it
    y = apply_channel(tone, 200.0, np.random.default_rng(1), cfg, guard=guard)
    assert y.shape == (6, 64)
    assert np.allclose(np.abs(y), np.abs(y[:, :1]), atol=1e-6)
    unguarded = apply_channel(tone, 200.0, np.random.default_rng(1), cfg)
    assert not np.allclose(np.abs(unguarded[:, :2]), np.abs(unguarded[:, 2:4]), atol=1e-3)
    assert guard_samples(ChannelConfig(enabled=False), 64) == 0


def test_fading_taps_unit_power_and_rician():
    rng = np.random.default_rng(6)
    rician = fading_taps(4000, replace(HARD, multipath_decay=0.25, rician_k=50.0), rng)
    rayleigh = fading_taps(4000, replace(HARD, multipath_decay=0.25, rician_k=0.0), rng)
    assert rician.shape == (4000, 3)
    for taps in (rician, rayleigh):
        assert np.allclose(np.sum(np.abs(taps) ** 2, axis=1), 1.0)
        power = np.mean(np.abs(taps) ** 2, axis=0)
        assert power[0] > power[1] > power[2]  # decaying profile
    # A strong line of sight steadies the first tap; Rayleigh fading lets it fade deeply.
    assert np.std(np.abs(rician[:, 0])) < 0.5 * np.std(np.abs(rayleigh[:, 0]))
    assert np.quantile(np.abs(rayleigh[:, 0]), 0.05) < 0.4 < np.quantile(np.abs(rician[:, 0]), 0.05)


def test_resample_matches_a_tone_read_at_shifted_times():
    length = 1024
    t = np.arange(length)
    f = np.array([[0.05], [-0.12], [0.2]])
    x = np.exp(2j * np.pi * f * t)
    eps = np.array([150e-6, -200e-6, 1e-3])
    centre = (length - 1) / 2
    expected = np.exp(2j * np.pi * f * (centre + (t - centre) * (1 + eps[:, None])))
    err = np.max(np.abs(resample(x, eps) - expected)[:, 4:-4], axis=1)
    assert err[0] < 1e-4 and err[1] < 1e-3 and err[2] < 0.02  # error grows with frequency and shift
    assert np.array_equal(resample(x, np.zeros(3)), x)


# ---------------------------------------------------------------------------------- plot
def test_plot_overview_writes_png(tmp_path):
    rng = np.random.default_rng(7)
    frames = {name: modulate(name, 1, 256, rng)[0] for name in CLASSES}
    out = plot_overview(frames, tmp_path / "overview.png", title="synthetic")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
