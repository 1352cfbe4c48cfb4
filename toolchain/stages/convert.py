"""Stage `convert`: ANN->SNN conversion of a trained `snn_cnn`, accuracy vs time steps.

Reads an `snn_cnn` checkpoint (default: the run's final_model.pth, else initial_model.pth) and
a RadioML-format file. Sets per-layer integer thresholds from `convert.calibration_frames`
training frames (toolchain/train/convert.py has the derivation), evaluates the CNN and the
converted SNN at every T of `convert.time_steps` on `eval.split` (`eval.max_frames`), and
writes `convert_report.json`, `convert_time_steps.png` and `converted_model.pth`: the `snn`
model at T = `convert.save_time_steps` (default: the CNN's own T), fine-tuned with the
surrogate-gradient trainer when `convert.finetune_epochs` > 0. All checks, the calibration
included, run before the run directory is touched. See docs/convert.md.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..atomic import atomic_path, write_json
from ..checkpoint import is_toolchain_checkpoint, load_checkpoint, load_model, save_checkpoint
from ..config import Config, ModelConfig, text_override
from ..data.dataset import RadioMLDataset
from ..errors import ToolchainError
from ..reports.accuracy import accuracy_report
from ..rundir import RunDir, dataset_path, stage_run, trained_model

SUMMARY = "ANN->SNN conversion of a trained ReLU CNN, accuracy vs time steps -> converted_model.pth"
FORMAT = "toolchain-convert/1"
HIGH_SNR = 6  # dB: the report's "high SNR" accuracy averages the SNRs at or above this


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="trained snn_cnn checkpoint (toolchain train_initial DATA "
                        "--model snn_cnn); default: the run directory's final_model.pth, else initial_model.pth")
    parser.add_argument("--data", metavar="FILE", help="RadioML-format HDF5 file (config: data.path)")


def overrides(args: argparse.Namespace) -> list[str]:
    return [text_override("data.path", args.data)] if args.data else []


def load_cnn(path: Path) -> tuple[torch.nn.Module, ModelConfig]:
    """The snn_cnn of a toolchain checkpoint; anything else is a one-line error."""
    payload = load_checkpoint(path)
    expected = "convert expects a toolchain checkpoint of model 'snn_cnn' (toolchain train_initial DATA --model snn_cnn)"
    if not is_toolchain_checkpoint(payload):
        raise ToolchainError(f"{path}: not a toolchain checkpoint (a bare state_dict?); {expected}")
    name = payload.get("model_config", {}).get("name")
    if name != "snn_cnn":
        raise ToolchainError(f"{path}: holds model '{name}'; {expected}")
    model, mcfg, _ = load_model(path)
    return model, mcfg


def summary(labels: np.ndarray, preds: np.ndarray, snrs: np.ndarray) -> dict[str, Any]:
    """Overall accuracy, accuracy over the frames at SNR >= 6 dB, and per SNR."""
    report = accuracy_report(labels, preds, snrs)
    high = snrs >= HIGH_SNR
    return {"accuracy": report["overall"]["accuracy"], "frames": report["overall"]["frames"],
            f"accuracy_snr_ge_{HIGH_SNR}db": float((labels[high] == preds[high]).mean()) if high.any() else None,
            "per_snr": [{"snr": p["snr"], "frames": p["frames"], "accuracy": p["accuracy"]} for p in report["per_snr"]]}


@torch.no_grad()
def predict(model: torch.nn.Module, ds: RadioMLDataset, cfg: Config, device: torch.device,
            desc: str) -> tuple[dict[str, Any], Optional[dict[str, float]]]:
    """Accuracy summary of `model` on `ds` and, for an SNN, its spike rates per layer averaged
    over the frames (spike_rates() describes the last batch only, so batches are weighted)."""
    from tqdm import tqdm

    from ..train.convert import spike_rates
    from ..train.distributed import eval_batch_size

    model.eval()
    labels, preds, snrs = [], [], []
    rates: dict[str, float] = {}
    with tqdm(total=len(ds), unit="frame", desc=desc, disable=None, leave=False) as bar:
        for x, y, s in ds.loader(eval_batch_size(cfg.eval.batch_size, device), shuffle=False,
                                 num_workers=cfg.data.num_workers):
            preds.append(model(x.to(device)).argmax(1).cpu().numpy())
            labels.append(y.numpy())
            snrs.append(s.numpy())
            for k, v in (spike_rates(model) or {}).items():
                rates[k] = rates.get(k, 0.0) + v * len(y)
            bar.update(len(y))
    n = sum(len(y) for y in labels)
    doc = summary(np.concatenate(labels), np.concatenate(preds), np.concatenate(snrs))
    return doc, ({k: v / n for k, v in rates.items()} if rates else None)


def finetune(snn: torch.nn.Module, cfg: Config, splits: dict[str, RadioMLDataset], device: torch.device
             ) -> list[dict[str, Any]]:
    """convert.finetune_epochs of the ordinary surrogate-gradient training (train_initial's
    epoch function), Adam at convert.finetune_lr; the thresholds stay as converted."""
    from ..train.distributed import Env, train_loader
    from ..train.loop import evaluate, train_epoch

    env = Env(0, 1, device)
    c, d, t = cfg.convert, cfg.data, cfg.train
    optimizer = torch.optim.Adam(snn.parameters(), lr=c.finetune_lr)
    train = train_loader(splits["train"], d.batch_size, t.seed, d.run_length, d.num_workers, env, t.max_batches)
    val = splits["val"].loader(d.batch_size, shuffle=False, num_workers=d.num_workers, run_length=d.run_length)
    log = []
    for epoch in range(c.finetune_epochs):
        train.sampler.set_epoch(epoch)
        fitted = train_epoch(snn, train, optimizer, env, f"fine-tune {epoch + 1}/{c.finetune_epochs}")
        scored = evaluate(snn, val, env)
        log.append({"epoch": epoch + 1, "train_loss": fitted.loss, "train_acc": fitted.acc,
                    "val_loss": scored.loss, "val_acc": scored.acc, "seconds": round(fitted.seconds, 3)})
        print(f"fine-tune epoch {epoch + 1}/{c.finetune_epochs}: train acc {fitted.acc:.2%}"
              + (f", val acc {scored.acc:.2%}" if scored.acc is not None else ""))
    snn.eval()
    return log


def plot(doc: dict[str, Any], path: Path) -> None:
    """Accuracy vs T (overall and SNR >= 6 dB), the CNN's as horizontal lines."""
    from ..plotting import pyplot
    from ..atomic import save_figure

    plt = pyplot()
    key = f"accuracy_snr_ge_{HIGH_SNR}db"
    steps = [r["time_steps"] for r in doc["time_steps"]]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for field, colour, label in (("accuracy", "tab:blue", "overall"), (key, "tab:orange", f"SNR >= {HIGH_SNR} dB")):
        ax.plot(steps, [100 * (r[field] or 0) for r in doc["time_steps"]], "o-", color=colour, label=f"SNN, {label}")
        if doc["ann"][field] is not None:
            ax.axhline(100 * doc["ann"][field], color=colour, linestyle="--", linewidth=1, label=f"CNN, {label}")
    ft = doc.get("finetuned")
    if ft:
        ax.plot([ft["time_steps"]], [100 * ft["accuracy"]], "*", color="tab:green", markersize=12,
                label=f"fine-tuned SNN, overall ({ft['epochs']} epochs)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.set_xlabel("time steps T")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"ANN->SNN conversion: {Path(doc['source']['path']).name}, {doc['data']['frames']} frames", fontsize=10)
    save_figure(fig, path)


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..train import convert as conv
    from ..train.distributed import choose_device, eval_batch_size
    from ..train.loop import torch_settings
    from .evaluate import select_frames
    from .train_initial import load_splits

    source = Path(args.input) if args is not None and args.input else trained_model(cfg)
    cnn, mcfg = load_cnn(source)
    data = dataset_path(cfg)
    cfg.model = mcfg  # the checkpoint's model settings are the ones trained; load_splits checks the length
    splits = load_splits(cfg, data)
    frames, split_size = select_frames(cfg, data)
    c = cfg.convert
    own_steps = mcfg.input_length // mcfg.snn_group
    saved_steps = c.save_time_steps or own_steps
    groups = conv.time_step_groups(mcfg, [*c.time_steps, saved_steps])
    device = choose_device(cfg.train.device)
    with torch_settings(cfg.train, device):
        cnn.to(device)
        calib = splits["train"].loader(eval_batch_size(cfg.eval.batch_size, device), shuffle=True, seed=cfg.train.seed,
                                       num_workers=cfg.data.num_workers, run_length=cfg.data.run_length)
        lambdas = conv.calibrate(cnn, (x for x, _, _ in calib), c.percentile, device, c.calibration_frames)
        scales = conv.weight_scales(cnn)
        plans = {t: conv.thresholds(lambdas, scales, g, mcfg.snn_group, mcfg.snn_state_bits) for t, g in groups.items()}
        with stage_run(cfg.run.out_dir, "convert", cfg, [source, data]) as rundir:
            doc = {"format": FORMAT, "source": {"path": str(source), "model": mcfg.name},
                   "data": {"path": str(data), "split": cfg.eval.split, "frames": len(frames),
                            "frames_in_split": split_size,
                            "calibration_frames": min(c.calibration_frames, len(splits["train"]))},
                   "conversion": {"percentile": c.percentile, "lambdas": lambdas, "weight_scales": scales,
                                  "cnn_time_steps": own_steps, "cnn_group": mcfg.snn_group,
                                  "neuron": "IF (leak_shift 0), reset by subtraction, no refractory period",
                                  "readout": "non-leaky integrator membrane"}}
            doc["ann"], _ = predict(cnn, frames, cfg, device, "CNN")
            print(f"CNN: {doc['ann']['accuracy']:.2%} overall")
            rows, kept = [], None
            for t, g in groups.items():
                theta, exact = plans[t]
                snn_cfg = conv.snn_config(mcfg, g, theta)
                snn = conv.build_snn(cnn, snn_cfg).to(device)
                started = time.perf_counter()
                result, rates = predict(snn, frames, cfg, device, f"SNN T={t}")
                rows.append({"time_steps": t, "group": g, "thresholds": theta,
                             "thresholds_exact": [round(v, 3) for v in exact], **result, "spike_rates": rates,
                             "seconds": round(time.perf_counter() - started, 3)})
                print(f"SNN T={t}: {result['accuracy']:.2%} overall, thresholds {theta}")
                if t == saved_steps:
                    kept = (snn, snn_cfg)
            doc["time_steps"] = rows
            snn, snn_cfg = kept  # type: ignore[misc]
            doc["finetuned"] = None
            if c.finetune_epochs:
                log = finetune(snn, cfg, splits, device)
                result, rates = predict(snn, frames, cfg, device, f"fine-tuned SNN T={saved_steps}")
                doc["finetuned"] = {"time_steps": saved_steps, "epochs": c.finetune_epochs, "lr": c.finetune_lr,
                                    "log": log, **result, "spike_rates": rates}
                print(f"fine-tuned SNN T={saved_steps}: {result['accuracy']:.2%} overall")
            doc["saved"] = {"time_steps": saved_steps, "group": groups[saved_steps],
                            "thresholds": snn_cfg.snn_thresholds, "finetuned": bool(c.finetune_epochs)}
            write_outputs(rundir, doc, snn.cpu(), snn_cfg)
            print(f"wrote {rundir.root}/: {', '.join(rundir.outputs.values())}")
    return rundir


def write_outputs(rundir: RunDir, doc: dict[str, Any], snn: torch.nn.Module, snn_cfg: ModelConfig) -> None:
    """The three files appear together or not at all (renamed only once all are complete)."""
    with ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(rundir.artifact(name)))
               for name in ("converted_model", "convert_plot", "convert_report")}
        save_checkpoint(tmp["converted_model"], snn, snn_cfg,
                        conversion={"source": doc["source"]["path"], "time_steps": doc["saved"]["time_steps"],
                                    "finetune_epochs": doc["finetuned"]["epochs"] if doc["finetuned"] else 0})
        plot(doc, tmp["convert_plot"])
        write_json(tmp["convert_report"], doc)


__all__ = ["run", "load_cnn", "summary"]
