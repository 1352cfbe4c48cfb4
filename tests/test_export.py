"""export_onnx and export_inference_cost, on the official baseline and on small models."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from toolchain.checkpoint import save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig
from toolchain.models import build_model

OFFICIAL_PTH = Path(__file__).parents[1] / "models" / "reference" / "vgg10_w8a8_baseline" / "pretrained_VGG10_w8a8_20.pth"


@pytest.fixture(scope="module")
def official_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("official")
    assert main(["export_onnx", str(OFFICIAL_PTH), "--model", "vgg10", "--out", str(out / "model_export.onnx")]) == 0
    assert main(["export_inference_cost", str(out / "model_export.onnx"), "--out", str(out / "model_cost.json")]) == 0
    return out


def test_official_baseline_costs_exactly_the_challenge_figures(official_export):
    report = json.loads((official_export / "model_cost.json").read_text())
    assert report["total_bops"] == 807_699_904
    assert report["total_mem_w_bits"] == 1_244_936
    assert report["score"] == 1.0
    # the flat keys of the 2021 challenge scripts and qonnx's nested dict, both
    for key in ("total_mem_o_bits", "op_mac_SCALEDINT<8>_SCALEDINT<8>", "mem_w_SCALEDINT<8>", "discount_sparsity"):
        assert key in report
    assert report["unsupported"] == [] and report["total_cost"]["total_bops"] == 807_699_904
    layers = report["layers"]
    assert [layer["op_type"] for layer in layers] == ["Conv"] * 7 + ["MatMul", "MatMul", "Gemm"]
    assert sum(layer["bops"] for layer in layers) == report["total_bops"]
    assert (official_export / "model_final.onnx").is_file() and (official_export / "model_cost.png").stat().st_size > 5000


def test_export_is_one_verified_file(official_export):
    files = sorted(p.name for p in official_export.iterdir())
    assert not [f for f in files if f.endswith(".data") or f.endswith(".part")]
    model = onnx.load(str(official_export / "model_export.onnx"))
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 2, 1024]
    assert {n.op_type for n in model.graph.node} >= {"Quant", "Conv", "MatMul", "Gemm"}
    assert all(t.data_location != TensorProto.EXTERNAL for t in model.graph.initializer)
    stages = json.loads((official_export / "manifest.json").read_text())["stages"]
    check = stages["export_onnx"]["verification"]
    assert check["passed"] and check["class_mismatches"] == 0 and check["max_abs_diff"] < 1e-4
    assert set(stages) == {"export_onnx", "export_inference_cost"}


def test_class_changes_ignore_ties_only():
    from toolchain.models.export_qonnx import class_changes

    expected = np.array([[1.0, 1.0 - 1e-5, 0.0], [2.0, 1.0, 0.0], [0.0, 0.5, 0.1]])
    got = np.array([[1.0, 1.0 + 1e-6, 0.0], [1.0, 2.0, 0.0], [0.0, 0.5, 0.1]])
    assert class_changes(expected, got, 1e-4) == 1  # row 0 is a tie flipped by rounding, row 1 a real change
    assert class_changes(expected, got, 0.0) == 2


def test_failed_verification_fails_the_stage_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    # atol 0 demands bit-identical floats; qonnx's float path differs by rounding, so it must fail
    rc = main(["export_onnx", str(OFFICIAL_PTH), "--model", "vgg10", "--out", str(out), "--set", "export.atol=0",
               "--set", "export.verify_inputs=2"])
    assert rc == 1 and "export verification failed" in capsys.readouterr().err
    assert not out.exists()


def test_pruned_weights_are_discounted(tmp_path):
    cfg = ModelConfig(filters=8, dense=16, weight_bits=4, act_bits=4)
    model = build_model(cfg)
    model.train()(torch.randn(8, 2, 1024))
    with torch.no_grad():
        for m in model.modules():
            if m.__class__.__name__ in ("QuantConv1d", "QuantLinear"):
                m.weight[..., ::2] = 0.0  # half of every layer's weights pruned
    ckpt = save_checkpoint(tmp_path / "final_model.pth", model.eval(), cfg)
    out = tmp_path / "run"
    assert main(["export_onnx", str(ckpt), "--out", str(out), "--set", "export.verify_inputs=4"]) == 0
    assert main(["export_inference_cost", "--out", str(out)]) == 0
    sparse = json.loads((out / "model_cost.json").read_text())
    assert main(["export_inference_cost", "--out", str(out / "dense.json"), "--set", "cost.discount_sparsity=false"]) == 0
    dense = json.loads((out / "dense.json").read_text())
    layers = [m for m in model.modules() if m.__class__.__name__ in ("QuantConv1d", "QuantLinear")]
    weights = sum(m.weight.numel() for m in layers)
    assert dense["total_mem_w_elems"] == weights
    # zeros after quantization: the pruned half plus weights that round to 0 at 4 bits
    zeros = sum(int((m.quant_weight().int() == 0).sum()) for m in layers)
    assert zeros >= weights // 2
    assert sparse["total_mem_w_elems"] == weights - zeros
    assert sparse["total_mem_w_bits"] == 4 * sparse["total_mem_w_elems"]
    assert sparse["score"] < dense["score"]


def unsupported_model(path):
    w = numpy_helper.from_array(np.ones((4, 2, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3], pads=[1, 1], name="conv"),
         helper.make_node("ReduceMean", ["c"], ["y"], axes=[2], keepdims=0, name="mean")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_unsupported_ops_are_an_error_unless_allowed(tmp_path, capsys):
    model = unsupported_model(tmp_path / "m.onnx")
    out = tmp_path / "run"
    assert main(["export_inference_cost", str(model), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "ReduceMean" in err and "--allow-unsupported" in err and not out.exists()
    assert main(["export_inference_cost", str(model), "--out", str(out), "--allow-unsupported"]) == 0
    assert json.loads((out / "model_cost.json").read_text())["unsupported"] == ["ReduceMean"]


def test_bad_inputs(tmp_path, capsys):
    assert main(["export_inference_cost", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "r")]) == 1
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage")
    assert main(["export_inference_cost", str(junk), "--out", str(tmp_path / "r")]) == 1
    assert main(["export_onnx", str(OFFICIAL_PTH), "--out", str(tmp_path / "r"), "--set", "model.filters=32"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "none.onnx" in err[0] and "not a readable ONNX" in err[1]
    assert "do not fit model 'vgg10'" in err[2]
    assert not (tmp_path / "r").exists()
