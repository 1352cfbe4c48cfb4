"""The stitched RTL accelerator (accel_rtl.py's `snn_accel`) on the shipped geometry
(build/snn-radioml's network: 16 x 16 plane, 2 x 16 filters 5 x 5, T = 16, 24 classes, 24-bit
state, reset by subtraction; initialised weights, as the other shipped-geometry RTL tests),
simulated cycle by cycle with Verilator: 1,027 int8 I/Q frames back to back in one stream
(synthetic modulated frames of 24 classes at every SNR, random codes up to 8 x full scale, a
short frame, a long frame and a TLAST on the first sample), random input gaps and output
back-pressure; class, BAD and the 24 final membranes equal the PyTorch model's on every frame.
Slow: 102 s of CPU with the optimised Verilator build (~49 s) included, 54 s with it cached
(docs/snn_hardware.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snn_rtl_stream
from checks import require_tool
from snn_networks import SHIPPED
from toolchain.config import ModelConfig
from toolchain.hw.rtl import verilator
from toolchain.hw.snn.event.accel_fifo import fifo_depths, schedules
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.models import build_model


@pytest.fixture(autouse=True)
def _verilator():
    require_tool(verilator.missing_reason())


@pytest.mark.slow
def test_shipped_rtl_accelerator_bit_exact_on_1000_frames(tmp_path):
    torch.manual_seed(2)
    model = build_model(ModelConfig(**SHIPPED)).eval()
    spec = map_model(model)
    codes, ref, words, want = snn_rtl_stream.stream_case(model, spec, n_random=400, synthetic_classes=24, odd_at=5)
    assert len(want) >= 1000 and (codes == -128).any() and (codes == 127).any()
    depths = fifo_depths(schedules(spec, ref["words"]))["depths"]
    exe = snn_rtl_stream.build(spec, depths, tmp_path, fast=True)
    res, failing, wave = snn_rtl_stream.run_checked(exe, spec, words, want, tmp_path, seed=5, gap_pct=10,
                                                    stall_pct=20)
    assert not failing, f"frames {failing[:10]} differ from the model; waveform {wave}"
    print("snn_accel (shipped):", len(want), "frames, FIFO depths", depths, res.counters)  # shown with -n 0 -s
    assert [c.params.state_bits for c in spec.convs] == [24, 24] and spec.dense.weights.shape == (4096, 24)
    # what the run exercised: gaps, stalls, a blocked input, a full FIFO, spikes out of every
    # kernel, back-to-back events on one accumulator word in both convs
    assert res.counters["in_gaps"] > 0 and res.counters["out_stalls"] > 0 and res.counters["in_blocked"] > 0
    seen = snn_rtl_stream.probe(res, spec)
    assert all(seen["events_out"]) and any(seen["fifo_full"]) and all(seen["forwarded"]), seen
    # BAD exactly on the three odd frames, each with its defined output (checked above)
    assert [i for i, w in enumerate(want) if w[1]] == [6, 7, 8]
    assert len(set(ref["classes"].tolist())) > 3
    # both convs fire in the model on these frames, so their neurons reset by subtraction (the
    # shipped rule); a 24-bit state does not saturate here: saturation and reset to zero are
    # asserted on the small network (test_snn_rtl_accelerator.py)
    assert all(c.params.reset == "subtract" for c in spec.convs)
    assert all(np.asarray(s).any() for s in ref["spikes"]) and np.abs(ref["membranes"]).max() > 0
