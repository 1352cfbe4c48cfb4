"""`SpikingConv` / `SpikingConv_hls`: spiking_conv.hpp as a FINN HW op.

Input 0: a frame's input events as dense per-step counts (T, CI, H, W) (conv0: the encoder's
counts; later: 0/1 spikes); input 1: the integer weights (CI, K, K, CO), [ci][kh][kw][co] as
torch's conv2d reads them ('same' padding); output: the spikes (T, CO, H, W). The attributes are
spiking_conv.hpp's template arguments; `ram_style` is the accumulators' storage (the pragma the
node's top emits), the membranes' follows the depth rule of `ConvSpec.state_ram_style`.
"""

from __future__ import annotations

import numpy as np
import torch
from qonnx.core.datatype import DataType

from .. import accel_csim
from ... import resources
from ..accelerator import ConvSpec
from . import rtl
from ..event_rtl import EventRTL
from ..event_op import LIF_ATTRS, EventHLS, EventOp, check_ram_style, run_neurons


class SpikingConv(EventOp):
    """k x k 'same' convolution of the step's events, then lif_step once per neuron and step."""

    def get_nodeattr_types(self):
        attrs = {
            "height": ("i", True, 0),
            "width": ("i", True, 0),
            "cin": ("i", True, 0),
            "cout": ("i", True, 0),
            "kernel": ("i", True, 0),
            "in_lanes": ("i", True, 1),  # lanes of an input event word (positions per word x CI)
            "sp": ("i", False, 1),  # SP: positions swept per cycle; divides width
            "weight_bits": ("i", True, 8),
            "acc_bits": ("i", True, 16),  # the step current
            "ram_style": ("s", False, "distributed", {"distributed", "block", "ultra"}),  # accumulators
            "max_in_events": ("i", True, 0),  # events a step can bring (the guaranteed bound's input)
            "max_in_words": ("i", True, 0),  # words a frame can bring (the upstream kernel's)
            "layer_index": ("i", False, 1),  # the C simulation's counter of this kernel
            **LIF_ATTRS,
        }
        attrs.update(self.common_attrs())
        return attrs

    def spec(self, weights=None, name: str = "conv") -> ConvSpec:
        a = self.attr
        w = np.zeros((a("cin"), a("kernel"), a("kernel"), a("cout")), np.int64) if weights is None else weights
        return ConvSpec(name, a("height"), a("width"), a("cin"), a("cout"), a("kernel"), a("in_lanes"), a("sp"),
                        a("weight_bits"), a("acc_bits"), self.lif_params(), w,
                        check_ram_style(self.onnx_node, a("ram_style")))

    def model_spec(self, model, name: str = "conv") -> ConvSpec:
        return self.spec(self.initializer(model, 1, "weights"), name)

    # ---------------------------------------------------------------- shapes and types
    def get_output_datatype(self, ind=0):
        return DataType["UINT1"]

    def get_normal_input_shape(self, ind=0):
        return (self.attr("time_steps"), self.attr("cin"), self.attr("height"), self.attr("width"))

    def get_normal_output_shape(self, ind=0):
        return (self.attr("time_steps"), self.attr("cout"), self.attr("height"), self.attr("width"))

    def _addr_bits(self) -> int:
        return max(1, (self.attr("height") * self.attr("width") - 1).bit_length())

    def get_instream_width(self, ind=0):
        return self.attr("in_lanes") + self._addr_bits() + 3  # mask, address, STEP / FRAME / BAD

    def get_outstream_width(self, ind=0):
        return self.attr("sp") * self.attr("cout") + self._addr_bits() + 3

    def groups(self) -> int:
        return self.attr("height") * self.attr("width") // self.attr("sp")

    def max_in_words(self) -> int:
        return self.attr("max_in_words")

    def max_out_words(self) -> int:
        return self.attr("time_steps") * self.groups() + 1

    def verify_node(self):
        w, sp = self.attr("width"), self.attr("sp")
        return [] if sp >= 1 and w % sp == 0 else [f"sp={sp} must divide width={w}"]

    # ---------------------------------------------------------------- execution
    def execute_python(self, context) -> None:
        x = self.context_input(context, 0)
        self.check_shape(x)
        w = self.context_input(context, 1)  # (ci, kh, kw, co)
        k = self.attr("kernel")
        with torch.no_grad():  # float64 holds every integer current exactly (< 2^53)
            cur = torch.nn.functional.conv2d(torch.from_numpy(x).double(),
                                             torch.from_numpy(w.transpose(3, 0, 1, 2).copy()).double(),
                                             padding=k // 2).round().long().numpy()
        bits = self.attr("acc_bits")  # the kernel's ap_int<ACC_BITS> accumulator wraps
        cur = (cur + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))
        spikes, _ = run_neurons(cur.reshape(len(cur), -1), self.lif_params(), readout=False)
        context[self.onnx_node.output[0]] = spikes.reshape(cur.shape).astype(np.float32)

    # ---------------------------------------------------------------- estimates
    def fixed_cycles(self) -> int:
        return self.attr("time_steps") * self.groups() + 1  # the sweeps, the FRAME word

    def bound_event_cycles(self) -> int:
        return self.attr("time_steps") * self.attr("max_in_events")  # one event per cycle

    def estimate(self) -> dict:
        return resources.conv(self.spec())

    def get_op_and_param_counts(self):
        a = self.attr
        neurons = a("height") * a("width") * a("cout")
        return {"op_lif_update": a("time_steps") * neurons,
                "param_weight_bits": a("cin") * a("kernel") ** 2 * a("cout") * a("weight_bits")}


class SpikingConv_hls(SpikingConv, EventHLS):  # noqa: N801 - FINN's <Op>_hls naming
    def get_nodeattr_types(self):
        attrs = SpikingConv.get_nodeattr_types(self)
        attrs.update(EventHLS.get_nodeattr_types(self))
        return attrs

    def layer_source(self, model=None) -> accel_csim.LayerSource:
        i = self.attr("layer_index")
        name = f"conv{i - 1}"
        return accel_csim.conv_source(self.spec(name=name) if model is None else self.model_spec(model, name), i)


class SpikingConv_rtl(SpikingConv, EventRTL):  # noqa: N801 - FINN's <Op>_rtl naming
    """spiking_conv.sv (with lif_neuron.sv): the event words in and out as the HLS node's."""

    RTL_SOURCES = rtl.SOURCES

    def get_nodeattr_types(self):
        attrs = SpikingConv.get_nodeattr_types(self)
        attrs.update(EventRTL.get_nodeattr_types(self))
        return attrs

    def rtl_data_files(self, model):
        spec = self.spec(name=self.onnx_node.name) if model is None else self.model_spec(model, self.onnx_node.name)
        return rtl.rom_files(spec)  # the weight ROMs, read by $readmemh

    def rtl_kernel(self, model):
        spec = self.spec(name=self.onnx_node.name) if model is None else self.model_spec(model, self.onnx_node.name)
        return ("spiking_conv", rtl.generics(spec), (rtl.in_format(spec).width, False, rtl.out_format(spec).width,
                                                     False, None))
