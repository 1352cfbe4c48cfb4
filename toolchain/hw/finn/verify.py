"""Class-exact verification of a FINN build against the QONNX model it started from.

Frames (random unit-power I/Q and a few synthetic modulated ones) go through:
- the QONNX model (qonnx execution, float input): the reference class = argmax of the logits;
- the PyTorch model, when its checkpoint is known (same classes required);
- FINN's streamlined model and its final HW model (FINN python execution; specialised HLS/RTL
  layers are executed by their Python reference, `finn.util.verification.despecialize_model`).

The FINN models take what the accelerator takes: the input quantizer's integer codes
(`x_int = clip(round(x / scale))`, INT8 for the 8-bit [-2, 2] quantizer: scale 1/64), laid out
channels-last [1, L, 1, C] (a RadioML frame as stored, (L, 2)); they return the class index.
Besides the classes, the integer scores that enter TopK (streamlined) and LabelSelect (HW) must
be bit-identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from ...errors import ToolchainError
from .steps import InputQuant, input_quant


def make_frames(n_random: int, n_synthetic: int, channels: int, length: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """(frames (n, C, L) float32, what each frame is). Synthetic frames need I/Q (C = 2) and
    the generator's minimum length of 64 samples; otherwise only random frames are used."""
    rng = np.random.default_rng(seed)
    frames = [(rng.standard_normal((n_random, channels, length)) / np.sqrt(2)).astype(np.float32)]
    kinds = ["random"] * n_random
    if n_synthetic and channels == 2 and length >= 64:
        from ...config import SynthConfig
        from ...data.classes import CLASSES
        from ...data.synth import generate_blocks, to_iq

        cfg = SynthConfig(frames_per_pair=1, snrs=[30], length=length, seed=seed)
        for ci in np.linspace(0, len(CLASSES) - 1, n_synthetic).round().astype(int):
            iq = to_iq(generate_blocks(cfg, int(ci), range(0, 1)))  # (1, L, 2)
            frames.append(iq.transpose(0, 2, 1).astype(np.float32))
            kinds.append(f"synthetic:{CLASSES[ci]}@30dB")
    return np.concatenate(frames), kinds


def accelerator_input(x: np.ndarray, quant: InputQuant, shape: list[int]) -> np.ndarray:
    """Float frames (n, C, L) -> the accelerator's integer input (n, L, 1, C), as float32
    holding integers (FINN's execution convention). qonnx's own Quant function rounds and clips,
    so the codes are exactly those the QONNX model computes internally."""
    from qonnx.custom_op.general.quant import quant as qonnx_quant

    n, c, length = x.shape
    if list(shape[1:]) != [length, 1, c]:
        raise ToolchainError(f"FINN model input shape {shape}: expected [1, {length}, 1, {c}] (channels-last 1-D)")
    q = qonnx_quant(x, np.float32(quant.scale), np.float32(0.0), np.float32(quant.bits), int(quant.signed),
                    int(quant.narrow), quant.rounding_mode)
    codes = np.round(q / np.float32(quant.scale)).astype(np.float32)
    return codes.transpose(0, 2, 1).reshape(n, length, 1, c)


def qonnx_logits(model, x: np.ndarray) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {iname: x[i:i + 1]})[oname].reshape(1, -1) for i in range(len(x))])


def _finn_classes(model, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class per frame, integer scores entering the final TopK/LabelSelect)."""
    from finn.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    last = model.find_producer(oname)
    classes, scores = [], []
    for i in range(len(xi)):
        ctx = execute_onnx(model, {iname: xi[i:i + 1]}, return_full_exec_context=True)
        classes.append(int(np.asarray(ctx[oname]).ravel()[0]))
        scores.append(np.asarray(ctx[last.input[0]], dtype=np.float64).ravel())
    return np.asarray(classes), np.stack(scores)


def _torch_logits(checkpoint: Path, fallback, x: np.ndarray) -> np.ndarray:
    import torch

    from ...checkpoint import load_model

    model, model_cfg, _ = load_model(checkpoint, fallback)
    if model_cfg.input_length != x.shape[2]:
        raise ToolchainError(f"{checkpoint}: model input length {model_cfg.input_length} differs from the "
                             f"ONNX model's {x.shape[2]}: not the checkpoint of this model")
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def verify(onnx_file: Path, streamlined: Optional[Path], hw: Optional[Path], frames: np.ndarray, kinds: list[str],
           checkpoint: Optional[Path] = None, model_cfg=None) -> dict[str, Any]:
    """Run every model on `frames`; the dict goes into finn_report.json (`passed` decides)."""
    from finn.util.verification import despecialize_model
    from qonnx.core.modelwrapper import ModelWrapper

    reference = ModelWrapper(str(onnx_file))
    quant, _ = input_quant(reference)
    expected = qonnx_logits(reference, frames).argmax(1)
    result: dict[str, Any] = {
        "frames": len(frames), "kinds": kinds, "reference": "qonnx execution of the input ONNX (argmax of logits)",
        "input_quantizer": quant.to_json(), "classes": {"qonnx": expected.tolist()}, "mismatches": {},
        "skipped": {},
    }
    if checkpoint is not None:
        got = _torch_logits(checkpoint, model_cfg, frames).argmax(1)
        result["classes"]["pytorch"] = got.tolist()
        result["mismatches"]["pytorch"] = int((got != expected).sum())
        result["pytorch_checkpoint"] = str(checkpoint)
    else:
        result["skipped"]["pytorch"] = "no checkpoint given or found in the run directory"

    scores: dict[str, np.ndarray] = {}
    for name, path in (("streamlined", streamlined), ("hw", hw)):
        if path is None:
            result["skipped"][name] = "this build's steps do not produce it"
            continue
        model = ModelWrapper(str(path))
        if name == "hw":
            model = despecialize_model(model)
        xi = accelerator_input(frames, quant, model.get_tensor_shape(model.graph.input[0].name))
        got, scores[name] = _finn_classes(model, xi)
        result["classes"][name] = got.tolist()
        result["mismatches"][name] = int((got != expected).sum())
        result.setdefault("models", {})[name] = path.name
    if len(scores) == 2:
        result["scores_bit_exact"] = bool(np.array_equal(scores["streamlined"], scores["hw"]))
    result["accelerator_input"] = {"layout": "[1, L, 1, C] channels-last", "datatype": quant.datatype,
                                   "codes": "clip(round(x / scale))", "scale": quant.scale}
    result["passed"] = all(v == 0 for v in result["mismatches"].values()) and result.get("scores_bit_exact", True)
    return result


def summary_line(result: dict[str, Any]) -> str:
    models = ", ".join(["QONNX", *[m for m in ("pytorch", "streamlined", "hw") if m in result["classes"]]])
    if result["passed"]:
        exact = " and bit-exact integer scores" if result.get("scores_bit_exact") else ""
        return f"verification passed: {result['frames']} frames, identical classes ({models}){exact}"
    bad = ", ".join(f"{k}: {v} of {result['frames']} frames differ" for k, v in result["mismatches"].items() if v)
    if result.get("scores_bit_exact") is False:
        bad = ", ".join(filter(None, [bad, "streamlined and HW integer scores differ"]))
    return f"verification failed ({bad})"
