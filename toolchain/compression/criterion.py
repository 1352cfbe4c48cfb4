"""Whether a pruning step is kept, and the rate of the next one (IMP or FMP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..config import PruneConfig


@dataclass(frozen=True)
class Criterion:
    kind: str  # "absolute" or "relative"
    floor: float  # the lowest validation accuracy a kept step may have

    @classmethod
    def from_config(cls, p: PruneConfig, baseline_acc: float) -> "Criterion":
        # relative: measured against the unpruned model on the same split, since synthetic data
        # (and any other dataset) has its own accuracy scale.
        floor = p.min_acc if p.criterion == "absolute" else baseline_acc - p.max_drop
        return cls(p.criterion, floor)

    def passes(self, acc: float) -> bool:
        return acc >= self.floor

    def describe(self) -> str:
        return f"val accuracy >= {self.floor:.4f} ({self.kind})"


def next_rate(p: PruneConfig, rate: float, kept: bool) -> tuple[float, Optional[str]]:
    """(rate of the next step, reason to stop or None) after a step that was kept or not.

    IMP stops at the first failed step. FMP (feedback magnitude pruning) divides the rate by
    prune.decay after each failed step and stops once it falls below prune.min_rate; a kept
    step keeps the rate (it is not raised again: a rate that failed once is likely to fail again
    on a sparser model)."""
    if kept:
        return rate, None
    if p.method == "imp":
        return rate, "criterion failed (imp)"
    smaller = rate / p.decay
    if smaller < p.min_rate:
        return smaller, f"rate {smaller:.4g} below prune.min_rate {p.min_rate:g} (fmp)"
    return smaller, None


def step_amount(rate: float, sparsity: float, target: Optional[float]) -> float:
    """Share of the remaining weights the next step removes: the rate, cut so that the overall
    sparsity lands on the target instead of passing it."""
    if target is None:
        return rate
    needed = 1.0 - (1.0 - target) / (1.0 - sparsity)
    return min(rate, needed)
