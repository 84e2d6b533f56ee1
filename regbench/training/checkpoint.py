"""Checkpoints: a finished run's best weights and everything needed to rebuild,
evaluate and report it, read back as data only."""
from __future__ import annotations

import io
from dataclasses import asdict

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.training.fit import TrainResult
from regbench.models.registry import DEFAULT_ARCHITECTURE, create_model
from regbench.store.runs import atomic_write
from regbench.training.safe_load import UnreadableCheckpoint, read_data as _read


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
        "converged": result.converged,
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


# what ``load_result`` reads besides the model's (``save_checkpoint`` writes them all)
RESULT_KEYS = ("history", "best_epoch", "best_val_loss", "status")
def load_result(path, device: str = "cpu") -> TrainResult:
    """The ``TrainResult`` a finished training saved (``save_checkpoint``): its model
    on ``device`` in eval mode, history, best epoch and, where the checkpoint has them,
    its costs (NaN otherwise) and whether it converged (None otherwise)."""
    model, payload = load_checkpoint(path, device)
    lacking = [k for k in RESULT_KEYS if k not in payload]
    if lacking:
        raise UnreadableCheckpoint(path, f"it has no {', '.join(lacking)}")
    nan = float("nan")
    return TrainResult(model=model, history=payload["history"],
                       best_epoch=payload["best_epoch"],
                       best_val_loss=payload["best_val_loss"], status=payload["status"],
                       seconds=payload.get("seconds", nan), steps=payload.get("steps", 0),
                       train_step_seconds=payload.get("train_step_seconds", nan),
                       peak_step_bytes=payload.get("peak_step_bytes", nan),
                       converged=payload.get("converged"))   # None: older checkpoint


def load_checkpoint(path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode. Returns (model, payload).

    Checkpoints travel between machines (a shared folder, an artifact store), so they
    are read as data only (``weights_only``): a file whose unpickling would build any
    other object, and so could run code, is refused before anything in it runs (a
    RegbenchError). One that is no checkpoint (corrupt or truncated bytes, no
    model_config or state_dict, weights of another shape) is an ``UnreadableCheckpoint``:
    a run scored again from it is trained again instead."""
    payload = _read(path, device)
    if not isinstance(payload, dict):
        raise UnreadableCheckpoint(path, f"it holds a {type(payload).__name__}, not a dict")
    lacking = [k for k in ("model_config", "state_dict") if not isinstance(payload.get(k), dict)]
    if lacking:
        raise UnreadableCheckpoint(path, f"it has no {' or '.join(lacking)}")
    try:
        model = create_model(payload.get("architecture", DEFAULT_ARCHITECTURE),
                             **payload["model_config"])
        model.load_state_dict(payload["state_dict"])
    except (RegbenchError, TypeError, ValueError, RuntimeError) as exc:
        # an unknown model or keyword, weights missing, unexpected or of another shape
        # (torch says which in the lines under its first)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        why = " ".join(lines[:2])[:300] or type(exc).__name__
        raise UnreadableCheckpoint(path, f"its model cannot be rebuilt from it: {why}"
                                   ) from None
    return model.to(device).eval(), payload


__all__ = ["UnreadableCheckpoint", "load_checkpoint", "load_result", "save_checkpoint"]
