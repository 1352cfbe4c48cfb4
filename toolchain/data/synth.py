"""Generate a synthetic file in exactly the RadioML 2018.01A layout and frame order.

X float32 (N, length, 2) with I in [..., 0] and Q in [..., 1], Y int64 one-hot (N, 24), Z int64
(N, 1) SNR in dB. Frames are modulation-major (CLASSES order), then SNR in `cfg.snrs` order, with
`frames_per_pair` consecutive frames per (modulation, SNR) block, as in the real file.

Randomness comes from generators keyed by (seed, class index, SNR index) through
`np.random.SeedSequence` spawn keys, never from a shared stream, so no frame depends on the order
in which blocks are generated. Clean frames of a class are modulated in one call for as many SNR
blocks as fit in memory (one call per class for small files); each block's channel and noise use
the block's own generator. `cfg.preset` (radioml2018 by default) decides what the frames look
like; docs/data.md says where each of its choices comes from.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_path
from ..config import SynthConfig
from .channel import apply_channel, guard_samples
from .classes import CLASSES, NUM_CLASSES
from .modulators import Modulation, modulate, unit_power, unit_variance


CHUNK_SAMPLES = 1 << 23  # complex samples modulated per call: ~130 MB, bounded for any file size


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def block_rng(seed: int, class_index: int, snr_index: int) -> np.random.Generator:
    """The independent generator of one (class, SNR) block's channel and noise."""
    return _rng(seed, 1, class_index, snr_index)


def snr_chunks(cfg: SynthConfig) -> list[range]:
    """SNR indices modulated together: as many whole blocks as fit in CHUNK_SAMPLES (at least
    one), so a small file modulates each class in a single call."""
    per_chunk = max(1, CHUNK_SAMPLES // (cfg.frames_per_pair * cfg.length))
    return [range(i, min(i + per_chunk, len(cfg.snrs))) for i in range(0, len(cfg.snrs), per_chunk)]


def modulation(cfg: SynthConfig) -> Modulation:
    """The modulators' settings in `cfg`."""
    return Modulation(pulse=cfg.pulse, ask=cfg.ask, gmsk_bt=cfg.gmsk_bt, message_bw=tuple(cfg.message_bw),
                      message_slope=cfg.message_slope,
                      am_index=tuple(cfg.am_index), fm_deviation=tuple(cfg.fm_deviation),
                      ssb_carrier=cfg.ssb_carrier)


def normalise(frames: np.ndarray, how: str) -> np.ndarray:
    """Per-frame scaling, in place: unit mean power, or unit variance (mean kept, scaled)."""
    return unit_power(frames, inplace=True) if how == "power" else unit_variance(frames)


def generate_blocks(cfg: SynthConfig, class_index: int, snr_indices: range) -> np.ndarray:
    """Complex frames (len(snr_indices) * frames_per_pair, length) of consecutive (class, SNR)
    blocks after the channel. The clean frames come from a generator keyed by the class and the
    chunk's first SNR index, each block's channel from its own `block_rng`."""
    fpp = cfg.frames_per_pair
    guard = guard_samples(cfg.channel, cfg.length)  # modulated beyond the frame, cut after the channel
    clean = modulate(
        CLASSES[class_index],
        fpp * len(snr_indices),
        cfg.length + 2 * guard,
        _rng(cfg.seed, 0, class_index, snr_indices.start),
        sps_range=(cfg.samples_per_symbol[0], cfg.samples_per_symbol[1]),
        rolloff_range=(cfg.rolloff[0], cfg.rolloff[1]),
        modulation=modulation(cfg),
    )
    out = np.empty((len(clean), cfg.length), dtype=np.complex128)
    for i, si in enumerate(snr_indices):
        rows = slice(i * fpp, (i + 1) * fpp)
        rng = block_rng(cfg.seed, class_index, si)
        out[rows] = apply_channel(clean[rows], float(cfg.snrs[si]), rng, cfg.channel, guard=guard)
    return normalise(out, cfg.normalise)


def to_iq(frames: np.ndarray) -> np.ndarray:
    """Complex (n, L) -> float32 (n, L, 2) with I then Q, the file's layout."""
    return frames.astype(np.complex64).view(np.float32).reshape(*frames.shape, 2)


def generate(path: str | Path, cfg: SynthConfig, progress: bool = True) -> Path:
    """Write a RadioML 2018.01A-format HDF5 file for `cfg`; atomic, deterministic for cfg.seed."""
    from tqdm import tqdm

    fpp, snrs = cfg.frames_per_pair, list(cfg.snrs)
    total = NUM_CLASSES * len(snrs) * fpp
    final = Path(path)
    with atomic_path(final) as tmp, h5py.File(tmp, "w") as f:
        x_ds = f.create_dataset("X", shape=(total, cfg.length, 2), dtype=np.float32)
        y_ds = f.create_dataset("Y", shape=(total, NUM_CLASSES), dtype=np.int64)
        z_ds = f.create_dataset("Z", shape=(total, 1), dtype=np.int64)
        f.attrs["classes"] = list(CLASSES)
        f.attrs["generator"] = "toolchain synth"
        f.attrs["seed"] = cfg.seed

        # Y and Z per class: one write per class instead of one per block.
        z_class = np.repeat(np.asarray(snrs, dtype=np.int64), fpp)[:, None]
        with tqdm(total=NUM_CLASSES * len(snrs), desc="synth", unit="block", disable=not progress) as bar:
            for ci in range(NUM_CLASSES):
                first = ci * len(snrs) * fpp
                rows = slice(first, first + len(snrs) * fpp)
                onehot = np.zeros((len(snrs) * fpp, NUM_CLASSES), dtype=np.int64)
                onehot[:, ci] = 1
                y_ds[rows] = onehot
                z_ds[rows] = z_class
                for chunk in snr_chunks(cfg):
                    start = first + chunk.start * fpp
                    x_ds[start : start + len(chunk) * fpp] = to_iq(generate_blocks(cfg, ci, chunk))
                    bar.update(len(chunk))
    return final
