"""Base codes <-> bytes and one-hot tensors (alphabet A, C, G, T; N all-zero)."""
from __future__ import annotations

import numpy as np
import torch

LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
# Byte -> code: A/a=0, C/c=1, G/g=2, T/t=3, anything else (N, IUPAC) = 4.
CODE_OF_BYTE = np.full(256, 4, dtype=np.uint8)
for _code, _letter in enumerate(b"ACGT"):
    CODE_OF_BYTE[_letter] = CODE_OF_BYTE[_letter + 32] = _code
_ONE_HOT = torch.cat([torch.eye(4), torch.zeros(1, 4)])


def encode(seq: bytes | str) -> np.ndarray:
    """Codes of one sequence: (L,) uint8."""
    raw = seq.encode() if isinstance(seq, str) else seq
    return CODE_OF_BYTE[np.frombuffer(raw, dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    """Letters of one code row (L,) as a string."""
    return LETTERS[np.asarray(codes)].tobytes().decode()


def one_hot(codes) -> torch.Tensor:
    """One-hot float32 tensor (N, 4, L) from codes (N, L) (uint8 array or tensor).

    N (code 4) becomes an all-zero column. Any leading shape works: (..., L) -> (..., 4, L).
    """
    codes = torch.as_tensor(np.asarray(codes) if not torch.is_tensor(codes) else codes)
    return _ONE_HOT.to(codes.device)[codes.long()].movedim(-1, -2).contiguous()
