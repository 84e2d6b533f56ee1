"""More priors and the non-attribution baselines, each one registry entry.

Penalties on input gradients (``needs="gradients"``: the gradient of the explained
output w.r.t. the one-hot input, all four bases, double backprop as for attribution
priors):

- ``l1_gradient``: the L1 norm of the input gradient (input-gradient regularization,
  Ross & Doshi-Velez, AAAI 2018, who used its squared L2 norm; here the L1 norm, which
  favours sparse gradients), per position: mean over examples of
  (1 / L) * sum_{b,i} |g[b, i]|.
- ``off_simplex``: the off-simplex gradient angle (Majdandzic & Koo, Genome Biology
  2023). One-hot inputs lie on the simplex sum_b x_b = 1; at position i the angle θ_i
  between the gradient g[:, i] and that plane has sin θ_i = sum_b g[b, i] / (2 ||g[:, i]||)
  (the normal (1, 1, 1, 1) / 2). The penalty is the root mean square of θ_i over
  positions, averaged over examples: gradients that leave the simplex (noise the data
  never constrain) are penalised. Positions with a zero gradient have θ = 0.

A penalty on the whole training step (``needs="step"``):

- ``saliency_guided``: saliency-guided training (Ismail, Corrada Bravo & Feizi,
  NeurIPS 2021). The lowest-saliency half of each prior example's positions get random
  bases (the input stays one-hot); the penalty is the KL divergence between the output
  distributions on the original and the masked input. Binary tasks only.

Baselines that are not penalties (no λ):

- ``evoaug`` (``needs="batch"``): EvoAug-style augmentation (Lee et al., Genome Biology
  2023), written natively and shape-preserving: per sequence, random substitutions,
  a reverse complement, and a length-preserving insertion or deletion, each with its
  own probability, drawn from the trainer's ``torch.Generator``. Binary tasks only
  (a profile's targets would have to move with the sequence).
- ``dropout`` (``needs="model"``): dropout after the dense layers of the binary CNN.
- ``exp_activation`` (``needs="model"``): an exponential activation in the first
  convolution layer (Koo & Ploenzke, Nature Machine Intelligence 2021).
"""
from __future__ import annotations

import torch

from regbench.errors import RegbenchError
from regbench.regularizers.registry import register_regularizer


def l1_gradient_penalty(grad: torch.Tensor) -> torch.Tensor:
    """grad (N, 4, L) -> mean over N of sum_{b,i} |g| / L (0-dim)."""
    return grad.abs().sum(dim=(1, 2)).mean() / grad.shape[-1]


def off_simplex_angles(grad: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """θ (N, L) in radians: the angle of each position's gradient g[:, i] (4,) to the
    simplex plane, arcsin(sum_b g / (2 ||g||)); 0 where the gradient is 0."""
    norm = grad.norm(dim=1)
    sin = grad.sum(dim=1) / (2 * norm.clamp_min(eps))
    # |sin| <= 1 by Cauchy-Schwarz; the clamp keeps arcsin's derivative finite
    return torch.where(norm > eps, torch.asin(sin.clamp(-1 + 1e-6, 1 - 1e-6)),
                       torch.zeros_like(sin))


def off_simplex_penalty(grad: torch.Tensor) -> torch.Tensor:
    """grad (N, 4, L) -> mean over N of sqrt(mean_i θ_i²) (0-dim)."""
    theta = off_simplex_angles(grad)
    return theta.pow(2).mean(dim=-1).add(1e-12).sqrt().mean()


@register_regularizer("l1_gradient", needs="gradients", lambda_range=(1e-2, 1e2),
                      default_lambda=1.0,
                      description="L1 norm of the input gradient (Ross & Doshi-Velez 2018, "
                                  "L1 form)")
def l1_gradient(grad) -> torch.Tensor:
    return l1_gradient_penalty(grad)


@register_regularizer("off_simplex", needs="gradients", lambda_range=(1e-2, 1e2),
                      default_lambda=1.0,
                      description="off-simplex gradient angle (Majdandzic & Koo 2023): RMS "
                                  "over positions")
def off_simplex(grad) -> torch.Tensor:
    return off_simplex_penalty(grad)


def evoaug_transform(X: torch.Tensor, y, generator: torch.Generator,
                     mutation_rate: float = 0.05, rc_prob: float = 0.5,
                     indel_prob: float = 0.3, max_indel: int = 20):
    """A batch X (B, 4, L) one-hot, augmented row by row, shape kept; y unchanged.

    Per row: each position is substituted by a random base with probability
    ``mutation_rate``; with ``rc_prob`` the row is reverse-complemented; with
    ``indel_prob`` a random stretch of 1..max_indel bases is inserted at a random
    position (the end falls off) or deleted (random bases fill the end), half each.
    """
    if not (torch.is_tensor(y) and y.ndim == 2):
        raise RegbenchError("evoaug augments binary tasks (labels (B, T)); a profile's "
                            "targets would have to move with the sequence")
    B, _, L = X.shape
    device = X.device
    draw = lambda *shape: torch.rand(shape, generator=generator, device=device)  # noqa: E731
    bases = lambda *shape: torch.randint(0, 4, shape, generator=generator,  # noqa: E731
                                         device=device)
    X = X.clone()
    hit = draw(B, L) < mutation_rate
    X = torch.where(hit[:, None, :], torch.nn.functional.one_hot(
        bases(B, L), 4).transpose(1, 2).to(X.dtype), X)
    flip = draw(B) < rc_prob
    X = torch.where(flip[:, None, None], X.flip(1, 2), X)
    indel = draw(B) < indel_prob
    if indel.any() and max_indel > 0:
        size = torch.randint(1, max_indel + 1, (B,), generator=generator, device=device)
        at = (draw(B) * L).long()
        insert = draw(B) < 0.5
        pos = torch.arange(L, device=device)[None, :]
        # insertion: positions >= at+size come from at..; deletion: positions >= at come
        # from at+size.., the tail filled with random bases
        source = torch.where(insert[:, None], torch.where(pos >= at[:, None] + size[:, None],
                                                          pos - size[:, None], pos),
                             torch.where(pos >= at[:, None], pos + size[:, None], pos))
        random = torch.nn.functional.one_hot(bases(B, L), 4).transpose(1, 2).to(X.dtype)
        fresh = torch.where(insert[:, None], (pos >= at[:, None]) & (pos < at[:, None]
                                                                      + size[:, None]),
                            source >= L)
        moved = X.gather(2, source.clamp(max=L - 1)[:, None, :].expand(B, 4, L))
        moved = torch.where(fresh[:, None, :], random, moved)
        X = torch.where(indel[:, None, None], moved, X)
    return X, y


def saliency_guided_penalty(step, mask_fraction: float = 0.5) -> torch.Tensor:
    """Saliency-guided training (Ismail, Corrada Bravo & Feizi, NeurIPS 2021) for
    DNA: the ``mask_fraction`` of positions with the lowest saliency (sum over bases
    of |d explained output / dx|, not differentiated) of each prior example get a
    random base, keeping the input one-hot; the penalty is the KL divergence between
    the model's output distributions on the original and on the masked input, mean
    over examples and tasks (binary: Bernoulli(sigmoid(logit))). step: StepContext."""
    X = step.X[:step.n_prior].detach()
    B, _, L = X.shape
    k = int(round(mask_fraction * L))
    point = X.clone().requires_grad_()
    with torch.enable_grad():
        grad, = torch.autograd.grad(step.explain(point).sum(), point)
    lowest = grad.abs().sum(dim=1).argsort(dim=1)[:, :k]             # (B, k) positions
    bases = torch.randint(0, 4, (B, k), generator=step.generator, device=X.device)
    masked = X.clone()
    masked.scatter_(2, lowest[:, None, :].expand(B, 4, k), 0.0)
    rows = torch.arange(B, device=X.device)[:, None].expand(B, k)
    masked[rows, bases, lowest] = 1.0
    p = torch.sigmoid(step.explain(X))          # original (N, T)
    q = torch.sigmoid(step.explain(masked))     # masked
    eps = 1e-7
    p, q = p.clamp(eps, 1 - eps), q.clamp(eps, 1 - eps)
    kl = p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()
    return kl.mean()


@register_regularizer("saliency_guided", needs="step", tasks=("binary",),
                      lambda_range=(1e-2, 1e2), default_lambda=1.0,
                      description="saliency-guided training (Ismail et al. 2021): KL between "
                                  "outputs on the input and on it with its least salient "
                                  "positions randomised")
def saliency_guided(step, mask_fraction: float = 0.5) -> torch.Tensor:
    return saliency_guided_penalty(step, mask_fraction)


@register_regularizer("evoaug", needs="batch", tasks=("binary",),
                      description="EvoAug-style augmentation: substitutions, reverse "
                                  "complement, length-preserving indels (batch transform)")
def evoaug(X, y, generator, mutation_rate: float = 0.05, rc_prob: float = 0.5,
           indel_prob: float = 0.3, max_indel: int = 20):
    return evoaug_transform(X, y, generator, mutation_rate, rc_prob, indel_prob, max_indel)


@register_regularizer("dropout", needs="model", tasks=("binary",),
                      description="dropout after the dense layers (model option)")
def dropout(rate: float = 0.2) -> dict:
    return {"dropout": float(rate)}


@register_regularizer("exp_activation", needs="model", tasks=("binary",),
                      description="exponential first-layer activation (Koo & Ploenzke 2021; "
                                  "model option)")
def exp_activation() -> dict:
    return {"first_activation": "exp"}


__all__ = ["evoaug_transform", "l1_gradient_penalty", "off_simplex_angles",
           "off_simplex_penalty"]
