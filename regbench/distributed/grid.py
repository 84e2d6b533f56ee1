"""The seed grid as a work queue on an Optuna storage: any number of workers, on any
number of machines, train each of its runs exactly once.

    queue = GridQueue(url, name, cells)        # cells: {cell id: label}
    while (claim := queue.claim()) is not None:
        with claim:                            # heartbeats while the run trains
            train(claim.cell)                  # ends COMPLETE; FAIL on an error

Every cell is one trial of the study, enqueued WAITING with the cell's id as a user
attribute. Optuna pops a WAITING trial atomically (its state changes WAITING ->
RUNNING under a row lock; on SQLite, which has no row locks, every transaction of
``open_storage`` takes the file's write lock at its start), so two workers never pop
the same trial. Workers starting together may both enqueue a cell; the cell then
belongs to its lowest-numbered trial that has not failed, and a worker that popped a
higher one ends it FAIL as a duplicate without training. A trial is born with its cell id (enqueued with its user
attributes in one insert), so every worker sees the same owner.

A claimed trial sends a heartbeat every ``heartbeat`` seconds. A worker that dies
stops sending them; after ``grace`` seconds any worker fails the trial
(``optuna.storages.fail_stale_trials``) and enqueues the cell again, at most
MAX_LOST times in one run of the command. A worker killed before its first heartbeat
(between popping the trial and recording one) leaves a trial Optuna never calls
stale: a trial that stays RUNNING unclaimed for ``grace`` seconds, as the waiting
worker's clock measures, is failed the same way. A worker with nothing left to claim
waits while other workers' cells run, so the last worker standing finishes the grid. A
run that raises ends its trial FAIL with the error, which stops every worker then
running; a later run of the command tries that cell again. "Then" and "later" are
told apart by the trials that had ended when the worker opened the queue, not by
timestamps: those are each machine's naive local time. An interrupted run (Ctrl-C,
or SIGTERM, which the CLI turns into the same) ends its trial and enqueues its cell
again at once. ``GridQueue`` knows nothing of training: the caller maps cell ids to
runs.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import time
import warnings
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from regbench.errors import RegbenchError

MAX_LOST = 3          # times a cell is enqueued again after its worker died
CELL = "cell"         # user attribute: the cell's id
ENDED = "ended"       # user attribute of a FAIL trial: duplicate, error, interrupted, idle


def grid_study_name(prefix: str | None, cells) -> str:
    """``PREFIX-grid`` when the user named the studies, else ``grid-HASH`` of the cell
    ids: every worker with the same data, settings and λ finds the same queue, and a
    grid of other runs (e.g. another λ) never mixes with it."""
    if prefix:
        return f"{prefix}-grid"
    digest = hashlib.sha256("\n".join(sorted(cells)).encode()).hexdigest()[:12]
    return f"grid-{digest}"


def grid_owners(study: optuna.Study, cells) -> dict[str, optuna.trial.FrozenTrial]:
    """{cell id: its COMPLETE trial} of a grid study, for the ``cells`` asked about."""
    return {t.user_attrs[CELL]: t for t in
            study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get(CELL) in cells}


def worker_name() -> str:
    """HOST:PID, recorded on every trial a worker claims."""
    import os
    return f"{socket.gethostname()}:{os.getpid()}"


class GridQueue:
    """The cells of one grid in an Optuna study; see the module docstring.

    cells: {cell id: label} (the label, e.g. "fourier seed 3", is for people reading
    the study). heartbeat, grace: seconds (``[tuning] heartbeat``, ``grace_period``).
    """

    def __init__(self, url: str, name: str, cells: dict[str, str], *, heartbeat: int = 60,
                 grace: int = 180):
        from regbench.tune import open_storage
        self.cells, self.heartbeat, self.grace = dict(cells), heartbeat, grace
        self.poll = max(0.5, min(5.0, heartbeat / 2))
        storage = open_storage(url, heartbeat=heartbeat, grace=grace, retry=False)
        optuna.logging.set_verbosity(optuna.logging.WARNING)   # our own lines
        with _quiet():
            self.study = optuna.create_study(storage=storage, study_name=name,
                                             load_if_exists=True)
        self.name = name
        trials = self.study.get_trials(deepcopy=False)
        # Errors and losses of trials that had ended before now are history: the user
        # reran the command (after fixing the cause). Told by trial, not by time: each
        # machine stamps trials with its own naive local time.
        self.ended_before = {t.number for t in trials if t.state == TrialState.FAIL}
        self._unclaimed: dict[int, float] = {}   # trial id -> when first seen unclaimed
        self._enqueue(self._missing(trials))

    # -- the queue ------------------------------------------------------------------
    def claim(self) -> "Claim | None":
        """The next cell this worker trains, or None when every cell is complete.
        Waits while the only cells left run on other workers."""
        while True:
            with _quiet():
                optuna.storages.fail_stale_trials(self.study)
            trials = self.study.get_trials(deepcopy=False)
            if self._fail_unclaimed(trials):
                continue
            if self._complete(trials):
                return None
            self._enqueue(self._missing(trials))
            if any(t.state == TrialState.WAITING for t in trials):
                claim = self._pop()
                if claim is not None:
                    return claim
                continue
            time.sleep(self.poll)

    def progress(self) -> tuple[int, int]:
        """(cells complete, cells in all), over every worker."""
        trials = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return len({t.user_attrs.get(CELL) for t in trials} & set(self.cells)), len(self.cells)

    def owners(self) -> dict[str, optuna.trial.FrozenTrial]:
        """{cell id: its COMPLETE trial} for the cells done so far."""
        return grid_owners(self.study, self.cells)

    def _fail_unclaimed(self, trials) -> bool:
        """Fail the RUNNING trials that no worker claimed (no ``worker`` attribute,
        recorded just after the first heartbeat) for longer than the grace period,
        measured on this worker's clock from when it first saw them: their worker died
        before its first heartbeat, and Optuna fails only trials that have one. Returns
        whether any was failed (lost: its cell is enqueued again)."""
        now, seen, failed = time.monotonic(), {}, False
        for t in trials:
            if t.state != TrialState.RUNNING or "worker" in t.user_attrs:
                continue
            seen[t._trial_id] = since = self._unclaimed.get(t._trial_id, now)
            if now - since > self.grace:
                try:
                    failed |= self.study._storage.set_trial_state_values(
                        t._trial_id, state=TrialState.FAIL)
                except optuna.exceptions.UpdateFinishedTrialError:   # failed already
                    pass
        self._unclaimed = seen
        return failed

    def _complete(self, trials) -> bool:
        done = {t.user_attrs.get(CELL) for t in trials if t.state == TrialState.COMPLETE}
        return set(self.cells) <= done

    def _missing(self, trials) -> list[str]:
        """Cells with no trial that is waiting, running or complete: never enqueued, or
        lost with a dead worker. Raises when a cell failed with an error, or was lost
        more than MAX_LOST times."""
        live, lost = set(), {}
        for t in trials:
            cell = t.user_attrs.get(CELL)
            if t.state != TrialState.FAIL:
                live.add(cell)
            elif t.number in self.ended_before:
                continue   # ended before this worker started: a rerun tries it again
            elif t.user_attrs.get(ENDED, "").startswith("error"):
                raise RegbenchError(f"run {self.cells.get(cell, cell)} failed on worker "
                                    f"{t.user_attrs.get('worker', '?')}: "
                                    f"{t.user_attrs[ENDED][len('error: '):]}")
            elif ENDED not in t.user_attrs:   # failed by a heartbeat or unclaimed check
                lost[cell] = lost.get(cell, 0) + 1
        missing = [c for c in self.cells if c not in live]
        for cell in missing:
            if lost.get(cell, 0) > MAX_LOST:
                raise RegbenchError(f"run {self.cells[cell]} was lost {lost[cell]} times "
                                    "in this run of the command (its workers stopped "
                                    "sending heartbeats: killed, out of memory?); see the "
                                    "workers' logs")
        return missing

    def _enqueue(self, cells) -> None:
        for cell in cells:
            self.study.enqueue_trial({}, user_attrs={CELL: cell, "label": self.cells[cell]})

    def _pop(self) -> "Claim | None":
        """Pop a WAITING trial; None when another worker took it first or it was a
        duplicate (both ended here)."""
        with _quiet():   # Optuna warns that heartbeats are meant for optimize()
            trial = self.study.ask()
        try:
            return self._claim(trial)
        except (KeyboardInterrupt, SystemExit):
            # stopped between the ask and the claim's ``with`` (a SIGTERM lands anywhere):
            # hand the trial back at once, as ``Claim.__exit__`` does, not after the
            # grace period
            self._end(trial, "interrupted")
            if trial.user_attrs.get(CELL) in self.cells:
                self._enqueue([trial.user_attrs[CELL]])
            raise

    def _claim(self, trial) -> "Claim | None":
        storage = self.study._storage
        cell = trial.user_attrs.get(CELL)
        if cell is None:   # nothing was waiting any more: Optuna made a fresh trial
            self._end(trial, "idle")
            return None
        try:
            storage.record_heartbeat(trial._trial_id)
            trial.set_user_attr("worker", worker_name())
        except optuna.exceptions.UpdateFinishedTrialError:   # failed as unclaimed: a
            return None                                      # pause past the grace period
        if cell not in self.cells:
            self._end(trial, "error: a worker with other settings joined this grid")
            raise RegbenchError(f"the grid study {self.name!r} holds a run this worker does "
                                "not know: its workers ran with other settings; use another "
                                "--study-name")
        for other in self.study.get_trials(deepcopy=False):
            if (other.user_attrs.get(CELL) == cell and other.number < trial.number
                    and other.state != TrialState.FAIL):
                self._end(trial, f"duplicate of trial {other.number}")
                return None
        return Claim(self, trial, cell)

    def _end(self, trial, why: str) -> None:
        """End ``trial`` FAIL with the reason; nothing when another worker ended it
        already (its claim lapsed)."""
        try:
            trial.set_user_attr(ENDED, why)
            self.study.tell(trial, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass


@contextlib.contextmanager
def _quiet():
    """Optuna's experimental-API and heartbeat-with-ask warnings, silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        yield


@dataclass
class Claim:
    """One cell claimed by this worker: ``with claim:`` sends heartbeats while the body
    runs, then ends the trial COMPLETE (FAIL with the error, or enqueued again when
    the body was interrupted)."""

    queue: GridQueue
    trial: optuna.Trial
    cell: str

    @property
    def label(self) -> str:
        return self.queue.cells[self.cell]

    def holds(self) -> bool:
        """Whether the trial is still this worker's: not ended by another worker after
        its heartbeats lapsed (a pause longer than the grace period)."""
        state = self.queue.study._storage.get_trial(self.trial._trial_id).state
        return not state.is_finished()

    def __enter__(self) -> "Claim":
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._beats, daemon=True)
        self._beat.start()
        return self

    def _beats(self) -> None:
        storage = self.queue.study._storage
        said = set()   # each distinct error logged once, not once a beat
        while not self._stop.wait(self.queue.heartbeat):
            try:
                storage.record_heartbeat(self.trial._trial_id)
            except Exception as exc:   # a database hiccup: the next beat may get through
                error = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
                if error not in said:
                    said.add(error)
                    logging.getLogger(__name__).warning(
                        "run %s: a heartbeat to the grid's storage failed (%s); it is sent "
                        "again every %g s, and another worker takes the run over if none "
                        "gets through within the grace period (%g s)", self.label, error,
                        self.queue.heartbeat, self.queue.grace)

    def __exit__(self, kind, error, tb) -> None:
        self._stop.set()
        self._beat.join()
        queue = self.queue
        if kind is None:
            # Ended already when its heartbeats lapsed (a pause longer than the grace
            # period): another worker failed the trial and queued the cell again. The run
            # is stored; the grid may train it once more.
            lapsed = not self.holds()
            if not lapsed:
                try:
                    queue.study.tell(self.trial, 0.0)
                except optuna.exceptions.UpdateFinishedTrialError:   # ended just now
                    lapsed = True
            if lapsed:
                print(f"run {self.label}: finished after its claim lapsed (no heartbeat "
                      "within the grace period); another worker may train it again",
                      flush=True)
        elif issubclass(kind, (KeyboardInterrupt, SystemExit)):
            queue._end(self.trial, "interrupted")
            queue._enqueue([self.cell])   # for another worker, or this one's rerun
        else:
            first = (str(error).strip().splitlines() or [kind.__name__])[0]
            queue._end(self.trial, f"error: {first}")


__all__ = ["Claim", "GridQueue", "grid_owners", "grid_study_name", "worker_name"]
