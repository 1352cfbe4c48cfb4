"""The event ops' `_rtl` backends (event_rtl.py): the build graph asks for `rtl` by default
(`finn.event_impl_style`) and FINN specialises every node to `_rtl`, whose generated HDL (the
kernel's .sv + a wrapper with FINN's port names) is `verilator -Wall` clean on the small network;
`hls` still selects the HLS backends, and anything else is refused."""

from __future__ import annotations

import pytest
import torch

from checks import require_tool
from snn_networks import SMALL
from toolchain.config import ModelConfig
from toolchain.hw.finn import rtl_sources
from toolchain.hw.rtl import verilator
from toolchain.models import build_model

pytest.importorskip("finn")

from qonnx.custom_op.registry import getCustomOp  # noqa: E402

from toolchain.hw.snn.event import event_graph  # noqa: E402
from toolchain.hw.snn.event.accelerator import map_model  # noqa: E402

PART = "xczu7ev-ffvc1156-2-e"


def _specialised(finn_env, tmp_path, style: str | None, graph_style: str = "rtl"):
    from toolchain.hw.finn_env import prepare_finn

    prepare_finn(tmp_path)
    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveUniqueNodeNames

    torch.manual_seed(1)
    spec = map_model(build_model(ModelConfig(**SMALL)).eval(), sweep_positions=[4, 4])
    graph = event_graph.spec_graph(spec, graph_style)
    if style is not None:
        for node in graph.graph.node:
            getCustomOp(node).set_nodeattr("preferred_impl_style", style)
    parent = graph.transform(CreateDataflowPartition(partition_model_dir=str(tmp_path / "p")))
    hw = ModelWrapper(getCustomOp(parent.graph.node[0]).get_nodeattr("model"))
    return hw.transform(SpecializeLayers(PART)).transform(GiveUniqueNodeNames())


def test_build_graph_defaults_to_rtl_and_hls_stays_selectable(finn_env, tmp_path):
    rtl = _specialised(finn_env, tmp_path / "rtl", None)
    assert [n.op_type for n in rtl.graph.node] == ["ConstellationEncoder_rtl", "SpikingConv_rtl", "SpikingConv_rtl",
                                                    "SpikingDense_rtl"]
    hw = _specialised(finn_env, tmp_path / "hls", None, "hls")
    assert [n.op_type for n in hw.graph.node] == ["ConstellationEncoder_hls", "SpikingConv_hls", "SpikingConv_hls",
                                                   "SpikingDense_hls"]
    # the specialised graph of either backend describes the same accelerator (parameters and weight ROMs)
    from toolchain.hw.snn.event import accel_rtl

    specs = [event_graph.graph_spec(g) for g in (hw, rtl)]
    assert len({accel_rtl.render_top(s, [2, 8, 32]) for s in specs}) == 1
    assert specs[0].convs[0].weights.any() and accel_rtl.rom_files(specs[0]) == accel_rtl.rom_files(specs[1])
    # and the report's figures of a node (cycles, bound, estimates) are the op's, the same for either backend

    def figures(graph):
        ops = [getCustomOp(n) for n in graph.graph.node]
        return [(o.get_exp_cycles(), o.get_bound_cycles(), o.node_res_estimation(PART), o.ff_estimation(PART))
                for o in ops]
    assert figures(rtl) == figures(hw) and figures(hw)[1][2]["LUT"] > 0


def test_an_unknown_impl_style_is_refused():
    from toolchain.errors import ToolchainError

    spec = map_model(build_model(ModelConfig(**SMALL)).eval(), sweep_positions=[4, 4])
    styles = {getCustomOp(n).get_nodeattr("preferred_impl_style") for n in event_graph.spec_graph(spec).graph.node}
    assert styles == {"rtl"}
    with pytest.raises(ToolchainError, match="'vhdl': expected one of rtl, hls"):
        event_graph.spec_graph(spec, "vhdl")


def test_rtl_backends_generate_lint_clean_hdl(finn_env, tmp_path):
    require_tool(verilator.missing_reason())
    hw = _specialised(finn_env, tmp_path, "")  # FINN's default: the RTL variant where one exists
    assert [n.op_type for n in hw.graph.node] == ["ConstellationEncoder_rtl", "SpikingConv_rtl", "SpikingConv_rtl",
                                                   "SpikingDense_rtl"]
    for node in hw.graph.node:
        op = getCustomOp(node)
        op.set_nodeattr("code_gen_dir_ipgen", str(tmp_path / node.name))
        op.generate_hdl(hw, PART, 4.0)
        files = op.get_rtl_file_list(abspath=True)
        assert all(f.is_file() for f in files) and op.get_nodeattr("gen_top_module") == node.name
        verilator.lint([f for f in files if f.suffix == ".sv"], node.name)
        # the convs' and the readout's weight ROMs ($readmemh files) come with their sources
        assert any(f.suffix == ".hex" for f in files) == (node.op_type in ("SpikingConv_rtl", "SpikingDense_rtl"))
        # finn.synthesize_rtl's Yosys flow takes the wrapper as the top and the ROMs as memory files
        (unit,) = rtl_sources.layer_units(op)
        assert unit.top == node.name and all(f.suffix == ".sv" for f in unit.sources)
        assert {f.name for f in unit.data} == {f.name for f in files if f.suffix == ".hex"}
        ipi = op.code_generation_ipi()
        assert f"create_bd_cell -type module -reference {node.name} {node.name}" in ipi[-1]


@pytest.mark.slow  # ~30 s alone, up to 2 min on 2 loaded cores
def test_finn_synthesize_rtl_takes_the_event_nodes(finn_env, tmp_path):
    """finn.synthesize_rtl's per-layer Yosys flow on a default (RTL) event node: the readout, its
    wrapper as the top and its weight ROM read from the .hex file (block RAM, no DSP)."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    from toolchain.hw.finn.rtl_synth import synthesize_layers
    from toolchain.hw.rtl.tools import ToolMissing, yosys_command

    try:
        yosys_command()
    except ToolMissing as exc:
        require_tool(str(exc))
    hw = _specialised(finn_env, tmp_path, None).transform(PrepareIP(PART, 4.0))
    for node in [n for n in hw.graph.node if n.op_type != "SpikingDense_rtl"]:
        hw.graph.node.remove(node)
    (figures,) = synthesize_layers(hw, PART, tmp_path / "cache").values()
    assert figures["LUT"] > 0 and figures["FF"] > 0 and figures["BRAM_18K"] > 0 and figures["DSP"] == 0
