"""The three kinds of trained model `classify` runs, behind one call: frames (B, 2, L) float32
I/Q -> scores (B, classes).

- a checkpoint (.pth): the PyTorch model (CNN or SNN; an SNN encodes inside its forward);
- a QONNX model (.onnx): qonnx execution; an SNN's graph takes spike counts, so its frames are
  encoded on the host with the settings its export recorded in the file's metadata;
- a `finn_build` output folder: the final HW model by FINN's Python execution
  (`toolchain.hw.finn.predict`; an SNN build one time step per image, `toolchain.hw.snn.predict`).

`calibrated` says whether the scores are the model's logits (probabilities = their softmax).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import Config, ModelConfig, from_dict
from ..errors import ToolchainError
from .evaluate import QonnxPredictor, TorchPredictor, _prepare_qonnx

KINDS = "a checkpoint (.pth), a QONNX model (.onnx) or a finn_build output folder (holding finn_report.json)"


def load_classifier(path: Path, cfg: Config):
    """The predictor for `path`, with `frame_length` and `calibrated` set."""
    from ..hw.finn.predict import is_finn_output, load_build

    if path.is_dir():
        if not is_finn_output(path):
            raise ToolchainError(f"{path}: a folder without finn_report.json; expected {KINDS}")
        return load_build(path)
    if not path.exists():
        raise ToolchainError(f"{path}: no such model; expected {KINDS}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _qonnx(path, cfg)
    if suffix in (".pth", ".pt"):
        return _torch(path, cfg)
    raise ToolchainError(f"{path}: not a model this stage runs; expected {KINDS}")


def _torch(path: Path, cfg: Config):
    from ..checkpoint import load_model
    from ..train.distributed import choose_device, eval_batch_size

    model, mcfg, _ = load_model(path, cfg.model)
    device = choose_device(cfg.eval.device, key="eval.device")
    predictor = TorchPredictor(model.to(device), mcfg.name, mcfg.num_classes, str(device),
                               eval_batch_size(cfg.eval.batch_size, device))
    predictor.frame_length, predictor.calibrated = mcfg.input_length, True
    return predictor


def _qonnx(path: Path, cfg: Config):
    model = _prepare_qonnx(path)
    if any(n.domain == "toolchain.snn" for n in model.graph.node):
        return SnnQonnxPredictor(path, model)
    shape = model.get_tensor_shape(model.graph.input[0].name)
    if len(shape) != 3 or shape[1] != 2:
        raise ToolchainError(f"{path}: input shape {shape}: expected (batch, 2, length) I/Q frames")
    predictor = QonnxPredictor.load(path, cfg.eval.onnx_batch_size, int(shape[2]))
    predictor.frame_length, predictor.calibrated = int(shape[2]), True
    return predictor


class SnnQonnxPredictor:
    """An SNN's QONNX graph (input: one frame's (T, C, H, W) spike counts): the encoder runs on
    the host, the graph per frame; logits as the PyTorch model makes them (the final readout,
    or its sum over steps for a count readout, standardised per frame, times its temperature)."""

    kind = "onnx"
    engine = "qonnx.core.onnx_exec.execute_onnx (host-side spike encoder)"
    device = "cpu"
    batch_size = 16
    calibrated = True

    def __init__(self, path: Path, model):
        from ..snn.export_qonnx import LOGIT_SCALE_KEY, MODEL_CONFIG_KEY

        text = model.get_metadata_prop(MODEL_CONFIG_KEY)
        if text is None:
            raise ToolchainError(f"{path}: this SNN graph carries no encoder settings ({MODEL_CONFIG_KEY}); export "
                                 "it again with toolchain export_onnx, or classify its checkpoint (.pth)")
        self.model, self.config = model, from_dict(ModelConfig, json.loads(text), "model")
        self.scale = float(model.get_metadata_prop(LOGIT_SCALE_KEY) or 1.0)
        self.model_name, self.num_outputs = self.config.name, self.config.num_classes
        self.frame_length = self.config.input_length
        self.input, self.output = model.graph.input[0].name, model.graph.output[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch
        from qonnx.core.onnx_exec import execute_onnx

        from ..snn.encoders import encode

        with torch.no_grad():
            counts = encode(self.config, torch.from_numpy(x)).numpy().astype(np.float32)
        rows = [execute_onnx(self.model, {self.input: c})[self.output] for c in counts]  # (T, classes) each
        readout = np.stack([r.sum(0) if self.config.snn_readout == "count" else r[-1] for r in rows]).astype(np.float64)
        centred = readout - readout.mean(1, keepdims=True)
        return centred / (centred.std(1, ddof=1, keepdims=True) + 1e-6) * self.scale
