"""The LIF HLS kernel (toolchain/hw/snn/lif/lif.hpp), compiled with g++ against hls4ml's ap_types,
against the Python reference toolchain.snn.lif: every output of every step, zero mismatches."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import zlib

import numpy as np
import pytest

from toolchain.errors import ToolchainError
from toolchain.hw.hls import gxx
from toolchain.hw.snn.lif import csim
from toolchain.hw.snn.lif.csim import KernelConfig, run_csim
from toolchain.snn.lif import LIFParams, li_step, lif_step, initial_state

needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None or importlib.util.find_spec("hls4ml") is None,
    reason="C simulation needs g++ on PATH and the hls4ml package (its ap_types headers)")


def reference(currents: np.ndarray, cfg: KernelConfig) -> tuple[np.ndarray, dict]:
    """lif_step / li_step frame by frame; also counts the saturations the data provoked."""
    p = cfg.params
    frames = currents.reshape(-1, cfg.time_steps, cfg.neurons)
    out = np.empty_like(frames)
    sat = {"lo": 0, "hi": 0}
    for n, frame in enumerate(frames):
        state = initial_state(frame[0])
        for t, cur in enumerate(frame):
            v, r = state
            raw = (v - (v >> p.leak_shift) if p.leak_shift else v) + cur
            free = np.ones_like(r, bool) if cfg.readout else r == 0
            sat["lo"] += int(np.sum((raw < p.lo) & free))
            sat["hi"] += int(np.sum((raw > p.hi) & free))
            if cfg.readout:
                v_new = li_step(cur, v, p)
                state, out[n, t] = state._replace(v=v_new), v_new
            else:
                out[n, t], state = lif_step(cur, state, p)
    return out.reshape(currents.shape), sat


def random_currents(rng, cfg: KernelConfig, frames: int, scale: float = 1.0, bias: bool = False) -> np.ndarray:
    """Uniform over the whole input type (scaled), optionally with a per-neuron sign bias so
    that some membranes run into the upper and others into the lower bound."""
    lo, hi = ((-(1 << (cfg.in_bits - 1)), (1 << (cfg.in_bits - 1)) - 1) if cfg.in_signed
              else (0, (1 << cfg.in_bits) - 1))
    x = rng.integers(lo, hi + 1, size=(frames * cfg.time_steps, cfg.neurons))
    x = np.round(x * scale).astype(np.int64)
    if bias:
        sign = np.where(np.arange(cfg.neurons) % 2 == 0, 1, -1)
        x = np.clip(np.abs(x) * sign, lo, hi)
    return x


# (id, neurons, PE, T, in_bits, in_signed, state_bits, leak, theta, reset, refractory, readout)
CASES = [
    ("b8-sub-leak2-pe1", 12, 1, 24, 10, True, 8, 2, 50, "subtract", 0, False),
    ("b8-zero-noleak-ref3-pe4", 12, 4, 24, 10, True, 8, 0, 100, "zero", 3, False),
    ("b12-sub-leak3-ref2-pe2", 16, 2, 32, 14, True, 12, 3, 500, "subtract", 2, False),
    ("b12-zero-leak1-pe6", 12, 6, 20, 13, True, 12, 1, 300, "zero", 0, False),
    ("b24-sub-leak6-pe3", 9, 3, 64, 20, True, 24, 6, 128, "subtract", 0, False),
    ("b24-zero-noleak-ref5-fold1", 4, 4, 48, 24, True, 24, 0, 1 << 21, "zero", 5, False),
    ("li-b8-leak1-pe2", 8, 2, 24, 9, True, 8, 1, 1, "subtract", 0, True),
    ("li-b12-noleak-pe1", 6, 1, 24, 12, True, 12, 0, 1, "subtract", 0, True),
    ("li-b24-leak6-pe4", 8, 4, 64, 20, True, 24, 6, 128, "subtract", 0, True),
]


def _cfg(case) -> KernelConfig:
    _, neurons, pe, t, in_bits, in_signed, b, k, theta, reset, r, readout = case
    return KernelConfig(neurons=neurons, pe=pe, time_steps=t, in_bits=in_bits, in_signed=in_signed,
                        params=LIFParams(state_bits=b, leak_shift=k, threshold=theta, reset=reset, refractory=r),
                        readout=readout)


@needs_gxx
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_kernel_matches_reference_on_random_currents(case, tmp_path):
    cfg = _cfg(case)
    rng = np.random.default_rng(zlib.crc32(case[0].encode()))
    # Full-range currents, then biased ones that drive membranes into both bounds.
    x = np.concatenate([random_currents(rng, cfg, 3), random_currents(rng, cfg, 3, bias=True),
                        random_currents(rng, cfg, 2, scale=0.05)])
    got = run_csim(x, cfg, cache_dir=tmp_path.parent / "lif_csim_cache")
    want, sat = reference(x, cfg)
    assert got.shape == want.shape
    assert int(np.sum(got != want)) == 0, f"first mismatch at {np.argwhere(got != want)[0]}"
    assert sat["lo"] > 0 and sat["hi"] > 0, f"the data did not reach both saturation bounds: {sat}"
    if not cfg.readout:
        assert 0 < want.sum() < want.size  # neurons both fire and stay silent


@needs_gxx
@pytest.mark.parametrize("reset,refractory,pe", [("subtract", 0, 1), ("zero", 2, 4), ("subtract", 1, 8)])
def test_kernel_on_spike_train_currents(reset, refractory, pe, tmp_path):
    """Currents as a conv/linear layer makes them from binary input spikes: sums of integer
    weights over the synapses that spiked (unsigned when the weights are positive)."""
    rng = np.random.default_rng(7)
    cin, neurons, t, frames = 16, 16, 32, 4
    spikes = (rng.random((frames * t, cin)) < 0.3).astype(np.int64)
    for signed, weights in ((True, rng.integers(-127, 128, (cin, neurons))), (False, rng.integers(0, 64, (cin, neurons)))):
        x = spikes @ weights
        cfg = KernelConfig(neurons=neurons, pe=pe, time_steps=t, in_bits=12 if signed else 10, in_signed=signed,
                           params=LIFParams(state_bits=12, leak_shift=3, threshold=200, reset=reset,
                                            refractory=refractory))
        got = run_csim(x, cfg, cache_dir=tmp_path.parent / "lif_csim_cache")
        want, _ = reference(x, cfg)
        assert int(np.sum(got != want)) == 0
        assert 0 < want.sum() < want.size


@needs_gxx
def test_state_is_cleared_between_frames(tmp_path):
    """Two identical frames in one run give identical outputs: nothing leaks across frames."""
    cfg = _cfg(CASES[2])
    rng = np.random.default_rng(3)
    frame = random_currents(rng, cfg, 1, scale=0.3)
    got = run_csim(np.concatenate([frame, frame]), cfg, cache_dir=tmp_path.parent / "lif_csim_cache")
    np.testing.assert_array_equal(got[: cfg.time_steps], got[cfg.time_steps:])


@needs_gxx
def test_wide_stream_words_compile(tmp_path):
    """PE * in_bits beyond ap_int's default 1024 bits: the glue raises AP_INT_MAX_W."""
    cfg = KernelConfig(neurons=64, pe=64, time_steps=4, in_bits=20, in_signed=True,
                       params=LIFParams(state_bits=16, leak_shift=2, threshold=1000))
    assert "#define AP_INT_MAX_W 1280" in csim.render_top(cfg, "top")
    x = random_currents(np.random.default_rng(1), cfg, 2, scale=0.01)
    assert int(np.sum(run_csim(x, cfg, cache_dir=tmp_path) != reference(x, cfg)[0])) == 0


def test_bad_input_and_missing_tools_are_one_line_errors(monkeypatch):
    cfg = _cfg(CASES[0])
    with pytest.raises(ToolchainError, match="do not fit INT10"):
        run_csim(np.full((24, 12), 600), cfg)
    with pytest.raises(ToolchainError, match="frames"):
        run_csim(np.zeros((23, 12), np.int64), cfg)
    with pytest.raises(ToolchainError, match="must divide"):
        KernelConfig(neurons=10, pe=4, time_steps=2, in_bits=8, in_signed=True, params=LIFParams())
    monkeypatch.setattr(gxx.shutil, "which", lambda name: None)
    with pytest.raises(ToolchainError, match="needs g\\+\\+ on PATH") as err:
        gxx.find_cxx()
    assert "\n" not in str(err.value)
    monkeypatch.setattr(gxx.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolchainError, match="hls4ml") as err:
        gxx.ap_types_dir()
    assert "\n" not in str(err.value)


def test_compile_cache_reuses_the_binary(tmp_path):
    if shutil.which("g++") is None or importlib.util.find_spec("hls4ml") is None:
        pytest.skip("C simulation needs g++ on PATH and the hls4ml package")
    cfg = _cfg(CASES[0])
    exe = csim.compile_harness(cfg, tmp_path)
    mtime = exe.stat().st_mtime_ns
    assert csim.compile_harness(cfg, tmp_path) == exe and exe.stat().st_mtime_ns == mtime
    other = csim.compile_harness(KernelConfig(**{**cfg.__dict__, "pe": 2}), tmp_path)
    assert other != exe


@pytest.mark.vivado
def test_vitis_hls_synthesises_the_kernel(tmp_path):
    """csynth of one layer (16 filters on a 16x16 plane, T=16, PE=4) through the FINN op's
    generated top and tcl; II must be 1 (the latency report names the pipelined loop)."""
    from onnx import helper

    import toolchain.hw.snn  # noqa: F401  (registers the ops)
    from toolchain.hw.snn.lif.hls import generate_hls

    node = helper.make_node("LIF_hls", ["x"], ["y"], domain="finn.custom_op.fpgadataflow.hls",
                            backend="fpgadataflow", name="LIF_hls_0", NumChannels=16, PE=4,
                            numInputVectors=[16, 16, 16], time_steps=16, state_bits=24, leak_shift=4,
                            threshold=128, inputDataType="INT20")
    generate_hls(None, node, tmp_path)
    res = subprocess.run(["vitis_hls", "-f", "hls_syn_LIF_hls_0.tcl"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:]
    reports = list(tmp_path.glob("project_LIF_hls_0/sol1/syn/report/*csynth.rpt"))
    assert reports, "no csynth report"
