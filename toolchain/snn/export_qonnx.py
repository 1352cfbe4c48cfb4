"""A trained SNN (`toolchain.models.snn.SNN`) -> a QONNX graph, built node by node, and its
exact verification against PyTorch.

Brevitas' exporter traces one forward call and cannot express the time loop (state carried
from step to step), so the graph is written directly with `onnx.helper`:

    spikes_in (T, C, H, W), UINT<n> counts
      -> per conv LIF layer: Quant(integer weights, scale 1) -> Conv ('same' pads) -> LIF
      -> Flatten (T, C*H*W), the order of torch's flatten(1)
      -> Quant(integer readout weights, transposed) -> MatMul -> LIF (mode "li": membrane, or
         "lif": spikes for the count readout)
    readout (T, classes): the readout of every time step

**Time** is the leading dimension: one frame is T rows, one per step; Conv and MatMul treat the
rows as a batch (they have no state), the LIF nodes (`toolchain.snn.qonnx_ops`) carry each
neuron's state from row to row and clear it every T rows. FINN streams a tensor with its
leading dimension outermost, so the hardware sees one time step after the other, as the
PyTorch model computes them. The class is the argmax of the last row (membrane readout) or of
the sum over the rows (count readout).

**The encoder runs on the host**, like the input quantisation in front of FINN's CNN
accelerators: the graph input is the encoded spike counts of one frame, annotated with their
integer datatype (`input_datatype`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .qonnx_ops import DOMAIN  # importing it registers the LIF op with qonnx

INPUT, OUTPUT = "spikes_in", "readout"
MODEL_CONFIG_KEY, LOGIT_SCALE_KEY = "toolchain.model_config", "toolchain.logit_scale"
QUANT_DOMAIN = "qonnx.custom_op.general"


def time_steps(cfg) -> int:
    return cfg.input_length // cfg.snn_group


def input_datatype(cfg):
    """The integer datatype of the encoder's counts (what the host sends to the hardware):
    UINT wide enough for `encoders.max_count`."""
    from qonnx.core.datatype import DataType

    from .encoders import max_count

    return DataType[f"UINT{max(1, max_count(cfg).bit_length())}"]


def _lif_node(layer, index: int, src: str, dst: str, steps: int):
    from onnx import helper

    p = layer.params
    return helper.make_node("LIF", [src], [dst], name=f"LIF_{index}", domain=DOMAIN, state_bits=p.state_bits,
                            leak_shift=p.leak_shift, threshold=p.threshold, reset=p.reset, refractory=p.refractory,
                            time_steps=steps, mode="li" if layer.readout else "lif")


def _quant(index: int, weights: np.ndarray, bits: int, nodes: list, inits: list) -> str:
    """A qonnx Quant node on the layer's integer weights: scale 1, zero point 0, signed, narrow
    (Brevitas' default weight quantiser: |w| <= 2**(bits-1) - 1), so its output is the integers."""
    from onnx import helper, numpy_helper

    name = f"syn{index}"
    inits += [numpy_helper.from_array(weights.astype(np.float32), f"{name}_w"),
              numpy_helper.from_array(np.array(1.0, np.float32), f"{name}_scale"),
              numpy_helper.from_array(np.array(0.0, np.float32), f"{name}_zeropt"),
              numpy_helper.from_array(np.array(float(bits), np.float32), f"{name}_bitwidth")]
    nodes.append(helper.make_node("Quant", [f"{name}_w", f"{name}_scale", f"{name}_zeropt", f"{name}_bitwidth"],
                                  [f"{name}_wq"], name=f"Quant_{index}", domain=QUANT_DOMAIN, signed=1, narrow=1,
                                  rounding_mode="ROUND"))
    return f"{name}_wq"


def build_snn_graph(model):
    """The SNN as a qonnx ModelWrapper (shapes and datatypes inferred), batch = one frame."""
    import torch
    from onnx import TensorProto, helper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    from .encoders import encode
    from .layers import int_weight

    cfg = model.config
    _, steps, channels, height, width = encode(cfg, torch.zeros(1, 2, cfg.input_length)).shape
    nodes: list = []
    inits: list = []
    src = INPUT
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        syn = layer.synapse
        with torch.no_grad():
            w = int_weight(syn).cpu().numpy()
        bits = int(syn.quant_weight().bit_width)
        dst = OUTPUT if i == last else f"lif{i}_out"
        if i < last:
            wq = _quant(i, w, bits, nodes, inits)
            ph, pw = syn.padding
            nodes.append(helper.make_node("Conv", [src, wq], [f"syn{i}_current"], name=f"Conv_{i}",
                                          kernel_shape=list(w.shape[2:]), pads=[ph, pw, ph, pw],
                                          strides=[1, 1], dilations=[1, 1], group=1))
        else:
            # (T, C, H, W) -> (T, C*H*W): channel-major like torch's flatten(1)
            nodes.append(helper.make_node("Flatten", [src], ["readout_in"], name="Flatten_0", axis=1))
            wq = _quant(i, w.T.copy(), bits, nodes, inits)  # MatMul computes x @ W^T of the Linear
            nodes.append(helper.make_node("MatMul", ["readout_in", wq], [f"syn{i}_current"], name=f"MatMul_{i}"))
        nodes.append(_lif_node(layer, i, f"syn{i}_current", dst, steps))
        src = dst
    graph = helper.make_graph(
        nodes, "snn", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [steps, channels, height, width])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [steps, cfg.num_classes])], inits)
    proto = qonnx_make_model(graph, producer_name="toolchain", opset_imports=[
        helper.make_opsetid("", 13), helper.make_opsetid(QUANT_DOMAIN, 1), helper.make_opsetid(DOMAIN, 1)])
    wrapper = ModelWrapper(proto)
    wrapper.set_tensor_datatype(INPUT, input_datatype(cfg))
    # the cleanup of qonnx.util.cleanup minus its renaming (keeps spikes_in / readout / syn<i>)
    for transform in (InferShapes(), FoldConstants(exclude_op_types=["Quant"]), RemoveUnusedTensors(),
                      InferShapes(), InferDataTypes()):
        wrapper = wrapper.transform(transform)
    # What a host needs to run the graph on I/Q frames (`toolchain classify`): the encoder's
    # settings, and the temperature that turns the standardised readout into the model's logits.
    wrapper.set_metadata_prop(MODEL_CONFIG_KEY, json.dumps(dataclasses.asdict(cfg)))
    wrapper.set_metadata_prop(LOGIT_SCALE_KEY, repr(float(model.log_scale.detach().exp())))
    return wrapper


def lif_outputs(wrapper) -> list[str]:
    """Output tensor of every LIF node, in graph (= layer) order."""
    return [n.output[0] for n in wrapper.graph.node if n.op_type == "LIF" and n.domain == DOMAIN]


def export_snn(model, path: Path):
    """Build, check and save as one self-contained file; returns the ModelWrapper."""
    import onnx

    model = model.cpu().eval()
    wrapper = build_snn_graph(model)
    onnx.checker.check_model(wrapper.model)
    onnx.save(wrapper.model, str(path), save_as_external_data=False)
    return wrapper


def random_counts(rng, n: int, shape, top: int) -> np.ndarray:
    """Sparse random spike counts in [0, top] (30 % non-zero): beyond what the encoder makes
    (any cell, any count up to the datatype's maximum), to exercise saturation and refractoriness."""
    values = rng.integers(1, top + 1, size=(n, *shape))
    return np.where(rng.random((n, *shape)) < 0.3, values, 0).astype(np.float32)


def verify_snn(model, wrapper, n: int, seed: int) -> dict:
    """n random unit-power I/Q frames (through the encoder) and n random spike-count tensors
    through PyTorch (`model.run(record=True)`) and through qonnx execution of the graph; every
    LIF node's output at every step must equal the PyTorch layer's, exactly."""
    import torch
    from qonnx.core.onnx_exec import execute_onnx

    from .encoders import encode

    cfg = model.config
    model = model.cpu().eval()
    rng = np.random.default_rng(seed)
    frames = (rng.standard_normal((n, 2, cfg.input_length)) / np.sqrt(2)).astype(np.float32)
    dtype = input_datatype(cfg)
    with torch.no_grad():
        encoded = encode(cfg, torch.from_numpy(frames)).numpy()
    counts = random_counts(rng, n, encoded.shape[1:], int(dtype.max()))
    outputs = lif_outputs(wrapper)
    mismatches = [0] * len(outputs)
    fired = [0] * len(outputs)  # spikes PyTorch made per layer: a silent network would prove little
    compared = class_mismatches = 0
    outside = int(((encoded < dtype.min()) | (encoded > dtype.max()) | (encoded != np.rint(encoded))).sum())
    for source, spikes in (("frames", encoded), ("counts", counts)):
        with torch.no_grad():
            v, readout_counts, trace = model.run(torch.from_numpy(spikes), record=True)
        want = [torch.stack(layer, 1).numpy() for layer in trace]  # (B, T, ...) per layer
        for b in range(n):
            ctx = execute_onnx(wrapper, {INPUT: spikes[b]}, return_full_exec_context=True)
            for i, name in enumerate(outputs):
                got, ref = ctx[name], want[i][b].reshape(ctx[name].shape)
                mismatches[i] += int((got != ref).sum())
                fired[i] += int(ref.sum()) if (i < len(outputs) - 1 or readout_counts is not None) else 0
                compared += got.size
            readout = ctx[OUTPUT]
            final = readout[-1] if readout_counts is None else readout.sum(0)
            torch_final = (v if readout_counts is None else readout_counts)[b].numpy()
            class_mismatches += int(final.argmax() != torch_final.argmax())
    total = sum(mismatches)
    return {"compared": "every layer's output (spikes; readout membrane or spikes) at every time step",
            "random_frames": n, "random_count_tensors": n, "seed": seed, "time_steps": int(encoded.shape[1]),
            "layers": len(outputs), "compared_values": compared, "mismatches": total,
            "mismatches_per_layer": mismatches,
            "spikes_per_layer": fired, "class_mismatches": class_mismatches,
            "input_datatype": dtype.name, "inputs_outside_datatype": outside,
            "passed": total == 0 and class_mismatches == 0 and outside == 0}


def failure_message(check: dict) -> str:
    if check["inputs_outside_datatype"]:
        return (f"export verification failed: {check['inputs_outside_datatype']} encoded counts of the random "
                f"frames do not fit the input datatype {check['input_datatype']}; nothing was written")
    return (f"export verification failed: {check['mismatches']} of {check['compared_values']} spike/readout values "
            f"(per layer {check['mismatches_per_layer']}) and {check['class_mismatches']} classes differ between "
            f"PyTorch and qonnx execution; nothing was written")

