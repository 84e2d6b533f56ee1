"""Reading a file torch saved as data only: tensors and plain data, never objects whose
unpickling could run code. Checkpoints and training snapshots both go through it."""
from __future__ import annotations

import contextlib
import pickle
import struct

import numpy as np
import torch

from regbench.errors import RegbenchError

try:   # numpy numbers that checkpoints written before ``_plain`` may hold: data too
    from numpy._core.multiarray import scalar as _numpy_scalar   # numpy >= 2
except ImportError:
    from numpy.core.multiarray import scalar as _numpy_scalar
_NUMPY_SCALARS = [np.dtype, _numpy_scalar,   # and the dtypes of bools, ints and floats
                  *{type(np.dtype(code)) for code in "?bhilqBHILQefd"}]


class UnreadableCheckpoint(RegbenchError):
    """A checkpoint that cannot be read as one: corrupt or truncated bytes, a payload
    without what rebuilding its model needs, weights that do not fit that model. Not a
    refused one (objects that could run code). ``why``: one line."""

    def __init__(self, path, why: str):
        self.path, self.why = path, why
        super().__init__(f"cannot read checkpoint {path} ({why}); delete it to train its "
                         "run again")


# torch's zip reader (caffe2's inline_container) on bytes that are not an archive
_ARCHIVE_ERRORS = ("PytorchStreamReader", "inline_container", "hasRecord")


def read_data(path, device: str = "cpu"):
    """``torch.load(path)`` as data only (tensors and plain data); a refusal (a
    RegbenchError) or an ``UnreadableCheckpoint``."""
    allowed = getattr(torch.serialization, "safe_globals", None)   # torch >= 2.5
    try:
        with allowed(_NUMPY_SCALARS) if allowed else contextlib.nullcontext():
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not _forbidden_global(exc):   # not a pickle at all: corrupt bytes
            raise UnreadableCheckpoint(path, "corrupt: not a checkpoint's bytes") from None
        raise RegbenchError(f"refused checkpoint {path}: it holds objects other than "
                            "tensors and plain data, and loading them could run code; "
                            "delete it to train its run again") from None
    except RuntimeError as exc:   # others (CUDA: out of memory, no device) are not the file's
        if not any(s in str(exc) for s in _ARCHIVE_ERRORS):
            raise
        raise UnreadableCheckpoint(path, "corrupt or truncated archive") from None
    except (EOFError, IndexError, KeyError, ValueError, UnicodeDecodeError,
            struct.error) as exc:   # the unpickler reading bytes that are no pickle
        raise UnreadableCheckpoint(path, f"corrupt or truncated bytes "
                                         f"({type(exc).__name__})") from None


def _forbidden_global(exc: pickle.UnpicklingError) -> bool:
    """Whether torch's weights-only unpickler stopped at a global (a class or function
    it does not allow: what could run code), not at bytes it cannot parse. Its message
    names the one it met (``__context__``: its own, under torch's advice)."""
    text = " ".join(str(e) for e in (exc, exc.__context__) if e is not None)
    return "GLOBAL" in text or "Unsupported global" in text


__all__ = ["UnreadableCheckpoint", "read_data"]
