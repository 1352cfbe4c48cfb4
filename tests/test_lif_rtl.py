"""The integer LIF update in RTL (toolchain/hw/snn/lif/lif_neuron.sv) simulated with Verilator
against toolchain/snn/lif.py: bit exact on edge and random rows (exhaustive on a small state),
-Wall lint clean, and deliberately broken copies caught, with a waveform of the failing row."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from checks import require_tool
from toolchain.errors import ToolchainError
from toolchain.hw.rtl import verilator
from toolchain.hw.snn.lif import rtl
from toolchain.snn.lif import LIFParams

# (params, current bits, readout): the shipped network's conv LIF (24-bit state, subtract reset,
# leak 1/16) and its membrane readout (tests/snn_networks.py SHIPPED), and a 7-bit state with reset
# to zero and a 3-step refractory period, small enough to run every (current, v, r) combination;
# its 7-bit current can push v1 + I past both ends of the state (a 6-bit one could not, with the
# leak halving v first), as the readout's 20-bit one can.
SHIPPED_CONV = (LIFParams(24, 4, 128, "subtract", 0), 16, False)
SHIPPED_READOUT = (LIFParams(24, 4, 128, "subtract", 0), 20, True)
SMALL = (LIFParams(7, 1, 40, "zero", 3), 7, False)


@pytest.fixture(autouse=True)
def _verilator():
    require_tool(verilator.missing_reason())


def exhaustive(params: LIFParams, cur_bits: int):
    c = np.arange(-(1 << (cur_bits - 1)), 1 << (cur_bits - 1))
    v = np.arange(params.lo, params.hi + 1)
    r = np.arange(params.refractory + 1)
    grid = np.stack(np.meshgrid(c, v, r, indexing="ij"), -1).reshape(-1, 3)
    return grid[:, 0], grid[:, 1], grid[:, 2]


@pytest.mark.parametrize("case", [SHIPPED_CONV, SHIPPED_READOUT], ids=["shipped-conv", "shipped-readout"])
def test_rtl_lif_matches_lif_py(case, tmp_path):
    params, cur_bits, readout = case
    exe = rtl.build(params, cur_bits, readout)
    rows = rtl.vectors(params, cur_bits, 20000, seed=1, readout=readout)
    res = rtl.check(exe, params, cur_bits, *rows, readout=readout, wave_dir=tmp_path)
    assert res.ok, f"{res.mismatches} of {res.rows} rows differ, first {res.first}; waveform {res.wave}"
    # The rows reach what they are meant to: the readout saturates at both ends (the conv's
    # 16-bit current cannot reach the 24-bit state's ends once leaked), the LIF fires and not always.
    v_next, _, spikes = rtl.simulate(exe, *rows)
    if readout:
        assert v_next.max() == params.hi and v_next.min() == params.lo
    else:
        assert 0 < spikes.sum() < len(spikes)


def test_rtl_lif_exhaustive_small_state(tmp_path):
    params, cur_bits, _ = SMALL
    exe = rtl.build(params, cur_bits)
    rows = exhaustive(params, cur_bits)
    res = rtl.check(exe, params, cur_bits, *rows, wave_dir=tmp_path)
    assert res.rows == 128 * 128 * 4 and res.ok, f"{res.mismatches} rows differ, first {res.first}"
    v_next, r_next, spikes = rtl.simulate(exe, *rows)
    assert set(np.unique(r_next)) == {0, 1, 2, 3} and spikes.any()
    v1 = rows[1] - (rows[1] >> params.leak_shift)
    assert (v1 + rows[0] > params.hi).any() and (v1 + rows[0] < params.lo).any()  # both ends saturate


# A fault per arithmetic step the issue names; each is applied to a copy of the module.
FAULTS = {
    "strict threshold": ("((STATE_BITS + 1)'(v2) >= THETA)", "((STATE_BITS + 1)'(v2) > THETA)"),
    "no saturation": ("assign sat = sum < LO ? LO[STATE_BITS-1:0] : (sum > HI ? HI[STATE_BITS-1:0] : sum[STATE_BITS-1:0]);",
                      "assign sat = sum[STATE_BITS-1:0];"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_broken_rtl_lif_fails(fault, tmp_path):
    params, cur_bits, _ = SMALL
    good, bad = FAULTS[fault]
    text = rtl.SOURCE.read_text()
    assert text.count(good) == 1, f"the fault's pattern is no longer in {rtl.SOURCE.name}"
    broken = tmp_path / rtl.SOURCE.name
    broken.write_text(text.replace(good, bad))
    exe = rtl.build(params, cur_bits, source=broken, fatal_warnings=False, cache_dir=tmp_path / "bin")
    res = rtl.check(exe, params, cur_bits, *rtl.vectors(params, cur_bits, 2000), wave_dir=tmp_path / "wave")
    assert not res.ok
    assert res.wave is not None and res.wave.stat().st_size > 0 and "$enddefinitions" in res.wave.read_text()


def test_rtl_lif_is_lint_clean_across_parameters():
    for params, cur_bits, readout in (SHIPPED_CONV, SHIPPED_READOUT, SMALL,
                                      (LIFParams(2, 0, 1, "subtract", 1), 1, False),
                                      (LIFParams(32, 31, 2**31 - 1, "zero", 7), 32, False)):
        verilator.lint([rtl.SOURCE], rtl.TOP, rtl.generics(params, cur_bits, readout))


def test_rtl_lif_rejects_what_it_cannot_map():
    with pytest.raises(ToolchainError, match="conv1: the RTL LIF update takes currents of 1..32 bits, got 40") as err:
        rtl.generics(LIFParams(8, 1, 100), 40, what="conv1")
    assert "\n" not in str(err.value)


def test_missing_verilator_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "verilator", None)  # `import verilator` raises ImportError
    reason = verilator.missing_reason()
    assert "verilator" in reason and "make install" in reason and "\n" not in reason
    with pytest.raises(ToolchainError, match="verilator .* is not installed"):
        rtl.build(*SMALL)


def test_rtl_lif_synthesizes_for_ultrascale_plus():
    """Yosys synth_xilinx -family xcup, out of context, on the shipped conv's LIF: logic only
    (no DSP, memory or register: the update is combinational inside a kernel's read-modify-write),
    within the analytic estimate's factor of two, and its LUT depth within the stated budget."""
    from toolchain.hw.rtl.tools import ToolMissing, yosys_command
    from toolchain.hw.rtl.yosys import synthesize
    from toolchain.hw.snn.resources import lif_lane_luts

    try:
        yosys_command()
    except ToolMissing as exc:
        require_tool(str(exc))
    params, cur_bits, readout = SHIPPED_CONV
    r = synthesize([rtl.SOURCE], rtl.TOP, params=rtl.generics(params, cur_bits, readout))
    assert (r.dsp, r.ff, r.lutram, r.srl, r.bram18, r.bram36, r.uram) == (0,) * 7
    estimate = lif_lane_luts(params.state_bits, cur_bits, params.leak_shift, readout, 0)
    assert estimate / 2 <= r.lut <= 2 * estimate and r.carry > 0
    assert 1 <= r.lut_levels <= rtl.LUT_LEVEL_BUDGET
