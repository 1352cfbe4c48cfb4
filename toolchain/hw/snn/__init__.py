"""The SNN hardware path: the LIF kernel (`lif/lif.hpp`), its g++ C simulation (`lif.csim`), the
FINN HW op `LIF` / `LIF_hls` (`lif.op`, `lif.hls`), the spike-input MVAU `MVAU_spike_hls`
(`dense.spike_mvau`) and the QONNX -> FINN rewrite (`dense.infer_lif`) of the dense build; the
event-driven kernels' HW ops `ConstellationEncoder`, `SpikingConv`, `SpikingDense` (and their
`_hls` and `_rtl` backends: `event/encoder`, `event/conv`, `event/readout`, each op beside its kernel) and
their graph (`event.event_graph`) of the default build.
See docs/snn_hardware.md ("Where the code is").

Importing this package registers these FINN ops with qonnx's op registry: FINN finds HW ops
by ONNX domain, and its code generation and estimates only look at nodes in its own domains
(`finn.custom_op.fpgadataflow[.hls]`), so the ops live there rather than in a domain of ours.
A saved model holding LIF nodes therefore needs this import before it is loaded. `lif.csim` alone
needs neither FINN nor qonnx.
"""

from __future__ import annotations


def register_finn_ops() -> None:
    from qonnx.custom_op.registry import add_op_to_domain

    from .event.encoder.op import ConstellationEncoder, ConstellationEncoder_hls, ConstellationEncoder_rtl
    from .lif.hls import HLS_DOMAIN, LIF_hls
    from .lif.op import LIF
    from .dense.spike_mvau import MVAU_spike_hls
    from .event.conv.op import SpikingConv, SpikingConv_hls, SpikingConv_rtl
    from .event.readout.op import SpikingDense, SpikingDense_hls, SpikingDense_rtl

    RTL_DOMAIN = "finn.custom_op.fpgadataflow.rtl"
    hw = (LIF, ConstellationEncoder, SpikingConv, SpikingDense)
    hls = (LIF_hls, MVAU_spike_hls, ConstellationEncoder_hls, SpikingConv_hls, SpikingDense_hls)
    for op in hw:
        add_op_to_domain("finn.custom_op.fpgadataflow", op)
    for op in hls:
        add_op_to_domain(HLS_DOMAIN, op)
    # the RTL backends (event_rtl.py): the event build's default (finn.event_impl_style)
    rtl = (ConstellationEncoder_rtl, SpikingConv_rtl, SpikingDense_rtl)
    for op in rtl:
        add_op_to_domain(RTL_DOMAIN, op)
    # FINN's own helpers look HW ops up in these module dicts, not in the registry:
    # despecialize_model (Python execution of a specialised graph) and SpecializeLayers.
    # Only names of ours are added; FINN's own entries stay as they are.
    from finn.custom_op.fpgadataflow import custom_op as hw_ops
    from finn.custom_op.fpgadataflow.hls import custom_op as hls_ops
    from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU

    for op in hw:
        hw_ops.setdefault(op.__name__, op)
    hw_ops.setdefault("MVAU_spike", MVAU)  # the spike MVAU's abstraction: FINN's MVAU
    for op in hls:
        hls_ops.setdefault(op.__name__, op)
    from finn.custom_op.fpgadataflow.rtl import custom_op as rtl_ops

    for op in rtl:
        rtl_ops.setdefault(op.__name__, op)


try:
    import finn  # noqa: F401
except ModuleNotFoundError:  # no FINN installed: the kernel and its C simulation still work
    pass
else:
    register_finn_ops()
