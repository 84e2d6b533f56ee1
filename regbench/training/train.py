"""The one trainer, shared by every regularizer.

It knows nothing about any particular regularizer, model or loss: the regularizer's
kind (``regbench.regularizers.kinds``) computes its part of a step, and it asks
the task (``regbench.tasks``) for the model, the correctness loss, the rows the prior
applies to and the output attributions explain, and adds ``λ · penalty`` to the
task's loss. Data stay on the device as uint8 codes and are one-hot encoded per batch
there; the only host synchronisation is once per epoch.
"""
from __future__ import annotations

import copy
import functools
import os
import random
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from regbench.training.checkpoint import load_checkpoint, load_result, save_checkpoint  # noqa: F401
from regbench.errors import RegbenchError
from regbench.training.fit import TrainResult, with_peak_memory
from regbench.training.resume import random_states, set_random_states
from regbench.training.fit import fit as fit_members
from regbench.regularizers import Regularizer
from regbench.options.settings import PEAKS, TrainConfig
from regbench.tasks.base import Task


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


def peak_batches(prior: np.ndarray, batch_size: int, rng: np.random.Generator):
    """The paper authors' epoch (``[train] epoch = "peaks"``; their
    SamplingCoordsBatcher with negative_ratio 1): every prior row (a positive) once, in
    shuffled order, ``batch_size - batch_size // 2`` per batch (theirs: 32 of 64), each
    with as many negatives (rows not in ``prior``) after them. Theirs draws fresh
    negatives from the genome; a finite set's are drawn in shuffled passes, so each is
    used about equally often (a negative repeats only in another pass). prior: bool
    (N,). Yields (indices (B,), n_prior) as ``batch_order``."""
    positives, negatives = np.flatnonzero(prior), np.flatnonzero(~prior)
    if not len(positives):
        return
    per_batch = batch_size - batch_size // 2
    positives = positives[rng.permutation(len(positives))]
    n_batches = -(-len(positives) // per_batch)
    if len(negatives):
        passes = -(-len(positives) // len(negatives))
        drawn = np.concatenate([negatives[rng.permutation(len(negatives))]
                                for _ in range(passes)])
    else:
        drawn = negatives
    for b in range(n_batches):
        pos = positives[b * per_batch:(b + 1) * per_batch]
        neg = drawn[b * per_batch:b * per_batch + len(pos)]
        yield np.concatenate([pos, neg]), len(pos)


def epoch_batches(prior: np.ndarray, config: TrainConfig, rng: np.random.Generator):
    """One epoch's batches as ``[train] epoch`` lays them out: ``batch_order``
    (shuffled) or ``peak_batches`` (peaks); batches of one row are left out (batch
    norm cannot train on a single example). Returns [(indices (B,), n_prior)]."""
    make = peak_batches if config.epoch == PEAKS else batch_order
    return [b for b in make(prior, config.batch_size, rng) if len(b[0]) > 1]


def epoch_steps(n_rows: int, n_prior: int, config: TrainConfig) -> int:
    """The number of batches ``epoch_batches`` makes of ``n_rows`` training rows of
    which ``n_prior`` are the prior's (the plan counts them without drawing)."""
    if config.epoch == PEAKS:
        return -(-n_prior // (config.batch_size - config.batch_size // 2))
    return -(-n_rows // config.batch_size)


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
    def autocast(self):
        """bfloat16 autocast when [train] mixed_precision is on, else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.config.mixed_precision)

    def penalty(self, model, X, n_prior: int, args: tuple = ()):
        """The forward pass of a step: the model's outputs for the batch X (B, 4, L)
        and the penalty on its first ``n_prior`` rows; ``args``: the model's further
        inputs (``Task.model_args``). Returns (outputs (binary: logits (B, T)) in
        float32, penalty 0-dim); the regularizer's kind computes it."""
        return self.regularizer.kind.forward(self, model, X, n_prior, args)

    def run_epoch(self, model, optimizer, codes, labels, prior, rng) -> list[float]:
        """One training epoch in shuffled batches (``batch_order``), the prior's rows
        first. codes (N, L) uint8 and labels (N, ...) as ``to_device`` returns them;
        prior: bool (N,). Returns the epoch's mean [correctness loss, penalty]."""
        model.train()
        totals = torch.zeros(2, device=self.device)
        params = [p for p in model.parameters() if p.requires_grad]
        batches = epoch_batches(prior, self.config, rng)
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
            # a task that adds rows (the reverse complements alongside) keeps each row's
            # own right after it, so the prior's rows stay first
            n_pos *= len(X) // len(idx_np)
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
        outputs, labels = self.outputs(model, codes, labels)
        loss = self.task.loss(outputs, labels).item()
        if self.lam == 0:
            return loss, 0.0
        return loss, self.regularizer.kind.validation_penalty(
            self, model, self._prior_batches(codes, self.task.model_args(labels), prior,
                                             self._eval_batch()))

    def _eval_batch(self) -> int:
        return max(self.config.batch_size, 256)

    def outputs(self, model, codes, labels):
        """(the model's outputs for every row, in eval mode and without gradients; the
        targets on the device). codes: (N, L) uint8; labels: (N, ...) targets."""
        model.eval()
        batch = self._eval_batch()
        labels = self.on_device(labels)
        args = self.task.model_args(labels)
        with torch.no_grad():
            outputs = concat_outputs([
                model(one_hot_codes(self.on_device(codes[i:i + batch])),
                      *(a[i:i + batch] for a in args))
                for i in range(0, len(codes), batch)])
        return outputs, labels

    def _prior_batches(self, codes, args: tuple, prior, batch: int):
        """(X (n, 4, L), args) of the prior's rows (bool (N,)), ``batch`` at a time."""
        rows = index_tensor(np.flatnonzero(prior), codes.device)
        for i in range(0, len(rows), batch):
            yield (one_hot_codes(self.on_device(codes[rows[i:i + batch]])),
                   tuple(a[rows[i:i + batch]] for a in args))

    # -- the loop -------------------------------------------------------------------
    def fit(self, train, valid, checkpoint: str | os.PathLike | None = None,
            progress=None) -> TrainResult:
        """Train to early stopping by [train] stopping's rule (``fit.fit`` with a
        ``SoloStepper``: a group of one).

        train, valid: (codes, targets) or (codes, targets, prior rows bool (N,)); without
        the third, the prior's rows come from the targets (binary labels).

        progress: optional callable(epoch, record) called after each epoch.
        """
        result, = fit_members(SoloStepper(self, train, valid),
                              None if checkpoint is None else [checkpoint],
                              None if progress is None else
                              (lambda member, epoch, record: progress(epoch, record)))
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


class SoloStepper:
    """``fit``'s stepper for one model (``regbench.training.fit.Stepper``): ``Trainer``'s epoch,
    validation and checkpoint, with the state of one run."""

    n_members = 1

    def __init__(self, trainer: Trainer, train: tuple, valid: tuple):
        self.trainer, self.train, self.valid = trainer, train, valid
        self.lam, self.patience = trainer.lam, trainer.config.patience
        self.max_epochs, self.stopping = trainer.config.max_epochs, trainer.config.stopping

    def start(self) -> None:
        trainer = self.trainer
        set_seed(trainer.config.seed)
        self.model = trainer.build_model()
        # batch transforms draw from their own generator, on the device, seeded per run
        trainer.generator = torch.Generator(device=trainer.device).manual_seed(
            trainer.config.seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(),
                                          lr=trainer.config.learning_rate)
        self.rng = np.random.default_rng(trainer.config.seed)
        (tr_codes_np, tr_labels_np, *tr_prior), (va_codes_np, va_labels_np, *va_prior) = \
            self.train, self.valid
        tr_codes, tr_labels = trainer.to_device(tr_codes_np, tr_labels_np)
        va_codes, va_labels = trainer.to_device(va_codes_np, va_labels_np)
        self.train_data = (tr_codes, tr_labels, trainer._prior(tr_labels_np, tr_prior))
        self.valid_data = (va_codes, va_labels, trainer._prior(va_labels_np, va_prior))
        trainer.peak_bytes = float("nan")

    def train_epoch(self, measure: bool):
        trainer = self.trainer
        trainer.measure_next_step = measure
        losses = trainer.run_epoch(self.model, self.optimizer, *self.train_data, self.rng)
        return [losses], trainer.last_epoch_steps, trainer.peak_bytes if measure else float("nan")

    def evaluate(self) -> list[tuple[float, float]]:
        return [self.trainer.evaluate(self.model, *self.valid_data)]

    def member_state(self, j: int) -> dict:
        return copy.deepcopy(self.model.state_dict())

    def release(self, j: int, state: dict | None) -> torch.nn.Module:
        if state is not None:
            self.model.load_state_dict(state)
        return self.model.eval()

    def drop(self, keep: list[int]) -> None:
        """Nothing to do: the one member stopping ends the fit."""

    def checkpoint(self, m: int, path, result: TrainResult) -> None:
        save_checkpoint(path, self.trainer, result)

    # -- resuming (``regbench.training.resume``) ---------------------------------------
    def fingerprint(self) -> dict:
        """What a snapshot must have been written with to be this training's."""
        trainer = self.trainer
        return {"task": trainer.task.name, "regularizer": trainer.regularizer.name,
                "params": dict(trainer.regularizer.params), "lambda": trainer.lam,
                "config": asdict(trainer.config), "rows": [len(self.train[0]),
                                                           len(self.valid[0])]}

    def snapshot(self) -> dict:
        """The model's weights, Adam's state and every random state an epoch draws."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.bit_generator.state,
                "random": random_states(self.trainer.generator)}

    def restore(self, state: dict) -> None:
        """Take back a ``snapshot`` (after ``start``)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        set_random_states(state["random"], self.trainer.generator)
