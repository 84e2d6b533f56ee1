"""The smoothness and sparsity (Gini) attribution priors of Erion et al. (2019/2021)."""
from __future__ import annotations

import torch

from regbench.regularizers.fourier import reduce_examples
from regbench.spectra import attribution_magnitude


def smoothness_penalty(attr: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Total variation of g along the sequence: sum_i |g[i+1] - g[i]|.

    attr: (N, 4, L). Returns a 0-dim tensor (mean over N) or (N,) with reduction="none".
    """
    g = attribution_magnitude(attr)
    return reduce_examples((g[:, 1:] - g[:, :-1]).abs().sum(dim=-1), reduction)


def sparsity_penalty(attr: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Minus twice the Gini coefficient of g: -(sum_ij |g_i - g_j|) / (L * sum_i g_i).

    Computed in O(L log L) by sorting: sum_ij |g_i - g_j| = 2 sum_k (2k - L - 1) g_(k).
    A track with zero total has no Gini coefficient and gets penalty 0.
    attr: (N, 4, L). Returns a 0-dim tensor (mean over N) or (N,) with reduction="none".
    """
    g = attribution_magnitude(attr)
    length = g.shape[-1]
    ordered, _ = torch.sort(g, dim=-1)
    ranks = torch.arange(1, length + 1, dtype=g.dtype, device=g.device)
    pairwise_sum = 2.0 * (ordered * (2.0 * ranks - length - 1.0)).sum(dim=-1)
    return reduce_examples(_minus_scaled_gini(pairwise_sum, g), reduction)


def sparsity_penalty_pairwise(attr: torch.Tensor) -> torch.Tensor:
    """The same Gini penalty from its O(L^2) pairwise definition.

    Reference and benchmark only: it builds an (N, L, L) tensor. attr: (N, 4, L).
    """
    g = attribution_magnitude(attr)
    pairwise_sum = (g.unsqueeze(-1) - g.unsqueeze(-2)).abs().sum(dim=(-1, -2))
    return _minus_scaled_gini(pairwise_sum, g).mean()


def _minus_scaled_gini(pairwise_sum: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """-(sum_ij |g_i - g_j|) / (L * sum_i g_i) per track, 0 for a zero track.

    pairwise_sum: (N,); g: (N, L). The safe denominator keeps the gradient finite."""
    total = g.sum(dim=-1)
    safe_total = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, -pairwise_sum / (g.shape[-1] * safe_total),
                       torch.zeros_like(total))
