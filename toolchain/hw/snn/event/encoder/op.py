"""`ConstellationEncoder` / `ConstellationEncoder_hls`: constellation_encoder.hpp as a FINN HW op.

Input 0: one frame of int I/Q codes (1, L, 2) (the CNN accelerator's input stream: a word per
sample, TDATA I and Q, the frame's end on TLAST); inputs 1 and 2: the binning tables `ibin`, `qbin` (2^bits entries:
the column / row of every code, the model's own binning, accelerator.py). Output: the step's
spike counts per cell (T, 1, R, R), each sample one event on the stream.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from .....errors import ToolchainError
from .. import accel_csim
from ... import resources
from ..accelerator import AcceleratorSpec, EncoderSpec
from ..event_op import EventHLS, EventOp


class ConstellationEncoder(EventOp):
    """I/Q codes -> one event per sample in the cell (QBIN[q], IBIN[i]) of a R x R plane."""

    def get_nodeattr_types(self):
        attrs = {
            "input_bits": ("i", True, 8),
            "resolution": ("i", True, 16),  # R
            "group": ("i", True, 64),  # samples per time step
            "frame": ("i", True, 1024),  # samples per frame
            "binary": ("i", False, 0),  # drop repeats of a cell within a step
            "scale": ("f", False, 1.0),  # code -> the float sample the model sees (the input quantizer)
        }
        attrs.update(self.common_attrs())
        return attrs

    def spec(self, ibin=None, qbin=None) -> EncoderSpec:
        n = 1 << self.attr("input_bits")
        zeros = np.zeros(n, dtype=np.int64)
        return EncoderSpec(self.attr("input_bits"), float(self.attr("scale")), self.attr("resolution"),
                           self.attr("group"), self.attr("frame"), bool(self.attr("binary")),
                           zeros if ibin is None else ibin, zeros if qbin is None else qbin)

    def model_spec(self, model) -> EncoderSpec:
        return self.spec(self.initializer(model, 1, "ibin"), self.initializer(model, 2, "qbin"))

    # ---------------------------------------------------------------- shapes and types
    def steps(self) -> int:
        return self.attr("frame") // self.attr("group")

    def get_output_datatype(self, ind=0):
        top = 1 if self.attr("binary") else self.attr("group")
        return DataType[f"UINT{max(1, int(top).bit_length())}"]

    def get_normal_input_shape(self, ind=0):
        return (1, self.attr("frame"), 2)

    def get_normal_output_shape(self, ind=0):
        r = self.attr("resolution")
        return (self.steps(), 1, r, r)

    def get_instream_width(self, ind=0):
        return 2 * self.attr("input_bits")  # TDATA: I, Q (TLAST is the AXI4-Stream sideband, hls::axis)

    def get_outstream_width(self, ind=0):
        return 1 + max(1, (self.attr("resolution") ** 2 - 1).bit_length()) + 3  # one lane, address, flags

    def max_in_words(self) -> int:
        return self.attr("frame")

    def max_out_words(self) -> int:
        return self.attr("frame") + 1  # a word per sample (event or STEP), the FRAME word

    # ---------------------------------------------------------------- execution
    def execute_python(self, context) -> None:
        codes = self.context_input(context, 0)
        self.check_shape(codes)
        b, r, g = self.attr("input_bits"), self.attr("resolution"), self.attr("group")
        if codes.min() < -(1 << (b - 1)) or codes.max() >= 1 << (b - 1):
            raise ToolchainError(f"{self.onnx_node.name}: I/Q codes in [{codes.min()}, {codes.max()}] "
                                 f"do not fit INT{b}")
        ibin, qbin = self.context_input(context, 1), self.context_input(context, 2)
        n = 1 << b
        cells = qbin[codes[0, :, 1] % n] * r + ibin[codes[0, :, 0] % n]  # two's complement index
        steps = self.steps()
        counts = np.zeros((steps, r * r), dtype=np.int64)
        np.add.at(counts, (np.repeat(np.arange(steps), g), cells[: steps * g]), 1)
        if self.attr("binary"):
            counts = np.minimum(counts, 1)
        context[self.onnx_node.output[0]] = counts.reshape(steps, 1, r, r).astype(np.float32)

    # ---------------------------------------------------------------- estimates
    def fixed_cycles(self) -> int:
        return 0

    def bound_event_cycles(self) -> int:
        return self.attr("frame") + 1  # one sample per cycle, the FRAME word

    def get_exp_cycles(self):
        return self.get_bound_cycles()  # not data dependent

    def estimate(self) -> dict:
        return resources.encoder(AcceleratorSpec(self.spec(), (), None))

    def get_op_and_param_counts(self):
        return {"op_encode_sample": self.attr("frame")}


class ConstellationEncoder_hls(ConstellationEncoder, EventHLS):  # noqa: N801 - FINN's <Op>_hls naming
    def get_nodeattr_types(self):
        attrs = ConstellationEncoder.get_nodeattr_types(self)
        attrs.update(EventHLS.get_nodeattr_types(self))
        return attrs

    def layer_source(self, model=None) -> accel_csim.LayerSource:
        return accel_csim.encoder_source(self.spec() if model is None else self.model_spec(model))
