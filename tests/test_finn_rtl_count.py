"""The RTL primitive counts of `toolchain.hw.finn.rtl_count` against Yosys' elaboration of the
RTL that FINN generates for the same layer (`PrepareIP`, then finn-rtllib as installed, read by
the slang front end with the source fixes of `rtl_sources`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from checks import require_tool

PARTS = {"DSP48E1": "xc7z020clg400-1", "DSP48E2": "xczu7ev-ffvc1156-2-e", "DSP58": "xcvc1902-vsva2197-2MP-e-S"}
DSP_CELLS = ("DSP48E1", "DSP48E2", "DSP58")


@pytest.fixture(scope="module")
def yosys():
    from toolchain.hw.rtl.tools import ToolMissing, yosys_command

    try:
        yosys_command()
    except ToolMissing as exc:
        require_tool(str(exc))


@pytest.fixture(scope="module")
def finn(tmp_path_factory):
    pytest.importorskip("finn")
    from toolchain.hw.finn_env import prepare_finn

    prepare_finn(tmp_path_factory.mktemp("finn_build"))


def mvau_layer(tmp_path, part, *, mw, mh, pe, simd, wbits, abits, signed_act=False, narrow=False,
               ram_style="auto", seed=0):
    """One MVAU_rtl node, code generated for `part`: (model, its op)."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.util.basic import getHWCustomOp
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    wdt, idt = DataType[f"INT{wbits}"], DataType[f"{'INT' if signed_act else 'UINT'}{abits}"]
    odt = DataType["INT24"]
    node = helper.make_node("MVAU_rtl", ["inp", "weights"], ["outp"], domain="finn.custom_op.fpgadataflow.rtl",
                            backend="fpgadataflow", name="MVAU_rtl_0", MW=mw, MH=mh, SIMD=simd, PE=pe,
                            inputDataType=idt.name, weightDataType=wdt.name, outputDataType=odt.name,
                            ActVal=0, binaryXnorMode=0, noActivation=1, mem_mode="internal_decoupled",
                            ram_style=ram_style, resType="dsp")
    graph = helper.make_graph([node], "mvau", [helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, mw])],
                              [helper.make_tensor_value_info("outp", TensorProto.FLOAT, [1, mh])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="test"))
    rng = np.random.default_rng(seed)
    low = wdt.min() + 1 if narrow else wdt.min()
    w = rng.integers(low, wdt.max() + 1, size=(mw, mh)).astype(np.float32)
    if not narrow:
        w[0, 0] = wdt.min()  # FINN calls weights narrow only if none takes the type's minimum
    model.set_initializer("weights", w)
    for name, dt in (("inp", idt), ("weights", wdt), ("outp", odt)):
        model.set_tensor_datatype(name, dt)
    model = model.transform(PrepareIP(part, 4.0))  # code in a fresh folder under FINN's build dir
    return model, getHWCustomOp(model.graph.node[0])


def elaborated(inst, tmp_path, unit=0):
    from toolchain.hw.finn import rtl_sources
    from toolchain.hw.rtl.yosys import elaborate

    u = rtl_sources.layer_units(inst)[unit]
    sources = rtl_sources.prepare(u, tmp_path / f"src_{u.top}")
    return elaborate(sources, u.top, frontend_args=rtl_sources.SLANG_ARGS, data=u.data)


def counted_cells(elab) -> dict[str, int]:
    return {"DSP": sum(elab.cells.get(c, 0) for c in DSP_CELLS), "LUT6_2": elab.cells.get("LUT6_2", 0)}


# (block, PE, SIMD, weight bits, activation bits, signed activations, narrow weights)
FAST = [
    ("DSP48E2", 8, 4, 8, 8, False, False),   # 2 lanes: FINN's ceil(PE/4) * SIMD halves the true count
    ("DSP48E2", 6, 3, 4, 4, False, False),   # 4 lanes (what FINN's formula assumes), PE not a lane multiple
    ("DSP48E2", 5, 2, 4, 8, True, True),     # 3 lanes, narrow weights
    ("DSP48E1", 4, 2, 8, 8, False, False),   # 25-bit A port
    ("DSP58", 4, 6, 8, 8, False, False),     # the INT8 dot-product core: PE * ceil(SIMD / 3)
    ("DSP58", 4, 2, 3, 3, False, False),     # 4 lanes on DSP58: mvu.sv, not the INT8 core
]
SLOW = [(b, pe, simd, w, a, s, n) for b in PARTS for pe in (3, 8) for simd in (1, 9)
        for (w, a) in ((2, 2), (4, 4), (6, 4), (8, 8)) for s in (False,) for n in (False, True)]


def _check_dsps(tmp_path, block, pe, simd, w, a, signed_act, narrow):
    from toolchain.hw.finn import rtl_count

    mw, mh = simd * 2, pe * 2
    model, inst = mvau_layer(tmp_path, PARTS[block], mw=mw, mh=mh, pe=pe, simd=simd, wbits=w, abits=a,
                             signed_act=signed_act, narrow=narrow)
    formula = rtl_count.layer_counts(inst, model, PARTS[block])
    cells = counted_cells(elaborated(inst, tmp_path))
    assert (formula["DSP"], formula["LUT6_2"]) == (cells["DSP"], cells["LUT6_2"]), (block, pe, simd, w, a)
    return formula, inst


@pytest.mark.parametrize("block,pe,simd,w,a,signed_act,narrow", FAST)
def test_mvau_dsp_formula_equals_elaborated_rtl(yosys, finn, tmp_path, block, pe, simd, w, a, signed_act, narrow):
    formula, inst = _check_dsps(tmp_path, block, pe, simd, w, a, signed_act, narrow)
    if (block, w, a) == ("DSP48E2", 8, 8):  # the case FINN's estimate gets wrong: twice the DSPs it says
        assert formula["DSP"] == 2 * inst.dsp_estimation(PARTS[block])


@pytest.mark.slow
@pytest.mark.parametrize("block,pe,simd,w,a,signed_act,narrow", SLOW)
def test_mvau_dsp_formula_sweep(yosys, finn, tmp_path, block, pe, simd, w, a, signed_act, narrow):
    if block == "DSP48E1" and w > 8:
        pytest.skip("beyond the DSP48E1 weight datapath")
    _check_dsps(tmp_path, block, pe, simd, w, a, signed_act, narrow)


def test_a_wrong_lane_count_is_caught(yosys, finn, tmp_path, monkeypatch):
    """The check has teeth: FINN's four-lanes-per-DSP48 assumption disagrees with the RTL."""
    from toolchain.hw.finn import rtl_count

    monkeypatch.setattr(rtl_count, "lanes", lambda version, w, a, narrow: 4)
    with pytest.raises(AssertionError):
        _check_dsps(tmp_path, "DSP48E2", 8, 4, 8, 8, False, False)


def test_memory_geometry_equals_elaborated_rtl(yosys, finn, tmp_path):
    """The weight streamer's memory: depth, width and ram_style as the formula states them."""
    from toolchain.hw.finn import rtl_count

    for style in ("block", "distributed"):
        model, inst = mvau_layer(tmp_path / style, PARTS["DSP48E2"], mw=16, mh=32, pe=2, simd=4, wbits=4, abits=4,
                                 ram_style=style)
        (mem,) = rtl_count.memories(inst)
        (got,) = elaborated(inst, tmp_path / style, unit=1).memories
        assert (got.depth, got.width, got.attributes["ram_style"]) == (mem.depth, mem.width, style)
        assert mem.depth == 16 * 32 // (2 * 4)


@pytest.mark.parametrize("depth,width,style,family", [(8, 64, "distributed", "xcup")])
def test_memory_mapping_rule_equals_yosys_synthesis(yosys, finn, tmp_path, depth, width, style, family):
    _check_mapping(tmp_path, depth, width, style, family)


@pytest.mark.slow
@pytest.mark.parametrize("depth,width,style,family", [
    (1024, 18, "block", "xcup"), (32, 36, "distributed", "xcup"), (64, 16, "distributed", "xcup"), (128, 8, "distributed", "xc7"),
    (2048, 20, "block", "xcup"),
    (256, 100, "block", "xcup"), (16, 300, "block", "xcup"), (600, 36, "block", "xc7"), (4096, 72, "ultra", "xcup"),
])
def test_memory_mapping_rule_sweep(yosys, finn, tmp_path, depth, width, style, family):
    _check_mapping(tmp_path, depth, width, style, family)


def _check_mapping(tmp_path, depth, width, style, family):
    """FINN's weight streamer (memstream.sv) at this geometry, synthesized by Yosys, against
    `map_memory` (BRAM in 18 kbit units, LUTRAM in LUTs)."""
    from finn.util.settings import get_settings

    from toolchain.hw.finn import rtl_count, rtl_sources
    from toolchain.hw.rtl.yosys import synthesize

    src = tmp_path / "memstream.sv"
    src.write_text((Path(get_settings().finn_rtllib) / "memstream/hdl/memstream.sv").read_text())
    r = synthesize([src], "memstream", family=family, frontend_args=rtl_sources.SLANG_ARGS,
                   params={"SETS": 1, "DEPTH": depth, "WIDTH": width, "RAM_STYLE": f'"{style}"'},
                   pre_synth=rtl_sources.PRE_SYNTH)
    rule = rtl_count.map_memory(rtl_count.Memory(depth, width, style), uram=family != "xc7")
    assert (r.bram18 + 2 * r.bram36, r.uram, r.lutram) == (rule["BRAM_18K"], rule["URAM"], rule["LUTRAM"])


@pytest.mark.slow
def test_synthesis_of_an_rtl_layer_beside_finns_estimate(yosys, finn, tmp_path):
    """finn.synthesize_rtl's per-layer figures: Yosys' DSPs equal the count, LUTs where FINN says 0;
    a second run comes from the cache."""
    import time

    from toolchain.hw.finn import report, rtl_count
    from toolchain.hw.finn.rtl_synth import synthesize_layers

    part = PARTS["DSP48E2"]
    model, inst = mvau_layer(tmp_path, part, mw=8, mh=8, pe=4, simd=2, wbits=8, abits=8, ram_style="distributed")
    synth = synthesize_layers(model, part, tmp_path / "cache")["MVAU_rtl_0"]
    assert synth["DSP"] == rtl_count.layer_counts(inst, model, part)["DSP"] == 4 > inst.dsp_estimation(part)
    assert synth["LUT"] > 0 == inst.lut_estimation(part) and synth["FF"] > 0
    assert synth["source"].startswith("synthesized (Yosys")
    t0 = time.perf_counter()
    assert synthesize_layers(model, part, tmp_path / "cache")["MVAU_rtl_0"] == synth
    assert time.perf_counter() - t0 < 10
    rows = [{"name": "MVAU_rtl_0", "layer": "dense0.mvau", "notes": []},
            {"name": "LabelSelect_hls_0", "layer": "dense0.label_select", "notes": []}]
    totals: dict = {}
    report.add_synthesis(rows, totals, {"MVAU_rtl_0": synth})
    assert totals["synthesized"]["DSP"] == 4 and totals["synthesized"]["not_synthesized"] == ["dense0.label_select"]
    assert "HLS layer" in rows[1]["notes"][0]


def test_synthesized_totals_say_where_they_exceed_the_board():
    from toolchain.hw.finn import report

    figures = {"LUT": 249_562, "LUTRAM": 25_008, "SRL": 0, "FF": 372_494, "BRAM_18K": 1, "URAM": 0, "DSP": 1051,
               "source": "synthesized (Yosys 0.70 synth_xilinx, out of context)"}
    rows = [{"name": "MVAU_rtl_0", "layer": "conv0.mvau", "notes": []}]
    totals = {"resources": {"LUT": {"board": 230_400}, "FF": {"board": 460_800}, "DSP": {"board": 1728},
                            "BRAM_18K": {"board": 624}}}
    report.add_synthesis(rows, totals, {"MVAU_rtl_0": figures})
    assert totals["synthesized"]["share"] == {"LUT": 1.0832, "FF": 0.8084, "DSP": 0.6082, "BRAM_18K": 0.0016}
    assert totals["synthesized"]["over_board"] == ["LUT"]
