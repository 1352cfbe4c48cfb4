"""VGG10 in Brevitas against the official challenge artifacts."""

from pathlib import Path

import numpy as np
import pytest
import torch

from toolchain.checkpoint import load_model, save_checkpoint
from toolchain.config import ModelConfig, load_config
from toolchain.errors import ConfigError, ToolchainError
from toolchain.models import build_model

REF = Path(__file__).parents[1] / "models" / "reference" / "vgg10_w8a8_baseline"
OFFICIAL_PTH = REF / "pretrained_VGG10_w8a8_20.pth"
OFFICIAL_ONNX = REF / "pretrained_VGG10_w8a8_20_export.onnx"


def test_official_weights_compute_what_the_official_onnx_computes():
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    model, cfg, _ = load_model(OFFICIAL_PTH, ModelConfig())
    onnx_model = cleanup_model(ModelWrapper(str(OFFICIAL_ONNX)))
    iname, oname = onnx_model.graph.input[0].name, onnx_model.graph.output[0].name
    x = np.random.default_rng(1).standard_normal((12, 2, 1024)).astype(np.float32)
    x[:3] *= 3.0  # beyond the [-2, 2] input range: the input quantizer's clipping must agree too
    with torch.no_grad():
        ours = model(torch.from_numpy(x)).numpy()
    theirs = np.concatenate([execute_onnx(onnx_model, {iname: x[i : i + 1]})[oname] for i in range(len(x))])
    np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1))
    assert np.abs(ours - theirs).max() < 1e-4


def test_fpga_variant_is_one_config_away():
    cfg = load_config(None, ["model.weight_bits=4", "model.act_bits=4", "model.filters=32"]).model
    model = build_model(cfg)
    convs = [m for m in model.modules() if m.__class__.__name__ == "QuantConv1d"]
    assert len(convs) == 7 and convs[0].out_channels == 32
    assert all(int(m.quant_weight().bit_width) == 4 for m in convs)
    assert model(torch.zeros(2, 2, 1024)).shape == (2, 24)


def test_per_layer_bit_widths():
    cfg = ModelConfig(layer_weight_bits=[8, 6, 6, 6, 6, 6, 4, 6, 6, 8], layer_act_bits=[6] * 8 + [8])
    model = build_model(cfg)
    layers = [m for m in model.modules() if m.__class__.__name__ in ("QuantConv1d", "QuantLinear")]
    assert [int(m.quant_weight().bit_width) for m in layers] == cfg.layer_weight_bits
    relus = [m for m in model.modules() if m.__class__.__name__ == "QuantReLU"]
    assert [int(m.act_quant.bit_width()) for m in relus] == cfg.layer_act_bits
    with pytest.raises(ConfigError, match="model.layer_weight_bits"):
        build_model(ModelConfig(layer_weight_bits=[8, 8]))
    with pytest.raises(ConfigError, match="model.name"):
        build_model(ModelConfig(name="resnet"))
    with pytest.raises(ConfigError, match="model.input_length"):
        ModelConfig(input_length=1000)


def test_checkpoint_embeds_its_model_config(tmp_path):
    cfg = ModelConfig(filters=8, dense=16, weight_bits=4)
    model = build_model(cfg)
    model.train()(torch.randn(4, 2, 1024))  # Brevitas sets activation scales on the first training pass
    path = save_checkpoint(tmp_path / "m.pth", model, cfg, epoch=3)
    loaded, loaded_cfg, payload = load_model(path, fallback=ModelConfig())  # fallback ignored
    assert loaded_cfg == cfg and payload["epoch"] == 3
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_bad_checkpoints(tmp_path):
    with pytest.raises(ToolchainError, match="no such checkpoint"):
        load_model(tmp_path / "none.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ToolchainError, match="not a loadable PyTorch checkpoint"):
        load_model(junk)
    with pytest.raises(ToolchainError, match="bare state_dict.*--model"):
        load_model(OFFICIAL_PTH)
    with pytest.raises(ToolchainError, match="do not fit model 'vgg10'"):
        load_model(OFFICIAL_PTH, ModelConfig(filters=32))
