"""Input handling shared by the metrics: numpy or torch in, numpy out."""
from __future__ import annotations

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.spectra import attribution_magnitude


def to_numpy(x, dtype=None) -> np.ndarray:
    """A numpy array from a numpy array, a torch tensor (any device) or a list."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def as_tracks(attr) -> np.ndarray:
    """Attributions (N, 4, L) as float64, with a clear error for any other shape."""
    attr = to_numpy(attr, np.float64)
    if attr.ndim != 3 or attr.shape[1] != 4:
        raise RegbenchError(f"attributions must have shape (N, 4, L), got {attr.shape}")
    return attr


def magnitude(attr) -> np.ndarray:
    """g = sum over bases of |attr|. attr: (N, 4, L). Returns (N, L) float64."""
    return attribution_magnitude(torch.from_numpy(as_tracks(attr))).numpy()


def as_mask(mask, shape: tuple[int, int]) -> np.ndarray:
    """A boolean per-position mask of the given (N, L) shape."""
    mask = to_numpy(mask)
    if mask.shape != shape:
        raise RegbenchError(f"motif_mask must have shape (N, L) = {shape}, got {mask.shape}")
    return mask.astype(bool)


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den is 0 (an undefined ratio, not a warning)."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out
