"""Bit-exact verification of the default (event-driven) SNN FINN build.

Inputs are int I/Q code frames, what the accelerator takes: random and synthetic modulated
I/Q frames (`finn.verify.make_frames`) quantised by the model's input quantizer, and random
codes over the whole code range (they saturate the encoder's edge cells). The reference is the
PyTorch model on code x scale when its checkpoint is known, else the QONNX graph on the encoded
counts. Every frame's class and the readout's final membranes must equal it, exactly:
- the QONNX model (when the reference is PyTorch; its readout at the last step, or the spike counts);
- `hw`: FINN's Python execution of the final HW graph (`event_graph.execute`);
- `csim`: the whole accelerator generated from that graph's node attributes (`event_graph.csim`),
  compiled with g++ against hls4ml's ap_types; also no frame flagged BAD, and every kernel's
  counted loop iterations equal to its cycle formula on the graph's own spikes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ....errors import ToolchainError


def make_codes(onnx_file: Path, n_frames: int, n_synthetic: int, n_random: int, seed: int):
    """(codes (n, 2, L) int64, what each is)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from ...finn.verify import make_frames
    from .accel_verify import quantize
    from .event_graph import spec_from_qonnx

    try:  # a QONNX the kernels cannot map stops here, before the build writes anything
        spec = spec_from_qonnx(ModelWrapper(str(onnx_file)))
    except ToolchainError as exc:
        raise ToolchainError(f"{onnx_file}: {exc}") from None
    b, length = spec.encoder.input_bits, spec.encoder.frame
    frames, kinds = make_frames(n_frames, n_synthetic, 2, length, seed)
    rng = np.random.default_rng(seed + 1)
    codes = np.concatenate([quantize(frames, spec), rng.integers(-(1 << (b - 1)), 1 << (b - 1), (n_random, 2, length))])
    return codes.astype(np.int64), [*kinds, *["random codes"] * n_random]


def _reference(onnx_file: Path, spec, codes: np.ndarray, checkpoint: Optional[Path]) -> dict[str, Any]:
    """Classes, final membranes (None where the reference has none) and each model's readout."""
    import torch
    from qonnx.core.modelwrapper import ModelWrapper

    from ....config import ModelConfig
    from ....snn.encoders import encode
    from ....snn.export_qonnx import MODEL_CONFIG_KEY
    from .accel_verify import model_reference
    from ..dense.verify import _qonnx_readout, membrane_readout, readout_scores

    qonnx = ModelWrapper(str(onnx_file))
    membrane = membrane_readout(qonnx)
    cfg = ModelConfig(**json.loads(qonnx.get_metadata_prop(MODEL_CONFIG_KEY)))
    with torch.no_grad():
        counts = encode(cfg, torch.from_numpy(codes.astype(np.float32) * np.float32(spec.encoder.scale))).numpy()
    q = readout_scores(_qonnx_readout(qonnx, counts), membrane).round().astype(np.int64)
    out = {"membrane": membrane, "qonnx": {"classes": q.argmax(1), "scores": q}}
    if checkpoint is not None:
        from ....checkpoint import load_model

        model, _, _ = load_model(checkpoint)
        ref = model_reference(model.eval(), spec, codes)
        out.update(classes=ref["classes"], membranes=ref["membranes"], scores=ref["readout"], what="pytorch")
    else:
        out.update(classes=q.argmax(1), membranes=q if membrane else None, scores=q, what="qonnx")
    return out


def _differ(ref: dict, classes: np.ndarray, membranes: Optional[np.ndarray]) -> int:
    bad = classes != ref["classes"]
    if membranes is not None and ref["membranes"] is not None:
        bad |= (membranes != ref["membranes"]).any(1)
    return int(bad.sum())


def verify(onnx_file: Path, hw_file: Path, codes: np.ndarray, kinds: list[str], checkpoint: Optional[Path],
           cache_dir: Path) -> dict[str, Any]:
    """The dict goes into finn_report.json's `verification` (`passed` decides)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from ....snn.export_qonnx import MODEL_CONFIG_KEY
    from .accel_verify import event_loops
    from .accelerator import layer_cycles
    from .event_graph import csim, exec_contexts, graph_spec, is_event_graph

    hw = ModelWrapper(str(hw_file))
    if not is_event_graph(hw):
        raise ToolchainError(f"{hw_file}: not an event-driven SNN graph (the build has no step_snn_event_driven)")
    spec = graph_spec(hw)
    ref = _reference(onnx_file, spec, codes, checkpoint)
    result: dict[str, Any] = {
        "inputs": len(codes), "kinds": kinds, "time_steps": spec.steps, "event_driven": True,
        "model_config": json.loads(hw.get_metadata_prop(MODEL_CONFIG_KEY) or "null"),
        "reference": ("the PyTorch checkpoint on code x scale" if ref["what"] == "pytorch" else
                      "qonnx execution of the input ONNX on the encoded codes") + ": class and final membranes",
        "class_rule": "argmax of the last step's membrane" if ref["membrane"] else "argmax of the spike counts",
        "classes": {ref["what"]: ref["classes"].tolist()}, "mismatches": {},
    }
    if ref["what"] == "pytorch":
        result["pytorch_checkpoint"] = str(checkpoint)
        result["mismatches"]["qonnx"] = int(((ref["qonnx"]["scores"] != ref["scores"]).any(1)
                                             | (ref["qonnx"]["classes"] != ref["classes"])).sum())
    contexts = exec_contexts(hw, codes, full=True)
    cls, mem = (o.name for o in hw.graph.output)
    classes = np.array([int(c[cls].ravel()[0]) for c in contexts])
    membranes = np.stack([c[mem].ravel() for c in contexts]).round().astype(np.int64)
    result["classes"]["hw"] = classes.tolist()
    result["mismatches"]["hw"] = _differ(ref, classes, membranes)
    sim = csim(hw, codes, cache_dir)
    result["classes"]["csim"] = sim.classes.tolist()
    result["mismatches"]["csim"] = _differ(ref, sim.classes, sim.membranes) if len(sim.classes) == len(codes) \
        else len(codes)
    convs = [n for n in hw.graph.node if n.op_type.startswith("SpikingConv")]
    spikes = [np.stack([c[n.output[0]] for c in contexts]).astype(np.int8) for n in convs]
    loops = event_loops(spec, codes, spikes)
    formula = [layer_cycles(spec, [lp[f] for lp in loops]) for f in range(len(codes))]
    result["csim"] = {
        "ran": True, "what": "the whole accelerator generated from the HW graph's node attributes (one dataflow "
                            "top of the kernels), compiled with g++ and hls4ml's ap_types",
        "frames": len(sim.classes), "bad_frames": int(sim.bad.sum()),
        "cycle_formula_mismatches": {k: int(sum(formula[f][k] != v[f] for f in range(min(len(v), len(codes)))))
                                     for k, v in sim.iterations.items()},
        "cycles_per_frame": {k: {"median": float(np.median(v)), "worst": int(np.max(v))}
                             for k, v in sim.iterations.items()}}
    result["csim"]["passed"] = (result["mismatches"]["csim"] == 0 and result["csim"]["bad_frames"] == 0
                                and not any(result["csim"]["cycle_formula_mismatches"].values()))
    result["compared"] = "class and final readout membranes of every frame" + \
        ("" if ref["membranes"] is not None else " (class only: the QONNX count readout has no membranes)")
    result["passed"] = all(v == 0 for v in result["mismatches"].values()) and result["csim"]["passed"]
    return result


def summary_line(result: dict[str, Any]) -> str:
    models = ", ".join(m for m in ("pytorch", "qonnx", "hw", "csim") if m in result["classes"] or m in
                       result["mismatches"])
    if result["passed"]:
        return (f"verification passed: {result['inputs']} I/Q frames, identical class and final membranes ({models}); "
                "the C simulation's loop counts equal the ops' cycle formulas")
    bad = [f"{k}: {v} frames differ" for k, v in result["mismatches"].items() if v]
    c = result["csim"]
    if c["bad_frames"]:
        bad.append(f"csim: {c['bad_frames']} frames flagged BAD")
    wrong = {k: v for k, v in c["cycle_formula_mismatches"].items() if v}
    if wrong:
        bad.append(f"csim cycle counts differ from the formulas: {wrong}")
    return f"verification failed ({'; '.join(bad)})"
