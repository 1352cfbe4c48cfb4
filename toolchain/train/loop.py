"""One epoch of training or evaluation, with metrics summed over every rank."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config import TrainConfig
from .distributed import Env, all_sum

POSTFIX_EVERY = 10  # batches; reading the loss back costs a device sync on CUDA


@dataclass
class EpochStats:
    loss: Optional[float]  # mean cross-entropy per frame; None when the split is empty
    acc: Optional[float]
    frames: int  # over all ranks
    seconds: float

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@contextmanager
def torch_settings(train: TrainConfig, device: torch.device) -> Iterator[None]:
    """Determinism and thread count for the duration of a stage, then torch's previous settings
    again, so a caller (a test, a notebook) is not left with them."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.get_num_threads(), torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    try:
        if train.deterministic:
            if device.type == "cuda":
                # cuBLAS reads this when its handle is created; without it matmuls may differ run to run.
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            # warn_only: an op without a deterministic kernel warns instead of stopping a long run.
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        if train.threads:
            torch.set_num_threads(train.threads)
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.set_num_threads(saved[2])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[3], saved[4]


def _tally(sums: torch.Tensor, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
    # Kept on the device and read once per epoch: a .item() per batch would stall CUDA.
    n = labels.numel()
    sums[0] += loss.detach().double() * n
    sums[1] += (logits.detach().argmax(1) == labels).sum()
    sums[2] += n


def _stats(env: Env, sums: torch.Tensor, started: float) -> EpochStats:
    sums = all_sum(env, sums).tolist()  # waits for the device, so the time below is complete
    frames = int(sums[2])
    loss, acc = (sums[0] / frames, sums[1] / frames) if frames else (None, None)
    return EpochStats(loss, acc, frames, time.perf_counter() - started)


def _to(env: Env, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x.to(env.device, non_blocking=True), y.to(env.device, non_blocking=True)


# (logits, labels, inputs) -> loss; the inputs let a distillation loss run its teacher.
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def train_epoch(net: torch.nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, env: Env,
                desc: str, loss_fn: Optional[LossFn] = None) -> EpochStats:
    """One pass over this rank's batches; `net` may be DistributedDataParallel. The loss is
    cross-entropy unless `loss_fn` is given (the reported loss is then that loss)."""
    net.train()
    sums = torch.zeros(3, dtype=torch.float64, device=env.device)  # loss x frames, correct, frames
    started = time.perf_counter()
    # disable=None: a bar on a terminal, none in logs and pipes; other ranks stay quiet.
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, dynamic_ncols=True, disable=None if env.is_main else True)
    for i, (x, y, _) in enumerate(bar):
        x, y = _to(env, x, y)
        outputs = net(x)
        # A model with training-only outputs (auxiliary heads) returns a tuple, logits first, and
        # says how they combine into its loss.
        logits = outputs[0] if isinstance(outputs, tuple) else outputs
        own_loss = getattr(getattr(net, "module", net), "training_loss", None)  # module: under DDP
        if loss_fn is not None:
            loss = loss_fn(logits, y, x)
        else:
            loss = own_loss(outputs, y) if own_loss is not None else F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _tally(sums, loss, logits, y)
        if not bar.disable and i % POSTFIX_EVERY == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return _stats(env, sums, started)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: DataLoader, env: Env) -> EpochStats:
    """Loss and accuracy of the plain (unwrapped) model over this rank's share of a split."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=env.device)
    started = time.perf_counter()
    for x, y, _ in loader:
        x, y = _to(env, x, y)
        logits = model(x)
        _tally(sums, F.cross_entropy(logits, y), logits, y)
    return _stats(env, sums, started)
