"""One process or many under torchrun: device choice, process group, this rank's loader.

torchrun (or any launcher speaking its protocol) sets WORLD_SIZE, RANK and LOCAL_RANK, and
MASTER_ADDR/MASTER_PORT for the rendezvous; without them training runs in one process.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from ..data.dataset import RadioMLDataset
from ..errors import ToolchainError


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


EVAL_BATCH = {"cpu": 64, "cuda": 1024}  # frames per inference pass when eval.batch_size is null


def eval_batch_size(configured: Optional[int], device: torch.device) -> int:
    """`eval.batch_size`, or when null the size for the device: small on a CPU, whose caches it
    fits, large on a GPU, which a small batch leaves mostly idle."""
    return configured or EVAL_BATCH.get(device.type, EVAL_BATCH["cpu"])


def choose_device(preference: str, local_rank: int = 0, key: str = "train.device") -> torch.device:
    """`key` ('auto', 'cpu' or 'cuda'): 'auto' takes CUDA when torch sees a GPU; each local rank
    gets its own GPU."""
    cuda = torch.cuda.is_available()
    if preference == "cpu" or (preference == "auto" and not cuda):
        return torch.device("cpu")
    if not cuda:
        raise ToolchainError(f"config key '{key}': 'cuda' requested but torch sees no CUDA device "
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


def train_loader(ds: RadioMLDataset, batch_size: int, seed: int, run_length: Optional[int], num_workers: int,
                 env: Env, max_batches: Optional[int] = None) -> DataLoader:
    return ds.loader(batch_size, shuffle=True, seed=seed, num_workers=num_workers, run_length=run_length,
                     rank=env.rank, world_size=env.world_size, max_batches=max_batches,
                     pin_memory=env.device.type == "cuda")
