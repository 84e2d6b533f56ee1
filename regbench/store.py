"""Files of a results folder, written atomically.

Every file regbench writes goes through ``atomic_write``: a temporary file beside the
target, opened with a plain ``open()`` (so it gets the permissions the user's umask
gives, e.g. 0644 under umask 022, where ``tempfile`` would make it 0600), then renamed
over the target. A reader never sees half a file, and an interrupted write leaves
the old file (or none), never a broken one.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np


def atomic_write(path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; parents are created.
    Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_csv(frame, path) -> Path:
    """A pandas DataFrame as CSV, without its index."""
    return atomic_write(path, frame.to_csv(index=False))


def atomic_write_npz(path, **arrays) -> Path:
    """Arrays as one compressed ``.npz`` (``np.savez_compressed``)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write(path, buffer.getvalue())


__all__ = ["atomic_write", "atomic_write_csv", "atomic_write_npz"]
