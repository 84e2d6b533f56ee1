"""Snapshots of a training in progress, so that a stopped run goes on from its last
epoch instead of from its first.

A profile model on a CPU trains for hours, and a session, a batch job's time limit or
a Ctrl-C stops it mid-way. ``fit`` writes a snapshot beside the run's checkpoint
(``<checkpoint>.resume``) every ``SNAPSHOT_SECONDS`` of training: the weights, Adam's
state, every random state the epochs draw from, the early-stopping state and the
history. A fit started again with the same checkpoint path reads it and continues at
the next epoch, and trains exactly what the uninterrupted run would have: the same
batches, the same weights, bit for bit (tests/test_resume.py). The snapshot is
deleted when the checkpoint is written.

Only a stepper that can say its whole state (``snapshot``) is snapshotted: a solo run.
A grouped run (binary, seconds long) starts again from its first epoch.
"""
from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from regbench.errors import RegbenchError
from regbench.store.runs import atomic_write
from regbench.training.safe_load import read_data

# Seconds of training between snapshots: writing one costs about what a small model's
# step does, so the quick binary runs (seconds long) never write one.
SNAPSHOT_SECONDS = 60.0


def snapshot_path(checkpoint) -> Path:
    """Where the snapshot of the run whose checkpoint is ``checkpoint`` lives."""
    return Path(f"{checkpoint}.resume")


def write_snapshot(path, state: dict) -> None:
    """Write ``state`` (tensors and plain data only) atomically to ``path``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, buffer.getvalue())


def read_snapshot(path, fingerprint: dict) -> dict | None:
    """The snapshot at ``path`` when it is one of this training (``fingerprint``
    equal), else None. One that cannot be read, or was written by another training,
    is set aside with a line on stderr: the run then trains from its first epoch."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = read_data(path)
    except RegbenchError as exc:   # corrupt, truncated, or holding objects
        why = getattr(exc, "why", str(exc))
        state = None
    else:
        why = "it was written by another training"
        if isinstance(state, dict) and state.get("fingerprint") == fingerprint:
            return state
    tqdm.write(f"regbench: ignoring the snapshot {path} ({why}); training from epoch 1",
               file=sys.stderr)
    return None


def remove_snapshot(path) -> None:
    Path(path).unlink(missing_ok=True)


def random_states(generator: torch.Generator | None = None) -> dict:
    """Every global random state a training epoch may draw from (Python, NumPy's
    legacy generator, torch's CPU and CUDA ones) and ``generator``'s, as plain data."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states = {"python": random.getstate(),
              "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        states["generator"] = generator.get_state()
    return states


def set_random_states(states: dict, generator: torch.Generator | None = None) -> None:
    """Restore ``random_states``' states (and ``generator``'s)."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if generator is not None and "generator" in states:
        generator.set_state(states["generator"])


__all__ = ["SNAPSHOT_SECONDS", "random_states", "read_snapshot", "remove_snapshot",
           "set_random_states", "snapshot_path", "write_snapshot"]
