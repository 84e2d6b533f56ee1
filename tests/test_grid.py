"""The seed grid as a queue on an Optuna storage (regbench.distributed.grid), on SQLite: every cell
claimed once, duplicates resolved, a dead worker's cell retried, errors reported."""
import time

import optuna
import pytest
from optuna.trial import TrialState

from regbench.errors import RegbenchError
from regbench.distributed.grid import ENDED, GridQueue, _quiet, grid_study_name

CELLS = {f"c{i}": f"cell {i}" for i in range(4)}


def queue(tmp_path, name="g", cells=CELLS, **kwargs):
    return GridQueue(f"sqlite:///{tmp_path / 'grid.db'}", name, cells,
                     **{"heartbeat": 1, "grace": 2, **kwargs})


def drain(*queues):
    """Claim and finish cells, taking turns; returns the cells each queue ran."""
    ran = {id(q): [] for q in queues}
    active = list(queues)
    while active:
        for q in list(active):
            claim = q.claim()
            if claim is None:
                active.remove(q)
                continue
            with claim:
                ran[id(q)].append(claim.cell)
    return [ran[id(q)] for q in queues]


def completed(q):
    return sorted(t.user_attrs["cell"] for t in q.study.get_trials()
                  if t.state == TrialState.COMPLETE)


def test_two_workers_run_every_cell_exactly_once_despite_duplicate_enqueues(tmp_path):
    a, b = queue(tmp_path), queue(tmp_path)
    b._enqueue(["c0", "c2", "c2"])   # as workers starting together would
    ran_a, ran_b = drain(a, b)
    assert sorted(ran_a + ran_b) == sorted(CELLS)
    assert ran_a and ran_b
    assert completed(a) == sorted(CELLS)
    assert a.claim() is None and a.progress() == (4, 4)


def test_a_popped_duplicate_ends_failed_without_running(tmp_path):
    a = queue(tmp_path)
    a.study.enqueue_trial({}, user_attrs={"cell": "c0", "label": "cell 0"})  # trial 4
    first = a.claim()                      # trial 0, cell c0, now RUNNING
    assert (first.cell, first.trial.number) == ("c0", 0)
    # pop the rest: trials 1-3 are cells c1-c3, trial 4 the duplicate of c0
    claims = [a._pop() for _ in range(4)]
    assert [c.cell for c in claims if c is not None] == ["c1", "c2", "c3"]
    dup = a.study.get_trials()[4]
    assert dup.state == TrialState.FAIL
    assert dup.user_attrs[ENDED] == "duplicate of trial 0"


def test_a_dead_workers_cell_is_retried_after_the_grace_period(tmp_path):
    cells = {"x": "x", "y": "y"}
    dead = queue(tmp_path, cells=cells).claim()
    dead.__enter__()
    dead._stop.set()                       # killed: no more heartbeats, never told
    t0 = time.perf_counter()
    (ran,) = drain(queue(tmp_path, cells=cells))
    assert sorted(ran) == ["x", "y"]       # the other worker waited, then retried it
    assert time.perf_counter() - t0 >= 2   # not before the grace period
    trials = dead.queue.study.get_trials()
    assert trials[0].state == TrialState.FAIL and ENDED not in trials[0].user_attrs
    assert completed(dead.queue) == ["x", "y"]


def test_a_run_that_outlived_its_lapsed_claim_ends_without_an_error(tmp_path, capsys):
    cells = {"x": "x"}
    slow = queue(tmp_path, cells=cells).claim()
    with slow:
        slow._stop.set()                   # a pause: no heartbeats past the grace period
        time.sleep(3)
        (ran,) = drain(queue(tmp_path, cells=cells))   # fails it as stale, runs it again
    assert ran == ["x"]
    assert "finished after its claim lapsed" in capsys.readouterr().out
    assert completed(slow.queue) == ["x"]


def test_a_cell_lost_too_often_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr("regbench.distributed.grid.MAX_LOST", 0)
    cells = {"x": "x"}
    dead = queue(tmp_path, cells=cells).claim()
    dead.__enter__()
    dead._stop.set()
    time.sleep(2.5)
    with pytest.raises(RegbenchError, match="run x was lost 1 times"):
        queue(tmp_path, cells=cells).claim()


def test_an_error_in_a_run_stops_the_other_workers(tmp_path):
    a, b = queue(tmp_path), queue(tmp_path)
    with pytest.raises(ValueError):
        with a.claim():
            raise ValueError("disk full\nmore")
    with pytest.raises(RegbenchError, match="run cell 0 failed on worker .*: disk full$"):
        b.claim()
    (ran,) = drain(queue(tmp_path))   # a rerun, after the fix: the cell is tried again
    assert sorted(ran) == sorted(CELLS)


def test_an_interrupted_run_goes_back_to_the_queue(tmp_path):
    a = queue(tmp_path, cells={"x": "x"})
    with pytest.raises(KeyboardInterrupt):
        with a.claim():
            raise KeyboardInterrupt
    (ran,) = drain(queue(tmp_path, cells={"x": "x"}))
    assert ran == ["x"]


def test_an_interrupt_between_the_claim_and_its_with_hands_the_run_back(tmp_path,
                                                                          monkeypatch):
    """A SIGTERM can land after the trial is marked this worker's (RUNNING, ``worker``
    set) and before ``with claim:`` starts: the run goes back to the queue at once, not
    after the grace period (a 2-core CI machine under load hit this window)."""
    q = queue(tmp_path, grace=600)
    real = GridQueue._claim

    def interrupted(self, trial):
        real(self, trial)              # claimed: RUNNING, with this worker's name
        raise KeyboardInterrupt
    monkeypatch.setattr(GridQueue, "_claim", interrupted)
    with pytest.raises(KeyboardInterrupt):
        q.claim()
    monkeypatch.undo()
    (stopped,) = [t for t in q.study.get_trials() if t.state == TrialState.FAIL]
    assert stopped.user_attrs[ENDED] == "interrupted" and "worker" in stopped.user_attrs
    assert not [t for t in q.study.get_trials() if t.state == TrialState.RUNNING]
    claims = []
    while (claim := q.claim()) is not None:    # every cell still runs, once
        with claim:
            claims.append(claim.cell)
    assert sorted(claims) == sorted(CELLS)


def test_grid_study_names():
    assert grid_study_name("lab", CELLS) == "lab-grid"
    same = grid_study_name(None, dict(reversed(list(CELLS.items()))))
    assert same == grid_study_name(None, CELLS) and same.startswith("grid-")
    assert grid_study_name(None, {"other": "x"}) != same


def test_a_worker_with_other_settings_cannot_join(tmp_path):
    queue(tmp_path, cells={"x": "x"})
    other = queue(tmp_path, cells={"y": "y"})   # enqueues y beside x
    with pytest.raises(RegbenchError, match="other settings"):
        while (claim := other.claim()) is not None:
            with claim:
                pass


def test_heartbeat_settings_are_checked():
    from regbench.options.config import TuningConfig
    with pytest.raises(RegbenchError, match="heartbeat"):
        TuningConfig(heartbeat=10, grace_period=5).validate()


@pytest.fixture(autouse=True)
def _quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


POP_LOOP = """
import json, sys, warnings
import optuna
from regbench.tune import open_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.simplefilter("ignore")
study = optuna.load_study(study_name="s", storage=open_storage(sys.argv[1], retry=False))
popped = []
while (trial := study._pop_waiting_trial_id()) is not None:
    popped.append(trial)
print(json.dumps(popped))
"""


def test_processes_on_one_sqlite_file_never_pop_one_trial_twice(tmp_path):
    """Optuna's pop (read WAITING, set RUNNING) relies on SELECT ... FOR UPDATE, which
    SQLite ignores: without open_storage's BEGIN IMMEDIATE, 3 processes popped 9 of
    150 trials twice here."""
    import json
    import subprocess
    import sys

    from regbench.tune import open_storage
    url = f"sqlite:///{tmp_path / 'pop.db'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url, retry=False))
    for i in range(150):
        study.enqueue_trial({"x": i}, skip_if_exists=False)
    workers = [subprocess.Popen([sys.executable, "-c", POP_LOOP, url], text=True,
                                stdout=subprocess.PIPE) for _ in range(3)]
    popped = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    ids = sum(popped, [])
    assert len(ids) == len(set(ids)) == 150


def _lose(q, cell):
    """A trial of ``cell`` popped and failed as the heartbeat check fails a dead
    worker's: FAIL, no ENDED attribute."""
    q.study.enqueue_trial({}, user_attrs={"cell": cell, "label": cell})
    claim = q._pop()
    q.study._storage.set_trial_state_values(claim.trial._trial_id, state=TrialState.FAIL)


def test_losses_of_earlier_runs_of_the_command_do_not_count(tmp_path):
    """Counted over the study's whole history, 4 losses (e.g. 4 jobs stopped by a
    time limit) made every later run of the command fail at once."""
    cells = {"x": "x"}
    old = queue(tmp_path, cells=cells)
    old.study._storage.set_trial_state_values(old.study.get_trials()[0]._trial_id,
                                              state=TrialState.FAIL)
    for _ in range(4):
        _lose(old, "x")
    (ran,) = drain(queue(tmp_path, cells=cells))   # the next run of the command
    assert ran == ["x"]


def test_an_error_from_a_machine_whose_clock_is_behind_stops_the_others(tmp_path):
    """Optuna stamps trials with the naive local time of the machine that ends them;
    one an hour west (or slow) ended its run's trial 'before' this worker started."""
    import datetime

    import sqlalchemy
    a, b = queue(tmp_path), queue(tmp_path)
    with pytest.raises(ValueError):
        with b.claim():
            raise ValueError("out of memory")
    failed = b.study.get_trials()[0]
    earlier = failed.datetime_complete - datetime.timedelta(hours=1)
    with b.study._storage._backend.engine.begin() as db:
        db.execute(sqlalchemy.text("UPDATE trials SET datetime_complete = :t "
                                   "WHERE trial_id = :i"),
                   {"t": earlier, "i": failed._trial_id})
    with pytest.raises(RegbenchError, match="run cell 0 failed on worker .*: out of memory$"):
        a.claim()


def test_a_worker_killed_before_its_first_heartbeat_is_not_waited_for(tmp_path, monkeypatch):
    """Popped (RUNNING) but never a heartbeat: Optuna's stale check skips such a trial,
    and the other workers waited for it forever."""
    cells = {"x": "x"}
    dead = queue(tmp_path, cells=cells)
    with _quiet():
        dead.study.ask()                   # popped x, then killed: no heartbeat
    sleeps = []
    real_sleep = time.sleep

    def sleep(seconds):
        sleeps.append(seconds)
        assert len(sleeps) < 40, "claim() waits for the dead worker's trial forever"
        real_sleep(seconds)

    monkeypatch.setattr("regbench.distributed.grid.time.sleep", sleep)
    other = queue(tmp_path, cells=cells)
    t0 = time.perf_counter()
    (ran,) = drain(other)
    assert ran == ["x"] and time.perf_counter() - t0 >= 2   # after the grace period
    first = other.study.get_trials()[0]
    assert first.state == TrialState.FAIL and ENDED not in first.user_attrs   # lost


SIGTERM_WORKER = """
import os, signal, sys, time
import regbench.commands.regularizers as command
from regbench.cli import main
from regbench.distributed.grid import GridQueue

def claim_and_get_stopped(args):
    queue = GridQueue(sys.argv[1], "g", {"x": "x"}, heartbeat=60, grace=600)
    with queue.claim():
        os.kill(os.getpid(), signal.SIGTERM)   # scancel, a time limit, docker stop
        time.sleep(60)

command.main = claim_and_get_stopped
sys.exit(main(["regularizers"]))
"""


def test_sigterm_hands_the_claimed_run_back_at_once(tmp_path):
    """Killed by SIGTERM, a worker left its trial RUNNING until it went stale (minutes),
    and counted as lost."""
    import subprocess
    import sys
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    done = subprocess.run([sys.executable, "-c", SIGTERM_WORKER, url], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "regbench regularizers: stopped (SIGTERM); finished results are kept, rerun the "
        "same command to continue")
    study = optuna.load_study(study_name="g", storage=url)
    states = [(t.state, t.user_attrs.get(ENDED)) for t in study.get_trials()]
    assert states == [(TrialState.FAIL, "interrupted"), (TrialState.WAITING, None)]


def test_heartbeat_errors_are_logged_once_each(tmp_path, monkeypatch, caplog):
    """Before: the heartbeat thread dropped every error without a word, so a worker
    whose beats never got through lost its run with nothing in its log."""
    import logging
    q = queue(tmp_path, cells={"x": "cell x"})
    claim = q.claim()
    errors = [OSError("database is gone")] * 3 + [TimeoutError("too slow")]
    tried = []

    def beat(trial_id):
        tried.append(trial_id)
        if len(tried) <= len(errors):
            raise errors[len(tried) - 1]
    monkeypatch.setattr(q.study._storage, "record_heartbeat", beat)
    with caplog.at_level(logging.WARNING, logger="regbench.distributed.grid"):
        with claim:
            deadline = time.time() + 30
            while len(tried) <= len(errors) and time.time() < deadline:
                time.sleep(0.1)
    lines = [r.getMessage() for r in caplog.records if r.name == "regbench.distributed.grid"]
    assert len(tried) > len(errors) and len(lines) == 2
    assert lines[0].startswith("run cell x: a heartbeat to the grid's storage failed "
                               "(OSError: database is gone)")
    assert "(TimeoutError: too slow)" in lines[1] and "grace period (2 s)" in lines[1]
    assert completed(q) == ["x"]
