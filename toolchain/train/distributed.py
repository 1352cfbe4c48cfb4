"""One process or many under torchrun: device choice, process group, equal batches per rank.

torchrun (or any launcher speaking its protocol) sets WORLD_SIZE, RANK and LOCAL_RANK, and
MASTER_ADDR/MASTER_PORT for the rendezvous; without them training runs in one process.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.dataset import ContiguousBatchSampler, RadioMLDataset
from ..errors import ToolchainError

MIN_BATCH = 2  # frames; BatchNorm in training mode cannot normalise a batch of one


@dataclass(frozen=True)
class Env:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launcher_ranks() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) as torchrun announces them; (0, 0, 1) without a launcher."""
    if "WORLD_SIZE" not in os.environ:
        return 0, 0, 1
    try:
        world = int(os.environ["WORLD_SIZE"])
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ToolchainError("WORLD_SIZE/RANK/LOCAL_RANK are set but not integers; start with torchrun") from None
    if not 0 <= rank < world:
        raise ToolchainError(f"RANK={rank} is outside WORLD_SIZE={world}; start with torchrun")
    return rank, local, world


def choose_device(preference: str, local_rank: int = 0) -> torch.device:
    """train.device: 'auto' takes CUDA when torch sees a GPU; each local rank gets its own GPU."""
    cuda = torch.cuda.is_available()
    if preference == "cpu" or (preference == "auto" and not cuda):
        return torch.device("cpu")
    if not cuda:
        raise ToolchainError("config key 'train.device': 'cuda' requested but torch sees no CUDA device "
                             f"(torch {torch.__version__}, torch.cuda.is_available() is False)")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ToolchainError(f"LOCAL_RANK={local_rank} but this node has {count} CUDA device(s); "
                             "give torchrun --nproc_per_node at most the GPU count")
    return torch.device("cuda", local_rank)


@contextmanager
def distributed(device_preference: str) -> Iterator[Env]:
    """The process's rank and device; joins the process group under torchrun (NCCL on CUDA,
    Gloo on CPU) and leaves it afterwards, unless the caller had already joined one."""
    rank, local, world = launcher_ranks()
    device = choose_device(device_preference, local)
    own = world > 1 and not dist.is_initialized()
    if own:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield Env(rank, world, device)
    finally:
        if own:
            dist.destroy_process_group()


def on_main(env: Env, fn: Callable[[], Any]) -> Any:
    """Run `fn` on rank 0 only and give its result, or its ToolchainError, to every rank: a check
    that fails on rank 0 then stops all ranks with its message instead of leaving them waiting
    in the next collective."""
    result, error = None, None
    if env.is_main:
        try:
            result = fn()
        except ToolchainError as exc:
            error = str(exc)
    if env.distributed:
        box = [(result, error)]
        dist.broadcast_object_list(box, src=0)
        result, error = box[0]
    if error is not None:
        raise ToolchainError(error)
    return result


def all_sum(env: Env, values: torch.Tensor) -> torch.Tensor:
    if env.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def sync_buffers(env: Env, model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics, Brevitas scale statistics): each
    rank updates its own copy in its last training step, and rank 0's are the ones saved, so
    validation on every rank then scores the checkpointed model."""
    if env.distributed:
        for buf in model.buffers():
            dist.broadcast(buf, src=0)


# ------------------------------------------------------------------------- batches per rank
def plan_batches(batches: list[np.ndarray], batch_size: int, world_size: int,
                 min_frames: int = MIN_BATCH) -> list[list[np.ndarray]]:
    """Deal one epoch's batches to the ranks: every rank gets the same number of batches (DDP
    all-reduces gradients in every backward, so a rank with one batch more would wait forever)
    and together they cover every frame exactly once.

    Full batches go round-robin; the frames left over (batches short of a full round plus the
    short last batch) are split evenly, as one more batch per rank when each share holds at
    least `min_frames`, else appended to each rank's last batch.
    """
    world = world_size
    full = sum(len(b) == batch_size for b in batches)
    rounds = full // world
    per_rank = [list(batches[r : rounds * world : world]) for r in range(world)]
    rest = batches[rounds * world :]
    if not rest:
        return per_rank
    shares = np.array_split(np.concatenate(rest), world)
    if sum(map(len, shares)) >= world * min_frames:
        for mine, share in zip(per_rank, shares):
            mine.append(share)
    elif rounds > 0:
        for mine, share in zip(per_rank, shares):
            mine[-1] = np.concatenate([mine[-1], share])
    else:
        raise ToolchainError(f"{sum(map(len, batches))} training frames are too few for {world} rank(s) "
                             f"(each needs at least {min_frames})")
    return per_rank


def batches_per_rank(n: int, batch_size: int, world_size: int, min_frames: int = MIN_BATCH) -> int:
    """len() of every rank's share from plan_batches, without building the epoch's order."""
    rounds = (n // batch_size) // world_size
    rest = n - rounds * world_size * batch_size
    return rounds + (1 if rest >= world_size * min_frames else 0)


class RankBatchSampler(Sampler[list[int]]):
    """This rank's batches of one epoch. Every rank draws the same whole-epoch order from
    ContiguousBatchSampler (same seed, same epoch) and takes its part of plan_batches."""

    def __init__(self, n: int, batch_size: int, seed: int, run_length: int, rank: int = 0,
                 world_size: int = 1, max_batches: Optional[int] = None):
        self.base = ContiguousBatchSampler(n, batch_size, True, seed, run_length)
        self.n, self.batch_size, self.rank, self.world_size = n, batch_size, rank, world_size
        self.max_batches = max_batches

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        batches = [np.asarray(b) for b in self.base]
        mine = plan_batches(batches, self.batch_size, self.world_size)[self.rank]
        for b in mine[: len(self)]:
            yield b.tolist()

    def __len__(self) -> int:
        count = batches_per_rank(self.n, self.batch_size, self.world_size)
        return min(count, self.max_batches) if self.max_batches else count


class _WholeBatches(Dataset):
    """Indexed by a whole batch of positions, so that a batch is one RadioMLDataset.read."""

    def __init__(self, ds: RadioMLDataset):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, positions: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, s = self.ds.read(positions)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(s)


def train_loader(ds: RadioMLDataset, batch_size: int, seed: int, run_length: int, num_workers: int,
                 env: Env, max_batches: Optional[int] = None) -> DataLoader:
    sampler = RankBatchSampler(len(ds), batch_size, seed, run_length, env.rank, env.world_size, max_batches)
    return DataLoader(_WholeBatches(ds), sampler=sampler, batch_size=None, num_workers=num_workers,
                      persistent_workers=num_workers > 0, pin_memory=env.device.type == "cuda")
