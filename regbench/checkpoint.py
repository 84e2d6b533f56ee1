"""Checkpoints: a finished run's best weights and everything needed to rebuild,
evaluate and report it, read back as data only."""
from __future__ import annotations

import contextlib
import io
import pickle
from dataclasses import asdict

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.fit import TrainResult
from regbench.models.registry import DEFAULT_ARCHITECTURE, create_model
from regbench.store import atomic_write


try:   # numpy numbers that checkpoints written before ``_plain`` may hold: data too
    from numpy._core.multiarray import scalar as _numpy_scalar   # numpy >= 2
except ImportError:
    from numpy.core.multiarray import scalar as _numpy_scalar
_NUMPY_SCALARS = [np.dtype, _numpy_scalar,   # and the dtypes of bools, ints and floats
                  *{type(np.dtype(code)) for code in "?bhilqBHILQefd"}]


def save_checkpoint(path, trainer, result: TrainResult) -> None:
    """Best-epoch weights plus everything needed to rebuild and evaluate the model.
    trainer: a ``Trainer`` (its task, regularizer, λ and config)."""
    model = trainer.task.model_record()
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        "task": trainer.task.name,
        "architecture": model["architecture"],
        "model_config": {**model["params"], **trainer.regularizer.model_options()},
        "train_config": asdict(trainer.config),
        "regularizer": trainer.regularizer.name,
        "regularizer_params": dict(trainer.regularizer.params),
        "lambda": trainer.lam,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "status": result.status,
        # cost facts, so a run scored again later (``load_result``) reports them
        "seconds": result.seconds,
        "steps": result.steps,
        "train_step_seconds": result.train_step_seconds,
        "peak_step_bytes": result.peak_step_bytes,
    }
    buffer = io.BytesIO()
    torch.save(_plain(payload), buffer)
    atomic_write(path, buffer.getvalue())


def _plain(value):
    """``value`` with numpy scalars as Python numbers, so that the checkpoint holds
    only tensors and plain data: what ``torch.load(weights_only=True)`` accepts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def load_result(path, device: str = "cpu") -> TrainResult:
    """The ``TrainResult`` a finished training saved (``save_checkpoint``): its model
    on ``device`` in eval mode, history, best epoch and, where the checkpoint has them,
    its costs (NaN otherwise)."""
    model, payload = load_checkpoint(path, device)
    nan = float("nan")
    return TrainResult(model=model, history=payload["history"],
                       best_epoch=payload["best_epoch"],
                       best_val_loss=payload["best_val_loss"], status=payload["status"],
                       seconds=payload.get("seconds", nan), steps=payload.get("steps", 0),
                       train_step_seconds=payload.get("train_step_seconds", nan),
                       peak_step_bytes=payload.get("peak_step_bytes", nan))


def load_checkpoint(path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode. Returns (model, payload).

    Checkpoints travel between machines (a shared folder, an artifact store), so they
    are read as data only (``weights_only``): a file whose unpickling would build any
    other object, and so could run code, is refused before anything in it runs."""
    allowed = getattr(torch.serialization, "safe_globals", None)   # torch >= 2.5
    try:
        with allowed(_NUMPY_SCALARS) if allowed else contextlib.nullcontext():
            payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise RegbenchError(f"refused checkpoint {path}: it holds objects other than "
                            "tensors and plain data, and loading them could run code; "
                            "delete it to train its run again") from None
    model = create_model(payload.get("architecture", DEFAULT_ARCHITECTURE),
                         **payload["model_config"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), payload


__all__ = ["load_checkpoint", "load_result", "save_checkpoint"]
