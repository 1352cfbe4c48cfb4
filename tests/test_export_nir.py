"""Stage `export_nir`: the written file reads back with nir.read, node types, shapes and weights
equal the checkpoint's integer weights and LIF parameters, the limitations are in the file,
and a CNN checkpoint is refused with one line. Tiny SNNs; seconds on 2 cores."""

import json
import subprocess
import sys

import nir
import numpy as np
import torch
from checks import assert_one_line_error

from toolchain.checkpoint import save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig
from toolchain.models import build_model
from toolchain.snn.layers import int_weight

LENGTH = 128


def snn_checkpoint(path, **kw):
    base = dict(name="snn", input_length=LENGTH, snn_filters=[4, 3], snn_kernel=3, snn_resolution=8, snn_group=64,
                snn_threshold=40, snn_leak_shift=3, weight_bits=6)
    cfg = ModelConfig(**{**base, **kw})
    torch.manual_seed(0)
    model = build_model(cfg)
    save_checkpoint(path, model, cfg)
    return path, model


def test_export_reads_back_with_the_checkpoints_weights(tmp_path):
    ckpt, model = snn_checkpoint(tmp_path / "snn.pth")
    out = tmp_path / "run" / "exported.nir"
    assert main(["export_nir", str(ckpt), "--out", str(out)]) == 0
    graph = nir.read(out)
    types = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert types == {"input": "Input", "conv0": "Conv2d", "lif0": "LIF", "conv1": "Conv2d", "lif1": "LIF",
                     "flatten": "Flatten", "readout": "Linear", "li": "LI", "output": "Output"}
    assert graph.edges == [("input", "conv0"), ("conv0", "lif0"), ("lif0", "conv1"), ("conv1", "lif1"),
                           ("lif1", "flatten"), ("flatten", "readout"), ("readout", "li"), ("li", "output")]
    for i, name in enumerate(("conv0", "conv1", "readout")):
        want = int_weight(model.layers[i].synapse).detach().numpy()
        got = graph.nodes[name].weight
        assert got.shape == want.shape and np.array_equal(got, want), name
        assert np.array_equal(got, np.round(got)) and np.abs(got).max() <= 31  # 6-bit integers
    assert list(graph.nodes["conv0"].padding) == [1, 1]
    assert list(graph.nodes["input"].input_type["input"]) == [1, 8, 8]
    assert list(graph.nodes["output"].output_type["output"]) == [24]
    lif = graph.nodes["lif1"]
    assert lif.tau.shape == (3, 8, 8)
    # v - (v >> 3) + I  ~  v (1 - 1/8) + I: tau = r = 8 (dt = 1); v >= 40 <=> v > 39.5 on integers
    assert np.all(lif.tau == 8) and np.all(lif.r == 8) and np.all(lif.v_leak == 0)
    assert np.all(lif.v_threshold == 39.5) and np.all(lif.v_reset == 0)
    assert lif.metadata["threshold"] == 40 and lif.metadata["reset"] == "subtract"
    assert lif.metadata["state_bits"] == 24 and "arithmetic shift" in lif.metadata["update_rule"]
    li = graph.nodes["li"]
    assert li.tau.shape == (24,) and np.all(li.tau == 8)

    limits = graph.metadata["limitations"]
    assert set(limits) >= {"reset_by_subtraction", "saturation", "shift_floor", "refractory",
                           "threshold_comparison", "encoder"}
    assert limits["reset_by_subtraction"].startswith("applies=True")
    assert limits["refractory"].startswith("applies=False")
    assert "[-8388608, 8388607]" in limits["saturation"] and "v >= 40" in limits["threshold_comparison"]
    assert "constellation" in limits["encoder"] and graph.metadata["time_steps"] == 2
    entry = json.loads((out.parent / "manifest.json").read_text())["stages"]["export_nir"]
    assert entry["outputs"] == {"model_nir": "exported.nir"} and entry["nir"]["nodes"]["lif0"] == "LIF"
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".part")] == []


def test_variants_no_leak_count_readout_delta_zero_reset(tmp_path):
    ckpt, _ = snn_checkpoint(tmp_path / "a.pth", snn_leak_shift=0, snn_readout="count", snn_filters=[4])
    assert main(["export_nir", str(ckpt), "--out", str(tmp_path / "a")]) == 0
    graph = nir.read(tmp_path / "a" / "model.nir")
    assert type(graph.nodes["lif0"]).__name__ == "IF" and type(graph.nodes["lif1"]).__name__ == "IF"
    assert "li" not in graph.nodes and graph.metadata["readout"] == "count"
    assert graph.metadata["limitations"]["shift_floor"].startswith("applies=False")

    ckpt, model = snn_checkpoint(tmp_path / "b.pth", snn_encoder="delta", snn_reset="zero", snn_refractory=2,
                                 snn_filters=[4])
    assert main(["export_nir", str(ckpt), "--out", str(tmp_path / "b" / "d.nir")]) == 0
    graph = nir.read(tmp_path / "b" / "d.nir")
    assert graph.nodes["conv0"].weight.shape == (4, 4, 1, 3)  # 1 x k kernels on the 1 x group plane
    assert list(graph.nodes["output"].output_type["output"]) == [24]
    assert graph.metadata["limitations"]["reset_by_subtraction"].startswith("applies=False")
    assert graph.metadata["limitations"]["refractory"].startswith("applies=True")


def test_a_cnn_checkpoint_is_refused_with_one_line(tmp_path):
    cfg = ModelConfig(input_length=LENGTH, filters=8, dense=16)
    model = build_model(cfg)
    with torch.no_grad():
        model(torch.randn(2, 2, LENGTH))  # completes Brevitas' state so the checkpoint loads
    save_checkpoint(tmp_path / "cnn.pth", model.eval(), cfg)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "toolchain.export_nir", str(tmp_path / "cnn.pth"), "--out", str(out)],
                          capture_output=True, text=True)
    assert_one_line_error(proc.returncode, proc.stderr, "cnn.pth", "not a spiking network", "'snn'")
    assert not out.exists()
