"""Stage `reduce_bits`: post-training bit-width reduction, a sweep of settings -> final_model.pth.

Each setting of `prune.bits_weight` / `prune.bits_act` rebuilds the trained model at the lower
bit widths with the same state_dict (no retraining: Brevitas keeps no bit width in the weights,
see toolchain/compression/bits.py), is judged on the validation split and costed; with
`prune.bits_finetune_epochs` a copy is also fine-tuned briefly (zeros of a pruned model kept).
Writes `bits_sweep.json` / `.png` (one row per setting) and, as `final_model.pth`, the cheapest
variant that meets the prune criterion, its ModelConfig carrying the new bit widths so later
stages rebuild it with no flags. See docs/prune.md.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import shutil
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_json
from ..checkpoint import load_model, save_checkpoint
from ..config import Config, ModelConfig, text_override, to_dict
from ..errors import ToolchainError
from ..rundir import ARTIFACTS, RunDir, dataset_path, stage_run, trained_model
from ..train.distributed import distributed, train_loader
from ..train.loop import evaluate, torch_settings, train_epoch
from .train_initial import load_splits

SUMMARY = "post-training bit-width reduction sweep -> bits_sweep.json, final_model.pth"
SWEEP_JSON, SWEEP_PNG = "bits_sweep.json", "bits_sweep.png"
UNREDUCED = "unreduced_model.pth"  # the run's final_model.pth as it was before this stage replaced it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="checkpoint to reduce (default: the run's final_model.pth, "
                        "else initial_model.pth)")
    parser.add_argument("--data", metavar="FILE", help="RadioML-format HDF5 file (config: data.path; default: "
                        "the synthetic.h5 the data stage wrote into the run directory)")


def overrides(args: argparse.Namespace) -> list[str]:
    return [text_override("data.path", args.data)] if args.data else []


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..compression.bits import reduced_config, requantize
    from ..compression.criterion import Criterion
    from ..compression.sweep import bit_layers, choose, label, plot_sweep, settings

    p = cfg.prune
    if p.bits_weight is None and p.bits_act is None:
        raise ToolchainError("config key 'prune.bits_weight': no bit-width settings to sweep; set prune.bits_weight "
                             "and/or prune.bits_act, e.g. --set 'prune.bits_weight=[[6],[5]]'")
    root = Path(cfg.run.out_dir)
    source = Path(args.input) if args is not None and args.input else trained_model(cfg)
    model, model_cfg, payload = load_model(source, cfg.model)
    if "bit_reduction" in payload:
        raise ToolchainError(f"{source}: already bit-reduced by reduce_bits; give the model before the reduction "
                             f"as INPUT (the run keeps it as {UNREDUCED})")
    weights, acts = bit_layers(model)
    sweep = settings(p.bits_weight, p.bits_act, len(weights), len(acts))
    configs = [reduced_config(model_cfg, w, a) for w, a in sweep]  # every setting checked before any work
    data = dataset_path(cfg)
    splits = load_splits(dataclasses.replace(cfg, model=model_cfg), data)
    if len(splits["val"]) == 0:
        raise ToolchainError(f"{data}: the validation split is empty (config key 'data.val_fraction' is "
                             f"{cfg.data.val_fraction}); the sweep judges every setting on it")
    with distributed(cfg.train.device) as env, torch_settings(cfg.train, env.device):
        if env.distributed:
            raise ToolchainError("reduce_bits runs in one process; start it without torchrun")
        torch.manual_seed(cfg.train.seed)
        d, t = cfg.data, cfg.train
        train = train_loader(splits["train"], d.batch_size, t.seed, d.run_length, d.num_workers, env, t.max_batches)
        val = splits["val"].loader(d.batch_size, shuffle=False, num_workers=d.num_workers, run_length=d.run_length)
        # Made here, not by stage_run, which would remove a directory it made when the stage
        # fails: a sweep with no setting meeting the criterion must leave its table to read.
        root.mkdir(parents=True, exist_ok=True)
        with stage_run(root, "reduce_bits", cfg, [source, data]) as rundir:
            base = {**judge(model.to(env.device), val, env), **cost_of(model, model_cfg, env, p.score)}
            criterion = Criterion.from_config(p, base["val_acc"])
            print(f"as trained: val acc {base['val_acc']:.2%}; keep a setting with {criterion.describe()}")
            rows, models = [], []
            for (w, a), new_cfg in zip(sweep, configs):
                reduced_model = requantize(model.cpu(), new_cfg).to(env.device)
                row = {"label": label(w, a), "weight_bits": bit_list(new_cfg, len(weights), "weight"),
                       "act_bits": bit_list(new_cfg, len(acts), "act"),
                       **cost_of(reduced_model, new_cfg, env, p.score),
                       "untuned": judge(reduced_model, val, env), "finetuned": None}
                variants = {"untuned": reduced_model}
                if p.bits_finetune_epochs > 0:
                    tuned = finetune(copy.deepcopy(reduced_model), train, env, cfg)
                    row["finetuned"] = judge(tuned, val, env)
                    variants["finetuned"] = tuned
                rows.append(row)
                models.append(variants)
                tuned_text = f", fine-tuned {row['finetuned']['val_acc']:.2%}" if row["finetuned"] else ""
                score_text = f", score {row['score']:.4g}" if row["score"] is not None else ""
                print(f"{row['label']}: val acc {row['untuned']['val_acc']:.2%}{tuned_text}{score_text}", flush=True)
            chosen = choose(rows, criterion.floor)
            table = {"source": str(source), "baseline": base, "criterion": {"kind": criterion.kind,
                     "floor": criterion.floor}, "finetune_epochs": p.bits_finetune_epochs, "rows": rows,
                     "chosen": None if chosen is None else {"row": chosen[0], "variant": chosen[1]}}
            write_json(root / SWEEP_JSON, table)
            plot_sweep(rows, criterion.floor, root / SWEEP_PNG)
            rundir.outputs.update(bits_sweep=SWEEP_JSON, bits_sweep_plot=SWEEP_PNG)
            if chosen is None:
                raise ToolchainError(f"no bit-width setting kept {criterion.describe()}; nothing written but "
                                     f"{root / SWEEP_JSON} (relax prune.max_drop or choose milder settings)")
            i, variant = chosen
            keep(rundir, source, models[i][variant], configs[i], payload, rows[i], variant, cfg)
            rundir.extra["bit_reduction"] = {"source": str(source), "label": rows[i]["label"], "variant": variant,
                                             "val_acc": rows[i][variant]["val_acc"], "score": rows[i]["score"]}
            print(f"kept {rows[i]['label']} ({variant}): wrote {rundir.root / ARTIFACTS['final_model']}, "
                  f"{SWEEP_JSON}, {SWEEP_PNG}")
    return rundir


def bit_list(model_cfg: ModelConfig, n: int, kind: str) -> list[int]:
    """Per-layer bits of `model_cfg` (uniform widths spelled out over its `n` layers)."""
    if kind == "weight":
        return list(model_cfg.layer_weight_bits or [model_cfg.weight_bits] * n)
    return list(model_cfg.layer_act_bits or [model_cfg.act_bits] * n)


def judge(model, val, env) -> dict[str, Any]:
    scored = evaluate(model, val, env)
    return {"val_acc": scored.acc, "val_loss": scored.loss}


def cost_of(model, model_cfg: ModelConfig, env, score: bool) -> dict[str, Any]:
    """The challenge cost (qonnx inference_cost, zeros discounted), or score None with
    prune.score false. The same for both variants of a setting: fine-tuning keeps the zeros."""
    from ..compression.cost import model_cost

    if not score:
        return {"score": None}
    cost = model_cost(model.cpu(), model_cfg)
    model.to(env.device)
    return {k: cost[k] for k in ("score", "total_bops", "total_mem_w_bits", "unsupported")}


def finetune(model, train, env, cfg: Config):
    """prune.bits_finetune_epochs of Adam at prune.lr with a cosine decay, zeros held at zero."""
    from ..compression.sweep import zeros_kept

    epochs = cfg.prune.bits_finetune_epochs
    with zeros_kept(model):
        opt = torch.optim.Adam(model.parameters(), lr=cfg.prune.lr, weight_decay=cfg.train.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        for epoch in range(epochs):
            train.sampler.set_epoch(epoch)
            train_epoch(model, train, opt, env, f"fine-tune {epoch + 1}/{epochs}")
            sched.step()
    return model.eval()


def keep(rundir: RunDir, source: Path, model, model_cfg: ModelConfig, payload, row, variant: str, cfg: Config) -> None:
    """Write the chosen model as final_model.pth; a pruned final_model.pth it replaces is kept
    as unreduced_model.pth."""
    target = rundir.artifact("final_model")
    if target.exists() and target.resolve() == source.resolve():
        shutil.copy2(source, rundir.root / UNREDUCED)
        rundir.outputs["unreduced_model"] = UNREDUCED
        # The manifest hashes its inputs at the end, when the input's path holds the output.
        rundir.inputs = [rundir.root / UNREDUCED if p == source else p for p in rundir.inputs]
    extra = {k: payload[k] for k in ("pruning", "history") if k in payload}
    save_checkpoint(target, model.cpu(), model_cfg, **extra, config=to_dict(cfg),
                    bit_reduction={"source": str(source), "variant": variant, **row})
