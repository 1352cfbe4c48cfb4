"""`LIF`: the integer LIF layer as a FINN HW op (abstraction layer, domain
`finn.custom_op.fpgadataflow`); `hls.LIF_hls` is its HLS implementation.

The op sits after FINN's unmodified MVAU (or any layer streaming integer currents) and keeps
one membrane (and refractory counter) per neuron on chip. Tensors are channels-last with a
leading time dimension: (N * T, H, W, C), or (N * T, C) after a linear layer; the state starts
from zero at every T-th entry of dim 0 (one frame). `numInputVectors` holds every dim but C,
so the time steps are part of it, like the batch in FINN's other ops. A graph whose tensors are
one time step (dim 0 = 1, as FINN's batch-1 images; `execute.py` runs such graphs frame by
frame) is accepted too: shapes and cycles are then per step, and execution takes the whole
(T, ...) frame, since only the LIF op holds state across steps.

Estimates (docs/snn_hardware.md "The LIF kernel and FINN op" gives the reasoning):
- cycles: prod(numInputVectors) * C / PE, plus the pipeline depth, once per call;
- state memory: PE banks, each (neurons per step / PE) deep and state_bits + counter bits
  wide; LUTRAM (no BRAM) when a bank is at most LUTRAM_MAX_DEPTH deep, else RAMB18s in simple
  dual-port mode counted as FINN's MVAU counts its weight memory;
- LUT: an analytic model of one neuron datapath per PE (below), not a synthesis fit;
- DSP: none (shifts, adds and compares only).
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp

from ....errors import ToolchainError
from ....snn.lif import LIFParams, refractory_bits
from ..resources import CONTROL_LUTS, LUTRAM_MAX_DEPTH, bram18_count, lif_lane_luts

PIPELINE_DEPTH = 4  # read state | leak + add | saturate + compare | write back (kernel schedule)


class LIF(HWCustomOp):
    """Integer leaky integrate-and-fire neurons (mode "lif") or a leaky integrator readout
    (mode "li"), bit-exact with toolchain.snn.lif."""

    def get_nodeattr_types(self):
        attrs = {
            "NumChannels": ("i", True, 0),
            "PE": ("i", False, 1),  # neurons updated per cycle; divides NumChannels
            "numInputVectors": ("ints", False, [1]),  # every dim but C: [N*T, H, W] or [N*T]
            "time_steps": ("i", True, 0),  # T: the state is cleared every T entries of dim 0
            "state_bits": ("i", False, 24),
            "leak_shift": ("i", False, 0),
            "threshold": ("i", True, 0),
            "reset": ("s", False, "subtract", {"subtract", "zero"}),
            "refractory": ("i", False, 0),
            "mode": ("s", False, "lif", {"lif", "li"}),
            "inputDataType": ("s", True, ""),  # the currents, e.g. the MVAU's INT20 accumulator
            "outputDataType": ("s", False, ""),  # UINT1 (lif) / INT<state_bits> (li); "" = that
        }
        attrs.update(super().get_nodeattr_types())
        return attrs

    # ---------------------------------------------------------------- parameters
    def lif_params(self) -> LIFParams:
        try:
            return LIFParams(state_bits=self.get_nodeattr("state_bits"), leak_shift=self.get_nodeattr("leak_shift"),
                             threshold=self.get_nodeattr("threshold"), reset=self.get_nodeattr("reset"),
                             refractory=0 if self.readout else self.get_nodeattr("refractory"))
        except ValueError as exc:
            raise ToolchainError(f"{self.onnx_node.name}: {exc}") from None

    @property
    def readout(self) -> bool:
        return self.get_nodeattr("mode") == "li"

    def kernel_config(self):
        """The template arguments of lif.hpp's `lif_layer` for this node."""
        from .csim import KernelConfig

        idt = self.get_input_datatype()
        if not idt.is_integer():
            raise ToolchainError(f"{self.onnx_node.name}: LIF needs integer currents, got {idt.name}")
        return KernelConfig(neurons=self.neurons_per_step(), pe=self.get_nodeattr("PE"),
                            time_steps=self.get_nodeattr("time_steps"), in_bits=idt.bitwidth(),
                            in_signed=idt.signed(), params=self.lif_params(), readout=self.readout)

    def neurons_per_step(self) -> int:
        vecs = list(self.get_nodeattr("numInputVectors"))
        return int(np.prod(vecs[1:], dtype=np.int64)) * self.get_nodeattr("NumChannels")

    def refractory_bits(self) -> int:
        return 0 if self.readout else refractory_bits(self.get_nodeattr("refractory"))

    def verify_node(self):
        msgs = []
        c, pe, t = self.get_nodeattr("NumChannels"), self.get_nodeattr("PE"), self.get_nodeattr("time_steps")
        vecs = list(self.get_nodeattr("numInputVectors"))
        if pe < 1 or c % pe:
            msgs.append(f"PE={pe} must divide NumChannels={c}")
        if t < 1 or not vecs or (vecs[0] % t and vecs[0] != 1):
            msgs.append(f"numInputVectors[0]={vecs[:1]} must be 1 (one step per image) or a multiple of "
                        f"time_steps={t}")
        self.lif_params()  # raises on a bad neuron parameter
        return msgs

    def _check(self) -> None:
        problems = self.verify_node()
        if problems:
            raise ToolchainError(f"{self.onnx_node.name}: {'; '.join(problems)}")

    # ---------------------------------------------------------------- types and shapes
    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType")]

    def get_output_datatype(self, ind=0):
        odt = self.get_nodeattr("outputDataType")
        if odt:
            return DataType[odt]
        return DataType[f"INT{self.get_nodeattr('state_bits')}"] if self.readout else DataType["UINT1"]

    def infer_node_datatype(self, model):
        node = self.onnx_node
        self.set_nodeattr("inputDataType", model.get_tensor_datatype(node.input[0]).name)
        model.set_tensor_datatype(node.output[0], self.get_output_datatype())

    def get_normal_input_shape(self, ind=0):
        return tuple(list(self.get_nodeattr("numInputVectors")) + [self.get_nodeattr("NumChannels")])

    def get_normal_output_shape(self, ind=0):
        return self.get_normal_input_shape()

    def get_folded_input_shape(self, ind=0):
        pe = self.get_nodeattr("PE")
        return tuple(list(self.get_nodeattr("numInputVectors")) + [self.get_nodeattr("NumChannels") // pe, pe])

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape()

    def get_instream_width(self, ind=0):
        return self.get_input_datatype().bitwidth() * self.get_nodeattr("PE")

    def get_outstream_width(self, ind=0):
        return self.get_output_datatype().bitwidth() * self.get_nodeattr("PE")

    # ---------------------------------------------------------------- execution
    def _frames(self, context) -> np.ndarray:
        """The input as int64 frames (N, T, neurons per step)."""
        self._check()
        x = np.asarray(context[self.onnx_node.input[0]])
        t, normal = self.get_nodeattr("time_steps"), self.get_normal_input_shape()
        if tuple(x.shape[1:]) != normal[1:] or x.shape[0] % t:
            raise ToolchainError(f"{self.onnx_node.name}: input shape {x.shape}, expected "
                                 f"(a multiple of {t}, {', '.join(map(str, normal[1:]))})")
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ToolchainError(f"{self.onnx_node.name}: LIF currents must be integers")
        return x.astype(np.int64).reshape(-1, self.get_nodeattr("time_steps"), self.neurons_per_step())

    def execute_python(self, context) -> None:
        """toolchain.snn.lif itself, as the QONNX LIF node runs it (`qonnx_ops.run_frames`)."""
        from ....snn.qonnx_ops import run_frames

        frames = self._frames(context)
        out = run_frames(frames.reshape(-1, frames.shape[-1]), self.lif_params(), self.get_nodeattr("time_steps"),
                         "li" if self.readout else "lif")
        context[self.onnx_node.output[0]] = out.reshape(context[self.onnx_node.input[0]].shape).astype(np.float32)

    def execute_node(self, context, graph):
        self.execute_python(context)

    # ---------------------------------------------------------------- estimates
    def get_exp_cycles(self):
        folded = self.get_folded_output_shape()
        return int(np.prod(folded[:-1], dtype=np.int64)) + PIPELINE_DEPTH

    def state_memory(self) -> tuple[int, int, int]:
        """(banks, depth, width) of the state memory: one bank per PE lane."""
        pe = self.get_nodeattr("PE")
        return pe, self.neurons_per_step() // pe, self.get_nodeattr("state_bits") + self.refractory_bits()

    def state_in_lutram(self) -> bool:
        return self.state_memory()[1] <= LUTRAM_MAX_DEPTH

    def bram_estimation(self, fpgapart=None):
        banks, depth, width = self.state_memory()
        return 0 if self.state_in_lutram() else banks * bram18_count(depth, width)

    def bram_efficiency_estimation(self, fpgapart=None):
        brams = self.bram_estimation(fpgapart)
        banks, depth, width = self.state_memory()
        return 1 if brams == 0 else banks * depth * width / (brams * 18 * 1024)

    def uram_estimation(self, fpgapart=None):
        return 0  # banks are read and written every cycle; a 4096-deep URAM would rarely fill

    def lutram_estimation(self, fpgapart=None):
        """LUTs used as state memory: FINN's width x ceil(depth / 64) per bank (LUT6 as 64x1)."""
        if not self.state_in_lutram():
            return 0
        banks, depth, width = self.state_memory()
        return banks * width * math.ceil(depth / 64)

    def datapath_luts(self) -> int:
        """One neuron update (one PE lane), derived from the datapath in
        `resources.lif_lane_luts` (docs/snn_hardware.md, "Estimates")."""
        return lif_lane_luts(self.get_nodeattr("state_bits"), self.get_input_datatype().bitwidth(),
                             self.get_nodeattr("leak_shift"), self.readout, self.refractory_bits())

    def lut_estimation(self, fpgapart=None):
        return CONTROL_LUTS + self.get_nodeattr("PE") * self.datapath_luts() + self.lutram_estimation(fpgapart)

    def dsp_estimation(self, fpgapart=None):
        return 0

    def ff_estimation(self, fpgapart=None) -> int:
        """Flip-flops (FINN has no FF model; this op offers one): per PE lane, the pipeline holds
        the current, the read and the updated state and the output bit(s) across its stages;
        plus the neuron and time-step counters of the control."""
        b, a = self.get_nodeattr("state_bits"), self.get_input_datatype().bitwidth()
        lane = a + 2 * b + self.refractory_bits() + self.get_output_datatype().bitwidth()
        counters = max(1, self.neurons_per_step() // self.get_nodeattr("PE")).bit_length() + \
            max(1, self.get_nodeattr("time_steps")).bit_length()
        return self.get_nodeattr("PE") * lane * (PIPELINE_DEPTH - 1) + counters

    def get_op_and_param_counts(self):
        n = int(np.prod(self.get_normal_input_shape(), dtype=np.int64))
        return {"op_lif_update": n, "param_lif_state_bits": self.neurons_per_step() * self.state_memory()[2]}
