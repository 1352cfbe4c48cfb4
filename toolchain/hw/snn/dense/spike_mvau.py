"""`MVAU_spike_hls`: FINN's HLS matrix-vector unit for 0/1 spike inputs, an op of its own name.

FINN 1.6's `MVAU_hls` refuses a BINARY (0/1, not bipolar) input unless it is in XNOR mode,
with "True binary (non-bipolar) inputs not yet supported"; yet finn-hlslib's unit handles it as
any unsigned input: `Slice<ap_uint<1>>` activations times `Identity` integer weights, i.e. a
1-bit x W-bit product, which synthesis reduces to gating the weight into the adder tree: the
accumulate-only synapse of an SNN (S2N2 patched finn-hlslib by hand for the same effect).

The SNN build picks this op for exactly those nodes (`SpecializeSpikeMVAU`, after FINN's
SpecializeLayers); every other MVAU, in this process and any other build, stays FINN's.
Estimates and Python execution are FINN's, unchanged (its abstraction op `MVAU_spike` is FINN's
`MVAU`, so `despecialize_model` runs it).
"""

from __future__ import annotations

from contextlib import contextmanager

from finn.custom_op.fpgadataflow.hls.matrixvectoractivation_hls import MVAU_hls
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation

OP_TYPE = "MVAU_spike_hls"
FINN_OP_TYPE = "MVAU_hls"


def takes_spikes(inst) -> bool:
    """A 0/1 input times integer (not binary) weights, outside XNOR mode."""
    return (inst.get_input_datatype(0) == DataType["BINARY"] and inst.get_nodeattr("binaryXnorMode") == 0
            and inst.get_input_datatype(1) != DataType["BINARY"])


class MVAU_spike_hls(MVAU_hls):  # noqa: N801 - FINN derives the abstraction op from the name
    def get_template_param_values(self):
        if not takes_spikes(self):
            return super().get_template_param_values()
        return {"TSrcI": "Slice<ap_uint<1>>", "TWeightI": "Identity",
                "TDstI": f"Slice<{self.get_output_datatype().get_hls_datatype_str()}>"}

    # FINN writes the decoupled / external weight memory's HDL only for nodes whose op_type is on
    # its list of MVAUs; this node is one, so it answers to FINN's name while that HDL is written.
    def generate_hdl_memstream(self, *args, **kwargs):
        with _as_finn_mvau(self.onnx_node):
            return super().generate_hdl_memstream(*args, **kwargs)

    def generate_hdl_fetch_weights(self, *args, **kwargs):
        with _as_finn_mvau(self.onnx_node):
            return super().generate_hdl_fetch_weights(*args, **kwargs)


@contextmanager
def _as_finn_mvau(node):
    node.op_type = FINN_OP_TYPE
    try:
        yield
    finally:
        node.op_type = OP_TYPE


class SpecializeSpikeMVAU(Transformation):
    """FINN's `MVAU_hls` nodes that take spikes -> `MVAU_spike_hls` (attributes unchanged)."""

    def apply(self, model):
        from qonnx.custom_op.registry import getCustomOp

        changed = False
        for node in model.graph.node:
            if node.op_type == FINN_OP_TYPE and takes_spikes(getCustomOp(node)):
                node.op_type = OP_TYPE
                changed = True
        return model, changed
