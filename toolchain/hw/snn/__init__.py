"""The SNN hardware path: the LIF kernel (`lif.hpp`), its g++ C simulation (`csim`), the FINN
HW op `LIF` / `LIF_hls` (`lif_op`, `lif_hls`) and the QONNX -> FINN rewrite (`infer_lif`).
See docs/snn_hardware.md.

Importing this package registers the two FINN ops with qonnx's op registry: FINN finds HW ops
by ONNX domain, and its code generation and estimates only look at nodes in its own domains
(`finn.custom_op.fpgadataflow[.hls]`), so the ops live there rather than in a domain of ours.
A saved model holding LIF nodes therefore needs this import before it is loaded. `csim` alone
needs neither FINN nor qonnx.
"""

from __future__ import annotations


def register_finn_ops() -> None:
    from qonnx.custom_op.registry import add_op_to_domain

    from .lif_hls import HLS_DOMAIN, LIF_hls
    from .lif_op import LIF
    from .spike_mvau import MVAU_hls

    add_op_to_domain("finn.custom_op.fpgadataflow", LIF)
    add_op_to_domain(HLS_DOMAIN, LIF_hls)
    add_op_to_domain(HLS_DOMAIN, MVAU_hls)  # FINN's, plus 0/1 spike inputs (spike_mvau.py)
    # FINN's own helpers look HW ops up in these module dicts, not in the registry:
    # despecialize_model (Python execution of a specialised graph) and SpecializeLayers.
    from finn.custom_op.fpgadataflow import custom_op as hw_ops
    from finn.custom_op.fpgadataflow.hls import custom_op as hls_ops

    hw_ops.setdefault("LIF", LIF)
    hls_ops.setdefault("LIF_hls", LIF_hls)
    hls_ops["MVAU_hls"] = MVAU_hls


try:
    import finn  # noqa: F401
except ModuleNotFoundError:  # no FINN installed: the kernel and its C simulation still work
    pass
else:
    register_finn_ops()
