"""The folding constraints of FINN's HW layers, checked on a node as it is configured.

FINN checks most of these only by assertions deep inside shape, code generation or estimate
functions ("SIMD must be equal to IFMChannels" from step_generate_estimate_reports), after
the folding step has long finished. `violation` states each of them up front, so the automatic
folding skips configurations FINN would refuse and a hand folding fails with the layer's name.
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np


# Attribute -> the dimension it must divide.
FOLD_DIMS = {"MVAU": {"SIMD": "MW", "PE": "MH"}, "VVAU": {"PE": "Channels"}, "Thresholding": {"PE": "NumChannels"},
             "ConvolutionInputGenerator": {"SIMD": "IFMChannels"}, "FMPadding": {"SIMD": "NumChannels"},
             "Pool": {"PE": "Channels"}, "LabelSelect": {"PE": "Labels"}, "LIF": {"PE": "NumChannels"},
             "SpikingConv": {"sp": "width"}}  # the event-driven conv's positions swept per cycle


def generic_op(op_type: str) -> str:
    """`MVAU_rtl` -> `MVAU`: roles and constraints shared by both implementations (the SNN
    build's `MVAU_spike_hls` is an MVAU too)."""
    return re.sub(r"(_spike)?_(hls|rtl)$", "", op_type)


def ap_int_max_w() -> int:
    from finn.util.basic import MAX_ALLOWED_AP_INT_W

    return MAX_ALLOWED_AP_INT_W


def dims(inst) -> dict[str, int]:
    """{attribute: the dimension it folds} of this node, for the folding attributes it has."""
    out = {}
    for attr, dim in FOLD_DIMS.get(generic_op(inst.onnx_node.op_type), {}).items():
        out[attr] = int(inst.get_nodeattr(dim))
    if not out and "PE" in inst.get_nodeattr_types():  # elementwise ops and others: PE over the channels
        out["PE"] = int(inst.get_normal_output_shape()[-1])
    return out


def violation(inst) -> Optional[tuple[str, str]]:
    """(attribute, the constraint it breaks) for the first broken constraint, else None."""
    op = generic_op(inst.onnx_node.op_type)
    for attr, dim in dims(inst).items():
        value = inst.get_nodeattr(attr)
        if value < 1 or dim % value:
            name = FOLD_DIMS.get(op, {}).get(attr, "channels")
            return attr, f"must divide {name}={dim}"
    if op == "ConvolutionInputGenerator" and "parallel_window" in inst.get_nodeattr_types() and \
            inst.get_nodeattr("parallel_window"):
        k = int(np.prod(inst.get_nodeattr("ConvKernelDim")))
        if not inst.get_nodeattr("depthwise") and k > 1 and inst.get_nodeattr("SIMD") != inst.get_nodeattr(
                "IFMChannels"):
            return "SIMD", (f"parallel_window=1 needs SIMD equal to IFMChannels={inst.get_nodeattr('IFMChannels')} "
                            "(FINN's RTL sliding window, non-depthwise)")
    if generic_op(op) in ("MVAU", "VVAU") and inst.get_nodeattr("mem_mode") == "internal_decoupled" and \
            inst.get_nodeattr("ram_style") == "ultra" and not inst.get_nodeattr("runtime_writeable_weights"):
        return "ram_style", "ultra (URAM weights) needs runtime_writeable_weights=1 (FINN, outside Versal)"
    if inst.onnx_node.op_type == "MVAU_rtl" and inst.get_nodeattr("resType") == "lut":
        return "resType", "the RTL MVAU multiplies in DSPs only (use the HLS MVAU for LUT multipliers)"
    if op == "SpikingConv":
        from ..snn.event.accelerator import MAX_WORD_BITS

        if inst.get_nodeattr("sp") * inst.get_nodeattr("cout") + 32 > MAX_WORD_BITS:
            return "sp", f"SP x {inst.get_nodeattr('cout')} filters + 32 must fit an event word of {MAX_WORD_BITS} bits"
    if inst.onnx_node.op_type.endswith("_hls"):
        return _stream_width(inst)
    return None


def _stream_width(inst) -> Optional[tuple[str, str]]:
    """HLS streams are ap_uint<W> with W <= AP_INT_MAX_W (FINN's MAX_ALLOWED_AP_INT_W)."""
    limit = ap_int_max_w()
    attr = "SIMD" if "SIMD" in inst.get_nodeattr_types() else "PE"
    widths = {"input": inst.get_instream_width(0), "output": inst.get_outstream_width()}
    if generic_op(inst.onnx_node.op_type) in ("MVAU", "VVAU") and inst.get_nodeattr("mem_mode") in (
            "internal_decoupled", "external"):
        widths["weight"] = inst.get_instream_width(1)
        attr = "PE" if widths["weight"] > limit else attr
    for stream, width in widths.items():
        if width > limit:
            if stream == "output":
                attr = "PE" if "PE" in inst.get_nodeattr_types() else attr
            return attr, f"the HLS {stream} stream would be {width} bits wide, above AP_INT_MAX_W={limit}"
    return None
