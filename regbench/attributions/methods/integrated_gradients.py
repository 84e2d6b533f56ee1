"""Integrated gradients against dinucleotide-shuffled references or the all-zero
baseline, with the gradient correction as an option."""
from __future__ import annotations

import torch
from tangermeme.ersatz import dinucleotide_shuffle

from regbench.attributions.common import (batch_indices, check_one_hot, evaluating, input_gradient,
                                          model_dtype)
from regbench.attributions.methods.gradients import gradient_correction
from regbench.errors import RegbenchError


def _shuffled_references(X: torch.Tensor, seeds: list[int], allow_N: bool) -> torch.Tensor:
    """One dinucleotide shuffle of each row of X (B, 4, L), row i drawn with seed
    ``seeds[i]``: the reference deep_lift_shap pairs with it (reference k of every
    example has seed random_state + k). Returns (B, 4, L)."""
    return dinucleotide_shuffle(X, n=1, random_state=seeds, allow_N=allow_N)[:, 0]


def integrated_gradients(model: torch.nn.Module, X: torch.Tensor, *,
                         baseline: str = "shuffle", n_shuffles: int = 20, steps: int = 20,
                         batch_size: int = 128, random_state: int = 0, device=None,
                         target: int | None = 0, args: tuple = (),
                         corrected: bool = False) -> torch.Tensor:
    """Integrated gradients (Sundararajan, Taly & Yan 2017).

    For input x and reference x', ``(x - x') * mean_s grad f(x' + a_s (x - x'))`` with
    ``steps`` points a_s = (s + 1/2) / steps (the midpoint rule), averaged over the
    references. ``baseline="shuffle"``: ``n_shuffles`` dinucleotide-shuffled
    references per example, reference k drawn with seed ``random_state + k``, the
    same references as ``deep_lift_shap`` with that ``random_state``;
    ``baseline="zero"``: the all-zero sequence, one reference. ``corrected``: the
    averaged path gradient minus its mean over bases (``gradient_correction``) before
    it is multiplied by x - x'.

    X: (N, 4, L) one-hot (N positions, all-zero columns, allowed: the shuffles keep
    them). Returns (N, 4, L) on X's device, in the model's dtype; non-zero wherever x
    and x' differ. Summed over (4, L) it approaches f(x) minus the mean f(x') as steps
    grow (exactly for a linear model). The model runs in eval mode with TF32 off on
    ``device`` (default: the model's); ``batch_size`` counts example-reference pairs
    per forward pass (one pass per step). ``args``: the model's further inputs
    (N, ...): each evaluation along every path gets its example's own rows.
    """
    X = torch.as_tensor(X)
    check_one_hot(X, allow_N=True)
    if baseline not in ("shuffle", "zero"):
        raise RegbenchError(f"baseline must be 'shuffle' or 'zero', got {baseline!r}")
    if steps < 1 or (baseline == "shuffle" and n_shuffles < 1):
        raise RegbenchError(f"integrated gradients needs steps >= 1 and n_shuffles >= 1, "
                            f"got steps={steps}, n_shuffles={n_shuffles}")
    n_refs = n_shuffles if baseline == "shuffle" else 1
    has_N = not torch.all(X.sum(dim=1) == 1)
    dtype = model_dtype(model)
    attr = torch.zeros(X.shape, dtype=dtype)
    alphas = [(s + 0.5) / steps for s in range(steps)]
    with evaluating(model, device) as device:
        for pairs in batch_indices(len(X) * n_refs, batch_size):
            rows, k = pairs // n_refs, pairs % n_refs     # pair = (example, reference)
            x = X[rows].cpu()
            ref = (_shuffled_references(x, (random_state + k).tolist(), has_N)
                   if baseline == "shuffle" else torch.zeros_like(x))
            x, ref = x.to(device=device, dtype=dtype), ref.to(device=device, dtype=dtype)
            batch_args = tuple(a[rows].to(device) for a in args)
            grad = sum(input_gradient(model, ref + alpha * (x - ref), target, batch_args)
                       for alpha in alphas) / steps
            if corrected:
                grad = gradient_correction(grad)
            attr.index_add_(0, rows, ((x - ref) * grad).cpu())
    return (attr / n_refs).to(X.device)
