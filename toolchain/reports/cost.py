"""Inference-cost report from qonnx's `inference_cost` result (pure: dict in, dict out).

Keeps qonnx's nested `total_cost`, repeats its entries at the top level under the names the
2021 challenge scripts read (`total_bops`, `total_mem_w_bits`, `op_mac_*`, `mem_w_*`, ...), adds a
per-layer breakdown and the challenge score, which normalises by the official baseline.
"""

from __future__ import annotations

import ast
from typing import Any

BASELINE_BOPS = 807_699_904  # official VGG10 w8a8 baseline, qonnx inference_cost, sparsity discounted
BASELINE_MEM_W_BITS = 1_244_936


def challenge_score(bops: float, mem_w_bits: float) -> float:
    return 0.5 * bops / BASELINE_BOPS + 0.5 * mem_w_bits / BASELINE_MEM_W_BITS


def unsupported_ops(total_cost: dict[str, Any]) -> list[str]:
    """qonnx stores the set of ops it could not cost as the string of a Python set."""
    text = str(total_cost.get("unsupported", "set()")).strip()
    if text in ("", "set()"):
        return []
    return sorted(ast.literal_eval(text))


def _num(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def cost_report(result: dict[str, Any], op_types: dict[str, str]) -> dict[str, Any]:
    """`result`: qonnx inference_cost(..., cost_breakdown=True); `op_types`: node name -> op type."""
    total = {k: _num(v) for k, v in result["total_cost"].items()}
    unsupported = unsupported_ops(total)
    layers = []
    for name, cost in result.get("node_cost", {}).items():
        if not cost.get("total_macs") and not cost.get("total_mem_w_elems"):
            continue  # ops qonnx counts as free (pooling, activations, reshapes)
        layers.append({
            "name": name,
            "op_type": op_types.get(name, "?"),
            "macs": _num(cost.get("total_macs", 0)),
            "bops": _num(cost.get("total_bops", 0)),
            "mem_w_bits": _num(cost.get("total_mem_w_bits", 0)),
            "mem_w_elems": _num(cost.get("total_mem_w_elems", 0)),
            "mem_o_bits": _num(cost.get("total_mem_o_bits", 0)),
        })
    score = challenge_score(total["total_bops"], total["total_mem_w_bits"])
    flat = {k: v for k, v in total.items() if k != "unsupported"}
    return {
        **flat,
        "unsupported": unsupported,
        "score": score,
        "baseline": {"total_bops": BASELINE_BOPS, "total_mem_w_bits": BASELINE_MEM_W_BITS},
        "total_cost": {**total, "unsupported": unsupported},
        "layers": layers,
    }


def plot_layers(report: dict[str, Any], out_png) -> None:
    """Bit operations and weight bits per layer, side by side."""
    from ..atomic import save_figure
    from ..plotting import pyplot

    plt = pyplot()

    layers = report["layers"]
    names = [f"{layer['name']}\n({layer['op_type']})" for layer in layers]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 0.9 * len(layers) + 4), 4.5))
    for ax, key, label in ((axes[0], "bops", "bit operations"), (axes[1], "mem_w_bits", "weight bits")):
        ax.bar(range(len(layers)), [layer[key] for layer in layers], color="tab:blue" if key == "bops" else "tab:orange")
        ax.set_xticks(range(len(layers)), names, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel(label)
        ax.set_title(f"{label}: {report['total_' + ('bops' if key == 'bops' else 'mem_w_bits')]:,}")
    fig.suptitle(f"inference cost per layer, challenge score {report['score']:.4f}")
    fig.tight_layout()
    save_figure(fig, out_png)
