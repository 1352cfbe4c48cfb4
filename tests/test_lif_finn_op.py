"""The FINN HW op LIF / LIF_hls (toolchain/hw/snn): shapes, datatypes, execution (Python
reference, g++ C simulation), estimates, the QONNX -> FINN rewrite, and code generation."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

import toolchain.hw.snn  # noqa: F401  (registers LIF / LIF_hls)
from toolchain.errors import ToolchainError
from toolchain.hw.hls import gxx
from toolchain.hw.snn.dense.infer_lif import InferLIFLayer
from toolchain.hw.snn.lif import csim
from toolchain.hw.snn.lif.hls import SpecializeLIF, generate_hls
from toolchain.hw.snn.lif.op import PIPELINE_DEPTH
from toolchain.snn.lif import LIFParams, li_step, run_lif

needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None or importlib.util.find_spec("hls4ml") is None,
    reason="C simulation needs g++ on PATH and the hls4ml package (its ap_types headers)")

HW = "finn.custom_op.fpgadataflow"


def hw_model(shape, op="LIF_hls", idt="INT12", **attrs):
    """One LIF HW node on a channels-last tensor `shape` = (N*T, ..., C)."""
    kw = dict(NumChannels=shape[-1], PE=1, numInputVectors=list(shape[:-1]), time_steps=shape[0],
              state_bits=12, leak_shift=2, threshold=300, reset="subtract", refractory=0, mode="lif",
              inputDataType=idt)
    kw.update(attrs)
    node = helper.make_node(op, ["x"], ["y"], domain=HW + (".hls" if op.endswith("_hls") else ""),
                            backend="fpgadataflow", name=f"{op}_0", **kw)
    graph = helper.make_graph([node], "lif", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype("x", DataType[idt])
    return model


def ref(x: np.ndarray, t: int, p: LIFParams, li: bool = False) -> np.ndarray:
    frames = x.astype(np.int64).reshape(-1, t, int(np.prod(x.shape[1:])))
    out = []
    for f in frames:
        if li:
            v, ys = np.zeros_like(f[0]), []
            for cur in f:
                v = li_step(cur, v, p)
                ys.append(v)
            out.append(np.stack(ys))
        else:
            out.append(run_lif(f, p)[0])
    return np.stack(out).reshape(x.shape)


def test_shapes_datatypes_and_widths():
    op = getCustomOp(hw_model((16, 4, 4, 8), PE=4, idt="INT20").graph.node[0])
    assert op.get_normal_input_shape() == op.get_normal_output_shape() == (16, 4, 4, 8)
    assert op.get_folded_input_shape() == op.get_folded_output_shape() == (16, 4, 4, 2, 4)
    assert op.get_input_datatype() == DataType["INT20"] and op.get_output_datatype() == DataType["UINT1"]
    assert op.get_instream_width() == 80 and op.get_outstream_width() == 4
    assert op.get_outstream_width_padded() == 8
    assert op.get_number_output_values() == 16 * 4 * 4 * 2
    li = getCustomOp(hw_model((16, 8), PE=2, mode="li", state_bits=24).graph.node[0])
    assert li.get_output_datatype() == DataType["INT24"] and li.get_outstream_width() == 48
    model = hw_model((16, 8), mode="li", state_bits=24)
    getCustomOp(model.graph.node[0]).infer_node_datatype(model)
    assert model.get_tensor_datatype("y") == DataType["INT24"]
    with pytest.raises(ToolchainError, match="PE=3 must divide NumChannels=8"):
        getCustomOp(hw_model((16, 8), PE=3).graph.node[0]).execute_python({"x": np.zeros((16, 8))})


@pytest.mark.parametrize("mode,reset,refractory,pe", [("lif", "subtract", 0, 1), ("lif", "zero", 2, 4),
                                                      ("li", "subtract", 0, 2)])
def test_python_exec_equals_cppsim_equals_run_lif(mode, reset, refractory, pe, tmp_path):
    t, shape = 12, (24, 3, 2, 8)  # two frames of T=12 steps, 3x2 plane, 8 channels
    rng = np.random.default_rng(5)
    x = rng.integers(-2048, 2048, size=shape).astype(np.float32)
    model = hw_model(shape, time_steps=t, PE=pe, mode=mode, reset=reset, refractory=refractory, state_bits=12)
    p = LIFParams(state_bits=12, leak_shift=2, threshold=300, reset=reset, refractory=refractory)
    want = ref(x, t, p, li=mode == "li")
    py = execute_onnx(model, {"x": x})["y"]
    np.testing.assert_array_equal(py, want)
    if shutil.which("g++") is None or importlib.util.find_spec("hls4ml") is None:
        pytest.skip("cppsim needs g++ and hls4ml")
    # FINN's own cppsim transformations drive this op's g++ harness.
    from finn.transformation.fpgadataflow.compile_cppsim import CompileCppSim
    from finn.transformation.fpgadataflow.prepare_cppsim import PrepareCppSim
    from finn.transformation.fpgadataflow.set_exec_mode import SetExecMode

    from toolchain.hw.finn_env import prepare_finn

    prepare_finn(tmp_path / "finn_build")
    model = model.transform(PrepareCppSim(num_workers=1)).transform(CompileCppSim(num_workers=1))
    model = model.transform(SetExecMode("cppsim"))
    op = getCustomOp(model.graph.node[0])
    assert op.get_nodeattr("exec_mode") == "cppsim"
    exe = csim.Path(op.get_nodeattr("executable_path"))
    assert exe.is_file() and exe.resolve().is_relative_to((tmp_path / "finn_build").resolve())
    np.testing.assert_array_equal(execute_onnx(model, {"x": x})["y"], want)


def test_estimates():
    def est(shape=(16, 16, 16, 16), **kw):
        return getCustomOp(hw_model(shape, idt="INT20", time_steps=16, state_bits=kw.pop("state_bits", 24),
                                    **kw).graph.node[0])

    for pe in (1, 4, 16):
        assert est(PE=pe).get_exp_cycles() == 16 * 16 * 16 * 16 // pe + PIPELINE_DEPTH
    # BRAM grows with neurons and with state bits; small banks sit in LUTRAM instead.
    big, bigger, wider = est(PE=1), est((16, 32, 32, 16), PE=1), est(PE=1, state_bits=32, refractory=0)
    assert 0 < big.bram_estimation("x") < bigger.bram_estimation("x")
    assert est(PE=1, state_bits=16).bram_estimation("x") < big.bram_estimation("x") <= wider.bram_estimation("x")
    assert est(PE=1, refractory=3).state_memory()[2] == 24 + 2
    small = est((16, 4, 4, 8), PE=1)
    assert small.state_in_lutram() and small.bram_estimation("x") == 0 and small.lutram_estimation("x") > 0
    assert 0 < big.bram_efficiency_estimation("x") <= 1
    # LUTs grow with PE; no DSP, no URAM.
    luts = [est(PE=pe).lut_estimation("x") for pe in (1, 2, 4, 8)]
    assert luts == sorted(luts) and len(set(luts)) == 4
    assert all(est(PE=pe).dsp_estimation("x") == 0 and est(PE=pe).uram_estimation("x") == 0 for pe in (1, 16))
    res = big.node_res_estimation("xczu3eg-sbva484-1-e")
    assert set(res) >= {"BRAM_18K", "LUT", "DSP", "URAM"}


def qonnx_lif_model(shape, layout=None, t=8, **attrs):
    """The project's QONNX LIF node (domain toolchain.snn), built by hand."""
    kw = dict(state_bits=12, leak_shift=2, threshold=300, reset="zero", refractory=1, time_steps=t, mode="lif")
    kw.update(attrs)
    node = helper.make_node("LIF", ["x"], ["y"], domain="toolchain.snn", name="lif0", **kw)
    graph = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype("x", DataType["INT12"])
    if layout is not None:
        model.set_tensor_layout("x", layout)
        model.set_tensor_layout("y", layout)
    return model


def test_infer_lif_layer_nhwc_and_specialize():
    model = qonnx_lif_model((16, 3, 3, 4)).transform(InferLIFLayer())
    (node,) = model.graph.node
    assert (node.op_type, node.domain) == ("LIF", HW)
    op = getCustomOp(node)
    assert op.get_nodeattr("NumChannels") == 4 and list(op.get_nodeattr("numInputVectors")) == [16, 3, 3]
    assert op.get_nodeattr("inputDataType") == "INT12" and op.get_nodeattr("time_steps") == 8
    assert (op.get_nodeattr("reset"), op.get_nodeattr("refractory"), op.get_nodeattr("mode")) == ("zero", 1, "lif")
    assert model.get_tensor_datatype("y") == DataType["UINT1"]
    x = np.random.default_rng(2).integers(-2048, 2048, (16, 3, 3, 4)).astype(np.float32)
    want = ref(x, 8, LIFParams(state_bits=12, leak_shift=2, threshold=300, reset="zero", refractory=1))
    np.testing.assert_array_equal(execute_onnx(model, {"x": x})["y"], want)
    model = model.transform(SpecializeLIF())
    assert (model.graph.node[0].op_type, model.graph.node[0].domain) == ("LIF_hls", HW + ".hls")
    np.testing.assert_array_equal(execute_onnx(model, {"x": x})["y"], want)


def test_infer_lif_layer_nchw_gets_transposes():
    import qonnx.core.data_layout as dl

    model = qonnx_lif_model((8, 4, 3, 2), layout=dl.NCHW, mode="li", state_bits=16)
    x = np.random.default_rng(4).integers(-2048, 2048, (8, 4, 3, 2)).astype(np.float32)
    model = model.transform(InferLIFLayer())
    assert [n.op_type for n in model.graph.node] == ["Transpose", "LIF", "Transpose"]
    op = getCustomOp(model.graph.node[1])
    assert op.get_nodeattr("NumChannels") == 4 and list(op.get_nodeattr("numInputVectors")) == [8, 3, 2]
    assert op.get_output_datatype() == DataType["INT16"]
    want = ref(x, 8, LIFParams(state_bits=16, leak_shift=2, threshold=300), li=True)  # elementwise: layout-free
    np.testing.assert_array_equal(execute_onnx(model, {"x": x})["y"], want)


def test_infer_lif_layer_rejects_float_currents():
    model = qonnx_lif_model((16, 4))
    model.set_tensor_datatype("x", DataType["FLOAT32"])
    with pytest.raises(ToolchainError, match="integer datatype"):
        model.transform(InferLIFLayer())


def test_saved_model_loads_after_import(tmp_path):
    path = tmp_path / "lif.onnx"
    hw_model((16, 8), PE=2).save(str(path))
    op = getCustomOp(ModelWrapper(str(path)).graph.node[0])
    assert type(op).__name__ == "LIF_hls" and op.get_exp_cycles() == 16 * 4 + PIPELINE_DEPTH


@needs_gxx
def test_prepare_ip_writes_a_top_that_compiles(tmp_path):
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    from toolchain.hw.finn_env import prepare_finn

    prepare_finn(tmp_path / "finn_build")
    model = hw_model((16, 4, 4, 8), PE=4, idt="INT20", state_bits=24, refractory=2)
    model = model.transform(PrepareIP("xczu3eg-sbva484-1-e", 5.0))
    op = getCustomOp(model.graph.node[0])
    out = csim.Path(op.get_nodeattr("code_gen_dir_ipgen"))
    top = out / "top_LIF_hls_0.cpp"
    text = top.read_text()
    for needle in ("void LIF_hls_0(", "#pragma HLS INTERFACE axis port=in0_V", "port=out0_V",
                   "ap_ctrl_none", '#include "lif.hpp"', "lif_layer<128, 4, 16, 20, true, 24, 2, 300, false, 2, false>"):
        assert needle in text
    assert (out / "lif.hpp").is_file()
    tcl = (out / "hls_syn_LIF_hls_0.tcl").read_text()
    assert "set_top $config_toplevelfxn" in tcl and "xczu3eg-sbva484-1-e" in tcl and "FINN_CUSTOM_HLS" not in tcl
    res = subprocess.run(["g++", "-std=c++14", "-c", f"-I{gxx.ap_types_dir()}", f"-I{out}", str(top),
                          "-o", str(tmp_path / "top.o")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    # The same glue through generate_hls, outside FINN's transformation.
    path = generate_hls(model, model.graph.node[0], tmp_path / "hls")
    assert path.read_text() == text


def test_per_step_graph_runs_whole_frames():
    """Graphs whose tensors are one time step (dim 0 = 1): per-step shapes and cycles, and
    execution on the whole (T, ...) frame, as toolchain.hw.snn.dense.execute runs them."""
    model = qonnx_lif_model((1, 3, 3, 4), t=8).transform(InferLIFLayer()).transform(SpecializeLIF())
    op = getCustomOp(model.graph.node[0])
    assert op.get_normal_input_shape() == (1, 3, 3, 4) and op.get_exp_cycles() == 36 + PIPELINE_DEPTH
    x = np.random.default_rng(6).integers(-2048, 2048, (16, 3, 3, 4)).astype(np.float32)
    ctx = {"x": x}
    op.execute_node(ctx, model.graph)
    want = ref(x, 8, LIFParams(state_bits=12, leak_shift=2, threshold=300, reset="zero", refractory=1))
    np.testing.assert_array_equal(ctx["y"], want)
    if shutil.which("g++") and importlib.util.find_spec("hls4ml"):
        op.set_nodeattr("exec_mode", "cppsim")
        ctx = {"x": x}
        op.execute_node(ctx, model.graph)
        np.testing.assert_array_equal(ctx["y"], want)
