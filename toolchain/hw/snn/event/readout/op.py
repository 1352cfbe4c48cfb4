"""`SpikingDense` / `SpikingDense_hls`: spiking_dense.hpp (the readout) as a FINN HW op.

Input 0: the last conv's spikes (T, CI, H, W); input 1: the integer weights (CI * H * W, NO),
row c * H W + h W + w (torch's flatten of (C, H, W)). Outputs: the class (1, 1) by the model's
readout rule (argmax of the final membranes, or of the spike counts; ties to the lowest index,
as torch.argmax) and the final membranes (1, NO), the kernel's two streams. `ram_style` is the
weight ROM's storage ("auto": LUTs up to 128 rows, else block RAM).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from .. import accel_csim
from ... import resources
from ..accelerator import DenseSpec
from . import rtl
from ..event_rtl import EventRTL
from ..event_op import LIF_ATTRS, EventHLS, EventOp, check_ram_style, run_neurons


class SpikingDense(EventOp):
    """Linear synapse on the step's spikes, then li_step (membrane readout) or lif_step."""

    def get_nodeattr_types(self):
        attrs = {
            "height": ("i", True, 0),
            "width": ("i", True, 0),
            "cin": ("i", True, 0),
            "in_lanes": ("i", True, 1),
            "classes": ("i", True, 0),  # NO: output neurons
            "weight_bits": ("i", True, 8),
            "acc_bits": ("i", True, 16),
            "membrane": ("i", False, 1),  # 1: li_step + argmax of the final membranes; 0: lif_step + counts
            "events_per_cycle": ("i", False, 2),  # 1 or 2 (the ROM's read ports)
            "ram_style": ("s", False, "auto", {"auto", "distributed", "block", "ultra"}),
            "max_in_events": ("i", True, 0),
            "max_in_words": ("i", True, 0),
            "layer_index": ("i", False, 1),
            **LIF_ATTRS,
        }
        attrs.update(self.common_attrs())
        return attrs

    def positions(self) -> int:
        return self.attr("height") * self.attr("width")

    def spec(self, weights=None, name: str = "dense0") -> DenseSpec:
        a = self.attr
        rows = a("cin") * self.positions()
        w = np.zeros((rows, a("classes")), np.int64) if weights is None else weights
        style = check_ram_style(self.onnx_node, a("ram_style"), {"auto", "distributed", "block", "ultra"})
        return DenseSpec(name, self.positions(), a("cin"), a("in_lanes"), a("classes"), a("weight_bits"),
                         a("acc_bits"), self.lif_params(), bool(a("membrane")), w, a("events_per_cycle"), style)

    def model_spec(self, model, name: str = "dense0") -> DenseSpec:
        return self.spec(self.initializer(model, 1, "weights"), name)

    # ---------------------------------------------------------------- shapes and types
    def class_bits(self) -> int:
        return max(1, (self.attr("classes") - 1).bit_length())

    def get_output_datatype(self, ind=0):
        return DataType[f"UINT{self.class_bits()}"] if ind == 0 else DataType[f"INT{self.attr('state_bits')}"]

    def get_normal_input_shape(self, ind=0):
        return (self.attr("time_steps"), self.attr("cin"), self.attr("height"), self.attr("width"))

    def get_normal_output_shape(self, ind=0):
        return (1, 1) if ind == 0 else (1, self.attr("classes"))

    def get_instream_width(self, ind=0):
        return self.attr("in_lanes") + max(1, (self.positions() - 1).bit_length()) + 3

    def get_outstream_width(self, ind=0):
        return self.class_bits() + 1 if ind == 0 else self.attr("classes") * self.attr("state_bits")  # class + BAD

    def max_in_words(self) -> int:
        return self.attr("max_in_words")

    def max_out_words(self) -> int:
        return 1

    def verify_node(self):
        return [] if self.attr("events_per_cycle") in (1, 2) else ["events_per_cycle must be 1 or 2"]

    # ---------------------------------------------------------------- execution
    def execute_python(self, context) -> None:
        x = self.context_input(context, 0)
        self.check_shape(x)
        w = self.context_input(context, 1)
        cur = x.reshape(len(x), -1) @ w  # (T, NO)
        bits = self.attr("acc_bits")  # ap_int<ACC_BITS> current registers wrap
        cur = (cur + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))
        membrane = bool(self.attr("membrane"))
        spikes, v = run_neurons(cur, self.lif_params(), readout=membrane)
        score = v if membrane else spikes.sum(0)
        node = self.onnx_node
        context[node.output[0]] = np.array([[np.argmax(score)]], dtype=np.float32)  # ties: the lowest index
        if len(node.output) > 1:
            context[node.output[1]] = v.reshape(1, -1).astype(np.float32)

    # ---------------------------------------------------------------- estimates
    def fixed_cycles(self) -> int:
        return self.attr("time_steps") * self.attr("classes") + 1  # the one-lane update per step, FRAME

    def bound_event_cycles(self) -> int:
        return self.attr("time_steps") * -(-self.attr("max_in_events") // self.attr("events_per_cycle"))

    def estimate(self) -> dict:
        return resources.dense(self.spec())

    def get_op_and_param_counts(self):
        return {"op_lif_update": self.attr("time_steps") * self.attr("classes"),
                "param_weight_bits": self.attr("cin") * self.positions() * self.attr("classes")
                * self.attr("weight_bits")}


class SpikingDense_hls(SpikingDense, EventHLS):  # noqa: N801 - FINN's <Op>_hls naming
    def get_nodeattr_types(self):
        attrs = SpikingDense.get_nodeattr_types(self)
        attrs.update(EventHLS.get_nodeattr_types(self))
        return attrs

    def layer_source(self, model=None) -> accel_csim.LayerSource:
        spec = self.spec() if model is None else self.model_spec(model)
        return accel_csim.dense_source(spec, self.attr("layer_index"))


class SpikingDense_rtl(SpikingDense, EventRTL):  # noqa: N801 - FINN's <Op>_rtl naming
    """spiking_dense.sv (with lif_neuron.sv): one output, the 32-bit packet of the class (BAD in
    bit 31) and the final membranes with TLAST (readout/rtl.py)."""

    RTL_SOURCES = rtl.SOURCES

    def get_nodeattr_types(self):
        attrs = SpikingDense.get_nodeattr_types(self)
        attrs.update(EventRTL.get_nodeattr_types(self))
        return attrs

    def rtl_data_files(self, model):
        spec = self.spec(name=self.onnx_node.name) if model is None else self.model_spec(model, self.onnx_node.name)
        return rtl.rom_files(spec)  # the weight ROM, read by $readmemh

    def rtl_kernel(self, model):
        spec = self.spec(name=self.onnx_node.name) if model is None else self.model_spec(model, self.onnx_node.name)
        return ("spiking_dense", rtl.generics(spec), (rtl.in_format(spec).width, False, rtl.OUT_BITS, True, None))
