"""two_branch (Imperial): shapes, auxiliary heads in training only, training through
train_initial with the summed loss, QONNX export equal to PyTorch, the statistics branch's ops
reported by the cost stage, the cumulants against numpy on known signals."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from checks import assert_one_line_error
from toolchain.checkpoint import load_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig, SynthConfig
from toolchain.data.synth import generate
from toolchain.errors import ConfigError
from toolchain.models import build_model
from toolchain.models.two_branch import N_STATS, cumulants, statistics

LENGTH = 256  # the shortest frame for AvgPool + 7 stride-2 convs
SMALL = ["model.name=two_branch", f"model.input_length={LENGTH}", "model.filters=8", "model.dense=16",
         "model.stats_dense=8", "data.batch_size=64", "train.threads=1", "train.max_batches=3"]
CFG = ModelConfig(name="two_branch", input_length=LENGTH, filters=8, dense=16, stats_dense=8)


def sets(*items):
    return [a for item in (*SMALL, *items) for a in ("--set", item)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("data") / "synth.h5",
                    SynthConfig(frames_per_pair=8, snrs=[20, 30], length=LENGTH), progress=False)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    assert main(["train_initial", str(data), "--out", str(run), *sets("train.epochs=1")]) == 0
    return run


def test_shapes_and_auxiliary_heads_only_in_training():
    torch.manual_seed(0)
    model = build_model(CFG)
    x = torch.randn(5, 2, LENGTH)
    assert statistics(x).shape == (5, N_STATS)
    model.train()
    logits, aux_conv, aux_stats = model(x)
    assert logits.shape == aux_conv.shape == aux_stats.shape == (5, 24)
    y = torch.arange(5)
    expected = sum(F.cross_entropy(o, y) for o in (logits, aux_conv, aux_stats))
    assert model.training_loss((logits, aux_conv, aux_stats), y).item() == pytest.approx(expected.item())
    model.eval()
    out = model(x)
    assert isinstance(out, torch.Tensor) and out.shape == (5, 24)
    with pytest.raises(ConfigError, match="model.input_length"):
        build_model(ModelConfig(name="two_branch", input_length=128))
    with pytest.raises(ConfigError, match="model.layer_weight_bits"):
        build_model(ModelConfig(name="two_branch", input_length=LENGTH, layer_weight_bits=[8] * 10))


def test_trains_exports_equal_to_pytorch_and_drops_the_aux_heads(trained):
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    assert log and np.isfinite(log[-1]["train_loss"])
    assert main(["export_onnx", "--out", str(trained), "--set", "export.verify_inputs=8"]) == 0
    verification = json.loads((trained / "manifest.json").read_text())["stages"]["export_onnx"]["verification"]
    assert verification["passed"] and verification["class_mismatches"] == 0 and verification["max_abs_diff"] < 1e-4
    import onnx

    graph = onnx.load(str(trained / "model_export.onnx")).graph
    assert [o.dim[1].dim_value for o in [graph.output[0].type.tensor_type.shape]] == [24]
    gemms = [n for n in graph.node if n.op_type in ("Gemm", "MatMul")]
    assert len(gemms) == 3  # conv-branch dense, statistics dense, classifier: no auxiliary heads


def test_cost_stage_refuses_the_statistics_ops_unless_allowed(trained, capsys):
    if not (trained / "model_export.onnx").exists():
        assert main(["export_onnx", "--out", str(trained)]) == 0
    capsys.readouterr()
    rc = main(["export_inference_cost", "--out", str(trained)])
    err = capsys.readouterr().err
    assert_one_line_error(rc, err, "ReduceMean", "Sqrt", "Pow", "--allow-unsupported")
    assert main(["export_inference_cost", "--out", str(trained), "--allow-unsupported"]) == 0
    report = json.loads((trained / "model_cost.json").read_text())
    assert {"ReduceMean", "Sqrt", "Pow"} <= set(report["unsupported"])
    assert report["total_bops"] > 0 and report["score"] > 0


def _numpy_cumulants(x):
    """Textbook cumulants of a unit-power complex signal (Swami & Sadler), complex arithmetic."""
    x = x / np.sqrt(np.mean(np.abs(x) ** 2))
    c = np.conj(x)

    def M(p, q):
        return np.mean(x ** (p - q) * c ** q)

    M20, M21, M22, M40, M41, M42, M43 = M(2, 0), M(2, 1), M(2, 2), M(4, 0), M(4, 1), M(4, 2), M(4, 3)
    C40 = M40 - 3 * M20**2
    C41 = M41 - 3 * M20 * M21
    C42 = M42 - abs(M20) ** 2 - 2 * M21**2
    C60 = M(6, 0) - 15 * M20 * M40 + 30 * M20**3
    C61 = M(6, 1) - 5 * M21 * M40 - 10 * M20 * M41 + 30 * M20**2 * M21
    C62 = M(6, 2) - 6 * M20 * M42 - 8 * M21 * M41 - M22 * M40 + 6 * M20**2 * M22 + 24 * M21**2 * M20
    C63 = M(6, 3) - 9 * M21 * M42 + 12 * M21**3 - 3 * M20 * M43 - 3 * M22 * M41 + 18 * M20 * M21 * M22
    return np.array([abs(M20), M21.real, abs(C40), abs(C41), C42.real, abs(C60), abs(C61), abs(C62), C63.real])


@pytest.mark.parametrize("signal", ["qpsk", "bpsk", "noise"])
def test_cumulants_match_numpy(signal):
    rng = np.random.default_rng(3)
    n = 1024
    if signal == "qpsk":
        # Each symbol equally often, so that the sample cumulants are the textbook ones; any level.
        x = np.exp(1j * (np.pi / 4 + np.pi / 2 * rng.permutation(np.arange(n) % 4))) * 0.3
    elif signal == "bpsk":
        x = (2 * rng.integers(0, 2, n) - 1) * np.exp(0.4j) * 2.0
    else:
        x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    ours = cumulants(torch.tensor(x.real[None], dtype=torch.float64), torch.tensor(x.imag[None], dtype=torch.float64))
    # Tolerance: the model adds EPS = 1e-6 to the power and under every magnitude's square root
    # (zero frames), which moves a magnitude near zero by up to 1e-3 and the rest by ~1e-5 relative.
    np.testing.assert_allclose(ours[0].numpy(), _numpy_cumulants(x), rtol=1e-3, atol=2e-3)
    if signal == "qpsk":  # textbook values of unit-power QPSK: |C40| 1, C42 -1, C63 4
        np.testing.assert_allclose(ours[0].numpy()[[2, 4, 8]], [1, -1, 4], atol=1e-3)


def test_spreads_of_a_tone():
    """A constant-amplitude tone: no amplitude or frequency spread; phase spread ~1 (all phases)."""
    t = np.arange(LENGTH)
    x = np.exp(2j * np.pi * 0.05 * t)
    iq = torch.tensor(np.stack([x.real, x.imag])[None], dtype=torch.float64)
    amp, phase, freq = statistics(iq)[0, -3:].tolist()
    assert abs(amp) < 1e-3 and abs(freq) < 1e-3 and phase > 0.9
    means = statistics(iq + 0.5)[0, :2].tolist()
    assert means == pytest.approx([0.5 + x.real.mean(), 0.5 + x.imag.mean()])


def test_bit_width_reduction_covers_every_layer(data, trained, tmp_path):
    """reduce_bits counts two_branch's 12 weight layers (auxiliary heads included) and 9 QuantReLUs."""
    out = tmp_path / "reduced"
    assert main(["reduce_bits", str(trained / "initial_model.pth"), "--data", str(data), "--out", str(out),
                 *sets("prune.bits_weight=[[6]]", "prune.bits_act=[[5]]", "prune.bits_finetune_epochs=1",
                       "prune.score=false", "prune.criterion=absolute", "prune.min_acc=0")]) == 0
    payload = load_checkpoint(out / "final_model.pth")
    assert payload["model_config"]["layer_weight_bits"] == [6] * 12
    assert payload["model_config"]["layer_act_bits"] == [5] * 9
