"""The seed grid as a queue on an Optuna storage (regbench.grid), on SQLite: every cell
claimed once, duplicates resolved, a dead worker's cell retried, errors reported."""
import time

import optuna
import pytest
from optuna.trial import TrialState

from regbench.errors import RegbenchError
from regbench.grid import ENDED, GridQueue, grid_study_name

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
    monkeypatch.setattr("regbench.grid.MAX_LOST", 0)
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
    from regbench.config import TuningConfig
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
