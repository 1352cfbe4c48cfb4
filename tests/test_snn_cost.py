"""export_inference_cost on an SNN: hand-computed synapse and LIF counts per step and over T,
the activity discount from an energy report, and one-line errors for a bad activity file."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from checks import assert_one_line_error
from toolchain.checkpoint import save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig
from toolchain.models import build_model
from toolchain.reports.cost import challenge_score

# T = 128 / 64 = 2 steps of a 4 x 4 constellation plane; one conv LIF layer of 2 filters 3 x 3;
# 4-bit weights, 10-bit state, leak, subtract reset, refractory 3 (a 2-bit counter); membrane readout
CFG = ModelConfig(name="snn", input_length=128, snn_group=64, snn_resolution=4, snn_filters=[2], snn_kernel=3,
                  weight_bits=4, snn_state_bits=10, snn_leak_shift=2, snn_threshold=20, snn_refractory=3)
T = 2
CONV_MACS = 4 * 4 * 2 * 1 * 9  # output positions x C_out x C_in x k x k, per step
READ_MACS = 2 * 4 * 4 * 24  # features x classes
CONV_NEURONS, READ_NEURONS = 2 * 4 * 4, 24


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("snn_cost")
    torch.manual_seed(0)
    model = build_model(CFG).eval()
    ckpt = save_checkpoint(out / "final_model.pth", model, CFG)
    assert main(["export_onnx", str(ckpt), "--out", str(out), "--set", "export.verify_inputs=1"]) == 0
    return out


def cost(out, *args):
    assert main(["export_inference_cost", "--out", str(out), *args]) == 0
    return json.loads(out.read_text() if out.suffix == ".json" else (out / "model_cost.json").read_text())


def test_dense_counts_by_hand(exported):
    report = cost(exported / "dense.json", "--set", "cost.discount_sparsity=false")
    conv, read = report["layers"]
    assert (conv["name"], conv["op_type"], conv["mode"]) == ("syn0", "Conv", "lif")
    assert (read["name"], read["op_type"], read["mode"]) == ("syn1", "MatMul", "li")
    # synapses: a 64-sample step puts up to 64 spikes in a cell -> UINT7 counts into the conv,
    # BINARY spikes into the readout; qonnx's MACs cover all T rows
    assert conv["input_datatype"] == "UINT7" and read["input_datatype"] == "BINARY"
    assert (conv["macs_per_step"], conv["macs"]) == (CONV_MACS, CONV_MACS * T)
    assert (read["macs_per_step"], read["macs"]) == (READ_MACS, READ_MACS * T)
    assert conv["synapse_bops_per_step"] == CONV_MACS * 7 * 4 and conv["synapse_bops"] == CONV_MACS * 7 * 4 * T
    assert read["synapse_bops_per_step"] == READ_MACS * 1 * 4 and read["synapse_bops"] == READ_MACS * 4 * T
    # LIF: leak, saturating add, compare, subtract-reset = 4 x 10 bits, + a 2-bit refractory counter
    assert conv["neuron_ops_per_update"] == {"state_adds": 4, "counter_decrements": 1}
    assert conv["neurons"] == conv["state_updates_per_step"] == CONV_NEURONS
    assert conv["neuron_bops_per_step"] == CONV_NEURONS * (4 * 10 + 2) and conv["neuron_bops"] == CONV_NEURONS * 42 * T
    assert conv["mem_state_bits"] == CONV_NEURONS * (10 + 2)
    # leaky-integrator readout: leak and saturating add only, no counter
    assert read["neuron_ops_per_update"] == {"state_adds": 2, "counter_decrements": 0}
    assert read["neuron_bops_per_step"] == READ_NEURONS * 20 and read["mem_state_bits"] == READ_NEURONS * 10
    bops = T * (CONV_MACS * 28 + READ_MACS * 4 + CONV_NEURONS * 42 + READ_NEURONS * 20)
    weight_bits = 4 * (18 + READ_MACS)
    state_bits = CONV_NEURONS * 12 + READ_NEURONS * 10
    assert report["total_bops"] == bops == sum(layer["bops"] for layer in report["layers"])
    assert report["total_mem_w_bits"] == weight_bits and report["total_mem_state_bits"] == state_bits
    assert report["score"] == pytest.approx(challenge_score(bops, weight_bits + state_bits))
    step, over = report["snn"]["per_step"], report["snn"]["over_time_steps"]
    assert report["snn"]["time_steps"] == T and step["bops"] * T == over["bops"] == bops
    assert step["dense_macs"] == step["macs"] == CONV_MACS + READ_MACS
    assert report["unsupported"] == [] and report["op_mac_UINT7_INT4"] == CONV_MACS * T
    assert (exported / "model_cost.png").stat().st_size > 5000


def test_sparsity_discount_matches_weight_density(exported):
    report = cost(exported / "sparse.json")
    for layer in report["layers"]:
        assert layer["macs"] == pytest.approx(layer["macs_per_step"] * T * layer["weight_density"])


def energy_report(path, rates, extra=None):
    extra = extra or {}
    layers = [{"name": f"syn{i}", "input_rate": r, "macs_per_step": m, "synops_per_step": r * m, "neurons": n,
               "state_updates_per_step": n, **extra.get(i, {})}
              for i, (r, m, n) in enumerate(zip(rates, (CONV_MACS, READ_MACS), (CONV_NEURONS, READ_NEURONS)))]
    path.write_text(json.dumps({"layers": layers}))
    return path


def test_activity_discounts_synapse_work(exported, tmp_path):
    energy = energy_report(tmp_path / "energy_report.json", [0.25, 0.125])
    report = cost(exported / "active.json", "--set", "cost.discount_sparsity=false", "--activity", str(energy))
    conv, read = report["layers"]
    # each input spike is one accumulate of a 4-bit weight: synops x 4 bit operations
    assert conv["synops_per_step"] == 0.25 * CONV_MACS and conv["synapse_bops_per_step"] == 0.25 * CONV_MACS * 4
    assert read["synops_per_step"] == 0.125 * READ_MACS and read["synapse_bops"] == 0.125 * READ_MACS * 4 * T
    assert conv["neuron_bops"] == CONV_NEURONS * 42 * T  # neurons update every step whatever the activity
    expected = json.loads(energy.read_text())["layers"]
    for mine, theirs in zip(report["layers"], expected):  # the two reports agree layer by layer
        for key in ("name", "input_rate", "macs_per_step", "synops_per_step", "neurons", "state_updates_per_step"):
            assert mine[key] == theirs[key], key
    assert report["snn"]["activity"] == str(energy)
    assert report["snn"]["per_step"]["synops"] == 0.25 * CONV_MACS + 0.125 * READ_MACS
    synapses = 0.25 * CONV_MACS * 4 + 0.125 * READ_MACS * 4
    assert report["total_bops"] == T * (synapses + CONV_NEURONS * 42 + READ_NEURONS * 20)


@pytest.mark.parametrize("content, needles", [
    (None, ["nope.json", "no such file"]),
    ("{not json", ["bad.json", "not a readable JSON"]),
    ({"rates": []}, ["bad.json", "'layers'"]),
    ({"layers": [{"name": "syn0", "input_rate": 0.1}]}, ["bad.json", "'layers'", "2 synapse"]),
    ("rate", ["bad.json", "'layers[1].input_rate'", "'x'"]),
    ("name", ["bad.json", "'layers[0].name'", "'conv0'"]),
    ("macs", ["bad.json", "'layers[0].macs_per_step'", "another model"]),
])
def test_bad_activity_file_is_a_one_line_error(exported, tmp_path, capsys, content, needles):
    path = tmp_path / ("nope.json" if content is None else "bad.json")
    if content == "rate":
        energy_report(path, [0.1, 0.2], {1: {"input_rate": "x"}})
    elif content == "name":
        energy_report(path, [0.1, 0.2], {0: {"name": "conv0"}})
    elif content == "macs":
        energy_report(path, [0.1, 0.2], {0: {"macs_per_step": 7}})
    elif isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        path.write_text(json.dumps(content))
    out = tmp_path / "run"
    rc = main(["export_inference_cost", str(exported / "model_export.onnx"), "--out", str(out),
               "--activity", str(path)])
    assert_one_line_error(rc, capsys.readouterr().err, *needles)
    assert not out.exists()


def test_activity_for_a_cnn_is_an_error(tmp_path, capsys):
    w = numpy_helper.from_array(np.ones((4, 2, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3], pads=[1, 1])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "cnn.onnx"))
    energy = energy_report(tmp_path / "e.json", [0.1, 0.1])
    rc = main(["export_inference_cost", str(tmp_path / "cnn.onnx"), "--out", str(tmp_path / "r"),
               "--activity", str(energy)])
    assert_one_line_error(rc, capsys.readouterr().err, "cost.activity", "not a spiking network")
