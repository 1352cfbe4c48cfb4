"""Energy report of an SNN: synaptic operations (SynOps) from measured spike rates against the
multiply-accumulates (MACs) of the same network run once as a CNN (docs/energy.md).

Per layer `syn0`, `syn1`, ... (model.layers order, the readout last):

    macs_per_step   = dense MACs of the layer for one input plane: output positions x C_out x
                      C_in x kh x kw (conv), in x out (linear); padding ignored, as qonnx counts
    synops_per_step = input_rate x macs_per_step   (an accumulate per input spike and synapse;
                      a count of n spikes in one step is n accumulates)
    state_updates_per_step = neurons               (every LIF / LI neuron leaks every step)

    E_snn = T x (synops_per_step x E_add + state_updates_per_step x E_add)
          + memory: synops x weight bits + state updates x 2 x state bits (read + write), x E_bit
    E_cnn = macs_per_step x E_mac (the equivalent CNN sees the frame once, not once per step)
          + memory: MACs x weight bits x E_bit

Energies are per frame, in pJ. `energy_report` is pure (numbers in, dict out); `layer_geometry`
reads shapes and bit widths off the model; `plot_energy` draws the PNG.

The keys `layers[i].name, neurons, input_rate, macs_per_step, synops_per_step,
state_updates_per_step` are read by the cost report of export_inference_cost: keep them.
"""

from __future__ import annotations

from typing import Any, Optional

FORMAT = "toolchain-energy/1"
HOROWITZ = "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, 45 nm, 0.9 V"

# pJ per operation, 45 nm (Horowitz, ISSCC 2014, Fig. 1.1.9). MAC = mult + add (no fused figure
# is given there). Only the rows named by `energy.precision` enter the report's energies; the
# whole table is copied into the report so a reader can re-cost it.
ENERGY_TABLE: dict[str, dict[str, Any]] = {
    "int8": {"add": 0.03, "mult": 0.2, "mac": 0.23, "source": HOROWITZ},
    "int32": {"add": 0.1, "mult": 3.1, "mac": 3.2, "source": HOROWITZ},
    "fp32": {"add": 0.9, "mult": 3.7, "mac": 4.6, "source": HOROWITZ},
    # 8 kB SRAM, one 64-bit read = 10 pJ (32 kB: 20 pJ, 1 MB: 100 pJ; DRAM 1.3-2.6 nJ): an
    # on-chip buffer next to the datapath, the optimistic end. A write is costed as a read.
    "sram": {"read_64bit": 10.0, "per_bit": 10.0 / 64, "source": HOROWITZ + ", 8 kB SRAM 64-bit read"},
}


def layer_geometry(model) -> list[dict[str, Any]]:
    """Shapes, MACs and bit widths of every synapse of an `snn` model, from a probe of zeros
    through each layer's synapse (so any padding or kernel shape the model uses is honoured)."""
    import torch

    from ..snn.encoders import encode

    cfg = model.config
    shape = encode(cfg, torch.zeros(1, 2, cfg.input_length)).shape  # (1, T, C, H, W)
    steps = int(shape[1])
    probe = torch.zeros(1, *shape[2:], device=next(model.parameters()).device)
    out = []
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            if i == len(model.layers) - 1:
                probe = probe.flatten(1)
            current = layer.current(probe)
            weight = layer.synapse.weight
            conv = weight.dim() == 4
            positions = int(current[0, 0].numel()) if conv else 1
            out.append({
                "name": f"syn{i}",
                "kind": "conv" if conv else "linear",
                "readout": bool(layer.readout),
                "input_shape": list(probe.shape[1:]),
                "output_shape": list(current.shape[1:]),
                "input_neurons": int(probe[0].numel()),
                "neurons": int(current[0].numel()),
                "weights": int(weight.numel()),
                "nonzero_weights": int((weight != 0).sum()),
                "weight_bits": int(layer.synapse.quant_weight().bit_width),
                "state_bits": int(layer.params.state_bits),
                "macs_per_step": positions * int(weight.numel()),
            })
            probe = torch.zeros_like(current)
    for g in out:
        g["steps"] = steps
    return out


def energy_report(geometry: list[dict[str, Any]], input_rate: float, spike_rates: list[Optional[float]],
                  frames: int, precision: str = "int8") -> dict[str, Any]:
    """The report (dict) from the layers' geometry, the encoder's mean count per input neuron and
    step, and each layer's measured spike rate (None for a membrane readout)."""
    if precision not in ENERGY_TABLE or "mac" not in ENERGY_TABLE[precision]:
        raise ValueError(f"precision: expected one of int8, int32, fp32, got {precision!r}")
    if len(spike_rates) != len(geometry):
        raise ValueError(f"spike_rates: expected {len(geometry)} values (one per layer), got {len(spike_rates)}")
    e_add, e_mac = ENERGY_TABLE[precision]["add"], ENERGY_TABLE[precision]["mac"]
    e_bit = ENERGY_TABLE["sram"]["per_bit"]
    steps = geometry[0]["steps"]
    layers, rate_in = [], input_rate
    for g, rate in zip(geometry, spike_rates):
        synops = rate_in * g["macs_per_step"]
        updates = g["neurons"]
        snn_compute = steps * (synops + updates) * e_add
        snn_memory = steps * (synops * g["weight_bits"] + updates * 2 * g["state_bits"]) * e_bit
        cnn_compute = g["macs_per_step"] * e_mac
        cnn_memory = g["macs_per_step"] * g["weight_bits"] * e_bit
        energy = {"snn_compute_pj": snn_compute, "snn_memory_pj": snn_memory, "snn_total_pj": snn_compute + snn_memory,
                  "cnn_compute_pj": cnn_compute, "cnn_memory_pj": cnn_memory, "cnn_total_pj": cnn_compute + cnn_memory}
        layers.append({
            "name": g["name"], "kind": g["kind"], "readout": g["readout"],
            "input_shape": g["input_shape"], "output_shape": g["output_shape"],
            "input_neurons": g["input_neurons"], "neurons": g["neurons"],
            "weights": g["weights"], "nonzero_weights": g["nonzero_weights"],
            "weight_bits": g["weight_bits"], "state_bits": g["state_bits"],
            "spike_rate": rate, "input_rate": rate_in,
            "macs_per_step": g["macs_per_step"], "synops_per_step": synops, "state_updates_per_step": updates,
            "synops_per_frame": steps * synops, "state_updates_per_frame": steps * updates,
            "cnn_macs_per_frame": g["macs_per_step"],
            "energy": energy, "ratio_snn_cnn": _ratio(energy["snn_total_pj"], energy["cnn_total_pj"]),
        })
        rate_in = rate if rate is not None else 0.0  # nothing follows a membrane readout
    totals = {k: sum(layer[k] for layer in layers) for k in
              ("neurons", "macs_per_step", "synops_per_step", "state_updates_per_step", "synops_per_frame",
               "state_updates_per_frame", "cnn_macs_per_frame")}
    energy = {k: sum(layer["energy"][k] for layer in layers) for k in layers[0]["energy"]}
    return {
        "format": FORMAT,
        "frames": frames,
        "steps": steps,
        "precision": precision,
        "energy_per_op_pj": {"snn_accumulate": e_add, "snn_state_update": e_add, "cnn_mac": e_mac,
                             "sram_per_bit": e_bit},
        "energy_table": ENERGY_TABLE,
        "input_rate": input_rate,
        "layers": layers,
        "totals": {**totals, "energy": energy,
                   "ratio_snn_cnn": _ratio(energy["snn_total_pj"], energy["cnn_total_pj"]),
                   "ratio_snn_cnn_compute": _ratio(energy["snn_compute_pj"], energy["cnn_compute_pj"])},
        "conventions": [
            "energies are per frame in pJ; rates are means over the evaluated frames and all T time steps",
            "macs_per_step: dense, padding ignored (qonnx's convention); zero (pruned) weights are not discounted",
            "synops = input_rate x macs_per_step: one accumulate per input spike and outgoing synapse",
            "the equivalent CNN runs once per frame: its MACs are macs_per_step, not T x macs_per_step",
            "memory: weight read per synop/MAC, state read + write per update, at the SRAM per-bit energy; "
            "activation and spike traffic, control and static power are not counted",
        ],
    }


def _ratio(a: float, b: float) -> Optional[float]:
    return a / b if b else None


def format_summary(report: dict[str, Any]) -> str:
    t = report["totals"]
    e = t["energy"]
    ratio = "n/a" if t["ratio_snn_cnn"] is None else f"{t['ratio_snn_cnn']:.3g}"
    return (f"energy per frame ({report['precision']}, 45 nm): SNN {e['snn_total_pj'] / 1e3:.4g} nJ "
            f"({t['synops_per_frame']:.4g} SynOps over {report['steps']} steps) vs CNN {e['cnn_total_pj'] / 1e3:.4g} nJ "
            f"({t['cnn_macs_per_frame']:.4g} MACs): SNN/CNN = {ratio}")


def plot_energy(report: dict[str, Any], out_png) -> None:
    """Per layer: SNN and CNN energy per frame (compute solid, memory hatched), and the spike
    rates in and out."""
    from ..plotting import pyplot

    plt = pyplot()
    import numpy as np

    from ..atomic import save_figure

    layers = report["layers"]
    names = [f"{layer['name']}\n({layer['kind']})" for layer in layers]
    x = np.arange(len(layers))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(9, 1.6 * len(layers) + 5), 4.5))
    for offset, who, color in ((-0.2, "snn", "tab:green"), (0.2, "cnn", "tab:blue")):
        compute = np.array([layer["energy"][f"{who}_compute_pj"] for layer in layers])
        memory = np.array([layer["energy"][f"{who}_memory_pj"] for layer in layers])
        ax.bar(x + offset, compute, 0.4, color=color, label=f"{who.upper()} compute")
        ax.bar(x + offset, memory, 0.4, bottom=compute, color=color, alpha=0.4, hatch="//",
               label=f"{who.upper()} memory")
    ax.set_yscale("log")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("energy per frame (pJ)")
    ratio = report["totals"]["ratio_snn_cnn"]
    ratio_text = "n/a" if ratio is None else f"{ratio:.3g}"
    ax.set_title(f"SNN ({report['steps']} steps) vs CNN, {report['precision']}: SNN/CNN = {ratio_text}", fontsize=10)
    ax.legend(fontsize=7)
    ax2.bar(x - 0.2, [layer["input_rate"] for layer in layers], 0.4, color="tab:gray", label="input (counts)")
    ax2.bar(x + 0.2, [layer["spike_rate"] or 0.0 for layer in layers], 0.4, color="tab:orange", label="output")
    for i, layer in enumerate(layers):
        if layer["spike_rate"] is None:
            ax2.annotate("membrane\nreadout", (i + 0.2, 0), ha="center", va="bottom", fontsize=7)
    ax2.set_xticks(x, names, fontsize=8)
    ax2.set_ylabel("spikes per neuron per time step")
    ax2.set_title(f"spike rates over {report['frames']} frames", fontsize=10)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out_png)


def plot_spike_raster(spikes_in, trace: list, membrane_readout: bool, out_png, title: str = "") -> None:
    """One frame: the encoder's counts and every layer's spikes as rasters (a dot per neuron and
    step that fired), a membrane readout as one line per class."""
    from ..plotting import pyplot

    plt = pyplot()

    from ..atomic import save_figure

    panels = [("input (encoder counts)", spikes_in)] + [(f"syn{i}", t) for i, t in enumerate(trace)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True, squeeze=False)
    for k, (ax, (label, data)) in enumerate(zip(axes[:, 0], panels)):
        flat = data.reshape(data.shape[0], -1).float()
        if membrane_readout and k == len(panels) - 1:
            ax.plot(flat.numpy(), linewidth=0.8)
            ax.set_ylabel("membrane")
            ax.set_title(f"{label}: readout membrane, {flat.shape[1]} classes", fontsize=9)
            continue
        steps, neurons = flat.nonzero(as_tuple=True)
        ax.scatter(steps.numpy(), neurons.numpy(), s=3 * flat[steps, neurons].numpy(), marker="|", color="black",
                   linewidths=0.6)
        ax.set_ylim(-0.5, flat.shape[1] - 0.5)
        ax.set_ylabel("neuron")
        ax.set_title(f"{label}: {int(flat.sum())} spikes, {flat.shape[1]} neurons", fontsize=9)
    axes[-1, 0].set_xlabel("time step")
    axes[-1, 0].set_xlim(-0.5, panels[0][1].shape[0] - 0.5)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_png)
