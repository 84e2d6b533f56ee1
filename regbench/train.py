"""The one trainer, shared by every regularizer.

It knows nothing about any particular regularizer, model or loss: it asks the
regularizer's registry entry what it needs (attributions, parameters or nothing) and
the task (``regbench.tasks``) for the model, the correctness loss, the rows the prior
applies to and the output attributions explain, and adds ``λ · penalty`` to the
task's loss. Data stay on the device as uint8 codes and are one-hot encoded per batch
there; the only host synchronisation is once per epoch.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import io
import os
import pickle
import random
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from regbench.attributions import logits_and_attributions, logits_and_expected_gradients
from regbench.errors import RegbenchError
from regbench.models.registry import DEFAULT_ARCHITECTURE, create_model
from regbench.regularizers import Regularizer
from regbench.settings import TrainConfig
from regbench.store import atomic_write
from regbench.tasks.base import Task


@dataclass
class TrainResult:
    """What a training run produced; ``model`` holds the best epoch's weights."""

    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("nan")
    seconds: float = 0.0
    status: str = "ok"
    steps: int = 0                 # optimisation steps taken
    train_step_seconds: float = float("nan")   # training time per step (no validation)
    peak_step_bytes: float = float("nan")      # extra memory of the first step (torch)


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else CPU; anything else is checked."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RegbenchError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RegbenchError(f"device {name!r} asked for but CUDA is not available here; "
                            "use --device cpu or auto")
    return device


@functools.lru_cache(maxsize=None)
def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports it, or
    a CPU whose flags (Linux /proc/cpuinfo) list avx512_bf16 or amx_bf16 (x86) or bf16
    (Arm). Unknown CPUs count as not native."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & set(flags))


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def one_hot_codes(codes: torch.Tensor) -> torch.Tensor:
    """uint8 codes (N, L) with A,C,G,T,N = 0..4 → float32 one-hot (N, 4, L); N is all-zero."""
    table = torch.eye(5, 4, dtype=torch.float32, device=codes.device)
    return table[codes.long()].transpose(1, 2).contiguous()


def index_tensor(indices: np.ndarray, device: torch.device) -> torch.Tensor:
    """int64 indices (N,) on ``device``; to a GPU through pinned memory, without
    making the host wait."""
    tensor = torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def batch_order(prior: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Shuffled batches with the prior's rows first inside each batch.

    prior: bool (N,), the rows the prior applies to (``Task.prior_rows``). Yields
    (indices (B,), n_prior). Putting them first lets the trainer slice
    ``attr[:n_prior]`` without a device→host synchronisation.
    """
    order = rng.permutation(len(prior))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        pos = prior[idx]
        yield np.concatenate([idx[pos], idx[~pos]]), int(pos.sum())


def concat_outputs(parts: list):
    """Batches of model outputs joined along N: tensors, or tuples of tensors."""
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    return type(parts[0])(torch.cat(p) for p in zip(*parts))


class Trainer:
    """Fit one model with one regularizer: ``Trainer(...).fit(train, valid)``.

    task: what the model is and how it is scored (``regbench.tasks``); train/valid:
    tuples (codes uint8 (N, L), targets float32 (N, ...), binary: labels (N, T)).
    """

    def __init__(self, task: Task, regularizer: Regularizer, lam: float,
                 config: TrainConfig | None = None):
        if not isinstance(task, Task):
            raise RegbenchError(f"Trainer needs a task (regbench.tasks.create_task), got "
                                f"{type(task).__name__}")
        self.task = task
        self.regularizer = regularizer
        self.lam = float(lam)
        self.config = config or TrainConfig()
        self.config.validate()
        if not np.isfinite(self.lam) or self.lam < 0:
            raise RegbenchError(f"λ must be a finite number >= 0, got {lam}")
        self.device = resolve_device(self.config.device)
        # cost facts of the last fit / epoch (``fit`` turns the measurement on)
        self.measure_next_step, self.peak_bytes, self.last_epoch_steps = False, float("nan"), 0
        self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        if self.config.mixed_precision and not native_bfloat16(self.device):
            warnings.warn(
                f"mixed_precision: {self.device} has no native bfloat16 arithmetic (x86 "
                "CPUs need AVX512_BF16 or AMX), so autocast emulates it and is usually "
                "slower than float32 (3.3x per Fourier step on an Intel Xeon without it); "
                "set [train] mixed_precision = false", RuntimeWarning, stacklevel=2)

    def build_model(self) -> torch.nn.Module:
        """A freshly initialised model on the trainer's device (seed it first), with the
        model options of a ``needs="model"`` regularizer."""
        return self.task.build_model(**self.regularizer.model_options()).to(self.device)

    # -- one step -------------------------------------------------------------------
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.config.mixed_precision)

    def penalty(self, model, X, n_prior: int, args: tuple = ()):
        """The forward pass of a step: the model's outputs for the batch X (B, 4, L)
        and the penalty on its first ``n_prior`` rows; ``args``: the model's further
        inputs (``Task.model_args``). Returns (outputs (binary: logits (B, T)) in
        float32, penalty 0-dim)."""
        needs = self.regularizer.needs
        if needs in INPUT_PRIORS and self.lam > 0 and n_prior > 0:
            with self._autocast():
                if self.regularizer.attribution == "eg":
                    params = self.regularizer.params
                    outputs, attr = logits_and_expected_gradients(
                        model, X, n_prior, output=self.task.explained_output, args=args,
                        references=params["eg_references"], source=params["eg_source"],
                        generator=self.generator)
                else:
                    outputs, attr = logits_and_attributions(
                        model, X, n_prior, output=self.task.explained_output, args=args,
                        times_input=needs == "attributions")
            # The penalty in float32: rfft needs it, and its normalisation is fragile.
            return _float(outputs), self.regularizer(attr.float())
        if needs == "step" and self.lam > 0 and n_prior > 0:
            from regbench.attributions import BatchStatistics
            from regbench.regularizers.registry import StepContext
            with self._autocast(), BatchStatistics(model) as stats:
                outputs = model(X, *args)
            with self._autocast(), stats.held():
                prior_args = tuple(a[:n_prior] for a in args)
                context = StepContext(model, X, n_prior, outputs,
                                      lambda Z: self.task.explained_output(
                                          model(Z, *prior_args)), self.generator)
                return _float(outputs), self.regularizer(context).float()
        with self._autocast():
            outputs = _float(model(X, *args))
        if needs == "parameters" and self.lam > 0:
            return outputs, self.regularizer(model)
        return outputs, torch.zeros((), device=X.device)

    def run_epoch(self, model, optimizer, codes, labels, prior, rng) -> list[float]:
        """One training epoch in shuffled batches (``batch_order``), the prior's rows
        first. codes (N, L) uint8 and labels (N, ...) as ``to_device`` returns them;
        prior: bool (N,). Returns the epoch's mean [correctness loss, penalty]."""
        model.train()
        totals = torch.zeros(2, device=self.device)
        params = [p for p in model.parameters() if p.requires_grad]
        # batch norm cannot train on a single example
        batches = [b for b in batch_order(prior, self.config.batch_size, rng) if len(b[0]) > 1]
        self.last_epoch_steps = len(batches)
        if not batches:
            return [0.0, 0.0]
        # The epoch's whole order in one copy: per-batch copies from host memory would
        # each make the host wait for the device.
        order = index_tensor(np.concatenate([idx for idx, _ in batches]), codes.device)
        start = 0
        for idx_np, n_pos in batches:
            idx = order[start:start + len(idx_np)]
            start += len(idx_np)
            X = one_hot_codes(self.on_device(codes[idx]))
            y = self.on_device(labels[idx])
            X, y = self.task.augment(X, y, rng)
            X, y = self.regularizer.transform(X, y, self.generator)   # needs="batch"
            if self.measure_next_step:   # once per fit: the step's peak memory
                self.measure_next_step = False
                losses, self.peak_bytes = with_peak_memory(
                    lambda: self.train_step(model, optimizer, params, X, y, n_pos),
                    self.device)
                totals += losses * len(idx_np)
                continue
            totals += self.train_step(model, optimizer, params, X, y, n_pos) * len(idx_np)
        return (totals / start).tolist()

    def train_step(self, model, optimizer, params, X, y, n_prior: int) -> torch.Tensor:
        """One optimisation step on a batch whose first ``n_prior`` rows get the prior.

        X: (B, 4, L) one-hot; y: (B, ...) targets. Returns [correctness loss, penalty]
        (2,), detached, on the device (reading it would make the host wait).
        """
        outputs, penalty = self.penalty(model, X, n_prior, self.task.model_args(y))
        correctness = self.task.loss(outputs, y)
        loss = correctness + self.lam * penalty
        optimizer.zero_grad(set_to_none=True)
        # Only the weights: autograd then skips the gradient of the one-hot input.
        loss.backward(inputs=params)
        optimizer.step()
        return torch.stack([correctness.detach(), penalty.detach()])

    def evaluate(self, model, codes, labels, prior) -> tuple[float, float]:
        """Validation correctness loss over the whole set and mean penalty on its prior
        rows. codes: (N, L) uint8 on the device or in host memory; labels: (N, ...)
        targets; prior: bool (N,)."""
        model.eval()
        batch = max(self.config.batch_size, 256)
        labels = self.on_device(labels)
        args = self.task.model_args(labels)
        with torch.no_grad():
            outputs = concat_outputs([
                model(one_hot_codes(self.on_device(codes[i:i + batch])),
                      *(a[i:i + batch] for a in args))
                for i in range(0, len(codes), batch)])
        loss = self.task.loss(outputs, labels).item()
        needs = self.regularizer.needs
        if needs not in (*INPUT_PRIORS, "parameters", "step") or self.lam == 0:
            return loss, 0.0
        if needs == "parameters":  # one value for the model, no pass over the data
            with torch.no_grad():
                return loss, self.regularizer(model).item()
        prior_rows = np.flatnonzero(prior)
        if len(prior_rows) == 0:
            return loss, 0.0
        rows = index_tensor(prior_rows, codes.device)
        total = torch.zeros((), device=self.device)
        for i in range(0, len(rows), batch):
            X = one_hot_codes(self.on_device(codes[rows[i:i + batch]]))
            with torch.enable_grad():
                _, penalty = self.penalty(model, X, len(X),
                                          tuple(a[rows[i:i + batch]] for a in args))
            total += penalty.detach() * len(X)
        return loss, total.item() / len(rows)

    # -- the loop -------------------------------------------------------------------
    def fit(self, train, valid, checkpoint: str | os.PathLike | None = None,
            progress=None) -> TrainResult:
        """Train to early stopping on the validation correctness loss.

        train, valid: (codes, targets) or (codes, targets, prior rows bool (N,)); without
        the third, the prior's rows come from the targets (binary labels).

        progress: optional callable(epoch, record) called after each epoch.
        """
        set_seed(self.config.seed)
        started = time.perf_counter()
        model = self.build_model()
        # batch transforms draw from their own generator, on the device, seeded per run
        self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.config.learning_rate)
        rng = np.random.default_rng(self.config.seed)
        (tr_codes_np, tr_labels_np, *tr_prior), (va_codes_np, va_labels_np, *va_prior) = \
            train, valid
        tr_codes, tr_labels = self.to_device(tr_codes_np, tr_labels_np)
        va_codes, va_labels = self.to_device(va_codes_np, va_labels_np)
        tr_prior = self._prior(tr_labels_np, tr_prior)
        va_prior = self._prior(va_labels_np, va_prior)

        result = TrainResult(model=model)
        best_state, best_loss, since_best = None, float("inf"), 0
        self.measure_next_step, self.peak_bytes, timed = True, float("nan"), []
        for epoch in range(1, self.config.max_epochs + 1):
            tick = time.perf_counter()
            train_loss, train_penalty = self.run_epoch(model, optimizer, tr_codes, tr_labels,
                                                        tr_prior, rng)   # syncs once
            timed.append((time.perf_counter() - tick, self.last_epoch_steps))
            result.steps += self.last_epoch_steps
            val_loss, val_penalty = self.evaluate(model, va_codes, va_labels, va_prior)
            failure = record_epoch(result, epoch, (train_loss, train_penalty),
                                   (val_loss, val_penalty), progress, self.lam)
            if failure:
                result.status = failure
                break
            if val_loss < best_loss:
                best_loss, since_best, result.best_epoch = val_loss, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
                if since_best >= self.config.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        result.best_val_loss = best_loss if best_state is not None else float("nan")
        result.seconds = time.perf_counter() - started
        result.peak_step_bytes = float(self.peak_bytes)
        # seconds per step of the training passes; the first epoch (warm-up, the step
        # whose memory was measured) only when it is the only one
        kept = timed[1:] or timed
        if sum(n for _, n in kept):
            result.train_step_seconds = sum(t for t, _ in kept) / sum(n for _, n in kept)
        if checkpoint is not None:
            save_checkpoint(checkpoint, self, result)
        return result

    def _prior(self, targets, given) -> np.ndarray:
        """The prior's rows: given (bool (N,)), or from the targets when they are the
        labels (binary tasks)."""
        if given:
            return np.asarray(given[0], bool)
        return self.task.prior_rows(np.asarray(targets), self.config.prior_on)

    def to_device(self, codes: np.ndarray, labels: np.ndarray):
        """codes (N, L) and targets (N, ...) as tensors, on the device when they fit
        (``resident_data``), else in host memory (each batch copied in ``on_device``)."""
        if codes.ndim != 2 or labels.ndim < 2 or len(codes) != len(labels):
            raise RegbenchError("training data must be codes (N, L) and targets (N, ...) "
                                f"with the same N, got {codes.shape} and {labels.shape}")
        codes = torch.as_tensor(np.ascontiguousarray(codes, dtype=np.uint8))
        labels = torch.as_tensor(np.asarray(labels, dtype=np.float32))
        if self._resident(codes.nbytes + labels.nbytes):
            return codes.to(self.device), labels.to(self.device)
        return codes, labels  # host memory: each batch is gathered, pinned and copied

    def _resident(self, nbytes: int) -> bool:
        """Keep the data on the device when asked, or by default when it takes under a
        quarter of the free device memory (the rest is for activations)."""
        if self.config.resident_data is not None:
            return self.config.resident_data
        if self.device.type != "cuda":
            return True
        free, _ = torch.cuda.mem_get_info(self.device)
        return nbytes < free / 4

    def on_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A no-op for resident data; an asynchronous copy for a batch in host memory.

        The batch (a gather, so never pinned itself) goes through pinned memory: from
        pageable memory a CUDA copy would block the host. ``pin_memory`` takes its
        buffer from PyTorch's caching host allocator, which reuses it only after the
        copy has finished.
        """
        if tensor.device == self.device:
            return tensor
        if self.device.type == "cuda" and tensor.device.type == "cpu":
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)


def record_epoch(result: TrainResult, epoch: int, train, valid, progress, lam: float
                 ) -> str | None:
    """Append an epoch's record to ``result.history`` and hand it to ``progress``.
    train, valid: (loss, penalty). Returns the failed status when a loss or the
    training penalty is not finite, else None."""
    (train_loss, train_penalty), (val_loss, val_penalty) = train, valid
    record = {"epoch": epoch, "train_loss": train_loss, "train_penalty": train_penalty,
              "val_loss": val_loss, "val_penalty": val_penalty}
    result.history.append(record)
    if progress is not None:
        progress(epoch, record)
    if not all(np.isfinite([train_loss, train_penalty, val_loss])):
        return f"failed: non-finite loss at epoch {epoch} (λ={lam:g})"
    return None


# Regularizers whose penalty needs the input gradient of each prior example.
INPUT_PRIORS = ("attributions", "gradients")


def with_peak_memory(fn, device: torch.device):
    """(fn(), peak extra bytes torch allocated while it ran). CUDA:
    ``max_memory_allocated`` above the start; CPU: the peak of live bytes of torch's
    allocator replayed from ``torch.profiler``'s memory events (tracemalloc does not
    see torch), NaN where the profiler does not give them."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        torch.cuda.synchronize(device)
        return out, float(torch.cuda.max_memory_allocated(device) - before)
    from torch.profiler import ProfilerActivity, profile
    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _stderr_without():   # kineto prints a line at start and at stop
        prof.__enter__()
    try:
        # torch warns (once) when the step frees a block allocated before profiling
        # began, which every step does: expected here, so not shown
        with _stderr_without(PROFILER_NOISE):
            out = fn()
    finally:
        with _stderr_without():
            prof.__exit__(None, None, None)
    try:
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError:   # a torch without these internals
        return out, float("nan")
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()   # negative for a free
        peak = max(peak, live)
    return out, float(peak)


@contextlib.contextmanager
def _stderr_without(noise: str | None = None):
    """File descriptor 2 passed on after the block, less the lines containing ``noise``
    (None: every line), for C++ code writing to it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().splitlines(keepends=True)
                    if noise is not None and noise.encode() not in line]
            if kept:
                os.write(2, b"".join(kept))


PROFILER_NOISE = "allocated before the profiling started"


def _float(outputs):
    """Outputs (a tensor or a tuple of them) in float32."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float()
    return type(outputs)(o.float() for o in outputs)


try:   # numpy numbers that checkpoints written before ``_plain`` may hold: data too
    from numpy._core.multiarray import scalar as _numpy_scalar   # numpy >= 2
except ImportError:
    from numpy.core.multiarray import scalar as _numpy_scalar
_NUMPY_SCALARS = [np.dtype, _numpy_scalar,   # and the dtypes of bools, ints and floats
                  *{type(np.dtype(code)) for code in "?bhilqBHILQefd"}]


def save_checkpoint(path, trainer: Trainer, result: TrainResult) -> None:
    """Best-epoch weights plus everything needed to rebuild and evaluate the model."""
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
