"""A trained `snn` model as a NIR graph (neuromorphic intermediate representation, nir 1.0.8).

    input -> conv0 -> lif0 -> ... -> conv{n-1} -> lif{n-1} -> flatten -> readout -> li -> output

Synapses carry the integer weights (float arrays holding integers), so neuron parameters are in
the same integer units. The neuron is mapped with the time step as the unit of time (dt = 1)
and forward Euler, NIR's usual discretisation:

    integer LIF (toolchain.snn.lif)      NIR LIF: tau dv/dt = (v_leak - v) + r I, fire v > v_threshold
    v1 = v - (v >> k)  (x (1 - 2^-k))    tau = 2^k, r = 2^k, v_leak = 0: v += (1/tau)(-v + tau I)
    v2 = v1 + I                          = v (1 - 2^-k) + I
    s = v2 >= theta                      v_threshold = theta - 1/2 (same decision on integers)
    reset: v - theta, or 0               v_reset = 0

k = 0 (no leak) is NIR's IF (dv/dt = r I, r = 1); the readout is LI (or I for k = 0) with the
same tau and r, or LIF for a spike-count readout. What NIR cannot say is written into the file:
`graph.metadata["limitations"]` (name -> sentence) and every neuron node's metadata (the exact
integer parameters and the update rule), since nir 1.0.8 keeps node and graph metadata through
write/read. Strings and numbers only: nir returns lists of strings as byte arrays.

Simulator variants (`target`), the same network written so that a simulator's own importer
steps the model's dynamics; neither Norse 1.1 nor snnTorch 1.0 maps NIR's LI or I, so their
readout is a LIF whose threshold, 2^(B-1), no membrane reaches below saturation:
- "norse" (`norse.torch.from_nir(graph, dt=1)`): Norse ignores r (takes 1) and steps
  v += (dt/tau)(v_leak - v + I), so tau = 2^k, r = 1 and every threshold divided by 2^k: the same
  spikes, membranes in units of 2^k; k = 0 is NIR's IF (Norse's IAF, v += I).
- "snntorch" (`snntorch.import_nir.import_from_nir`): its importer fixes dt = 1e-4 s, beta =
  1 - dt/tau and an input gain r dt / tau, so tau = 2^k * 1e-4 and r = 2^k give beta = 1 - 2^-k
  and gain 1 (one step = 0.1 ms); k = 0 is written as k = 24 (beta rounds to 1 in float32), since
  its IF mapping leaks (beta 0.9).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

UPDATE_RULE = ("per step, in order: v1 = v - (v >> k) (arithmetic shift, floor); v2 = sat(v1 + I) if r == 0 else v1; "
               "s = (v2 >= theta) and r == 0; v' = v2 - theta (subtract) or 0 (zero) where s; r' = R where s else "
               "max(r - 1, 0); sat clamps to [-2**(B-1), 2**(B-1) - 1]; state starts at v = 0, r = 0 every frame")


def limitations(model) -> dict[str, str]:
    """What the NIR graph cannot express about this model: a sentence per item (always present,
    so a reader knows the item was considered; `applies` says whether this model is affected)."""
    cfg = model.config
    k, bits = cfg.snn_leak_shift, cfg.snn_state_bits
    thetas = sorted({int(layer.params.threshold) for layer in model.layers})
    theta = thetas[0] if len(thetas) == 1 else "theta"
    return {
        "reset_by_subtraction": (
            f"applies={cfg.snn_reset == 'subtract'}: the model resets by subtraction (v' = v - {theta}); NIR LIF only "
            "resets to v_reset, so v_reset = 0 is written (as snnTorch's exporter does) and the residue above the "
            "threshold is lost by a NIR simulator" if cfg.snn_reset == "subtract" else
            "applies=False: the model resets to zero, which NIR's v_reset = 0 expresses exactly"),
        "saturation": (f"applies=True: the membrane is a signed {bits}-bit integer saturating at "
                       f"[{-(1 << (bits - 1))}, {(1 << (bits - 1)) - 1}] at the add; NIR has no state width or clamp"),
        "shift_floor": (f"applies={k > 0}: the leak is v - (v >> {k}), an arithmetic shift that floors (also for "
                        f"negative v); NIR's tau = {1 << k} gives the exact product v (1 - 2^-{k}), so float "
                        "simulators drift from the integer membranes (spike times usually agree)"),
        "refractory": (f"applies={cfg.snn_refractory > 0}: refractory period of {cfg.snn_refractory} steps "
                       "(input ignored, leak goes on); NIR's LIF has no refractory period"),
        "threshold_comparison": (f"applies=True: the model fires on v >= {theta}, NIR on v > v_threshold; "
                                 "v_threshold = threshold - 0.5 gives the same decision for integer membranes"),
        "time_step": ("applies=True: NIR is continuous-time; tau and r are in units of one time step (dt = 1, forward "
                      "Euler). Within a step every layer runs in order with no synaptic delay"),
        "encoder": (f"applies=True: the {cfg.snn_encoder} spike encoder runs on the host; the input node takes its "
                    f"spike counts per time step ({cfg.input_length // cfg.snn_group} steps per frame, counts may exceed "
                    "one spike per neuron and step unless binary); the state is cleared between frames"),
        "readout": ("applies=True: the class is the argmax of the readout's final membrane (membrane readout) or of "
                    "its spike counts over all steps (count readout), taken on the host; the per-frame "
                    "standardisation and temperature of the training logits are not part of the graph"),
        "integer_weights": ("applies=True: weights are the integers of the quantized synapses (Brevitas weight / "
                            "scale), neuron parameters are in the same units; the scale is not needed for inference"),
    }


TARGETS = ("nir", "norse", "snntorch")
SNNTORCH_DT = 1e-4  # seconds: snnTorch 1.0's import_from_nir fixes dt (tau = dt / (1 - beta), r = tau / dt)
NO_LEAK_SHIFT = 24  # snnTorch variant of k = 0: a decay of 1 - 2**-24, which float32 rounds to 1


def _neuron(shape: tuple[int, ...], params, readout: bool, layer: int, target: str = "nir") -> Any:
    """The NIR node of one LIF layer. `target`: the exact mapping ("nir"), or the variant a
    simulator's importer steps as the model does ("norse", "snntorch"; see the module doc)."""
    import nir

    k, theta = params.leak_shift, params.threshold
    full = lambda value: np.full(shape, float(value), dtype=np.float32)  # noqa: E731 - per-neuron arrays
    meta = {"toolchain_layer": f"syn{layer}", "update_rule": UPDATE_RULE, "leak_shift": k,
            "decay_per_step": 1.0 - 2.0 ** -k if k else 1.0, "threshold": theta, "reset": params.reset,
            "state_bits": params.state_bits, "refractory": params.refractory, "dt": 1.0}
    if target != "nir":
        # Neither importer maps LI or I: the readout becomes a LIF whose threshold no membrane
        # reaches below saturation, i.e. the same leaky integrator, read from the simulator's state.
        never = float(1 << (params.state_bits - 1))
        v_th = never if readout else theta - 0.5
        meta["role"] = "membrane readout: LIF that never fires (threshold 2**(B-1))" if readout else "LIF layer"
        if target == "norse":
            # Norse steps v += dt/tau (v_leak - v + I), ignoring r: with tau = 2^k, r = 1 its membrane is
            # ours / 2^k, so thresholds are divided by 2^k; k = 0 is Norse's IAF (v += I)
            if k == 0:
                return nir.IF(r=full(1), v_threshold=full(v_th), v_reset=full(0), metadata=meta)
            scale = 2.0 ** -k
            return nir.LIF(tau=full(1 << k), r=full(1), v_leak=full(0), v_threshold=full(v_th * scale),
                           v_reset=full(0), metadata={**meta, "membrane_unit": f"2**{k} integer units"})
        # snnTorch: beta = 1 - dt/tau = 1 - 2^-k with its dt of 1e-4 s; r = tau/dt makes its input gain 1
        kk = k or NO_LEAK_SHIFT
        return nir.LIF(tau=full((1 << kk) * SNNTORCH_DT), r=full(1 << kk), v_leak=full(0), v_threshold=full(v_th),
                       v_reset=full(0), metadata={**meta, "dt": SNNTORCH_DT})
    if readout:
        meta["role"] = "membrane readout: leaky integrator (steps 1 and 2 of the rule), never fires"
        if k == 0:
            return nir.I(r=full(1), metadata=meta)
        return nir.LI(tau=full(1 << k), r=full(1 << k), v_leak=full(0), metadata=meta)
    meta["v_threshold_note"] = f"v_threshold = threshold - 0.5: v > {theta - 0.5} is v >= {theta} for integers"
    if k == 0:
        return nir.IF(r=full(1), v_threshold=full(theta - 0.5), v_reset=full(0), metadata=meta)
    return nir.LIF(tau=full(1 << k), r=full(1 << k), v_leak=full(0), v_threshold=full(theta - 0.5),
                   v_reset=full(0), metadata=meta)


def snn_to_nir(model, target: str = "nir") -> Any:
    """The NIR graph of an `snn` model (its current weights); `target`: one of TARGETS."""
    import nir
    import torch

    from .encoders import encode
    from .layers import int_weight

    cfg = model.config
    spikes = encode(cfg, torch.zeros(1, 2, cfg.input_length))  # (1, T, C, H, W)
    shape = tuple(int(d) for d in spikes.shape[2:])
    nodes: dict[str, Any] = {"input": nir.Input({"input": np.array(shape)})}
    edges: list[tuple[str, str]] = []
    last = "input"
    for i, layer in enumerate(model.layers):
        weight = int_weight(layer.synapse).detach().cpu().numpy().astype(np.float32)
        syn_meta = {"toolchain_layer": f"syn{i}", "weight_bits": int(layer.synapse.quant_weight().bit_width),
                    "weights": "integers (quantized weight / scale)"}
        if weight.ndim == 4:
            pad: Any = tuple(int(p) for p in layer.synapse.padding)
            syn_meta["padding_pixels"] = f"{pad[0]}, {pad[1]} (zeros; rows, columns)"
            if weight.shape[2] != weight.shape[3]:
                # nir 1.0.8 infers a Conv2d's output shape from the kernel's height alone, so the
                # 1 x k kernels of the delta encoding would fail its type check; 'same' is exact
                # for these stride-1, odd-kernel convolutions.
                pad = "same"
            nodes[f"conv{i}"] = nir.Conv2d(input_shape=shape[1:], weight=weight, stride=1, padding=pad, dilation=1,
                                           groups=1, bias=np.zeros(weight.shape[0], dtype=np.float32),
                                           metadata=syn_meta)
            shape = (weight.shape[0], *shape[1:])  # stride 1, 'same' padding: the plane keeps its size
            syn = f"conv{i}"
        else:
            if len(shape) > 1:
                nodes["flatten"] = nir.Flatten({"input": np.array(shape)}, start_dim=0, end_dim=-1)
                edges.append((last, "flatten"))
                last = "flatten"
            shape = (weight.shape[0],)
            syn = "readout"
            nodes[syn] = nir.Linear(weight=weight, metadata=syn_meta)
        edges.append((last, syn))
        neuron = "li" if layer.readout else f"lif{i}"
        nodes[neuron] = _neuron(shape, layer.params, layer.readout, i, target)
        edges.append((syn, neuron))
        last = neuron
    nodes["output"] = nir.Output({"output": np.array(shape)})
    edges.append((last, "output"))
    meta = {
        "producer": "toolchain export_nir",
        "target": target,
        "model": "snn",
        "nir_version": _nir_version(),
        "time_steps": int(spikes.shape[1]),
        "dt": SNNTORCH_DT if target == "snntorch" else 1.0,
        "neuron_mapping": "LIF: tau = r = 2**leak_shift, v_leak = 0, v_threshold = threshold - 0.5, v_reset = 0 "
                          "(IF for leak_shift 0); readout LI (I for leak_shift 0) or LIF for a count readout",
        "readout": cfg.snn_readout,
        "encoder": cfg.snn_encoder,
        "encoder_settings": {k: str(v) for k, v in vars(cfg).items() if k.startswith("snn_")},
        "limitations": limitations(model),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _nir_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("nir")
    except metadata.PackageNotFoundError:
        return "unknown"


def write_nir(graph: Any, path: str | Path) -> Path:
    """nir.write into a temporary file beside `path`, renamed onto it only once complete."""
    import nir

    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return Path(path)
