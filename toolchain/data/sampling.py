"""Batch order: shuffled runs of contiguous frames, dealt evenly to DistributedDataParallel ranks."""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
from torch.utils.data import Sampler

from ..errors import ToolchainError

MIN_BATCH = 2  # frames; BatchNorm in training mode cannot normalise a batch of one


MAX_RUN = 8  # frames; longer default runs read faster but let a batch of 1024 meet fewer than 128 blocks
MIN_RUNS = 32  # a batch draws from at least this many runs (all of its frames, if fewer)


def default_run_length(batch_size: int) -> int:
    """`data.run_length` when not set: batches of 128 frames from 32 runs of 4, batches of 256
    and more from runs of 8 (1024 frames: 128 runs)."""
    return max(1, min(MAX_RUN, batch_size // MIN_RUNS))


class ContiguousBatchSampler(Sampler[list[int]]):
    """Batches of dataset positions. Shuffled mode cuts every block (`blocks[i]`: the block of
    position i, e.g. its (class, SNR); positions ascending in file order within a block) into
    runs of `run_length` consecutive positions (near-contiguous file rows, so a batch is read in
    few h5py calls) and deals them round-robin: round k holds the k-th run of every block (runs
    drawn at random within a block), in one random block order per epoch, so consecutive runs
    come from different blocks while there are blocks enough. Then it permutes the frames inside
    each batch. Every epoch visits every frame once, in an order that differs per epoch
    (`set_epoch`). `run_length` None: `default_run_length(batch_size)`.

    Shuffled (training) or with `world_size` > 1, batches follow `plan_batches`: every rank
    draws the same epoch order and takes the same number of batches, all frames are covered
    once, and no batch holds fewer than MIN_BATCH frames (BatchNorm's need in training).
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int = 0, run_length: Optional[int] = None,
                 rank: int = 0, world_size: int = 1, max_batches: Optional[int] = None,
                 blocks: Optional[np.ndarray] = None):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} not in [0, {world_size})")
        if blocks is not None and len(blocks) != n:
            raise ValueError(f"blocks: expected {n} block ids, got {len(blocks)}")
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.run_length = run_length or default_run_length(batch_size)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.max_batches = max_batches
        self.blocks = np.zeros(n, dtype=np.int64) if blocks is None else np.asarray(blocks, dtype=np.int64)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng((self.seed, self.epoch))
        by_block = np.argsort(self.blocks, kind="stable")  # positions grouped by block, file order inside
        block = self.blocks[by_block]
        within = np.arange(self.n) - np.searchsorted(block, block)  # position's index inside its block
        run = np.cumsum(within % self.run_length == 0) - 1  # a run starts every run_length and at each block
        run_block = np.zeros(run.max(initial=-1) + 1, dtype=np.int64)
        run_block[run] = block
        # round of a run = its rank among its block's runs in a random order
        shuffled = np.lexsort((rng.random(run_block.size), run_block))
        rounds = np.empty_like(shuffled)
        rounds[shuffled] = np.arange(shuffled.size) - np.searchsorted(run_block[shuffled], run_block[shuffled])
        block_rank = rng.permutation(run_block.max(initial=0) + 1)
        run_rank = np.empty_like(shuffled)
        run_rank[np.lexsort((block_rank[run_block], rounds))] = np.arange(run_block.size)
        return by_block[np.lexsort((within, run_rank[run]))]

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
