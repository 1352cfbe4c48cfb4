"""The pruning steps: prune, fine-tune with the masks active, judge, keep or roll back.

A step's state is the model (weights, masks, BatchNorm and Brevitas statistics); after every
step the model holds the last kept state, so that is all a checkpoint needs besides the
progress below, the plateau scheduler and the random state.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..config import Config, ModelConfig
from ..train.distributed import Env
from ..train.loop import LossFn, evaluate, train_epoch
from ..train.state import restore_model, stats_state
from . import masks
from .cost import model_cost
from .criterion import Criterion, next_rate, step_amount


@dataclass
class Progress:
    attempt: int = 0  # pruning steps tried, kept or rolled back
    epoch: int = 0  # fine-tuning epochs over all steps: the sampler's epoch, so batch order survives a resume
    rate: float = 0.0  # the rate the next step will use
    baseline: dict[str, Any] = field(default_factory=dict)  # the unpruned model: val_acc, val_loss, cost
    history: list[dict[str, Any]] = field(default_factory=list)  # prune_log.jsonl records (step 0: unpruned)
    stopped: Optional[str] = None  # why no further step will be tried (the criterion), None while going on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Progress":
        return cls(**d)


@dataclass
class Pruner:
    cfg: Config
    env: Env
    model: nn.Module
    model_cfg: ModelConfig
    targets: masks.Targets
    train: DataLoader
    val: DataLoader
    criterion: Optional[Criterion] = None  # set from the baseline (relative) by baseline() or resume()
    loss_fn: Optional[LossFn] = None  # None: cross-entropy; else distillation
    optimizer: Optional[torch.optim.Optimizer] = None  # plateau: one for the whole run
    scheduler: Any = None
    meter: Any = None  # an SNN's SpikeMeter: the spike rates of each validation

    def __post_init__(self) -> None:
        from ..snn.rates import SpikeMeter, is_snn

        if is_snn(self.model):
            self.meter = SpikeMeter(self.model).attach()
        if self.cfg.prune.schedule == "plateau":
            self.optimizer = self._adam()
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, factor=self.cfg.prune.plateau_factor, patience=self.cfg.prune.plateau_patience)

    def _adam(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.cfg.prune.lr, weight_decay=self.cfg.train.weight_decay)

    def step_optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        """Learning-rate rewinding: each step fine-tunes as if from the start of a schedule (fresh
        Adam, cosine from prune.lr), which recovers pruned accuracy better than continuing at a
        decayed rate (Renda et al. 2020). Plateau: the one optimizer and scheduler go on."""
        if self.cfg.prune.schedule == "plateau":
            return self.optimizer, self.scheduler
        opt = self._adam()
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.cfg.prune.finetune_epochs))

    def validate(self):
        """Loss and accuracy on the validation split; an SNN's spike rates measured over it."""
        if self.meter is not None:
            self.meter.reset()
        return evaluate(self.model, self.val, self.env)

    def spike_rates(self) -> dict[str, Any]:
        """{"input_rate", "spike_rates"} of the last validation for an SNN (prune_log.jsonl,
        prune_report.json); {} for a CNN, whose records stay as they were."""
        if self.meter is None:
            return {}
        from ..snn.rates import spiking_rates

        measured = self.meter.rates()
        return {"input_rate": measured["input_rate"], "spike_rates": spiking_rates(measured)}

    def cost(self) -> dict[str, Any]:
        return model_cost(self.model, self.model_cfg) if self.cfg.prune.score else {}

    def baseline(self, progress: Progress) -> None:
        """Step 0: the unpruned model's validation score and cost."""
        scored = self.validate()
        self.criterion = Criterion.from_config(self.cfg.prune, scored.acc)
        cost = self.cost()
        progress.baseline = {"val_acc": scored.acc, "val_loss": scored.loss, "cost": cost}
        progress.rate = self.cfg.prune.rate
        progress.history.append(self.record(0, 0.0, 0.0, scored.acc, scored.loss, True, cost, None, 0.0))

    def stop_reason(self, progress: Progress) -> Optional[str]:
        p = self.cfg.prune
        if progress.stopped:
            return progress.stopped
        s = masks.sparsity(self.targets)
        # In whole weights: a float comparison could leave a last step that prunes 0 weights.
        if p.target_sparsity is not None and s["pruned"] >= round(p.target_sparsity * s["weights"]):
            return f"prune.target_sparsity {p.target_sparsity:g} reached"
        if progress.attempt >= p.steps:
            return f"prune.steps: {p.steps} steps tried"
        return None

    def run(self, progress: Progress, after_step: Callable[[Progress], None]) -> str:
        """Steps until a stop reason; `after_step` checkpoints. Returns the reason."""
        while (reason := self.stop_reason(progress)) is None:
            self.step(progress)
            after_step(progress)
        return reason

    def step(self, progress: Progress) -> dict[str, Any]:
        p = self.cfg.prune
        started = time.perf_counter()
        amount = step_amount(progress.rate, masks.sparsity(self.targets)["overall"], p.target_sparsity)
        kept_state = ({k: v.detach().clone() for k, v in self.model.state_dict().items()}, stats_state(self.model))
        masks.prune_global(self.targets, amount)
        acc, loss, lr = self.fine_tune(progress)
        cost = self.cost()
        kept = self.criterion.passes(acc)
        record = self.record(progress.attempt + 1, progress.rate, amount, acc, loss, kept, cost, lr,
                             time.perf_counter() - started)
        if not kept:
            # Back to the last kept state exactly: weights, masks, BatchNorm and Brevitas
            # statistics, in the tensors the plateau schedule's one optimizer holds.
            restore_model(self.model, *kept_state)
        progress.rate, progress.stopped = next_rate(p, progress.rate, kept)
        progress.attempt += 1
        record["stop"] = progress.stopped
        progress.history.append(record)
        return record

    def fine_tune(self, progress: Progress) -> tuple[float, float, Optional[float]]:
        """Fine-tune with the masks active (pruned weights get no gradient and stay zero);
        returns the validation accuracy and loss after it, and the first epoch's learning rate."""
        p = self.cfg.prune
        if p.finetune_epochs == 0:
            scored = self.validate()
            return scored.acc, scored.loss, None
        opt, sched = self.step_optimizer()
        first_lr = opt.param_groups[0]["lr"]
        for e in range(p.finetune_epochs):
            self.train.sampler.set_epoch(progress.epoch)
            train_epoch(self.model, self.train, opt, self.env,
                        f"step {progress.attempt + 1} epoch {e + 1}/{p.finetune_epochs}", self.loss_fn)
            progress.epoch += 1
            if p.schedule == "plateau":  # steps on the validation loss of every epoch
                scored = self.validate()
                sched.step(scored.loss)
            else:
                sched.step()
        if p.schedule != "plateau":
            scored = self.validate()
        return scored.acc, scored.loss, first_lr

    def record(self, step: int, rate: float, amount: float, acc: float, loss: float, kept: bool,
               cost: dict[str, Any], lr: Optional[float], seconds: float) -> dict[str, Any]:
        """One line of prune_log.jsonl (fields: docs/prune.md). Sparsity and cost are those of
        the step's own model, before any rollback."""
        s = masks.sparsity(self.targets)
        return {
            "step": step, "rate": rate, "amount": amount,
            "sparsity": s["overall"], "pruned": s["pruned"], "weights": s["weights"],
            "layers": {name: layer["sparsity"] for name, layer in s["layers"].items()},
            "val_acc": acc, "val_loss": loss, "floor": self.criterion.floor,
            "kept": kept, "action": "kept" if kept else "rolled back",
            "score": cost.get("score"), "bops": cost.get("total_bops"), "mem_w_bits": cost.get("total_mem_w_bits"),
            "mem_w_elems": cost.get("total_mem_w_elems"),
            "lr": lr, "epochs": self.cfg.prune.finetune_epochs if step else 0, "seconds": round(seconds, 3),
            **self.spike_rates(),
        }
