"""FINN's HLS matrix-vector unit, accepting 0/1 spike inputs.

FINN 1.6's `MVAU_hls` refuses a BINARY (0/1, not bipolar) input unless it is in XNOR mode,
with "True binary (non-bipolar) inputs not yet supported"; yet finn-hlslib's unit handles it as
any unsigned input: `Slice<ap_uint<1>>` activations times `Identity` integer weights, i.e. a
1-bit x W-bit product, which synthesis reduces to gating the weight into the adder tree: the
accumulate-only synapse of an SNN (S2N2 patched finn-hlslib by hand for the same effect). This
subclass, registered under FINN's own op name, fills in exactly that case and leaves every
other input type to FINN. Estimates and Python execution are FINN's, unchanged.
"""

from __future__ import annotations

from finn.custom_op.fpgadataflow.hls.matrixvectoractivation_hls import MVAU_hls as FinnMVAU_hls
from qonnx.core.datatype import DataType


class MVAU_hls(FinnMVAU_hls):  # noqa: N801 - the op_type FINN's tools look for
    def get_template_param_values(self):
        spikes = self.get_input_datatype(0) == DataType["BINARY"]
        if not spikes or self.get_nodeattr("binaryXnorMode") == 1 or self.get_input_datatype(1) == DataType["BINARY"]:
            return super().get_template_param_values()
        return {"TSrcI": "Slice<ap_uint<1>>", "TWeightI": "Identity",
                "TDstI": f"Slice<{self.get_output_datatype().get_hls_datatype_str()}>"}
