"""Which weights are pruned, and the torch.nn.utils.prune masks on them.

Layers are chosen by module type (`prune.layer_types`), never by position: the Imperial
challenge script pruned a BatchNorm by index and left a dense layer dense without noticing.
Brevitas' QuantConv1d/QuantConv2d/QuantLinear subclass torch's Conv/Linear, so one isinstance
check covers quantized and plain layers; BatchNorm is neither, whatever its position.

Every chosen weight carries a mask from the start (an all-ones `prune.identity` before the first
step), so the model's state_dict has the same keys (`weight_orig`, `weight_mask`) at every step:
a rollback or a resume is then one `load_state_dict`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from ..errors import ToolchainError

LAYER_TYPES: dict[str, tuple[type[nn.Module], ...]] = {
    "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d),
    "linear": (nn.Linear,),
}
Targets = list[tuple[str, nn.Module]]  # (module name, module) whose `weight` is pruned


def select(model: nn.Module, layer_types: list[str]) -> Targets:
    """The modules of the chosen types, in model order (the order only labels the report)."""
    kinds = tuple(cls for t in layer_types for cls in LAYER_TYPES[t])
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]
    if not targets:
        raise ToolchainError(f"config key 'prune.layer_types' is {layer_types!r} but the model has no such layer "
                             f"(it has: {', '.join(sorted({type(m).__name__ for m in model.modules()}))})")
    return targets


def attach(targets: Targets) -> None:
    """All-ones masks on every chosen weight (no-op on a weight that already has one)."""
    for _, module in targets:
        if not hasattr(module, "weight_mask"):
            prune.identity(module, "weight")


def follow_masks(model: nn.Module, targets: Targets):
    """Recompute every target's masked `weight` at the start of each forward pass of `model`;
    returns the hook handle. torch's pruning hook runs only when the pruned module's own forward
    runs, but a module may read its weight without calling it (the SNN's LIF synapse calls
    `synapse.quant_weight()`): its `weight` would stay the tensor computed when the mask was
    applied, fine-tuning would not reach weight_orig and a second backward pass through that
    stale graph fails. For a model that does call the modules this costs one multiply more."""
    def refresh(_module: nn.Module, _inputs: Any) -> None:
        for _, m in targets:
            for hook in list(m._forward_pre_hooks.values()):
                if isinstance(hook, prune.BasePruningMethod):
                    hook(m, None)  # sets m.weight = weight_orig * weight_mask

    return model.register_forward_pre_hook(refresh)


def prune_global(targets: Targets, amount: float) -> None:
    """Remove `amount` of the still unpruned weights, the smallest |w| over all chosen layers
    together. torch combines the new mask with the old one (a PruningContainer), so a weight once
    pruned stays pruned."""
    params = [(m, "weight") for _, m in targets]
    # Scores from weight_orig * mask, not torch's default `module.weight`: that attribute is
    # only recomputed by the next forward pass, so after a rollback or a resume
    # (load_state_dict) it would still hold the rejected step's or the initial weights.
    scores = {(m, "weight"): (m.weight_orig * m.weight_mask).detach() for _, m in targets}
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, importance_scores=scores, amount=amount)


def masks(targets: Targets) -> dict[str, torch.Tensor]:
    return {name: m.weight_mask.detach().clone() for name, m in targets}


def sparsity(targets: Targets) -> dict[str, Any]:
    """Share of pruned (masked) weights, overall and per layer. Counts masks, not zeros: weights
    that quantize to zero without being pruned are the cost report's business."""
    layers, pruned, total = {}, 0, 0
    for name, m in targets:
        mask = m.weight_mask
        p, n = int((mask == 0).sum()), mask.numel()
        layers[name] = {"type": type(m).__name__, "weights": n, "pruned": p, "sparsity": p / n}
        pruned, total = pruned + p, total + n
    return {"overall": pruned / total, "pruned": pruned, "weights": total, "layers": layers}


def materialised_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as the unpruned model has it: `weight = weight_orig * weight_mask`,
    no mask keys. Loads into a fresh model of the same config."""
    state = model.state_dict()
    out = {}
    for key, value in state.items():
        if key.endswith("weight_orig"):
            base = key[: -len("_orig")]
            out[base] = (value * state[base + "_mask"]).detach().clone()
        elif not key.endswith("weight_mask"):
            out[key] = value.detach().clone()
    return out


def materialise(targets: Targets) -> None:
    """Make the masks permanent: plain `weight` parameters with zeros (prune.remove)."""
    for _, module in targets:
        prune.remove(module, "weight")
