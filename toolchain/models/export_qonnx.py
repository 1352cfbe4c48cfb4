"""QONNX export of the Brevitas CNNs (VGG10, two-branch) and its check against PyTorch.

The SNN's graph is written node by node instead (`toolchain.snn.export_qonnx`): Brevitas cannot
trace its time loop. Used by the `export_onnx` stage and by pruning's cost of a model mid-way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def export_qonnx(model, input_length: int, path: Path):
    """Export, clean up and save as a single file; returns the qonnx ModelWrapper."""
    import onnx
    import torch
    from brevitas.export import export_qonnx as brevitas_export
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model = model.cpu().eval()
    raw = path.with_name(path.name + ".raw.onnx")
    try:
        with torch.no_grad():
            brevitas_export(model, input_t=torch.zeros(1, 2, input_length), export_path=str(raw), dynamo=False)
        wrapper = cleanup_model(ModelWrapper(str(raw)))
    finally:
        raw.unlink(missing_ok=True)
    onnx.save(wrapper.model, str(path), save_as_external_data=False)
    return wrapper


def class_changes(expected: np.ndarray, got: np.ndarray, atol: float) -> int:
    """Rows whose predicted class differs, not counting a pick that PyTorch's own logits tie with
    its top one within 2*atol: a small 4-bit model's logits on random inputs often tie exactly,
    and float rounding then flips argmax without any error in the export."""
    picked = np.take_along_axis(expected, got.argmax(1)[:, None], axis=1)[:, 0]
    return int((picked < expected.max(1) - 2 * atol).sum())


def verify(model, wrapper, input_length: int, n: int, seed: int, atol: float) -> dict:
    """Random unit-power I/Q frames through PyTorch and through qonnx execution."""
    import torch
    from qonnx.core.onnx_exec import execute_onnx

    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, 2, input_length)) / np.sqrt(2)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    iname, oname = wrapper.graph.input[0].name, wrapper.graph.output[0].name
    got = np.concatenate([execute_onnx(wrapper, {iname: x[i : i + 1]})[oname] for i in range(n)])
    diff = float(np.abs(got - expected).max())
    mismatches = class_changes(expected, got, atol)
    return {"inputs": n, "seed": seed, "class_mismatches": mismatches, "max_abs_diff": diff,
            "atol": atol, "passed": mismatches == 0 and diff <= atol}
