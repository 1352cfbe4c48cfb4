"""The guaranteed bound of the stitched RTL accelerator, checked on worst-case frames
(toolchain/hw/snn/event/accel_worstcase.py `stitched`, accel_worstnet.py) on the small network of
tests/snn_networks.py: the whole accelerator, every kernel at its worst case at once, stays
bit exact against the worst-case network's model, each kernel's busy cycles equal the cycle
formula on the frames' events and its refractory-aware bound (the small network's refractory
period makes the every-neuron-every-step bound unreachable: measured below it), the interval
between class words and the latency agree with the FIFO model; and a kernel slower than its
formula breaks the check. The shipped geometry: test_snn_finn_build.py (slow) and
bench/snn_hw.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from checks import require_tool
from snn_networks import SMALL
from test_snn_rtl_measure import slowed_conv
from toolchain.config import ModelConfig
from toolchain.errors import ToolchainError
from toolchain.hw.rtl import verilator
from toolchain.hw.snn.event import accel_worstcase, accel_worstnet
from toolchain.hw.snn.event.accel_fifo import fifo_depths, schedules
from toolchain.hw.snn.event.accel_verify import check_frames, model_reference
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.models import build_model


@pytest.fixture(scope="module")
def small():
    """The small network's config, its accelerator and the FIFO depths the build would choose."""
    torch.manual_seed(1)
    cfg = ModelConfig(**SMALL)
    model = build_model(cfg).eval()
    spec = map_model(model, sweep_positions=[4, 4])
    codes, _ = check_frames(spec, n_random=20, seed=11, synthetic_classes=8)
    depths = fifo_depths(schedules(spec, model_reference(model, spec, codes)["words"]))["depths"]
    return cfg, spec, depths


def test_the_worst_case_frames_make_every_neuron_fire_whenever_it_can(small):
    """The worst-case network (no simulator needed): conv0 gets `group` events a step on distinct
    cells, and every conv neuron fires in every step its refractory period (1) allows: every
    other step, all together."""
    cfg, spec, _ = small
    model, wspec = accel_worstnet.worst_network(cfg, spec)
    assert [c.sp for c in wspec.convs] == [4, 4] and wspec.dense.in_lanes == spec.dense.in_lanes
    codes = accel_worstnet.worst_codes(wspec, 2)
    ref = model_reference(model, wspec, codes)
    assert (ref["loops"][0] == spec.encoder.group + 0).all()  # every sample an event
    for s, c in zip(ref["spikes"], wspec.convs):
        assert c.params.refractory == 1
        assert (s[:, 0::2] == 1).all() and (s[:, 1::2] == 0).all()
    with pytest.raises(ToolchainError, match="snn_group"):
        accel_worstnet.worst_codes(map_model(build_model(ModelConfig(**dict(SMALL, snn_group=4)))), 1)
    # a geometry the frames cannot cover: no stitched worst case, the reason in one line, nothing simulated
    few = ModelConfig(**dict(SMALL, snn_group=4))
    r = accel_worstcase.stitched(map_model(build_model(few), sweep_positions=[4, 4]), few, [2, 2, 8],
                                 Path("/nonexistent"))
    assert r == {"ran": False, "reason": "worst case: 9 cells are needed to reach every conv0 neuron, a step has 4 "
                                         "samples (model.snn_group)"}


def test_the_reachable_bound_is_the_plain_bound_without_refractory_and_the_search_is_exact():
    # no refractory: every lane every step; refractory 1: every other step, the last word's empty steps cost 1
    assert accel_worstcase._word_max(16, 16, 0, 1, True) == 256
    assert accel_worstcase._word_max(16, 16, 1, 1, False) == 128
    assert accel_worstcase._word_max(16, 16, 1, 1, True) == 136
    # two events a cycle: odd counts every step beat all lanes every other step (9 + 7: 5 + 4 > 8)
    assert accel_worstcase._word_max(16, 16, 1, 2, False) == 72


def test_the_stitched_worst_case_is_bit_exact_and_within_its_bound(small, tmp_path):
    require_tool(verilator.missing_reason())
    cfg, spec, depths = small
    r = accel_worstcase.stitched(spec, cfg, depths, tmp_path, frames=4, optimize=False)
    f = r["formula"]
    assert r["ran"] and r["passed"] and r["mismatches"] == {"classes": 0, "membranes": 0, "bad": 0}
    assert r["membranes_checked"] == 2
    assert r["label"] == "RTL-simulated (Verilator)" and not r["network"]["every_neuron_every_step"]
    busy, bound, reach = r["busy_cycles_per_kernel"], f["bound_per_kernel"], f["reachable_bound_per_kernel"]
    assert busy == f["frame_formula_per_kernel"]  # each kernel: the cycle formula on these frames' events
    assert r["checks"] == {"within_bound": True, "within_reachable_bound": True, "frame_formula": True,
                           "fifo_model": True}
    # encoder, conv0 (samples in) and conv1 (conv0 all firing every other step) reach their bounds;
    # every neuron every step is unreachable with refractory: conv1 well below its plain bound
    for k in ("encoder", "conv0", "conv1"):
        assert busy[k] == reach[k]
    assert busy["conv1"] < 0.6 * bound["conv1"] and busy["dense0"] <= reach["dense0"] < bound["dense0"]
    # the kernels wait on each other through the FIFOs: the interval lies above the slowest kernel's
    # busy cycles, where the FIFO model (with the RTL kernels' timing) puts it, to the cycle
    iv = r["interval_cycles"]
    assert iv["worst"] == r["guaranteed_cycles_per_frame"] == f["fifo_model_interval"] > max(busy.values())
    assert r["frames_per_s"] == pytest.approx(250e6 / iv["worst"])
    lat = r["latency_cycles"]
    assert max(busy.values()) < lat["alone"] <= lat["back_to_back"]["worst"] and lat["back_to_back_steady"]
    assert lat["alone"] == f["fifo_model_latency_alone"]
    assert lat["back_to_back"]["worst"] == f["fifo_model_latency_back_to_back_worst"]
    w = {"stitched": r, "frames_per_s": 1.0, "bounded_by": "conv1"}
    assert accel_worstcase.guaranteed_text(w).startswith(f"guaranteed {r['frames_per_s']:,.0f} frames/s")


def test_a_kernel_slower_than_its_formula_fails_the_check(small, tmp_path):
    """The convs taking an input word every fourth cycle (still bit exact): conv0's busy cycles
    exceed its bound, which the check reports."""
    require_tool(verilator.missing_reason())
    cfg, spec, depths = small
    r = accel_worstcase.stitched(spec, cfg, depths, tmp_path, frames=3, optimize=False,
                                 sources=slowed_conv(tmp_path), membranes=False)
    assert r["passed"] and not r["membranes_checked"]
    assert not r["checks"]["within_reachable_bound"] and not r["checks"]["frame_formula"]
    assert r["busy_cycles_per_kernel"]["conv0"] > r["formula"]["reachable_bound_per_kernel"]["conv0"]
    assert "conv0" in r["problems"][0]
    assert np.isfinite(r["frames_per_s"])
