"""The plain-gradient family: ``saliency`` (the input gradient), ``input_x_gradient``
(times the input; also the training path) and the gradient correction of Majdandzic
& Koo (``gradient_correction``) both can apply."""
from __future__ import annotations

import torch

from regbench.attributions.common import (batch_indices, check_shape, evaluating, input_gradient,
                                          model_dtype)
from regbench.attributions.training import training_attributions
from regbench.errors import RegbenchError


def input_x_gradient(model: torch.nn.Module, X: torch.Tensor, *, batch_size: int = 256,
                     create_graph: bool = False, target: int | None = None,
                     args: tuple = (), device=None, corrected: bool = False) -> torch.Tensor:
    """Gradient of the summed logits w.r.t. the input, times the input.

    X: (N, 4, L) one-hot (float or integer). Returns attributions (N, 4, L).
    ``target=None`` explains the sum of logits over tasks (the training-time
    attribution); an int explains that task only.

    ``create_graph=True`` is the training path: the whole X in one pass, the model in
    its current mode, the graph kept for double backprop. ``create_graph=False`` is the
    evaluation path: ``saliency`` (eval mode, batches of ``batch_size`` on ``device``,
    by default the model's) times X, a detached result on X's device; ``corrected``
    takes the gradient minus its mean over bases (``gradient_correction``) there.
    ``args``: the model's further inputs (N, ...).
    """
    check_shape(X)
    if create_graph:
        if corrected:
            raise RegbenchError("corrected=True is an evaluation option of input_x_gradient "
                                "(create_graph=False)")
        return training_attributions(model, X, target, args=args)[1]
    grad = saliency(model, X, batch_size=batch_size, target=target, device=device,
                    args=args, corrected=corrected)
    return X.to(grad.dtype) * grad


def gradient_correction(grad: torch.Tensor) -> torch.Tensor:
    """The gradient correction of Majdandzic & Koo (Genome Biology 2023): at every
    position, the gradient minus its mean over the four bases. grad: (N, 4, L) ->
    (N, 4, L).

    One-hot inputs lie on the simplex sum_b x_b = 1; the mean over bases is (up to a
    factor) the gradient's component orthogonal to it, a direction no input moves in,
    which the model was never trained on and which only adds noise. Applied to the
    gradient before any method uses it (saliency, input x gradient, integrated
    gradients' averaged path gradient)."""
    return grad - grad.mean(dim=1, keepdim=True)


def saliency(model: torch.nn.Module, X: torch.Tensor, *, batch_size: int = 128,
             target: int | None = 0, device=None, args: tuple = (),
             corrected: bool = False) -> torch.Tensor:
    """Saliency (Simonyan, Vedaldi & Zisserman 2014): the gradient of the explained
    output (task ``target``; None: the sum over tasks) w.r.t. the one-hot input.

    X: (N, 4, L) one-hot (float or integer). Returns (N, 4, L) on X's device, in the
    model's dtype: all four bases at every position (hypothetical scores), not
    multiplied by X. ``corrected``: minus the mean over bases at each position
    (``gradient_correction``). The model runs in eval mode with TF32 off, in batches
    of ``batch_size`` on ``device`` (default: the model's own). ``args``: the model's
    further inputs (N, ...), passed with their rows, not attributed.
    """
    check_shape(X)
    with evaluating(model, device) as device:
        parts = [input_gradient(model, X[rows].to(device), target,
                           tuple(a[rows].to(device) for a in args)).to(X.device)
                 for rows in batch_indices(len(X), batch_size)]
    grad = torch.cat(parts) if parts else torch.zeros(X.shape, dtype=model_dtype(model))
    return gradient_correction(grad) if corrected else grad
