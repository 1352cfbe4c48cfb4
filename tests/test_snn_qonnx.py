"""The SNN's QONNX form: the LIF custom op, the hand-built graph, and its exact agreement with
PyTorch (every layer, every time step), through the export_onnx stage too. Tiny networks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

import toolchain.snn.qonnx_ops as qonnx_ops
from toolchain.checkpoint import save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig
from toolchain.models import build_model
from toolchain.snn.export_qonnx import (build_snn_graph, export_snn, input_datatype, lif_outputs, random_counts,
                                        verify_snn)
from toolchain.snn.lif import LIFParams, li_step, initial_state, run_lif

LENGTH = 128
ATTRS = {"state_bits", "leak_shift", "threshold", "reset", "refractory", "time_steps", "mode"}


def tiny(**kw) -> ModelConfig:
    base = dict(name="snn", input_length=LENGTH, snn_group=16, snn_resolution=8, snn_filters=[4, 4], snn_kernel=3,
                snn_threshold=40, weight_bits=6)
    return ModelConfig(**{**base, **kw})


def built(**kw):
    torch.manual_seed(0)
    model = build_model(tiny(**kw)).eval()
    return model, build_snn_graph(model)


def lif_graph(shape, **attrs):
    node = helper.make_node("LIF", ["x"], ["y"], name="lif", domain="toolchain.snn", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    return ModelWrapper(helper.make_model(graph))


def test_lif_node_runs_lif_step_and_resets_every_frame():
    attrs = dict(state_bits=8, leak_shift=2, threshold=50, reset="zero", refractory=1, time_steps=5, mode="lif")
    params = LIFParams(8, 2, 50, "zero", 1)
    rng = np.random.default_rng(0)
    currents = rng.integers(-200, 200, size=(3 * 5, 2, 3))  # 3 frames of 5 steps, 6 neurons, saturating
    got = execute_onnx(lif_graph([15, 2, 3], **attrs), {"x": currents.astype(np.float32)})["y"]
    for f in range(3):  # every frame from v = 0, r = 0: the same as running it alone
        want, _ = run_lif(currents[5 * f:5 * f + 5], params)
        assert np.array_equal(got[5 * f:5 * f + 5], want)
    li = execute_onnx(lif_graph([15, 2, 3], **{**attrs, "mode": "li"}), {"x": currents.astype(np.float32)})["y"]
    for f in range(3):
        v = initial_state(currents[0]).v
        for t in range(5 * f, 5 * f + 5):
            v = li_step(currents[t], v, params)
            assert np.array_equal(li[t], v)
    assert li.max() == 127 and li.min() == -128  # saturated at both 8-bit bounds
    with pytest.raises(ValueError, match="non-integer"):
        execute_onnx(lif_graph([15, 2, 3], **attrs), {"x": currents.astype(np.float32) + 0.5})


def test_graph_nodes_attributes_and_datatypes():
    model, wrapper = built(snn_refractory=2, snn_reset="zero")
    nodes = wrapper.graph.node
    expected = ["Quant"] * 3 + ["Conv"] * 2 + ["Flatten", "MatMul"] + ["LIF"] * 3
    assert sorted(n.op_type for n in nodes) == sorted(expected)
    assert [n.op_type for n in nodes if n.op_type in ("Conv", "LIF", "Flatten", "MatMul")] == [
        "Conv", "LIF", "Conv", "LIF", "Flatten", "MatMul", "LIF"]
    for n in nodes:
        if n.op_type == "Quant":
            assert n.domain == "qonnx.custom_op.general"
            op = getCustomOp(n)
            assert (op.get_nodeattr("signed"), op.get_nodeattr("narrow")) == (1, 1)
            assert wrapper.get_tensor_datatype(n.output[0]).name == "INT6"
            scale, zero = wrapper.get_initializer(n.input[1]), wrapper.get_initializer(n.input[2])
            assert float(scale) == 1.0 and float(zero) == 0.0
        if n.op_type == "Conv":
            assert list(helper.get_attribute_value(next(a for a in n.attribute if a.name == "pads"))) == [1, 1, 1, 1]
    lifs = [n for n in nodes if n.op_type == "LIF"]
    assert all(n.domain == "toolchain.snn" and {a.name for a in n.attribute} == ATTRS for n in lifs)
    ops = [getCustomOp(n) for n in lifs]
    assert [op.get_nodeattr("mode") for op in ops] == ["lif", "lif", "li"]
    for op in ops:
        values = [op.get_nodeattr(k) for k in ("state_bits", "leak_shift", "threshold", "reset", "refractory",
                                                "time_steps")]
        assert values == [24, 4, 40, "zero", 2, 8]
        assert not [m for m in op.verify_node() if "missing" in m or "Invalid" in m or "needs" in m]
    assert wrapper.get_tensor_shape("spikes_in") == [8, 1, 8, 8] and wrapper.get_tensor_shape("readout") == [8, 24]
    assert wrapper.get_tensor_datatype("spikes_in").name == "UINT5"  # up to 16 samples in one cell
    assert [wrapper.get_tensor_datatype(t).name for t in lif_outputs(wrapper)] == ["BINARY", "BINARY", "INT24"]
    # the graph's readout weights are the Linear's integers, transposed for MatMul
    from toolchain.snn.layers import int_weight
    w = wrapper.get_initializer("syn2_w")
    assert np.array_equal(w, int_weight(model.layers[2].synapse).detach().numpy().T)


def test_input_datatypes():
    assert input_datatype(tiny(snn_binary=True)).name == "BINARY"
    assert input_datatype(tiny(snn_group=64)).name == "UINT7"
    # delta: levels of [-2, 2] in steps of 0.1 differ by at most 40 -> 6 bits
    assert input_datatype(tiny(snn_encoder="delta", snn_delta_step=0.1)).name == "UINT6"
    _, wrapper = built(snn_readout="count", snn_binary=True)
    assert wrapper.get_tensor_datatype("readout").name == "BINARY"


@pytest.mark.parametrize("kw", [
    {},
    dict(snn_readout="count", snn_binary=True),
    dict(snn_reset="zero", snn_refractory=2, snn_leak_shift=1),
    dict(snn_state_bits=8, snn_threshold=60, snn_leak_shift=0),  # an IF neuron, saturating state
    dict(snn_encoder="delta", snn_delta_step=0.2, snn_state_bits=12, snn_filters=[4]),
])
def test_qonnx_execution_equals_pytorch_at_every_step(kw):
    model, wrapper = built(**kw)
    check = verify_snn(model, wrapper, 3, seed=1)
    assert check["passed"] and check["mismatches"] == 0 and check["class_mismatches"] == 0, check
    assert check["spikes_per_layer"][0] > 0, "the first layer never fired: the comparison proves little"
    assert check["compared_values"] == 2 * 3 * check["time_steps"] * sum(
        int(np.prod(wrapper.get_tensor_shape(t)[1:])) for t in lif_outputs(wrapper))


def test_small_state_saturates_in_the_graph_as_in_pytorch():
    model, wrapper = built(snn_state_bits=8, snn_threshold=60)
    spikes = random_counts(np.random.default_rng(3), 1, wrapper.get_tensor_shape("spikes_in"), 31)[0]
    readout = execute_onnx(wrapper, {"spikes_in": spikes})["readout"]
    with torch.no_grad():
        v, _, trace = model.run(torch.from_numpy(spikes[None]), record=True)
    assert np.array_equal(readout, torch.stack(trace[-1])[:, 0].numpy())
    assert readout.max() == 127 or readout.min() == -128, "no saturation exercised"


def test_op_found_without_importing_it(tmp_path):
    model, _ = built()
    export_snn(model, tmp_path / "m.onnx")
    code = ("import sys, numpy as np\nfrom qonnx.core.modelwrapper import ModelWrapper\n"
            "from qonnx.core.onnx_exec import execute_onnx\n"
            f"w = ModelWrapper({str(tmp_path / 'm.onnx')!r})\n"
            "y = execute_onnx(w, {'spikes_in': np.ones((8, 1, 8, 8), np.float32)})['readout']\n"
            "assert 'toolchain.snn.qonnx_ops' in sys.modules and y.shape == (8, 24)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture()
def checkpoint(tmp_path):
    torch.manual_seed(0)
    cfg = tiny(snn_filters=[4])
    return save_checkpoint(tmp_path / "final_model.pth", build_model(cfg).eval(), cfg)


def test_export_stage_writes_verified_qonnx(checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["export_onnx", str(checkpoint), "--out", str(out), "--set", "export.verify_inputs=2"]) == 0
    assert "equal PyTorch exactly" in capsys.readouterr().out
    model = onnx.load(str(out / "model_export.onnx"))
    assert {n.domain for n in model.graph.node if n.op_type == "LIF"} == {"toolchain.snn"}
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    check = json.loads((out / "manifest.json").read_text())["stages"]["export_onnx"]["verification"]
    assert check["passed"] and check["mismatches"] == 0 and check["random_frames"] == 2
    assert check["compared_values"] == 2 * 2 * 8 * (4 * 64 + 24)


def test_corrupted_comparison_fails_and_writes_nothing(checkpoint, tmp_path, capsys, monkeypatch):
    original = qonnx_ops.run_frames

    def off_by_one(currents, params, time_steps, mode):
        out = original(currents, params, time_steps, mode)
        out.flat[-1] += 1  # one wrong value in one layer at one step
        return out

    monkeypatch.setattr(qonnx_ops, "run_frames", off_by_one)
    out = tmp_path / "run"
    assert main(["export_onnx", str(checkpoint), "--out", str(out), "--set", "export.verify_inputs=1"]) == 1
    err = capsys.readouterr().err
    assert "export verification failed" in err and "nothing was written" in err and err.count("\n") == 1
    assert not out.exists()


def test_verify_takes_the_class_by_the_models_readout_rule(tmp_path):
    """snn_readout=count: the class is the argmax of the spike counts over all steps, as the
    PyTorch model decides, not of the last step's spikes."""
    from toolchain.hw.snn.dense.verify import verify

    model, _ = built(snn_readout="count", snn_threshold=20)
    export_snn(model, tmp_path / "m.onnx")
    counts = random_counts(np.random.default_rng(0), 12, model_input_shape(model), 2)
    result = verify(tmp_path / "m.onnx", None, None, counts, ["random counts"] * len(counts), None, tmp_path)
    with torch.no_grad():
        _, spike_counts, trace = model.run(torch.from_numpy(counts), record=True)
    own = spike_counts.argmax(1).tolist()
    last_step = torch.stack(trace[-1], 1)[:, -1].argmax(1).tolist()
    assert result["classes"]["qonnx"] == own and result["passed"]
    assert own != last_step  # the inputs tell the two rules apart
    assert "counts" in result["class_rule"]


def model_input_shape(model):
    from toolchain.snn.encoders import encode

    return encode(model.config, torch.zeros(1, 2, LENGTH)).shape[1:]
