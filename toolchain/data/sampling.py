"""Batch order: shuffled runs of contiguous frames, dealt evenly to DistributedDataParallel ranks."""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
from torch.utils.data import Sampler

from ..errors import ToolchainError

MIN_BATCH = 2  # frames; BatchNorm in training mode cannot normalise a batch of one


class ContiguousBatchSampler(Sampler[list[int]]):
    """Batches of dataset positions. Shuffled mode permutes runs of `run_length` consecutive
    positions (near-contiguous file rows, so a batch is read in few h5py calls), then the frames
    inside each batch; every epoch visits every frame once, in an order that differs per epoch
    (`set_epoch`).

    Shuffled (training) or with `world_size` > 1, batches follow `plan_batches`: every rank
    draws the same epoch order and takes the same number of batches, all frames are covered
    once, and no batch holds fewer than MIN_BATCH frames (BatchNorm's need in training).
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int = 0, run_length: int = 16,
                 rank: int = 0, world_size: int = 1, max_batches: Optional[int] = None):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} not in [0, {world_size})")
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.seed, self.run_length, self.rank, self.world_size = seed, run_length, rank, world_size
        self.max_batches = max_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng((self.seed, self.epoch))
        starts = np.arange(0, self.n, self.run_length)
        runs = [np.arange(s, min(s + self.run_length, self.n)) for s in rng.permutation(starts)]
        return np.concatenate(runs) if runs else np.arange(0)

    def _batches(self) -> list[np.ndarray]:
        order = self._order()
        batches = [order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if self.shuffle:
            rng = np.random.default_rng((self.seed, self.epoch, 1))
            batches = [rng.permutation(b) for b in batches]
        if self._planned:
            batches = plan_batches(batches, self.batch_size, self.world_size)[self.rank]
        return batches[: len(self)]

    @property
    def _planned(self) -> bool:
        return self.shuffle or self.world_size > 1

    def __iter__(self) -> Iterator[list[int]]:
        for b in self._batches():
            yield b.tolist()

    def __len__(self) -> int:
        if self._planned:
            count = batches_per_rank(self.n, self.batch_size, self.world_size)
        else:
            count = (self.n + self.batch_size - 1) // self.batch_size
        return min(count, self.max_batches) if self.max_batches else count


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
