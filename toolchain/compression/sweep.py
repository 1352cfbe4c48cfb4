"""The bit-width sweep of `reduce_bits`: settings from the config, the fine-tune that keeps a
pruned model's zeros, the choice of the model to keep and the accuracy/score plot."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional

from torch import nn

from ..errors import ConfigError

Setting = tuple[Optional[list[int]], Optional[list[int]]]  # (weight bits, activation bits); None = the model's


def bit_layers(model: nn.Module) -> tuple[list[nn.Module], list[nn.Module]]:
    """The quantized conv/linear layers and the QuantReLUs, in registration order: the order of
    model.layer_weight_bits / layer_act_bits."""
    from brevitas.nn import QuantReLU
    from brevitas.nn.quant_layer import QuantWeightBiasInputOutputLayer

    mods = list(model.modules())
    return ([m for m in mods if isinstance(m, QuantWeightBiasInputOutputLayer)],
            [m for m in mods if isinstance(m, QuantReLU)])


def _expand(entry: Optional[list[int]], n: int, key: str, i: int) -> Optional[list[int]]:
    if entry is None:
        return None
    if len(entry) == 1:
        return entry * n
    if len(entry) != n:
        raise ConfigError(f"config key 'prune.{key}[{i}]': expected 1 value (every layer) or {n} "
                          f"(one per layer, input to output), got {len(entry)}")
    return list(entry)


def settings(bits_weight, bits_act, n_weight: int, n_act: int) -> list[Setting]:
    """The sweep, one (weight, act) setting per entry, with one-value entries expanded."""
    count = len(bits_weight) if bits_weight is not None else len(bits_act or [])
    out = []
    for i in range(count):
        w = _expand(bits_weight[i], n_weight, "bits_weight", i) if bits_weight is not None else None
        a = _expand(bits_act[i], n_act, "bits_act", i) if bits_act is not None else None
        out.append((w, a))
    return out


@contextmanager
def zeros_kept(model: nn.Module) -> Iterator[None]:
    """Fine-tune without reviving pruned weights: every zero weight of a conv/linear layer is held
    at zero by a torch pruning mask for the duration, then the masks are made permanent."""
    from torch.nn.utils import prune

    from .masks import follow_masks

    masked = []
    for layer in bit_layers(model)[0]:
        zero = layer.weight.detach() == 0
        if zero.any():
            prune.custom_from_mask(layer, "weight", ~zero)
            masked.append(layer)
    handle = follow_masks(model, [("", layer) for layer in masked])  # the SNN never calls its synapses' forward
    try:
        yield
    finally:
        handle.remove()
        for layer in masked:
            prune.remove(layer, "weight")


def choose(rows: list[dict[str, Any]], floor: float) -> Optional[tuple[int, str]]:
    """(row index, variant) of the model to keep: the lowest score among the variants whose val
    accuracy meets `floor`; without scores (prune.score false), the last such setting in sweep
    order. Of one setting's variants the more accurate, the fine-tuned one on a tie."""
    best, best_key = None, None
    for i, row in enumerate(rows):
        for variant in ("untuned", "finetuned"):
            result = row.get(variant)
            if result is None or result["val_acc"] < floor:
                continue
            key = (row["score"] if row["score"] is not None else -i, -result["val_acc"])
            if best_key is None or key <= best_key:
                best, best_key = (i, variant), key
    return best


def plot_sweep(rows: list[dict[str, Any]], floor: float, out_png) -> None:
    """Validation accuracy against the challenge score (or the setting, without scores)."""
    from ..plotting import pyplot

    plt = pyplot()

    from ..atomic import save_figure

    scored = all(r["score"] is not None for r in rows)
    x = [r["score"] if scored else i for i, r in enumerate(rows)]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(x, [r["untuned"]["val_acc"] for r in rows], "o", label="no fine-tune")
    if all(r["finetuned"] is not None for r in rows):
        ax.plot(x, [r["finetuned"]["val_acc"] for r in rows], "s", label="fine-tuned")
    for xi, r in zip(x, rows):
        ax.annotate(r["label"], (xi, r["untuned"]["val_acc"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(floor, color="tab:red", linestyle="--", label=f"criterion {floor:.3f}")
    ax.set_xlabel("challenge score" if scored else "setting")
    ax.set_ylabel("validation accuracy")
    ax.set_title("bit-width reduction")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out_png)


def label(weight: Optional[list[int]], act: Optional[list[int]]) -> str:
    """Short name of a setting for the plot: w5a5, w[5,5,4]a5, ..."""
    def part(prefix: str, bits: Optional[list[int]]) -> str:
        if bits is None:
            return ""
        return f"{prefix}{bits[0]}" if len(set(bits)) == 1 else f"{prefix}[{','.join(map(str, bits))}]"

    return part("w", weight) + part("a", act) or "as trained"
