"""The challenge cost of a model in the middle of pruning: export a materialised copy to QONNX
and run qonnx's inference_cost on it, zeros discounted, exactly as export_inference_cost would
(a few seconds for the VGG10)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from torch import nn

from ..config import ModelConfig
from .masks import materialised_state


def model_cost(model: nn.Module, model_cfg: ModelConfig) -> dict[str, Any]:
    """score, total_bops, total_mem_w_bits, total_mem_w_elems of `model` with its masks applied.
    Leaves `model` untouched: a fresh model of the same config gets the materialised weights."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.inference_cost import inference_cost

    from ..models import build_model
    from ..reports.cost import cost_report
    from ..models.export_qonnx import export_qonnx

    copy = build_model(model_cfg)
    copy.load_state_dict(materialised_state(model), strict=True)
    copy.eval()
    snn = model_cfg.name == "snn"
    with tempfile.TemporaryDirectory(prefix="prune-cost-") as tmp:
        onnx_path, final = Path(tmp) / "model.onnx", Path(tmp) / "final.onnx"
        if snn:  # the SNN's own graph and cost (the LIF node's work counted): export_onnx's path
            from ..reports.snn_cost import snn_cost_report
            from ..snn.export_qonnx import export_snn

            export_snn(copy, onnx_path)
        else:
            export_qonnx(copy, model_cfg.input_length, onnx_path)
        result = inference_cost(ModelWrapper(str(onnx_path)), output_onnx=str(final), discount_sparsity=True,
                                cost_breakdown=True)
        if snn:
            report = snn_cost_report(result, ModelWrapper(str(final)))
        else:
            report = cost_report(result, {n.name: n.op_type for n in ModelWrapper(str(final)).graph.node})
    keys = ("score", "total_bops", "total_mem_w_bits", "total_mem_w_elems", "unsupported")
    return {k: report.get(k) for k in keys}
