"""The one fit loop, for a solo run and a group of seeds alike.

``fit(stepper, ...)`` owns what every training run does around its steps: the epochs,
each member's early stopping (its rule, ``[train] stopping``: patience or the authors';
best state; a non-finite loss ends it) and convergence check, the history records, the
timing of the training passes (the first epoch only when it is the only one), the peak
memory of the first step and the checkpoints. The stepper owns
the models and the steps: ``Trainer``'s ``SoloStepper`` (one model) and
``regbench.training.group``'s ``GroupStepper`` (G members side by side in one model). Members
train in lockstep; a member that stops leaves the stepper (``drop``). A solo run
with a checkpoint path is snapshotted as it trains and, started again, goes on from
its last snapshot (``regbench.training.resume``).
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from regbench.options.settings import AUTHORS
from regbench.training import resume
from regbench.training.stopping import authors_stops, run_converged, total_loss


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
    # Training ended by its rule, not cut off (``stopping.converged``); None: not known
    # (a checkpoint written before the check existed)
    converged: bool | None = None


class Stepper(Protocol):
    """What ``fit`` drives. Members are indexed 0..G-1 overall; ``j`` below indexes the
    members still training, in that order."""

    n_members: int   # G
    lam: float       # λ, for the failure message and the authors' total loss
    patience: int
    max_epochs: int
    stopping: str    # [train] stopping: "patience" or "authors"

    def start(self) -> None:
        """Build every member (each seeded as its solo run), the optimiser and the data."""

    def train_epoch(self, measure: bool) -> tuple[list, int, float]:
        """One training epoch of the members still training. Returns (their mean
        [correctness loss, penalty], steps per member, the first step's peak extra bytes
        when ``measure``, else NaN)."""

    def evaluate(self) -> list[tuple[float, float]]:
        """(validation loss, validation penalty) of each member still training."""

    def member_state(self, j: int) -> dict:
        """A copy of member j's state dict (solo keys and shapes)."""

    def release(self, j: int, state: dict | None) -> torch.nn.Module:
        """Member j's model, in eval mode, holding ``state`` (None: its weights now);
        called once, when it stops."""

    def drop(self, keep: list[int]) -> None:
        """Go on with members ``keep`` (indices j) only."""

    def checkpoint(self, m: int, path, result: TrainResult) -> None:
        """Write member m's checkpoint (``save_checkpoint``)."""

    # Optional, for a stepper that can resume (``resume``): ``fingerprint() -> dict``
    # (what must match for a snapshot to be this training's), ``snapshot() -> dict``
    # (its whole state: weights, optimiser, random states) and ``restore(dict)``.


@dataclass
class _Member:
    """Early-stopping state of one member."""

    result: TrainResult
    best_state: dict | None = None
    best_loss: float = float("inf")   # of the loss the rule reads
    since_best: int = 0
    losses: list = field(default_factory=list)   # authors: the total loss per epoch

    def saved(self) -> dict:
        """This state as plain data and tensors (a snapshot's part)."""
        r = self.result
        return {"history": r.history, "best_epoch": r.best_epoch, "steps": r.steps,
                "status": r.status, "best_state": self.best_state,
                "best_loss": self.best_loss, "since_best": self.since_best,
                "losses": self.losses}

    def restore(self, saved: dict) -> None:
        """Take back a ``saved`` state."""
        r = self.result
        r.history, r.best_epoch, r.steps, r.status = (
            saved["history"], saved["best_epoch"], saved["steps"], saved["status"])
        self.best_state, self.best_loss = saved["best_state"], saved["best_loss"]
        self.since_best, self.losses = saved["since_best"], saved["losses"]


def fit(stepper: Stepper, checkpoints: list | None = None, progress=None
        ) -> list[TrainResult]:
    """Train every member of ``stepper`` to its own early stopping (``stepper.stopping``:
    patience on the validation correctness loss, or the authors' rule on the total
    validation loss). Returns one ``TrainResult`` per member; ``best_val_loss`` is the
    best epoch's correctness loss under either rule.

    checkpoints: None or one path per member. progress: optional
    callable(member, epoch, record) after each member's epoch. Costs are shared: each
    result's ``seconds`` is the wall time / G, ``train_step_seconds`` the training time
    per member-step, ``peak_step_bytes`` the first step's peak / G.
    """
    G = stepper.n_members
    started = time.perf_counter()
    stepper.start()
    members = [_Member(TrainResult(model=None)) for _ in range(G)]
    active, timed, peak = list(range(G)), [], float("nan")
    snapshots = _Snapshots.of(stepper, checkpoints)
    first, before = 1, 0.0   # the first epoch to train; seconds trained before a resume
    state = snapshots.read() if snapshots else None
    if state is not None:
        first, timed, peak, before = (state["epoch"] + 1, state["timed"], state["peak"],
                                      state["seconds"])
        for member, saved in zip(members, state["members"]):
            member.restore(saved)
        stepper.restore(state["stepper"])
        tqdm.write(f"regbench: resuming {snapshots.path.name} at epoch {first} from its "
                   "snapshot", file=sys.stderr)
    for epoch in range(first, stepper.max_epochs + 1):
        tick = time.perf_counter()
        train, steps, first_peak = stepper.train_epoch(measure=epoch == 1)   # syncs once
        timed.append((time.perf_counter() - tick, steps * len(active)))
        peak = first_peak if epoch == 1 else peak
        valid = stepper.evaluate()
        stopped = [j for j, m in enumerate(active)
                   if _end_epoch(stepper, members[m], j, epoch, steps, train[j], valid[j],
                                 None if progress is None else
                                 (lambda e, r, m=m: progress(m, e, r)))]
        if stopped:
            keep = [j for j in range(len(active)) if j not in stopped]
            active = [active[j] for j in keep]
            if not active:
                break
            stepper.drop(keep)   # stopped members spend no more compute
        elif snapshots and epoch < stepper.max_epochs:
            snapshots.offer(epoch, members, timed, peak,
                            before + time.perf_counter() - started)
    for j, m in enumerate(active):   # ran to max_epochs
        _release(stepper, members[m], j)

    seconds = (before + time.perf_counter() - started) / G
    kept = timed[1:] or timed   # the first epoch (warm-up, the measured step) only alone
    member_steps = sum(n for _, n in kept)
    results = []
    for m, member in enumerate(members):
        result = member.result
        result.best_val_loss = (result.history[result.best_epoch - 1]["val_loss"]
                                if member.best_state is not None else float("nan"))
        result.converged = run_converged(result.history, result.best_epoch, result.status,
                                         stepper.stopping, stepper.patience,
                                         stepper.max_epochs, stepper.lam)
        result.seconds, result.peak_step_bytes = seconds, float(peak) / G
        if member_steps:
            result.train_step_seconds = sum(t for t, _ in kept) / member_steps
        if checkpoints is not None:
            stepper.checkpoint(m, checkpoints[m], result)
        results.append(result)
    if snapshots:
        resume.remove_snapshot(snapshots.path)   # the checkpoint holds the run now
    return results


class _Snapshots:
    """The snapshots of one solo training (``resume``): written every
    ``resume.SNAPSHOT_SECONDS`` of training, read back when it starts again."""

    def __init__(self, stepper: Stepper, path):
        self.stepper, self.path = stepper, resume.snapshot_path(path)
        self.fingerprint = stepper.fingerprint()
        self.written = time.perf_counter()

    @classmethod
    def of(cls, stepper: Stepper, checkpoints) -> "_Snapshots | None":
        """Snapshots for a solo stepper that can resume and has a checkpoint path."""
        if checkpoints is None or stepper.n_members != 1 or not hasattr(stepper, "snapshot"):
            return None
        return cls(stepper, checkpoints[0])

    def read(self) -> dict | None:
        return resume.read_snapshot(self.path, self.fingerprint)

    def offer(self, epoch: int, members: list, timed: list, peak: float,
              seconds: float) -> None:
        """Write a snapshot after ``epoch`` when the last is old enough."""
        if time.perf_counter() - self.written < resume.SNAPSHOT_SECONDS:
            return
        resume.write_snapshot(self.path, {
            "fingerprint": self.fingerprint, "epoch": epoch, "timed": timed,
            "peak": float(peak), "seconds": seconds,
            "members": [m.saved() for m in members], "stepper": self.stepper.snapshot()})
        self.written = time.perf_counter()


def _end_epoch(stepper: Stepper, member: _Member, j: int, epoch: int, steps: int,
               train, valid, progress) -> bool:
    """Record member j's epoch and apply the rules: a non-finite loss fails it; under
    patience a better validation loss keeps its state, ``patience`` epochs without one
    stop it; under the authors' rule ``_authors_epoch``. Returns whether it stops now."""
    result = member.result
    result.steps += steps
    failure = record_epoch(result, epoch, train, valid, progress, stepper.lam)
    if failure:
        result.status = failure
    elif stepper.stopping == AUTHORS:
        if not _authors_epoch(stepper, member, j, epoch, valid):
            return False
    elif valid[0] < member.best_loss:
        member.best_loss, member.since_best, result.best_epoch = valid[0], 0, epoch
        member.best_state = stepper.member_state(j)
        return False
    else:
        member.since_best += 1
        if member.since_best < stepper.patience:
            return False
    _release(stepper, member, j)
    return True


def _authors_epoch(stepper: Stepper, member: _Member, j: int, epoch: int, valid) -> bool:
    """The authors' rule for member j's epoch: a lower total validation loss (valid:
    (loss, penalty); + λ × penalty) keeps its state, as their ``best_val_epoch_loss``
    does, and ``stopping.authors_stops`` on the totals so far says whether it stops."""
    total = total_loss(valid, stepper.lam)
    member.losses.append(total)
    if total < member.best_loss:
        member.best_loss, member.result.best_epoch = total, epoch
        member.best_state = stepper.member_state(j)
    return authors_stops(member.losses)


def _release(stepper: Stepper, member: _Member, j: int) -> None:
    """Fix the model member j returns: its best epoch's weights, else (a run that failed
    before any finite epoch) its last."""
    member.result.model = stepper.release(j, member.best_state)


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


# -- the first step's peak memory ------------------------------------------------------------

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


__all__ = ["Stepper", "TrainResult", "fit", "record_epoch", "with_peak_memory"]
