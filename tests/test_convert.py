"""ANN->SNN conversion: the threshold formula (SNN spike rates approach the CNN's activations
over lambda as T grows), exact weight copies, per-layer thresholds surviving a checkpoint, and
the `convert` stage end to end on a tiny synthetic file. Tiny networks; seconds on 2 cores."""

from __future__ import annotations

import json

import pytest
import torch

from checks import assert_one_line_error
from toolchain.checkpoint import load_model, save_checkpoint
from toolchain.cli import main
from toolchain.config import ChannelConfig, ModelConfig, SynthConfig
from toolchain.data.synth import generate
from toolchain.errors import ConfigError
from toolchain.models import build_model
from toolchain.train import convert as conv
from toolchain.snn.layers import int_weight

LENGTH = 128


def tiny(**kw) -> ModelConfig:
    base = dict(name="snn_cnn", input_length=LENGTH, snn_group=16, snn_resolution=8, snn_filters=[4, 4],
                snn_kernel=3, weight_bits=6)
    return ModelConfig(**{**base, **kw})


def hand_made_cnn() -> torch.nn.Module:
    """Fixed weights with a positive lean, so both layers are active on most of the plane."""
    torch.manual_seed(0)
    cnn = build_model(tiny()).eval()
    with torch.no_grad():
        for conv_layer in cnn.convs:
            conv_layer.weight.copy_(torch.randn_like(conv_layer.weight) * 0.04 + 0.015)
    return cnn


def saveable_cnn() -> torch.nn.Module:
    cnn = hand_made_cnn().train()
    cnn(torch.randn(8, 2, LENGTH))  # Brevitas saves a ReLU's scale once it has seen a training batch
    return cnn.eval()


def test_spike_rates_approach_activations_over_lambda():
    cnn = hand_made_cnn()
    counts = torch.randint(0, 4, (2, 1, 8, 8), generator=torch.Generator().manual_seed(1)).float()
    with torch.no_grad():
        acts = cnn.activations(counts)  # the CNN's input: `counts` spikes per step, every step
    lambdas = [float(a.max()) for a in acts]  # percentile 100
    # The same step count as the CNN was built for: lambda_0 = 1, theta_l = lambda_l / (s_l lambda_{l-1}).
    theta, exact = conv.thresholds(lambdas, conv.weight_scales(cnn), 16, 16, 24)
    scales = conv.weight_scales(cnn)
    assert exact[0] == pytest.approx(lambdas[0] / scales[0])
    assert exact[1] == pytest.approx(lambdas[1] / (scales[1] * lambdas[0]))
    assert all(t >= 50 for t in theta), "large thresholds keep the rounding error small"
    snn = conv.build_snn(cnn, conv.snn_config(cnn.config, 16, theta))
    errors = []
    for steps in (8, 64, 256):
        with torch.no_grad():
            _, _, trace = snn.run(counts.unsqueeze(1).repeat(1, steps, 1, 1, 1), record=True)
        rates = [torch.stack(layer).mean(0) for layer in trace[:-1]]
        errors.append([float((r - a / lam).abs().mean()) for r, a, lam in zip(rates, acts, lambdas)])
    for layer in range(2):
        assert errors[2][layer] < errors[0][layer], errors
    assert max(errors[2]) < 0.02, errors  # about 1/T plus the rounding of theta and the 8-bit ReLU


def test_first_threshold_scales_with_the_group():
    lambdas, scales = [2.0, 3.0], [0.01, 0.02]
    at_own, _ = conv.thresholds(lambdas, scales, 16, 16, 24)
    assert at_own == [200, 75]  # 2 / 0.01; 3 / (0.02 * 2)
    doubled, _ = conv.thresholds(lambdas, scales, 32, 16, 24)  # half the steps, twice the counts per step
    assert doubled == [400, 75]
    with pytest.raises(Exception, match="snn_state_bits"):
        conv.thresholds(lambdas, scales, 16, 16, 8)  # 200 > 127


def test_time_steps_must_divide_the_frame():
    assert conv.time_step_groups(tiny(), [8, 4, 8]) == {4: 32, 8: 16}
    with pytest.raises(Exception, match="T = 5 does not divide"):
        conv.time_step_groups(tiny(), [5])
    with pytest.raises(Exception, match="delta"):
        conv.time_step_groups(tiny(snn_encoder="delta"), [4])


def test_weights_copied_exactly_and_thresholds_survive_a_checkpoint(tmp_path):
    cnn = hand_made_cnn()
    snn_cfg = conv.snn_config(cnn.config, 16, [70, 90])
    snn = conv.build_snn(cnn, snn_cfg)
    sources = list(cnn.convs) + [cnn.readout]
    for layer, source in zip(snn.layers, sources):
        assert torch.equal(int_weight(layer.synapse), int_weight(source))
        assert torch.equal(layer.synapse.quant_weight().scale, source.quant_weight().scale)
    assert [l.params.threshold for l in conv.hidden_layers(snn)] == [70, 90]
    assert all(l.params.leak_shift == 0 and l.params.reset == "subtract" for l in snn.layers)
    save_checkpoint(tmp_path / "snn.pth", snn, snn_cfg)
    loaded, cfg, _ = load_model(tmp_path / "snn.pth")
    assert cfg.name == "snn" and cfg.snn_thresholds == [70, 90]
    assert [l.params.threshold for l in conv.hidden_layers(loaded)] == [70, 90]
    x = torch.randn(4, 2, LENGTH, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(loaded(x), snn.eval()(x))


def test_thresholds_config_is_checked():
    with pytest.raises(ConfigError, match="model.snn_thresholds"):
        tiny(snn_thresholds=[10])
    with pytest.raises(ConfigError, match="model.snn_thresholds"):
        tiny(snn_thresholds=[10, 0])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("data") / "synth.h5",
                    SynthConfig(frames_per_pair=4, snrs=[0, 10], length=LENGTH,
                                channel=ChannelConfig(max_cfo=0.001, max_sro_ppm=50)), progress=False)


SETS = ["convert.time_steps=[4, 8]", "convert.calibration_frames=64", "convert.finetune_epochs=1",
        "data.batch_size=32", "train.max_batches=2", "train.threads=1", "eval.batch_size=64"]


def sets(*items):
    return [a for s in items for a in ("--set", s)]


def test_stage_end_to_end(data, tmp_path, capsys):
    save_checkpoint(tmp_path / "cnn.pth", saveable_cnn(), tiny())
    run = tmp_path / "run"
    assert main(["convert", str(tmp_path / "cnn.pth"), "--data", str(data), "--out", str(run), *sets(*SETS)]) == 0
    doc = json.loads((run / "convert_report.json").read_text())
    rows = {r["time_steps"]: r for r in doc["time_steps"]}
    assert sorted(rows) == [4, 8], "8 is the CNN's own T (128 / 16), saved by default"
    assert rows[4]["thresholds"][1] == rows[8]["thresholds"][1]
    assert abs(rows[4]["thresholds"][0] - 2 * rows[8]["thresholds"][0]) <= 1, "twice the group, twice theta_1"
    for r in [*rows.values(), doc["ann"], doc["finetuned"]]:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["per_snr"] and "accuracy_snr_ge_6db" in r
    assert set(rows[8]["spike_rates"]) == {"lif0", "lif1"}
    assert doc["saved"] == {"time_steps": 8, "group": 16, "thresholds": rows[8]["thresholds"], "finetuned": True}
    assert (run / "convert_time_steps.png").stat().st_size > 0
    model, cfg, _ = load_model(run / "converted_model.pth")
    assert cfg.name == "snn" and cfg.snn_thresholds == rows[8]["thresholds"] and cfg.snn_leak_shift == 0
    assert json.loads((run / "manifest.json").read_text())["stages"]["convert"]["status"] == "ok"
    # `toolchain evaluate` takes the converted checkpoint as it is.
    assert main(["evaluate", str(run / "converted_model.pth"), "--data", str(data), "--out", str(tmp_path / "ev"),
                 *sets("eval.max_frames=32")]) == 0


@pytest.mark.parametrize("bad, needles", [
    ("vgg10", ("holds model 'vgg10'", "snn_cnn")),
    ("bare", ("not a toolchain checkpoint", "snn_cnn")),
    ("steps", ("T = 5 does not divide",)),
])
def test_refused_before_anything_is_written(bad, needles, data, tmp_path, capsys):
    ckpt = tmp_path / "model.pth"
    if bad == "vgg10":
        cfg = ModelConfig(name="vgg10", filters=4, dense=8, input_length=LENGTH)
        save_checkpoint(ckpt, build_model(cfg), cfg)
    elif bad == "bare":
        torch.save(build_model(tiny()).state_dict(), ckpt)
    else:
        save_checkpoint(ckpt, saveable_cnn(), tiny())
    run = tmp_path / "run"
    rc = main(["convert", str(ckpt), "--data", str(data), "--out", str(run), *sets("convert.time_steps=[5]")])
    assert_one_line_error(rc, capsys.readouterr().err, str(ckpt) if bad != "steps" else "convert.time_steps", *needles)
    assert not run.exists()
