"""What the Fourier prior and the evaluation metrics share: the per-position
attribution magnitude and the frequency cut-off. Neither owns the other.
"""
from __future__ import annotations

import torch

from regbench.errors import RegbenchError


def attribution_magnitude(attr: torch.Tensor) -> torch.Tensor:
    """g = sum over the 4 bases of |attr|. attr: (N, 4, L). Returns (N, L)."""
    if attr.dim() != 3:
        raise RegbenchError(f"attributions must have shape (N, 4, L), got {tuple(attr.shape)}")
    return attr.abs().sum(dim=1)


# The authors' T per attributed input length: binary models 150 on 1000 bp, profile
# models 200 on 1346 bp (``fourier_att_prior_freq_limit`` in train_binary_model.py and
# train_profile_model.py, and the same T in their view_*_predictions notebooks'
# high-frequency fraction). Both mean a shortest period of about 6.7 bp (the paper:
# "no motif will be shorter than 6-7 bp").
BINARY_FREQ_RATIO = 0.15
PROFILE_FREQ_RATIO = 200 / 1346


def default_freq_limit(length: int, ratio: float = BINARY_FREQ_RATIO) -> int:
    """The paper's T scaled to the attributed track's length L: round(ratio × L), 150
    at 1000 bp for the binary ratio (0.15), 200 at 1346 bp for the profile ratio
    (200/1346).

    Clipped into 1 .. L // 2 so it is always a valid argument.
    """
    return int(min(max(1, round(ratio * length)), max(1, length // 2)))


def check_freq_limit(length: int, freq_limit: int) -> None:
    """A RegbenchError unless T is an integer in 1 .. L // 2 (and L >= 2)."""
    if length < 2:
        raise RegbenchError(f"a frequency cut-off needs sequences of length >= 2, got L={length}")
    if int(freq_limit) != freq_limit or not 1 <= freq_limit <= length // 2:
        raise RegbenchError(
            f"freq_limit must be an integer in 1 .. L//2 = {length // 2} for L={length}, "
            f"got {freq_limit}")


__all__ = ["BINARY_FREQ_RATIO", "PROFILE_FREQ_RATIO", "attribution_magnitude", "check_freq_limit",
           "default_freq_limit"]
