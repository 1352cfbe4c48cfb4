"""Config sections `data` (the file and loader) and `synth` (the synthetic generator, its
channel and presets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

from ..data.classes import CLASSES, FRAME_LENGTH, SNRS
from ..errors import ConfigError
from .fields import check, from_dict, key, key_factory


@dataclass
class DataConfig:
    """Which RadioML-format file to read and how to split it."""

    path: str = key("", "RadioML 2018.01A-format HDF5 file (X, Y, Z); empty = given on the command line")
    val_fraction: float = key(0.1, "share of each (class, SNR) block's official train part held out")
    val_seed: int = key(0, "seed of the validation carve-out (the train/test split is always seed 2018)")
    train_snrs: Optional[list[int]] = key(None, "SNRs (dB) kept for train/val; None = all. Test keeps all.")
    classes: Optional[list[str]] = key(None, "class names kept in every split; None = all 24")
    batch_size: int = key(1024, "batch size of the data loaders")
    num_workers: int = key(0, "DataLoader worker processes")
    run_length: Optional[int] = key(
        None, "contiguous frames read together when shuffling; null = by batch size: min(8, batch_size // 32), "
        "so a batch draws from at least 32 (class, SNR) blocks (docs/data.md)")

    def __post_init__(self) -> None:
        check(0.0 <= self.val_fraction < 1.0, "data.val_fraction", self.val_fraction, "a number in [0, 1)")
        check(self.batch_size > 0, "data.batch_size", self.batch_size, "a positive integer")
        check(self.num_workers >= 0, "data.num_workers", self.num_workers, "an integer >= 0")
        check(self.run_length is None or self.run_length > 0, "data.run_length", self.run_length,
              "a positive integer or null")
        if self.classes is not None:
            for name in self.classes:
                check(name in CLASSES, "data.classes", name, f"one of {', '.join(CLASSES)}")
            check(len(self.classes) > 0, "data.classes", self.classes, "a non-empty list or null")
        if self.train_snrs is not None:
            check(len(self.train_snrs) > 0, "data.train_snrs", self.train_snrs, "a non-empty list or null")


@dataclass
class ChannelConfig:
    """Impairments applied by the synthetic generator after modulation. Defaults: the radioml2018
    preset (docs/data.md gives the source of each value); `synth.preset` sets others."""

    enabled: bool = key(True, "apply offsets and fading (the noise always)")
    cfo_std: float = key(1e-4, "carrier frequency offset, cycles/sample: N(0, cfo_std) ...")
    max_cfo: float = key(0.0, "... plus U(-max_cfo, max_cfo)")
    sro_std: float = key(1e-4, "sample-rate offset as a ratio: N(0, sro_std) ...")
    max_sro_ppm: float = key(0.0, "... plus U(-max, max) parts per million")
    max_time_offset: float = key(16.0, "time offset, samples, U(0, max) (fractional, interpolated)")
    delay_spreads: Optional[list[float]] = key_factory(
        lambda: [0.0], "Rayleigh delay spreads (samples) drawn per frame, exponential power profile; 0 = one tap; "
        "null = multipath_taps / multipath_decay")
    multipath_taps: int = key(3, "with delay_spreads null: taps at integer sample delays (1 = flat fading)")
    multipath_decay: float = key(0.5, "with delay_spreads null: power ratio between consecutive taps")
    rician_k: float = key(0.0, "power ratio of the fixed line-of-sight part of the first tap (0 = Rayleigh)")
    noise: Literal["white", "shaped"] = key("white", "white, or shaped: through the measured pulse (docs/data.md)")
    noise_sps: int = key(8, "shaped: samples per symbol the measured pulse is laid out for")
    noise_white_fraction: float = key(0.10, "shaped: share of the noise power left white (91 % within 0.07 fs, as measured)")
    snr_reading: Literal["power", "voltage"] = key(
        "voltage", "power: noise power = signal power / 10^(snr/10); voltage: noise amplitude = signal rms * "
        "10^(-snr/10), as the 2016 dataset tools set GNU Radio's noise_voltage (noise power 10^(-snr/5))")

    def __post_init__(self) -> None:
        check(0.0 <= self.max_cfo < 0.5, "synth.channel.max_cfo", self.max_cfo, "a number in [0, 0.5)")
        check(0.0 <= self.cfo_std < 0.1, "synth.channel.cfo_std", self.cfo_std, "a number in [0, 0.1)")
        check(0.0 <= self.max_sro_ppm < 1e5, "synth.channel.max_sro_ppm", self.max_sro_ppm, "a number in [0, 1e5)")
        check(0.0 <= self.sro_std < 0.01, "synth.channel.sro_std", self.sro_std, "a number in [0, 0.01)")
        check(0.0 <= self.max_time_offset <= 64, "synth.channel.max_time_offset", self.max_time_offset, "a number in [0, 64]")
        if self.delay_spreads is not None:
            ok = len(self.delay_spreads) > 0 and all(0.0 <= t <= 16.0 for t in self.delay_spreads)
            check(ok, "synth.channel.delay_spreads", self.delay_spreads, "a non-empty list of numbers in [0, 16], or null")
        check(self.multipath_taps >= 1, "synth.channel.multipath_taps", self.multipath_taps, "an integer >= 1")
        check(0.0 < self.multipath_decay <= 1.0, "synth.channel.multipath_decay", self.multipath_decay, "a number in (0, 1]")
        check(self.rician_k >= 0.0, "synth.channel.rician_k", self.rician_k, "a number >= 0")
        check(self.noise_sps >= 2, "synth.channel.noise_sps", self.noise_sps, "an integer >= 2")
        check(0.0 <= self.noise_white_fraction <= 1.0, "synth.channel.noise_white_fraction",
              self.noise_white_fraction, "a number in [0, 1]")


@dataclass
class SynthConfig:
    """Size, seed and signal model of a generated RadioML-format file. Field defaults are the
    `radioml2018` preset; `preset` names the set of values that keys not given take (SYNTH_PRESETS)."""

    preset: Literal["radioml2018", "hard", "clean"] = key("radioml2018", "fills the synth keys not given (docs/data.md)")
    frames_per_pair: int = key(32, "frames per (modulation, SNR) pair; the real file has 4096")
    snrs: list[int] = key_factory(lambda: list(SNRS), "SNR grid in dB")
    length: int = key(FRAME_LENGTH, "samples per frame")
    seed: int = key(0, "generator seed")
    samples_per_symbol: list[int] = key_factory(lambda: [8, 8], "drawn per frame, inclusive range")
    rolloff: list[float] = key_factory(lambda: [0.35, 0.35], "RRC roll-off range per frame (pulse rrc)")
    pulse: Literal["rrc", "measured"] = key("measured", "measured: the real file's overall pulse")
    ask: Literal["bipolar", "unipolar"] = key("unipolar", "4/8ASK levels -(M-1)..M-1 or 0..M-1 (as OOK: 0, 1)")
    gmsk_bt: float = key(0.35, "GMSK Gaussian filter bandwidth-time product")
    message_bw: list[float] = key_factory(lambda: [0.01, 0.03], "analog message top band edge range, cycles/sample")
    message_slope: float = key(9.0, "dB per octave the analog message spectrum falls above its lower band edge")
    am_index: list[float] = key_factory(lambda: [0.1, 0.5], "AM modulation index range")
    fm_deviation: list[float] = key_factory(lambda: [0.025, 0.05], "FM peak deviation range, cycles/sample")
    ssb_carrier: float = key(0.125, "frequency of the AM-SSB classes' carrier, cycles/sample")
    normalise: Literal["power", "variance"] = key("variance", "per frame: unit mean power, or unit variance (mean kept)")
    channel: ChannelConfig = key_factory(ChannelConfig, "channel impairments (synth.channel.*)")

    def __post_init__(self) -> None:
        check(self.frames_per_pair > 0, "synth.frames_per_pair", self.frames_per_pair, "a positive integer")
        check(len(self.snrs) > 0, "synth.snrs", self.snrs, "a non-empty list of SNRs in dB")
        check(len(set(self.snrs)) == len(self.snrs), "synth.snrs", self.snrs, "distinct values")
        check(self.seed >= 0, "synth.seed", self.seed, "an integer >= 0")
        check(self.length >= 64, "synth.length", self.length, "an integer >= 64")
        sps = self.samples_per_symbol
        check(len(sps) == 2 and 2 <= sps[0] <= sps[1], "synth.samples_per_symbol", sps, "[min, max] with 2 <= min <= max")
        ro = self.rolloff
        check(len(ro) == 2 and 0.0 < ro[0] <= ro[1] <= 1.0, "synth.rolloff", ro, "[min, max] within (0, 1]")
        check(0.0 < self.gmsk_bt <= 2.0, "synth.gmsk_bt", self.gmsk_bt, "a number in (0, 2]")
        check(-0.5 < self.ssb_carrier < 0.5, "synth.ssb_carrier", self.ssb_carrier, "a number in (-0.5, 0.5)")
        check(0.0 <= self.message_slope <= 40.0, "synth.message_slope", self.message_slope, "a number in [0, 40]")
        for k, lo, hi in (("message_bw", 0.0, 0.5), ("am_index", 0.0, 1.0), ("fm_deviation", 0.0, 0.5)):
            r = getattr(self, k)
            check(len(r) == 2 and lo < r[0] <= r[1] <= hi, f"synth.{k}", r, f"[min, max] within ({lo:g}, {hi:g}]")


# Values a preset gives the synth keys a config does not set; radioml2018 is the field defaults.
SYNTH_PRESETS: dict[str, dict[str, Any]] = {
    "radioml2018": {},
    # The generator before the radioml2018 channel: harsher offsets and multipath, for robustness.
    "hard": {
        "samples_per_symbol": [4, 8], "rolloff": [0.2, 0.5], "pulse": "rrc", "ask": "bipolar", "gmsk_bt": 0.3,
        "message_bw": [0.01, 0.08], "message_slope": 0.0, "am_index": [0.3, 0.9], "fm_deviation": [0.02, 0.10],
        "ssb_carrier": 0.0, "normalise": "power",
        "channel": {"cfo_std": 0.0, "max_cfo": 0.01, "sro_std": 0.0, "max_sro_ppm": 200.0, "max_time_offset": 0.0,
                    "delay_spreads": None, "multipath_taps": 3, "multipath_decay": 0.5, "rician_k": 4.0,
                    "noise": "white", "snr_reading": "power"},
    },
    # The radioml2018 modulators with no channel but the noise at each block's SNR.
    "clean": {"channel": {"enabled": False}},
}


def apply_synth_preset(raw: dict[str, Any]) -> None:
    """Fill the synth keys `raw` does not set from its preset's values, in place."""
    synth = raw.get("synth")
    if synth is None:
        return
    if not isinstance(synth, dict):
        raise ConfigError(f"config key 'synth': expected a mapping, got {synth!r}")
    name = synth.get("preset", "radioml2018")
    check(name in SYNTH_PRESETS, "synth.preset", name, f"one of {', '.join(SYNTH_PRESETS)}")
    for section, value in SYNTH_PRESETS[name].items():
        if isinstance(value, dict):
            given = synth.setdefault(section, {})
            if isinstance(given, dict):
                for k, v in value.items():
                    given.setdefault(k, v)
        else:
            synth.setdefault(section, value)


def synth_preset(name: str, **values: Any) -> SynthConfig:
    """The SynthConfig of preset `name` with `values` (synth keys, `channel` a dict) on top."""
    raw = {"synth": {"preset": name, **values}}
    apply_synth_preset(raw)
    return from_dict(SynthConfig, raw["synth"], "synth")
