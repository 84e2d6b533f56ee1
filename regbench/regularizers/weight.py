"""L2 weight penalty: sum of squared parameters, scaled by λ in the trainer's loss."""
from __future__ import annotations

import torch


def l2_penalty(model: torch.nn.Module) -> torch.Tensor:
    """Sum of squares of every trainable parameter of ``model``. Returns a 0-dim tensor.

    Added to the loss (not the optimizer's ``weight_decay``) so that λ is searched the
    same way for every regularizer.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.stack([p.pow(2).sum() for p in params]).sum()
