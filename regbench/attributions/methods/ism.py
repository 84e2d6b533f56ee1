"""In-silico saturation mutagenesis, via tangermeme."""
from __future__ import annotations

import torch
from tangermeme.saturation_mutagenesis import saturation_mutagenesis

from regbench.attributions.common import (check_one_hot, check_target, model_device,
                                          full_float32)


def ism(model: torch.nn.Module, X: torch.Tensor, *, batch_size: int = 128,
        target: int = 0, device=None, args: tuple = (), fast: bool = False) -> torch.Tensor:
    """In-silico saturation mutagenesis via tangermeme's ``saturation_mutagenesis``.

    X: (N, 4, L) one-hot. Returns (N, 4, L) on X's device: at position i and base b,
    output(x with base b at i) - output(x) of task ``target``. Positive: substituting
    b raises the output. Exactly 0 at the observed base (tangermeme fills that
    identity edit with the unmutated prediction); at an N position (all-zero column)
    all four substitutions are made. This is tangermeme's ``raw_outputs``, not its
    default aggregation, which subtracts the mean over bases at each position.

    Every edit is one forward pass (3 L per sequence) in batches of ``batch_size`` on
    ``device`` (default: the model's), eval mode, TF32 off. ``fast=False`` by default:
    tangermeme's fastISM is chosen by timing the first batch, so with it the numbers
    could differ by rounding between two runs of the same config. ``args``: the
    model's further inputs (N, ...), each edited sequence gets its example's rows.
    """
    X = torch.as_tensor(X)
    check_one_hot(X, allow_N=True)
    device = device if device is not None else model_device(model)
    check_target(model, X[:1], target, tuple(a[:1] for a in args))
    with full_float32():
        y0, y_hat = saturation_mutagenesis(model, X, args=tuple(args) or None,
                                           batch_size=batch_size, raw_outputs=True,
                                           device=device, fast=fast)
    # y0: (N, T); y_hat: (N, 4, L, T), the observed base's entry filled with y0
    return (y_hat[..., target] - y0[:, None, None, target]).to(X.device)
