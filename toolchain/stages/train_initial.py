"""Stage `train_initial`: train the configured model on the dataset -> initial_model.pth.

The challenge baseline's recipe by default: Adam (train.lr 0.01), cross-entropy, cosine
annealing with warm restarts every train.t0 epochs, batches of data.batch_size frames. Every
epoch writes `checkpoint_last.pth` (the whole training state, for `--resume`) and rewrites
`train_log.jsonl`; the finished run writes `initial_model.pth`, the last epoch's checkpoint.
Under torchrun it trains with DistributedDataParallel and only rank 0 writes. See docs/train.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Optional

import torch

from ..atomic import atomic_path
from ..checkpoint import save_checkpoint
from ..config import Config, text_override
from ..data.dataset import RadioMLDataset
from ..errors import ConfigError, ToolchainError
from ..rundir import ARTIFACTS, RunDir, dataset_path, stage_run, keep_checkpoint_on_failure
from ..data.sampling import MIN_BATCH
from ..train.distributed import Env, distributed, on_main, sync_buffers, train_loader
from ..train.loop import EpochStats, evaluate, torch_settings, train_epoch
from ..train.state import Progress, check_resumable, restore, resume_or_refuse, training_state

SUMMARY = "train the configured model -> initial_model.pth"
STAGE = "train_initial"
LAST = "checkpoint_last.pth"  # the latest epoch's whole training state: what --resume continues
LOG = "train_log.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="RadioML-format HDF5 file (default: data.path, or the "
                        "synthetic.h5 the data stage wrote into the run directory)")
    parser.add_argument("--model", metavar="NAME", help="model to build (config: model.name)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its "
                        f"{LAST}, also a finished one given more train.epochs (config: train.resume)")


def overrides(args: argparse.Namespace) -> list[str]:
    out = [text_override("data.path", args.input)] if args.input else []
    if args.model:
        out.append(text_override("model.name", args.model))
    if args.resume:
        out.append("train.resume=true")
    return out


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..models import build_model

    data = dataset_path(cfg)
    splits = load_splits(cfg, data)
    root = Path(cfg.run.out_dir)
    with distributed(cfg.train.device) as env, torch_settings(cfg.train, env.device):
        if len(splits["train"]) < MIN_BATCH * env.world_size:
            raise ToolchainError(f"{data}: the train split has {len(splits['train'])} frames, too few for "
                                 f"{env.world_size} process(es) (at least {MIN_BATCH} each)")
        torch.manual_seed(cfg.train.seed)  # the initial weights
        model = build_model(cfg.model).to(env.device)
        start = on_main(env, lambda: starting_point(cfg, root))
        if not env.is_main:
            fit(cfg, env, model, splits, start, None)
            return RunDir(root, STAGE)
        with keep_checkpoint_on_failure(root / LAST, "epoch"), stage_run(root, STAGE, cfg, [data]) as rundir:
            final = rundir.artifact("initial_model")
            rundir.outputs.update(checkpoint_last=LAST, train_log=LOG)
            progress, state = fit(cfg, env, model, splits, start, root)
            save_checkpoint(final, model, cfg.model, **state)
            write_log(root / LOG, progress.history)
            rundir.extra["training"] = training_summary(progress, env, start)
            print(f"wrote {final} (epoch {progress.epoch}) and {root / LOG}")
    return rundir


def load_splits(cfg: Config, path: Path) -> dict[str, RadioMLDataset]:
    """The dataset's splits, checked against the model before anything is written."""
    if cfg.data.batch_size < MIN_BATCH:
        raise ConfigError(f"config key 'data.batch_size': training needs at least {MIN_BATCH} frames per batch "
                          f"(BatchNorm), got {cfg.data.batch_size}")
    d = cfg.data
    splits = RadioMLDataset.splits(path, val_fraction=d.val_fraction, val_seed=d.val_seed,
                                   train_snrs=d.train_snrs, classes=d.classes)
    length = splits["train"].index.frame_length
    if length != cfg.model.input_length:
        raise ToolchainError(f"{path}: frames are {length} samples long but config key 'model.input_length' is "
                             f"{cfg.model.input_length}; set --set model.input_length={length}")
    return splits


def starting_point(cfg: Config, root: Path) -> Optional[dict[str, Any]]:
    """None for a new run; the checkpoint to continue with train.resume. Refuses to overwrite a
    run's checkpoints unless asked to resume it."""
    if root.exists() and not root.is_dir():
        raise ToolchainError(f"{root}: run directory path exists and is not a directory")
    last = root / LAST
    payload = resume_or_refuse(cfg.train.resume, "train.resume", "run", (root / ARTIFACTS["initial_model"],), last)
    if payload is None:
        return None
    check_resumable(payload, cfg, last)
    if payload["epoch"] > cfg.train.epochs:
        raise ToolchainError(f"config key 'train.epochs' is {cfg.train.epochs} but {last} already holds "
                             f"{payload['epoch']} epochs; give at least that many")
    print(f"resuming {root} after epoch {payload['epoch']} of {cfg.train.epochs}")
    return payload


def fit(cfg: Config, env: Env, model: torch.nn.Module, splits: dict[str, RadioMLDataset],
        start: Optional[dict[str, Any]], root: Optional[Path]) -> tuple[Progress, dict[str, Any]]:
    """Train to train.epochs; rank 0 (root given) checkpoints and logs every epoch. Returns the
    progress and the final training state (save_checkpoint keywords)."""
    t = cfg.train
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=t.t0, eta_min=t.eta_min)
    progress = restore(start, model, optimizer, scheduler, env.device) if start else Progress()
    net = model
    if env.distributed:  # after restore: DDP starts every rank from rank 0's weights and buffers
        devices = [env.device] if env.device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=devices)
    d = cfg.data
    train = train_loader(splits["train"], d.batch_size, t.seed, d.run_length, d.num_workers, env, t.max_batches)
    val = splits["val"].loader(d.batch_size, shuffle=False, num_workers=d.num_workers, run_length=d.run_length,
                               rank=env.rank, world_size=env.world_size)
    if root is not None and start is not None:
        write_log(root / LOG, progress.history)  # an interruption may have come between checkpoint and log
    for epoch in range(progress.epoch, t.epochs):
        started = time.perf_counter()
        train.sampler.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trains with
        fitted = train_epoch(net, train, optimizer, env, f"epoch {epoch + 1}/{t.epochs}")
        sync_buffers(env, model)
        scored = evaluate(model, val, env)
        scheduler.step()
        record = epoch_record(epoch + 1, fitted, scored, lr, time.perf_counter() - started, env)
        progress.add(record)
        if root is not None:
            state = training_state(model, optimizer, scheduler, progress, cfg, env.device, env.world_size)
            save_checkpoint(root / LAST, model, cfg.model, **state)
            write_log(root / LOG, progress.history)
            print(format_record(record, t.epochs), flush=True)
    return progress, training_state(model, optimizer, scheduler, progress, cfg, env.device, env.world_size)


def epoch_record(epoch: int, fitted: EpochStats, scored: EpochStats, lr: float, seconds: float,
                 env: Env) -> dict[str, Any]:
    """One line of train_log.jsonl (fields: docs/train.md)."""
    return {
        "epoch": epoch,
        "train_loss": fitted.loss, "train_acc": fitted.acc,
        "val_loss": scored.loss, "val_acc": scored.acc,
        "lr": lr,
        "seconds": round(seconds, 3), "train_seconds": round(fitted.seconds, 3),
        "frames": fitted.frames, "frames_per_s": round(fitted.frames_per_s, 1),
        "val_frames": scored.frames,
        "world_size": env.world_size, "device": env.device.type,
    }


def format_record(r: dict[str, Any], epochs: int) -> str:
    val = f"val loss {r['val_loss']:.4f} acc {r['val_acc']:.2%}" if r["val_frames"] else "no val split"
    return (f"epoch {r['epoch']}/{epochs}: train loss {r['train_loss']:.4f} acc {r['train_acc']:.2%} | {val} | "
            f"lr {r['lr']:.2e} | {r['seconds']:.1f} s, {r['frames_per_s']:.0f} frames/s")


def write_log(path: Path, history: list[dict[str, Any]]) -> None:
    # Rewritten whole from the checkpoint's history, so log and checkpoint never disagree,
    # whatever epoch an interruption hit.
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(record) + "\n" for record in history))


def training_summary(progress: Progress, env: Env, start: Optional[dict[str, Any]]) -> dict[str, Any]:
    """manifest.json's `training` entry of this stage."""
    return {
        "epochs": progress.epoch,
        "resumed_after_epoch": start["epoch"] if start else None,
        "world_size": env.world_size,
        "device": env.device.type,
        "last": progress.history[-1] if progress.history else None,
        "best_val_acc": progress.best_val_acc,
        "best_epoch": progress.best_epoch,
    }
