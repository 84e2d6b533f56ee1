"""The five built-in registry entries: none, l2, fourier, smoothness, sparsity.

λ ranges are the log-uniform search ranges; default λ values are used only when no
search is run. Fourier's default λ = 1 is the paper's value for binary models. The
others are set so that λ · penalty starts on the scale of the correctness loss
(as the paper did for smoothness and sparsity); they are not tuned to any outcome.
"""
from __future__ import annotations

import torch

from regbench.regularizers.erion import smoothness_penalty, sparsity_penalty
from regbench.regularizers.fourier import default_freq_limit, fourier_penalty
from regbench.regularizers.registry import register_regularizer
from regbench.regularizers.weight import l2_penalty


@register_regularizer("none", needs="nothing", default_lambda=0.0,
                      description="No regularizer (baseline)")
def none(_target=None) -> torch.Tensor:
    return torch.zeros(())


# l2_penalty itself: the grouped step recognises it (``ParameterPenalty.solo_reason``)
l2 = register_regularizer("l2", needs="parameters", lambda_range=(1e-6, 1e-1),
                          default_lambda=1e-3,
                          description="L2 weight penalty: sum of squared weights")(l2_penalty)


@register_regularizer("fourier", needs="attributions", lambda_range=(1e-2, 1e2),
                      default_lambda=1.0,
                      description="Fourier prior: penalize attribution power above freq_limit")
def fourier(attr, freq_limit: int | None = None, softness: float | None = 0.2,
            smooth_sigma: float = 3) -> torch.Tensor:
    if freq_limit is None:
        freq_limit = default_freq_limit(attr.shape[-1])
    return fourier_penalty(attr, freq_limit, softness, smooth_sigma)


@register_regularizer("smoothness", needs="attributions", lambda_range=(1e-3, 1e1),
                      default_lambda=0.1,
                      description="Erion smoothness prior: total variation of attributions")
def smoothness(attr) -> torch.Tensor:
    return smoothness_penalty(attr)


@register_regularizer("sparsity", needs="attributions", lambda_range=(1e-2, 1e2),
                      default_lambda=1.0,
                      description="Erion sparsity prior: minus twice the Gini of attributions")
def sparsity(attr) -> torch.Tensor:
    return sparsity_penalty(attr)
