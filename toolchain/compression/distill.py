"""Knowledge distillation: the unpruned model teaches its pruned copy while it is fine-tuned.

loss = (1 - alpha) * CE(student, labels) + alpha * T^2 * KL(p_teacher || p_student), with
p = softmax(logits / T). The T^2 keeps the soft term's gradients on the scale of the hard one
(Hinton et al. 2015). Imperial's recipe: T = 2, alpha = 0.5. The KL is averaged per frame
(`batchmean`), the mathematical KL; torch's default `mean` would divide it again by the class
count and make the soft term 24x weaker than intended.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..train.loop import LossFn


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
                      temperature: float = 2.0, alpha: float = 0.5) -> torch.Tensor:
    """Mean over the batch; `teacher` is treated as a constant (no gradient flows into it)."""
    t = temperature
    hard = F.cross_entropy(student, labels)
    soft = F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher.detach() / t, dim=1),
                    reduction="batchmean", log_target=True)
    return (1.0 - alpha) * hard + alpha * t * t * soft


def distillation_loss_fn(teacher: torch.nn.Module, temperature: float, alpha: float) -> LossFn:
    """A train_epoch loss that runs the (frozen, eval-mode) teacher on each batch."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    def loss(logits: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            soft_targets = teacher(inputs)
        return distillation_loss(logits, soft_targets, labels, temperature, alpha)

    return loss
