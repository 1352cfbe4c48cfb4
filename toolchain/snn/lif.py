"""THE integer leaky integrate-and-fire (LIF) neuron: one definition of the arithmetic.

Every other form of the neuron (the training module in `layers.py`, and later the QONNX node,
the FINN op and the HLS kernel) must reproduce `lif_step` bit for bit, so the order of
operations below is the specification (docs/snn.md repeats it):

    lo, hi = -2**(B-1), 2**(B-1) - 1                      # B = params.state_bits
    sat(x) = min(max(x, lo), hi)
    1. leak      v1 = v - (v >> k)                        # arithmetic shift = floor(v / 2**k);
                                                          # k = 0 means no leak (an IF neuron)
    2. integrate v2 = sat(v1 + I)   if r == 0  else  v1   # a refractory neuron ignores its input
    3. fire      s  = (v2 >= theta) and r == 0
    4. reset     v' = v2 - theta (subtract) or 0 (zero)   where s, else v2
    5. count     r' = R where s, else max(r - 1, 0)       # R = params.refractory, 0 = none

Step 1 cannot leave the range (|v1| <= |v|) and step 4 cannot either (v2 >= theta > 0), so
saturation is needed only at the add. The initial state of every sample is v = 0, r = 0.

The same function runs on numpy integer arrays, torch integer tensors and torch float tensors
holding integers (the training path: exact below 2**24, which 24-bit states respect as long
as |I| < 2**23). On floats the shift is floor(v / 2**k), exact for power-of-two divisors, and
`spike_fn` (a surrogate-gradient Heaviside) replaces the comparison; floor and saturation pass
gradients straight through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, NamedTuple, Optional

import numpy as np
import torch

from ..config import lif_param_problems


@dataclass(frozen=True)
class LIFParams:
    state_bits: int = 24  # signed membrane width B; the state saturates at [-2**(B-1), 2**(B-1)-1]
    leak_shift: int = 4  # k in v - (v >> k): keeps 1 - 2**-k per step (k=4: 0.9375); 0 = no leak
    threshold: int = 128  # theta, a positive integer: spike when v >= theta
    reset: Literal["subtract", "zero"] = "subtract"
    refractory: int = 0  # steps a neuron ignores its input after a spike; 0 = none

    def __post_init__(self) -> None:
        for name, value, expected in lif_param_problems(self.state_bits, self.leak_shift, self.threshold,
                                                        self.reset, self.refractory)[:1]:
            raise ValueError(f"{name}: expected {expected}, got {value!r}")

    @property
    def lo(self) -> int:
        return -(1 << (self.state_bits - 1))

    @property
    def hi(self) -> int:
        return (1 << (self.state_bits - 1)) - 1


def refractory_bits(refractory: int) -> int:
    """Width of the refractory counter of a neuron with that period; 0 when there is none."""
    return int(refractory).bit_length()


class LIFState(NamedTuple):
    v: Any  # membrane potential, same shape as the input current
    refractory: Any  # steps left in the refractory period (0 = free to integrate and fire)


def initial_state(like: Any) -> LIFState:
    """v = 0, r = 0 in the shape, dtype and device of `like` (a current)."""
    if isinstance(like, np.ndarray):
        zeros = np.zeros_like(like)
        return LIFState(zeros, zeros.copy())
    return LIFState(torch.zeros_like(like), torch.zeros_like(like))


class _StraightThrough(torch.autograd.Function):
    """`fn(x, *args)` forward, identity gradient backward: floor, round and saturation are
    integer arithmetic in the forward pass but pass gradients through for training."""

    @staticmethod
    def forward(ctx, x, fn, *args):  # type: ignore[override]
        ctx.n_args = len(args)
        return fn(x, *args)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return (grad, None, *([None] * ctx.n_args))


def straight_through(fn: Callable, x: torch.Tensor, *args) -> torch.Tensor:
    return _StraightThrough.apply(x, fn, *args)


def _is_float_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point()


def _where(cond: Any, a: Any, b: Any) -> Any:
    if isinstance(cond, np.ndarray):
        return np.where(cond, a, b)
    if not isinstance(a, torch.Tensor):
        a = torch.as_tensor(a, dtype=b.dtype, device=b.device)
    if not isinstance(b, torch.Tensor):
        b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
    return torch.where(cond, a, b)


def _shift(v: Any, k: int) -> Any:
    """v >> k, arithmetic (floor) on every backend."""
    if _is_float_tensor(v):
        return straight_through(torch.floor, v * (1.0 / (1 << k)))
    return v >> k


def _sat(x: Any, p: LIFParams) -> Any:
    if _is_float_tensor(x):
        return straight_through(torch.clamp, x, float(p.lo), float(p.hi))
    if isinstance(x, np.ndarray):
        return np.clip(x, p.lo, p.hi)
    return torch.clamp(x, p.lo, p.hi)


def lif_step(current: Any, state: LIFState, params: LIFParams,
             spike_fn: Optional[Callable[[Any, int], Any]] = None) -> tuple[Any, LIFState]:
    """One time step (see the module docstring for the exact order). Returns (spikes, new
    state); spikes are 0/1 in the dtype of the state. `spike_fn(v2, theta)` -> 0/1 floats with a
    surrogate gradient, for float tensors only; None = the plain comparison."""
    p = params
    v, r = state
    if isinstance(v, np.ndarray) and not np.issubdtype(v.dtype, np.integer):
        raise TypeError(f"lif_step: numpy state must be an integer array, got {v.dtype}")
    if isinstance(current, np.ndarray) and not np.issubdtype(current.dtype, np.integer):
        raise TypeError(f"lif_step: numpy current must be an integer array, got {current.dtype}")
    # Integer widths: int64 holds v + I for any state_bits <= 32 without wrapping.
    v1 = v - _shift(v, p.leak_shift) if p.leak_shift > 0 else v
    free = r == 0
    v2 = _sat(v1 + current, p)
    if p.refractory > 0:
        v2 = _where(free, v2, v1)
    if spike_fn is not None and _is_float_tensor(v2):
        s = spike_fn(v2, p.threshold)
    else:
        fired = v2 >= p.threshold
        s = fired.astype(v.dtype) if isinstance(fired, np.ndarray) else fired.to(v2.dtype)
    if p.refractory > 0:
        s = s * free  # a refractory neuron cannot fire (multiplying keeps the surrogate gradient)
    if p.reset == "subtract":
        v_new = v2 - s * p.threshold
    else:
        v_new = v2 * (1 - s)
    if p.refractory > 0:
        r_dec = np.maximum(r - 1, 0) if isinstance(r, np.ndarray) else torch.clamp(r - 1, min=0)
        fired_now = s > 0
        r_new = _where(fired_now, p.refractory, r_dec)
    else:
        r_new = r
    return s, LIFState(v_new, r_new)


def li_step(current: Any, v: Any, params: LIFParams) -> Any:
    """A leaky integrator (the membrane readout): steps 1 and 2 of `lif_step` only, never
    firing, no refractory period; returns the new membrane v' = sat(v - (v >> k) + I)."""
    v1 = v - _shift(v, params.leak_shift) if params.leak_shift > 0 else v
    return _sat(v1 + current, params)


def run_lif(currents: Any, params: LIFParams, state: Optional[LIFState] = None) -> tuple[Any, LIFState]:
    """Steps along the leading (time) axis of `currents` (T, ...): the reference loop the tests
    compare every other implementation with. Returns (spikes (T, ...), final state)."""
    state = initial_state(currents[0]) if state is None else state
    out = []
    for t in range(len(currents)):
        s, state = lif_step(currents[t], state, params)
        out.append(s)
    stack = np.stack if isinstance(currents, np.ndarray) else torch.stack
    return stack(out), state
