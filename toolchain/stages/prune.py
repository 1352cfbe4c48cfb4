"""Stage `prune`: iterative magnitude pruning with fine-tuning, initial_model.pth -> final_model.pth.

Global unstructured L1 pruning (torch.nn.utils.prune) of the conv and linear weights chosen by
type, IMP or FMP, each step fine-tuned with its masks active and kept only if the accuracy
criterion holds; optional distillation from the unpruned model. Every step writes
`prune_last.pth` (for `--resume`), `prune_log.jsonl` and the two PNGs; the finished run writes
`final_model.pth` with the masks materialised (plain weights with zeros) and
`prune_report.json`. One process (no torchrun). See docs/prune.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, Optional

import torch

from ..atomic import atomic_path, write_json
from ..checkpoint import load_model, save_checkpoint
from ..config import Config, text_override, to_dict
from ..errors import ToolchainError
from ..rundir import ARTIFACTS, RunDir, dataset_path, fingerprint, stage_run, keep_checkpoint_on_failure
from ..train.distributed import distributed, train_loader
from ..train.loop import torch_settings
from ..train.state import (MAY_CHANGE_ON_RESUME, check_resumable, restore_model, resume_or_refuse, rng_state,
                           set_rng_state, stats_state)
from .train_initial import load_splits

SUMMARY = "iterative magnitude pruning with fine-tuning -> final_model.pth"
STAGE = "prune"
LAST = "prune_last.pth"  # the last finished step's whole state: what --resume continues
SECTIONS = ("data", "train", "prune")  # settings a resume must share (the model comes from the input)
MAY_CHANGE = frozenset(MAY_CHANGE_ON_RESUME | {"prune.steps", "prune.resume", "prune.score"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?",
                        help=f"checkpoint to prune (default: the run's {ARTIFACTS['initial_model']})")
    parser.add_argument("--data", metavar="FILE", help="RadioML-format HDF5 file (config: data.path; default: "
                        "the synthetic.h5 the data stage wrote into the run directory)")
    parser.add_argument("--resume", action="store_true", help=f"continue the prune in --out from its {LAST}, "
                        "also a finished one given more prune.steps (config: prune.resume)")


def overrides(args: argparse.Namespace) -> list[str]:
    out = [text_override("data.path", args.data)] if args.data else []
    if args.resume:
        out.append("prune.resume=true")
    return out


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..compression import masks
    from ..compression.loop import Progress

    root = Path(cfg.run.out_dir)
    source = Path(args.input) if args is not None and args.input else root / ARTIFACTS["initial_model"]
    if not source.is_file():
        raise ToolchainError(f"{source}: no such checkpoint file; give the model to prune as INPUT or run "
                             "train_initial first")
    model, model_cfg, _ = load_model(source, cfg.model)
    data = dataset_path(cfg)
    splits = load_splits(dataclasses.replace(cfg, model=model_cfg), data)  # frame length against the checkpoint
    if len(splits["val"]) == 0:
        raise ToolchainError(f"{data}: the validation split is empty (config key 'data.val_fraction' is "
                             f"{cfg.data.val_fraction}); pruning judges every step on it")
    targets = masks.select(model, cfg.prune.layer_types)
    with distributed(cfg.train.device) as env, torch_settings(cfg.train, env.device):
        if env.distributed:
            raise ToolchainError("prune runs in one process; start it without torchrun")
        start = starting_point(cfg, root, source)
        torch.manual_seed(cfg.train.seed)
        pruner = build_pruner(cfg, env, model.to(env.device), model_cfg, targets, splits, source)
        with keep_checkpoint_on_failure(root / LAST, "step"), stage_run(root, STAGE, cfg, [source, data]) as rundir:
            rundir.outputs.update(prune_last=LAST)
            if start is None:
                progress = Progress()
                pruner.baseline(progress)
                print(f"unpruned: val acc {progress.baseline['val_acc']:.2%}; "
                      f"keep steps with {pruner.criterion.describe()}")
            else:
                progress = resume(pruner, start, env.device)

            def after_step(progress: Progress) -> None:
                save_checkpoint(root / LAST, model, model_cfg, **state(pruner, progress, cfg, env.device, source))
                write_outputs(rundir, progress, pruner)
                r = progress.history[-1]
                cost = f", score {r['score']:.4g}" if r["score"] is not None else ""
                print(f"step {r['step']}: rate {r['rate']:.3g} -> sparsity {r['sparsity']:.1%}, val acc "
                      f"{r['val_acc']:.2%}{cost}: {r['action']}", flush=True)

            reason = pruner.run(progress, after_step)
            save_checkpoint(root / LAST, model, model_cfg, **state(pruner, progress, cfg, env.device, source))
            write_outputs(rundir, progress, pruner)
            final = finish(pruner, progress, reason, rundir, source)
            print(f"stopped: {reason}; wrote {rundir.root / ARTIFACTS['final_model']} (sparsity "
                  f"{final['sparsity']:.1%}, val acc {final['val_acc']:.2%}) and {ARTIFACTS['prune_report']}")
    return rundir


def build_pruner(cfg: Config, env, model, model_cfg, targets, splits, source: Path):
    """Masks on the chosen weights, the loaders and the fine-tuning loss (distillation from a
    second, frozen copy of the input model, or cross-entropy)."""
    from ..compression import masks
    from ..compression.distill import distillation_loss_fn
    from ..compression.loop import Pruner

    masks.attach(targets)
    masks.follow_masks(model, targets)
    loss_fn = None
    if cfg.prune.distill:
        teacher, _, _ = load_model(source, cfg.model)
        loss_fn = distillation_loss_fn(teacher.to(env.device), cfg.prune.temperature, cfg.prune.alpha)
    d, t = cfg.data, cfg.train
    train = train_loader(splits["train"], d.batch_size, t.seed, d.run_length, d.num_workers, env, t.max_batches)
    val = splits["val"].loader(d.batch_size, shuffle=False, num_workers=d.num_workers, run_length=d.run_length)
    return Pruner(cfg, env, model, model_cfg, targets, train, val, loss_fn=loss_fn)


def starting_point(cfg: Config, root: Path, source: Path) -> Optional[dict[str, Any]]:
    """None for a new prune; the checkpoint to continue with prune.resume. Refuses to overwrite
    a run's pruning results unless asked to resume."""
    last = root / LAST
    payload = resume_or_refuse(cfg.prune.resume, "prune.resume", "prune", (root / ARTIFACTS["final_model"],), last)
    if payload is None:
        return None
    check_resumable(payload, cfg, last, SECTIONS, MAY_CHANGE)
    if payload.get("source") != fingerprint(source):
        raise ToolchainError(f"{source} is not the model {last} was pruned from; resume with that model, "
                             "or prune into a new --out")
    return payload


def resume(pruner, payload: dict[str, Any], device: torch.device):
    from ..compression.criterion import Criterion
    from ..compression.loop import Progress

    restore_model(pruner.model, payload["state_dict"], payload["quant_stats"])  # masks included: attach() made the keys
    if pruner.optimizer is not None:
        pruner.optimizer.load_state_dict(payload["optimizer"])
        pruner.scheduler.load_state_dict(payload["scheduler"])
    set_rng_state(payload["rng"], device)
    progress = Progress.from_dict(payload["prune"])
    pruner.criterion = Criterion.from_config(pruner.cfg.prune, progress.baseline["val_acc"])
    print(f"resuming {pruner.cfg.run.out_dir} after step {progress.attempt}")
    return progress


def state(pruner, progress, cfg: Config, device: torch.device, source: Path) -> dict[str, Any]:
    """prune_last.pth besides the weights and masks (save_checkpoint keywords); the keys
    check_resumable asks of a training checkpoint, plus the pruning progress."""
    return {
        "epoch": progress.epoch,
        "optimizer": pruner.optimizer.state_dict() if pruner.optimizer is not None else None,
        "scheduler": pruner.scheduler.state_dict() if pruner.scheduler is not None else None,
        "rng": rng_state(device),
        "quant_stats": stats_state(pruner.model),
        "history": progress.history,
        "prune": progress.to_dict(),
        "source": fingerprint(source),
        "config": to_dict(cfg),
    }


def write_outputs(rundir: RunDir, progress, pruner) -> None:
    """The log and the PNGs, rewritten whole from the progress after every step, so that they
    never disagree with prune_last.pth."""
    from ..compression.report import plot_sparsity, plot_tradeoff

    with atomic_path(rundir.artifact("prune_log")) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in progress.history))
    types = {name: type(m).__name__ for name, m in pruner.targets}
    plot_sparsity(progress.history, types, rundir.artifact("prune_sparsity"))
    plot_tradeoff(progress.history, pruner.criterion.floor, rundir.artifact("prune_tradeoff"))


def finish(pruner, progress, reason: str, rundir: RunDir, source: Path) -> dict[str, Any]:
    """Materialise the masks (plain weights with zeros), check the result, write
    final_model.pth and prune_report.json."""
    from ..compression import masks
    from ..compression.report import summary

    sparsity = masks.sparsity(pruner.targets)
    masks.materialise(pruner.targets)
    scored = pruner.validate()
    last = next(r for r in reversed(progress.history) if r["kept"])
    final = {"val_acc": scored.acc, "val_loss": scored.loss, "sparsity": sparsity["overall"],
             "pruned": sparsity["pruned"], "weights": sparsity["weights"], "step": last["step"],
             "score": last["score"], "total_bops": last["bops"], "total_mem_w_bits": last["mem_w_bits"],
             "total_mem_w_elems": last["mem_w_elems"]}
    final.update(pruner.spike_rates())
    report = summary(progress.history, progress.baseline, reason, final)
    save_checkpoint(rundir.artifact("final_model"), pruner.model, pruner.model_cfg, pruning=report,
                    history=progress.history, config=to_dict(pruner.cfg))
    write_json(rundir.artifact("prune_report"), report)
    rundir.extra["pruning"] = {"source": str(source), "stop_reason": reason, "steps_tried": progress.attempt,
                               "sparsity": final["sparsity"], "val_acc": final["val_acc"], "score": final["score"]}
    return final
