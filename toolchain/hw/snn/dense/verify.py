"""Bit-exact verification of an SNN FINN build against the QONNX model it started from.

Inputs are encoded frames, (T, C, H, W) spike counts: random I/Q frames and synthetic modulated
ones through the checkpoint's encoder when the checkpoint is known, plus random count tensors
over the input datatype's whole range (they drive saturation and refractory periods harder than
real frames). Every model must give the same readout at every time step, exactly:
- the QONNX model (qonnx execution of the whole (T, ...) tensor): the reference;
- the PyTorch model, when its checkpoint is known;
- FINN's model after lowering and the final HW model (specialised layers run by their Python
  reference), one time step per image (`execute.execute_frame`);
- the C simulation: every LIF_hls kernel compiled with g++ and run on the currents its layer
  receives in the HW model; its spikes / membranes must equal the Python op's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ....errors import ToolchainError
from .execute import execute_frame, graph_layout


def make_inputs(onnx_file: Path, checkpoint: Optional[Path], n_frames: int, n_synthetic: int, n_random: int,
                seed: int) -> tuple[np.ndarray, list[str]]:
    """(inputs (n, T, C, H, W) float32 counts, what each is)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from ....snn.export_qonnx import random_counts

    model = ModelWrapper(str(onnx_file))
    iname = model.graph.input[0].name
    shape, top = model.get_tensor_shape(iname), int(model.get_tensor_datatype(iname).max())
    rng = np.random.default_rng(seed)
    parts, kinds = [random_counts(rng, n_random, shape, top)], ["random counts"] * n_random
    if checkpoint is not None and n_frames + n_synthetic > 0:
        import torch

        from ....checkpoint import load_model
        from ....snn.encoders import encode
        from ...finn.verify import make_frames

        _, cfg, _ = load_model(checkpoint)
        frames, frame_kinds = make_frames(n_frames, n_synthetic, 2, cfg.input_length, seed)
        with torch.no_grad():
            counts = encode(cfg, torch.from_numpy(frames)).numpy()
        if list(counts.shape[1:]) != list(shape):
            raise ToolchainError(f"{checkpoint}: its encoder gives {list(counts.shape[1:])} per frame, the ONNX "
                                 f"model takes {shape}: not the checkpoint of this model")
        parts.append(counts.astype(np.float32))
        kinds += [f"{k} frame (encoded)" for k in frame_kinds]
    return np.concatenate(parts), kinds


def membrane_readout(model) -> bool:
    """True when the graph's last LIF node is a leaky integrator (`snn_readout=membrane`), False
    for spiking readout neurons (`snn_readout=count`)."""
    from onnx import helper

    last = [n for n in model.graph.node if n.op_type == "LIF"][-1]
    mode = next((helper.get_attribute_value(a) for a in last.attribute if a.name == "mode"), b"lif")
    return mode in (b"li", "li")


def readout_scores(readout: np.ndarray, membrane: bool) -> np.ndarray:
    """What ranks the classes of each input, from its readout at every step (n, T, classes), by
    the model's rule: the last step's membrane, or the spike counts summed over the steps."""
    return readout[:, -1] if membrane else readout.sum(1)


def readout_classes(readout: np.ndarray, membrane: bool) -> list[int]:
    return readout_scores(readout, membrane).argmax(-1).tolist()  # ties: the lowest index


def _qonnx_readout(model, x: np.ndarray) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return np.stack([execute_onnx(model, {iname: f})[oname] for f in x])


def _torch_readout(checkpoint: Path, x: np.ndarray) -> np.ndarray:
    import torch

    from ....checkpoint import load_model

    model, _, _ = load_model(checkpoint)
    model.eval()
    with torch.no_grad():
        _, _, trace = model.run(torch.from_numpy(x), record=True)
    return torch.stack(trace[-1], 1).numpy()  # (n, T, classes): the readout at every step


def _frame_readout(model, x: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Readout per step of a per-time-step FINN model, and every frame's full tensor dict."""
    oname = model.graph.output[0].name
    outs, contexts = [], []
    for f in x:
        ctx = execute_frame(model, graph_layout(model, f))
        outs.append(ctx[oname].reshape(f.shape[0], -1))
        contexts.append(ctx)
    return np.stack(outs), contexts


def csim_check(hw, contexts: list[dict], cache_dir: Path) -> dict[str, Any]:
    """Every LIF_hls kernel, compiled with g++, on the currents of its layer in every frame."""
    from qonnx.custom_op.registry import getCustomOp

    from ..lif.csim import run_csim

    layers, values, mismatches = [], 0, 0
    for node in hw.graph.node:
        if node.op_type != "LIF_hls":
            continue
        cfg = getCustomOp(node).kernel_config()
        currents = np.concatenate([c[node.input[0]] for c in contexts])
        expected = np.concatenate([c[node.output[0]] for c in contexts])
        got = run_csim(currents.reshape(-1, cfg.neurons), cfg, cache_dir=cache_dir)
        bad = int((got.reshape(expected.shape) != expected).sum())
        layers.append({"node": node.name, "values": int(expected.size), "mismatches": bad})
        values, mismatches = values + int(expected.size), mismatches + bad
    return {"ran": True, "what": "LIF_hls kernels (lif.hpp) compiled with g++ and hls4ml's ap_types",
            "layers": layers, "values": values, "mismatches": mismatches, "passed": mismatches == 0 and bool(layers)}


def verify(onnx_file: Path, lowered: Optional[Path], hw: Optional[Path], x: np.ndarray, kinds: list[str],
           checkpoint: Optional[Path], cache_dir: Path) -> dict[str, Any]:
    """Run every model on `x`; the dict goes into finn_report.json (`passed` decides)."""
    from finn.util.verification import despecialize_model
    from qonnx.core.modelwrapper import ModelWrapper

    from ....snn.export_qonnx import MODEL_CONFIG_KEY

    reference = ModelWrapper(str(onnx_file))
    membrane = membrane_readout(reference)
    expected = _qonnx_readout(reference, x)
    steps = expected.shape[1]
    encoder = reference.get_metadata_prop(MODEL_CONFIG_KEY)
    result: dict[str, Any] = {
        "inputs": len(x), "kinds": kinds, "time_steps": steps,
        # what a host needs to feed the HW model I/Q frames (`toolchain classify`): the encoder's
        # settings and the readout rule, as the export recorded them (the HW model keeps no metadata)
        "model_config": json.loads(encoder) if encoder else None,
        "reference": "qonnx execution of the input ONNX: the readout at every time step",
        "class_rule": "argmax of the last step's membrane" if membrane else "argmax of the spike counts over the steps",
        "classes": {"qonnx": readout_classes(expected, membrane)}, "mismatches": {}, "skipped": {},
    }
    if checkpoint is not None:
        got = _torch_readout(checkpoint, x)
        result["mismatches"]["pytorch"] = int((got.reshape(expected.shape) != expected).sum())
        result["pytorch_checkpoint"] = str(checkpoint)
    else:
        result["skipped"]["pytorch"] = "no checkpoint given or found in the run directory"
    contexts: list[dict] = []
    for name, path in (("lowered", lowered), ("hw", hw)):
        if path is None:
            result["skipped"][name] = "this build's steps do not produce it"
            continue
        model = ModelWrapper(str(path))
        got, ctx = _frame_readout(despecialize_model(model) if name == "hw" else model, x)
        result["mismatches"][name] = int((got.reshape(expected.shape) != expected).sum())
        result["classes"][name] = readout_classes(got.reshape(expected.shape), membrane)
        if name == "hw":
            contexts = ctx
            result["csim"] = csim_check(model, contexts, cache_dir)
    result["compared_values_per_model"] = int(expected.size)
    result["passed"] = (all(v == 0 for v in result["mismatches"].values())
                        and result.get("csim", {}).get("passed", True))
    return result


def summary_line(result: dict[str, Any]) -> str:
    models = ", ".join(["QONNX", *[m for m in ("pytorch", "lowered", "hw") if m in result["mismatches"]]])
    csim = result.get("csim")
    if result["passed"]:
        tail = (f"; C simulation of {len(csim['layers'])} LIF kernels: {csim['values']:,} values, 0 mismatches"
                if csim else "")
        return (f"verification passed: {result['inputs']} inputs x {result['time_steps']} time steps, identical "
                f"readouts at every step ({models}){tail}")
    bad = [f"{k}: {v} values differ" for k, v in result["mismatches"].items() if v]
    if csim and not csim["passed"]:
        bad.append(f"C simulation: {csim['mismatches']} values differ")
    return f"verification failed ({', '.join(bad)})"
