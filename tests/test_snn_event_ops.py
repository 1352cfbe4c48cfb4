"""The event-driven kernels as FINN HW ops (`ConstellationEncoder`, `SpikingConv`,
`SpikingDense` and their `_hls` backends): each op's Python execution against the PyTorch
layer, bit for bit; graph <-> spec and QONNX -> spec against `map_model`; the per-node HLS code
FINN's PrepareIP writes compiled with g++; the whole accelerator generated from the graph
C-simulated bit exact, and a corrupted node attribute or kernel header caught; estimates equal
to resources.py's formulas and to the C++ loop counters."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess

import numpy as np
import pytest
import torch

from snn_networks import SHIPPED, SMALL
from toolchain.config import ModelConfig
from toolchain.errors import ToolchainError
from toolchain.models import build_model

pytest.importorskip("finn")
pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None or importlib.util.find_spec("hls4ml") is None,
    reason="C simulation needs g++ on PATH and the hls4ml package (its ap_types headers)")

from qonnx.custom_op.registry import getCustomOp  # noqa: E402

from toolchain.hw.hls import gxx  # noqa: E402
from toolchain.hw.snn import resources  # noqa: E402
from toolchain.hw.snn.event import accel_csim, event_graph  # noqa: E402
from toolchain.hw.snn.event.accel_verify import check_frames, compare, model_reference  # noqa: E402
from toolchain.hw.snn.event.accelerator import map_model  # noqa: E402

PART = "xczu7ev-ffvc1156-2-e"


def _model(kw: dict, seed: int):
    torch.manual_seed(seed)
    return build_model(ModelConfig(**kw)).eval()


@pytest.fixture(scope="module")
def small():
    model = _model(SMALL, 1)
    spec = map_model(model)
    codes, _ = check_frames(spec, n_random=60, seed=1, synthetic_classes=4)
    return model, spec, codes, model_reference(model, spec, codes), event_graph.spec_graph(spec)


def _same_spec(a, b) -> None:
    """Field by field, arrays by value (the dataclasses hold numpy arrays)."""
    for x, y in [(a.encoder, b.encoder), *zip(a.convs, b.convs), (a.dense, b.dense)]:
        assert type(x) is type(y)
        for f in dataclasses.fields(x):
            u, v = getattr(x, f.name), getattr(y, f.name)
            if isinstance(u, np.ndarray):
                assert u.shape == v.shape and (u == v).all(), f.name
            else:
                assert u == v, f.name
    assert len(a.convs) == len(b.convs)


def test_each_op_executes_the_pytorch_layer_bit_exact(small):
    from toolchain.snn.encoders import encode

    model, spec, codes, ref, graph = small
    contexts = event_graph.exec_contexts(graph, codes, full=True)
    x = torch.from_numpy(codes.astype(np.float32) * np.float32(spec.encoder.scale))
    with torch.no_grad():
        counts = encode(model.config, x).numpy()
    assert (np.stack([c["counts"] for c in contexts]) == counts).all()  # the encoder
    for i in range(len(spec.convs)):  # every conv's spikes at every step
        assert (np.stack([c[f"spikes{i}"] for c in contexts]) == ref["spikes"][i]).all()
    classes = np.array([int(c["class_index"].ravel()[0]) for c in contexts])
    membranes = np.stack([c["membranes"].ravel() for c in contexts]).astype(np.int64)
    assert (classes == ref["classes"]).all() and (membranes == ref["membranes"]).all()
    # what makes this network hard: saturated 7-bit membranes, tied spike counts (lowest index wins)
    assert (membranes == -64).any() or (membranes == 63).any()
    counts = ref["readout"]
    assert ((counts == counts.max(1, keepdims=True)).sum(1) > 1).sum() > 5


def test_graph_spec_and_qonnx_spec_equal_map_model(small):
    from toolchain.snn.export_qonnx import build_snn_graph

    model, spec, _, _, graph = small
    _same_spec(event_graph.graph_spec(graph), spec)
    _same_spec(event_graph.spec_from_qonnx(build_snn_graph(model)), spec)
    shipped = _model(SHIPPED, 0)
    _same_spec(event_graph.spec_from_qonnx(build_snn_graph(shipped)), map_model(shipped))


def test_the_graph_generated_accelerator_is_bit_exact_and_a_corrupted_attribute_is_caught(small, tmp_path):
    model, spec, codes, ref, graph = small
    hw = event_graph.csim(graph, codes)  # the default cache: the same spec as test_snn_accelerator.py's, compiled once
    assert compare(spec, ref, hw)["ok"]
    bad = event_graph.spec_graph(spec)
    conv1 = next(n for n in bad.graph.node if n.name == "SpikingConv_1")
    getCustomOp(conv1).set_nodeattr("threshold", spec.convs[1].params.threshold + 1)
    result = compare(spec, ref, event_graph.csim(bad, codes, cache_dir=tmp_path))
    assert not result["ok"] and result["membrane_mismatches"] > 0
    _, membranes = event_graph.execute(bad, codes[:40])  # the Python model of the corrupted graph too
    assert (membranes != ref["membranes"][:40]).any()


def test_a_corrupted_header_fails_the_graph_generated_accelerator(small, tmp_path):
    _, spec, codes, ref, graph = small
    for h in accel_csim.HEADERS:
        shutil.copy(h, tmp_path / h.name)
    text = (tmp_path / "lif.hpp").read_text()
    (tmp_path / "lif.hpp").write_text(text.replace("free && v2 >= THRESHOLD", "free && v2 > THRESHOLD"))
    exe = accel_csim.compile_accelerator(event_graph.graph_spec(graph), tmp_path / "bin", kernel_dir=tmp_path)
    assert not compare(spec, ref, accel_csim.run_frames(spec, codes, exe=exe))["ok"]


def test_estimates_are_the_resource_formulas_and_the_cycles_the_loop_counters(small):
    model, spec, codes, ref, graph = small
    nodes = list(graph.graph.node)
    est = resources.accelerator(spec)["layers"]
    bound = resources.cycle_bound(spec)
    for node, name in zip(nodes, ["encoder", *(c.name for c in spec.convs), spec.dense.name]):
        op = getCustomOp(node)
        assert op.lut_estimation() == est[name]["lut"] and op.ff_estimation() == est[name]["ff"]
        assert op.bram_estimation() == est[name]["bram18"] and op.dsp_estimation() == 0
        assert op.get_bound_cycles() == bound[name]
    annotated = event_graph.annotate_cycles(graph, codes)
    hw = event_graph.csim(graph, codes)  # the default cache: the same spec as test_snn_accelerator.py's, compiled once
    for node, name in zip(nodes[1:], [*(c.name for c in spec.convs), spec.dense.name]):
        op = getCustomOp(node)
        assert annotated[node.name] == op.get_nodeattr("exp_event_cycles") > 0
        # the op's cycles: the median over the frames of the C++ kernel's counted loop iterations
        assert op.get_exp_cycles() == int(np.median(hw.iterations[name]))
        assert op.get_exp_cycles() <= op.get_bound_cycles()


@pytest.fixture(scope="module")
def shipped_codegen(finn_env, tmp_path_factory):
    """The shipped network's graph through FINN's partition, specialisation and PrepareIP."""
    from toolchain.hw.finn_env import prepare_finn

    tmp = tmp_path_factory.mktemp("ops")
    prepare_finn(tmp)
    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveUniqueNodeNames

    spec = map_model(_model(SHIPPED, 0))
    parent = event_graph.spec_graph(spec, "hls").transform(CreateDataflowPartition(partition_model_dir=str(tmp / "p")))
    hw = ModelWrapper(getCustomOp(parent.graph.node[0]).get_nodeattr("model"))
    hw = hw.transform(SpecializeLayers(PART)).transform(GiveUniqueNodeNames())
    conv0 = next(n for n in hw.graph.node if n.op_type == "SpikingConv_hls")
    getCustomOp(conv0).set_nodeattr("ram_style", "block")
    return spec, hw.transform(PrepareIP(PART, 4.0)), tmp


def test_finn_generates_hls_code_for_every_node_that_compiles(shipped_codegen):
    spec, hw, tmp = shipped_codegen
    assert [n.op_type for n in hw.graph.node] == ["ConstellationEncoder_hls", "SpikingConv_hls", "SpikingConv_hls",
                                                   "SpikingDense_hls"]
    for node in hw.graph.node:
        folder = getCustomOp(node).get_nodeattr("code_gen_dir_ipgen")
        top = f"{folder}/top_{node.name}.cpp"
        res = subprocess.run(["g++", "-std=c++14", "-c", f"-I{gxx.ap_types_dir()}", f"-I{folder}", top,
                              "-o", str(tmp / f"{node.name}.o")], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[:2000]
        text = open(top).read()
        assert f"void {node.name}(" in text and "#pragma HLS INTERFACE axis port=in0_V" in text
        inst = getCustomOp(node)  # FINN's code_gen_dict hooks give the same pieces as the written top
        inst.code_gen_dict = {}
        for hook in (inst.global_includes, inst.blackboxfunction, inst.pragmas, inst.docompute):
            hook()
        inst.defines("")
        assert all(line in text for lines in inst.code_gen_dict.values() for line in lines), inst.code_gen_dict
    conv0, conv1 = [n for n in hw.graph.node if n.op_type == "SpikingConv_hls"]
    top0 = open(f"{getCustomOp(conv0).get_nodeattr('code_gen_dir_ipgen')}/top_{conv0.name}.cpp").read()
    top1 = open(f"{getCustomOp(conv1).get_nodeattr('code_gen_dir_ipgen')}/top_{conv1.name}.cpp").read()
    assert "variable=acc type=ram_s2p impl=bram" in top0 and "variable=acc type=ram_s2p impl=lutram" in top1
    dense = next(n for n in hw.graph.node if n.op_type == "SpikingDense_hls")
    top = open(f"{getCustomOp(dense).get_nodeattr('code_gen_dir_ipgen')}/top_{dense.name}.cpp").read()
    assert "variable=dense0_w type=rom_2p impl=bram" in top  # 4,096 weight rows: block RAM by the depth rule
    # the spec read back from the specialised graph: the ram_style change is the only difference
    back = event_graph.graph_spec(hw)
    _same_spec(back, dataclasses.replace(spec, convs=(dataclasses.replace(spec.convs[0], ram_style="block"),
                                                      spec.convs[1])))


def test_finn_reports_the_ops_estimates(shipped_codegen):
    from toolchain.hw.finn import report as rep

    spec, hw, _ = shipped_codegen
    rows = rep.layer_rows(hw, PART)
    assert [r["layer"] for r in rows] == ["input.encoder", "conv0.spiking_conv", "conv1.spiking_conv",
                                          "dense0.spiking_dense"]
    assert all(r["DSP"] == 0 and r["LUT"] is not None and r["FF"] is not None for r in rows)
    assert sum(r["LUT"] for r in rows) == resources.accelerator(spec)["total"]["lut"]


def test_a_qonnx_the_kernels_cannot_map_is_a_one_line_error():
    from toolchain.snn.export_qonnx import MODEL_CONFIG_KEY, build_snn_graph

    qonnx = build_snn_graph(_model(SMALL, 0))
    cfg = json.loads(qonnx.get_metadata_prop(MODEL_CONFIG_KEY))
    qonnx.set_metadata_prop(MODEL_CONFIG_KEY, json.dumps({**cfg, "snn_gamma": 0.5}))
    with pytest.raises(ToolchainError, match=r"^cannot map model\.snn_gamma=0\.5") as err:
        event_graph.spec_from_qonnx(qonnx)
    assert "\n" not in str(err.value)
    qonnx.set_metadata_prop(MODEL_CONFIG_KEY, json.dumps(cfg))
    conv = next(n for n in qonnx.graph.node if n.op_type == "Conv")
    next(a for a in conv.attribute if a.name == "strides").ints[:] = [2, 2]
    with pytest.raises(ToolchainError, match=r"^cannot map layer conv0 .*stride-1"):
        event_graph.spec_from_qonnx(qonnx)


def test_automatic_folding_chooses_sp_by_the_ops_estimates_and_stays_bit_exact(small, finn_env, tmp_path):
    from toolchain.hw.finn_env import prepare_finn

    prepare_finn(tmp_path)
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    from toolchain.hw.finn.autofold import auto_fold, units

    model, spec, codes, _, _ = small
    codes = codes[::3]  # 55 frames of every kind
    board = {"LUT": 230400, "BRAM36": 312, "URAM": 96, "DSP": 1728}
    chosen = {}
    for target in (2_000, 400_000):  # frames/s at 250 MHz: a lax and a tight cycle target
        hw = event_graph.spec_graph(spec, "hls").transform(SpecializeLayers(PART))
        event_graph.annotate_cycles(hw, codes)  # measured activity, as the build does
        convs = [n for n in hw.graph.node if n.op_type == "SpikingConv_hls"]
        options = {u.place: u.options for u in units(hw, PART, uram=True)}
        assert [len(options[f"conv{i}.spiking_conv"]) for i in range(2)] == [4, 4]  # SP = 1, 2, 4, 8 (width 8)
        info = auto_fold(hw, PART, board, target, 4.0)
        assert info["fits"]
        event_graph.restream(hw)
        chosen[target] = [getCustomOp(n).get_nodeattr("sp") for n in convs]
        back = event_graph.graph_spec(hw)
        assert [c.sp for c in back.convs] == chosen[target] and back.convs[1].in_lanes == chosen[target][0] * 4
        # the words (hence the loop counts) follow the new SP: the reference is recomputed for it
        assert compare(back, model_reference(model, back, codes), event_graph.csim(hw, codes, tmp_path / "b"))["ok"]
    assert chosen[2_000] == [1, 1]  # the cheapest sweep meets the lax target
    assert chosen[400_000][0] > 1  # the tight one needs a wider sweep in conv0
