"""A training run as checkpoint contents and back, so that a resumed run ends with exactly the
weights an uninterrupted one would have."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from ..checkpoint import is_toolchain_checkpoint, load_checkpoint
from ..config import Config, to_dict
from ..errors import ToolchainError

# Settings that may differ when resuming: where things are and how fast they run, and
# train.epochs so that a finished run can be trained further.
MAY_CHANGE_ON_RESUME = {"data.path", "data.num_workers", "train.epochs", "train.device", "train.threads",
                        "train.resume", "train.deterministic"}
COMPARED_SECTIONS = ("data", "model", "train")
TRAINING_KEYS = ("state_dict", "epoch", "optimizer", "scheduler", "rng", "quant_stats", "history", "config")


@dataclass
class Progress:
    epoch: int = 0  # epochs completed
    best_val_acc: Optional[float] = None
    best_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # the train_log.jsonl records so far

    def add(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        self.epoch = record["epoch"]
        acc = record["val_acc"]
        if acc is not None and (self.best_val_acc is None or acc > self.best_val_acc):
            self.best_val_acc, self.best_epoch = acc, record["epoch"]


def training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                   progress: Progress, cfg: Config, device: torch.device, world_size: int) -> dict[str, Any]:
    """Everything besides the weights that resuming needs; keyword arguments of save_checkpoint.
    Plain Python values and tensors only, so the file loads with weights_only=True."""
    return {
        "epoch": progress.epoch,
        "epochs": cfg.train.epochs,
        "best_val_acc": progress.best_val_acc,
        "best_epoch": progress.best_epoch,
        "history": progress.history,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(device),
        "quant_stats": stats_state(model),
        "world_size": world_size,
        "config": to_dict(cfg),
    }


def restore(payload: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
            device: torch.device) -> Progress:
    restore_model(model, payload["state_dict"], payload["quant_stats"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    set_rng_state(payload["rng"], device)
    return Progress(payload["epoch"], payload.get("best_val_acc"), payload.get("best_epoch", 0),
                    list(payload["history"]))


def check_resumable(payload: dict[str, Any], cfg: Config, path: Path,
                    sections: tuple[str, ...] = COMPARED_SECTIONS,
                    may_change: frozenset[str] | set[str] = frozenset(MAY_CHANGE_ON_RESUME)) -> None:
    """Refuse a checkpoint that is not a training checkpoint, or whose run used other settings
    in `sections` (naming the first differing key), before anything is trained or written."""
    missing = [k for k in TRAINING_KEYS if k not in payload]
    if not is_toolchain_checkpoint(payload) or missing:
        what = f"no '{missing[0]}'" if missing else "not a toolchain checkpoint"
        raise ToolchainError(f"{path}: cannot resume from it ({what}); train into a new --out")
    saved = _flatten({s: payload["config"].get(s, {}) for s in sections})
    now = _flatten({s: to_dict(cfg)[s] for s in sections})
    for key in sorted(set(saved) | set(now)):
        if key not in may_change and saved.get(key) != now.get(key):
            raise ToolchainError(f"config key '{key}' is {now.get(key)!r} but {path} was trained with "
                                 f"{saved.get(key)!r}; resume with the same setting, or train into a new --out")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


# ----------------------------------------------------------------------------- random state
def rng_state(device: torch.device) -> dict[str, Any]:
    # numpy and `random` are not saved: nothing in training draws from their global generators
    # (the batch order comes from seeded generators keyed by seed and epoch).
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda":
        for index, s in enumerate(state.get("cuda", [])[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, index)


# -------------------------------------------------------------------- Brevitas scale statistics
def stats_state(model: torch.nn.Module) -> dict[str, Any]:
    """Raw state of Brevitas' runtime-statistics modules. An activation scale is initialised from
    statistics of its first N training batches (N=300 by default); the step counter is a plain
    attribute, the statistics buffer is left out of state_dict, and loading a state_dict ends the
    collection early. A run resumed inside that phase continues it exactly only with these."""
    out: dict[str, Any] = {}
    for name, module in model.named_modules():
        counter = getattr(module, "counter", None)
        if type(counter) is int:
            own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
            out[name] = {"counter": counter, "tensors": {k: t.detach().clone() for k, t in own}}
    return out


def restore_model(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], quant_stats: dict[str, Any]) -> None:
    """Put a `state_dict()` and a `stats_state()` back into the model's own tensors.

    Not `load_state_dict`: Brevitas rebuilds its quantizers on a load (new Parameter objects for
    every activation scale), after which an optimizer made before the load would update tensors
    the model no longer uses and keep their Adam state apart (a resumed run's scales then never
    train past the statistics phase); the load also ends that phase early."""
    own = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    missing = [k for k in model.state_dict() if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        which = f"lacks '{missing[0]}'" if missing else f"has '{unexpected[0]}', which the model has not"
        raise ToolchainError(f"the checkpoint's state_dict {which}: not a checkpoint of this model")
    with torch.no_grad():
        for key, tensor in state_dict.items():
            own[key].copy_(tensor)
    restore_stats_state(model, quant_stats)


def restore_stats_state(model: torch.nn.Module, saved: dict[str, Any]) -> None:
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, entry in saved.items():
            module = modules[name]
            module.counter = entry["counter"]
            for key, tensor in entry["tensors"].items():
                getattr(module, key).copy_(tensor)


def resume_or_refuse(resume: bool, key: str, kind: str, results: tuple[Path, ...], last: Path) -> Optional[dict[str, Any]]:
    """None for a new `kind` of run, refusing to overwrite its `results` or its `last` checkpoint;
    with `resume` (config key `key`), the payload of `last` to continue from."""
    if not resume:
        for path in (*results, last):
            if path.exists():
                raise ToolchainError(f"{path} exists: add --resume ({key}=true) to continue that {kind}, "
                                     "or choose a new --out")
        return None
    if not last.is_file():
        raise ToolchainError(f"{last}: no checkpoint to resume from; leave out --resume ({key}) "
                             f"to start a new {kind} there")
    return load_checkpoint(last)

