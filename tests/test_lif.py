"""The integer LIF step: golden trajectories worked out by hand, and every backend agreeing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolchain.snn.lif import LIFParams, LIFState, initial_state, lif_step

BACKENDS = {
    "numpy": lambda a: np.asarray(a, dtype=np.int64),
    "torch_int": lambda a: torch.tensor(a, dtype=torch.int64),
    "torch_float": lambda a: torch.tensor(a, dtype=torch.float32),  # the training path
}


def trajectory(backend, currents, params, v0=0):
    """(spikes, v, r) after each step for a single neuron, as plain int lists."""
    conv = BACKENDS[backend]
    state = initial_state(conv([0]))
    state = LIFState(state.v + v0, state.refractory)
    spikes, vs, rs = [], [], []
    for i in currents:
        s, state = lif_step(conv([i]), state, params)
        spikes.append(int(s[0])), vs.append(int(state.v[0])), rs.append(int(state.refractory[0]))
    return spikes, vs, rs


# (name, params, currents, initial v, spikes, v after each step, refractory after each step)
GOLDEN = [
    # 40 -> leak 40>>2=10 -> 30 -> 30>>2=7 -> 23 -> 23>>2=5 -> 18
    ("leak", LIFParams(8, 2, 100), [40, 0, 0, 0], 0, [0, 0, 0, 0], [40, 30, 23, 18], None),
    # negative leak floors: -10>>2 = -3 -> -7; -7>>2 = -2 -> -5; -5>>2 = -2 -> -3
    ("leak_negative", LIFParams(8, 2, 100), [-10, 0, 0, 0], 0, [0, 0, 0, 0], [-10, -7, -5, -3], None),
    # no leak: 4, 8, 12 >= 10 fires -> 2, 2+15 = 17 fires -> 7, stays 7
    ("subtract", LIFParams(16, 0, 10, "subtract"), [4, 4, 4, 15, 0], 0, [0, 0, 1, 1, 0], [4, 8, 2, 7, 7], None),
    ("zero", LIFParams(16, 0, 10, "zero"), [4, 4, 4, 15, 0], 0, [0, 0, 1, 1, 0], [4, 8, 0, 0, 0], None),
    # leak before the add: 8; 8-4+8 = 12 fires -> 2; 2-1+8 = 9
    ("leak_then_fire", LIFParams(16, 1, 10), [8, 8, 8], 0, [0, 1, 0], [8, 2, 9], None),
    # 8-bit state: 100 + 100 saturates at 127 (not 200), fires, 127 - 127 = 0
    ("saturate_high", LIFParams(8, 0, 127), [100, 100], 0, [0, 1], [100, 0], None),
    # saturates at -128; with leak k=1: -100; -50-100 -> -128; -64-100 -> -128
    ("saturate_low", LIFParams(8, 1, 100), [-100, -100, -100], 0, [0, 0, 0], [-100, -128, -128], None),
    # from v = 120 in 8 bits: 120 + 100 -> 127 (no spike, theta 127 needs >= 127: spikes) -> 0
    ("saturate_from_state", LIFParams(8, 0, 127, "zero"), [100], 120, [1], [0], None),
    # refractory 2: fires at 12 -> 2, then two steps ignore the input (v held), fires again
    ("refractory", LIFParams(16, 0, 10, "subtract", 2), [12, 12, 12, 12, 12], 0,
     [1, 0, 0, 1, 0], [2, 2, 2, 4, 4], [2, 1, 0, 2, 1]),
    # refractory with leak: 12 fires -> 2 (r=2); 2-1 = 1 (r=1); 1-0 = 1 (r=0); 1+12 = 13 fires -> 3
    ("refractory_leak", LIFParams(16, 1, 10, "subtract", 2), [12, 12, 12, 12], 0,
     [1, 0, 0, 1], [2, 1, 1, 3], [2, 1, 0, 2]),
]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("case", GOLDEN, ids=[c[0] for c in GOLDEN])
def test_golden_trajectory(backend, case):
    _, params, currents, v0, spikes, vs, rs = case
    got_s, got_v, got_r = trajectory(backend, currents, params, v0)
    assert got_s == spikes
    assert got_v == vs
    assert got_r == (rs if rs is not None else [0] * len(currents))


@pytest.mark.parametrize("params", [
    LIFParams(24, 4, 300, "subtract"), LIFParams(12, 3, 200, "zero", 1), LIFParams(8, 1, 50, "subtract", 3),
    LIFParams(16, 0, 1000),
])
def test_backends_agree_on_random_currents(params):
    rng = np.random.default_rng(0)
    currents = rng.integers(-600, 900, size=(40, 64)).astype(np.int64)
    states = {name: initial_state(conv(currents[0])) for name, conv in BACKENDS.items()}
    for t in range(len(currents)):
        out = {}
        for name, conv in BACKENDS.items():
            s, states[name] = lif_step(conv(currents[t]), states[name], params)
            out[name] = (np.asarray(s).astype(np.int64), np.asarray(states[name].v).astype(np.int64))
        for name in ("torch_int", "torch_float"):
            np.testing.assert_array_equal(out[name][0], out["numpy"][0])
            np.testing.assert_array_equal(out[name][1], out["numpy"][1])
        assert out["numpy"][1].min() >= params.lo and out["numpy"][1].max() <= params.hi


def test_params_are_validated():
    with pytest.raises(ValueError, match="threshold"):
        LIFParams(8, 1, 128)  # above the 8-bit maximum 127
    with pytest.raises(ValueError, match="reset"):
        LIFParams(reset="half")
    with pytest.raises(TypeError, match="integer"):
        lif_step(np.zeros(3), initial_state(np.zeros(3, dtype=np.int64)), LIFParams())
