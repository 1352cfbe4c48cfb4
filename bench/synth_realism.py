"""How far a model trained only on the real RadioML 2018.01A recognises the synthetic frames.

Generates frames with the project's generator (`synth.*` of the config, `--preset`, `--seed`),
runs the official pretrained VGG10 w8a8 (`models/reference/vgg10_w8a8_baseline`, trained on the
real file only) on them, and reports its accuracy per class at the highest SNR and per SNR,
beside what the same model reaches on the real test split (docs/data.md gives the sources).
Writes JSON and a PNG (per-class bars, per-SNR curves).

    python bench/synth_realism.py --seed 0 [--preset radioml2018] [--frames 32] [--snrs -20:30:2]
        [--set synth.channel.cfo_std=0] [--out bench/out/realism_seed0]

Cost: the model on CPU is the bulk (~130 frames/s on 2 cores): 24 classes x 26 SNRs x 32
frames is ~2.5 min.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from toolchain.atomic import save_figure, write_json
from toolchain.checkpoint import load_model
from toolchain.config import ModelConfig, load_config
from toolchain.data.classes import CLASSES
from toolchain.data.synth import generate_blocks, snr_chunks
from toolchain.cli.data import parse_snrs

OFFICIAL = Path(__file__).resolve().parents[1] / "models/reference/vgg10_w8a8_baseline/pretrained_VGG10_w8a8_20.pth"

# The official model on the real test split (brevitas-radioml-challenge-21 notebook; per class
# read from its plot at high SNR, "~1.0" classes as 1.0): see /docs/data.md.
REAL_PER_CLASS = {name: 1.0 for name in CLASSES} | {
    "64QAM": 0.84, "128QAM": 0.86, "256QAM": 0.76, "AM-SSB-WC": 0.73, "AM-SSB-SC": 0.32, "AM-DSB-SC": 0.89,
}
REAL_AT_30DB = 0.9308
REAL_OVERALL = 0.5947


def predict(model: torch.nn.Module, frames: np.ndarray, batch: int = 256) -> np.ndarray:
    """Predicted class per complex frame (n, L)."""
    x = np.stack([frames.real, frames.imag], axis=1).astype(np.float32)
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i : i + batch])).argmax(1).numpy()
                               for i in range(0, len(x), batch)])


def measure(model: torch.nn.Module, synth) -> dict:
    """Accuracy per (class, SNR) and the confusion at the highest SNR."""
    snrs, fpp = list(synth.snrs), synth.frames_per_pair
    acc = np.zeros((len(CLASSES), len(snrs)))
    top = int(np.argmax(snrs))
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    for ci in tqdm(range(len(CLASSES)), desc="classes", unit="class", disable=None):
        for chunk in snr_chunks(synth):
            pred = predict(model, generate_blocks(synth, ci, chunk)).reshape(len(chunk), fpp)
            acc[ci, chunk.start : chunk.stop] = (pred == ci).mean(axis=1)
            if chunk.start <= top < chunk.stop:
                confusion[ci] += np.bincount(pred[top - chunk.start], minlength=len(CLASSES))
    return {"snrs": snrs, "accuracy": acc, "top_snr": snrs[top], "confusion": confusion}


def report(m: dict, args, synth, seconds: float) -> dict:
    acc, top = m["accuracy"], int(np.argmax(m["snrs"]))
    per_class = []
    for ci, name in enumerate(CLASSES):
        row = m["confusion"][ci]
        mistaken = int(np.argmax(np.where(np.arange(len(CLASSES)) == ci, -1, row)))
        per_class.append({"class": name, "synthetic": float(acc[ci, top]), "real": REAL_PER_CLASS[name],
                          "most_mistaken_for": CLASSES[mistaken] if row[mistaken] else None})
    return {
        "model": str(OFFICIAL.relative_to(OFFICIAL.parents[3])),
        "seed": synth.seed, "preset": synth.preset, "frames_per_pair": synth.frames_per_pair, "overrides": args.set,
        "top_snr": m["top_snr"], "at_top_snr": float(acc[:, top].mean()), "overall": float(acc.mean()),
        "real": {"at_30dB": REAL_AT_30DB, "overall": REAL_OVERALL},
        "classes_within_15_points": int(sum(c["synthetic"] >= c["real"] - 0.15 for c in per_class)),
        "per_class": per_class,
        "per_snr": [{"snr": s, "accuracy": float(acc[:, i].mean())} for i, s in enumerate(m["snrs"])],
        "per_class_snr": acc.round(4).tolist(),
        "seconds": round(seconds, 1), "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
    }


def plot(r: dict, out_png: Path) -> Path:
    from toolchain.plotting import pyplot

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 4.8), gridspec_kw={"width_ratios": [2.2, 1]})
    x = np.arange(len(CLASSES))
    ax1.bar(x - 0.2, [100 * c["synthetic"] for c in r["per_class"]], 0.4, label=f"synthetic ({r['top_snr']} dB)")
    ax1.bar(x + 0.2, [100 * c["real"] for c in r["per_class"]], 0.4, label="real test split (high SNR)", color="0.6")
    ax1.set_xticks(x, CLASSES, rotation=60, ha="right", fontsize=8)
    ax1.set_ylabel("official VGG10 accuracy (%)")
    ax1.set_ylim(0, 105)
    ax1.legend(fontsize=8, loc="lower left")
    ax1.set_title(f"per class: {100 * r['at_top_snr']:.1f} % synthetic vs {100 * REAL_AT_30DB:.1f} % real at +30 dB")
    snrs = [p["snr"] for p in r["per_snr"]]
    ax2.plot(snrs, [100 * p["accuracy"] for p in r["per_snr"]], "o-", label=f"synthetic, {100 * r['overall']:.1f} % overall")
    ax2.plot([30], [100 * REAL_AT_30DB], "s", color="0.3", label=f"real at +30 dB, {100 * REAL_OVERALL:.1f} % overall")
    ax2.axhline(100 / len(CLASSES), color="tab:red", linestyle=":", linewidth=1, label="chance")
    ax2.set_xlabel("SNR (dB, Es/N0)")
    ax2.set_ylim(0, 100)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="upper left")
    ax2.set_title("per SNR")
    fig.suptitle(f"official VGG10 w8a8 on synthetic frames: preset {r['preset']}, seed {r['seed']}, "
                 f"{r['frames_per_pair']} frames per (class, SNR)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_png)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, required=True, help="generator seed (synth.seed)")
    p.add_argument("--preset", help="synth.preset (default: the config's, radioml2018)")
    p.add_argument("--frames", type=int, default=32, help="frames per (class, SNR) (default 32)")
    p.add_argument("--snrs", default="-20:30:2", help="SNR grid, 'start:stop:step' or 'a,b,c' (default -20:30:2)")
    p.add_argument("--config", help="YAML config whose synth section is used")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override, repeatable")
    p.add_argument("--out", help="output stem (default bench/out/realism_<preset>_seed<seed>)")
    args = p.parse_args(argv)
    sets = [f"synth.seed={args.seed}", f"synth.frames_per_pair={args.frames}", f"synth.snrs={parse_snrs(args.snrs)}"]
    if args.preset:
        sets.append(f"synth.preset={args.preset}")
    synth = load_config(args.config, sets + args.set).synth
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model, _, _ = load_model(OFFICIAL, ModelConfig())
    t0 = time.perf_counter()
    r = report(measure(model, synth), args, synth, time.perf_counter() - t0)
    stem = Path(args.out or f"bench/out/realism_{synth.preset}_seed{args.seed}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_json(stem.with_suffix(".json"), r)
    plot(r, stem.with_suffix(".png"))
    print(f"preset {r['preset']} seed {r['seed']}: {100 * r['at_top_snr']:.1f} % at {r['top_snr']} dB "
          f"(real {100 * REAL_AT_30DB:.1f} %), {100 * r['overall']:.1f} % over all SNRs (real {100 * REAL_OVERALL:.1f} %), "
          f"{r['classes_within_15_points']}/24 classes within 15 points of real")
    print("| class | synthetic | real | most mistaken for |\n|---|---:|---:|---|")
    for c in r["per_class"]:
        print(f"| {c['class']} | {100 * c['synthetic']:.0f} % | {100 * c['real']:.0f} % | {c['most_mistaken_for'] or ''} |")
    print(f"wrote {stem.with_suffix('.json')}, {stem.with_suffix('.png')} ({r['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
