"""Worker processes sharing one seed grid through the Optuna storage: each run trained
once, a killed worker's run finished by another, gathered tables equal to a single
machine's. PostgreSQL (the multi-machine set-up) when REGBENCH_TEST_POSTGRES_URL is set
(``.ci/postgres.sh``), and SQLite always."""
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from regbench import tune

PG_URL = os.environ.get("REGBENCH_TEST_POSTGRES_URL")
GRID = ["--preset", "smoke", "--regularizers", "none,fourier", "--seeds", "3",
        "--threads", "1", "--no-progress", "--device", "cpu"]
N_RUNS = 6


@pytest.fixture(scope="module")
def data(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("grid") / "data")


@pytest.fixture(scope="module")
def single_machine(data, tmp_path_factory):
    """results.csv of the grid trained by one plain process (no storage)."""
    out = tmp_path_factory.mktemp("single") / "out"
    done = _regbench("run", "--data", str(data), "--out", str(out), *GRID)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out / "results.csv")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage(request, tmp_path):
    """(URL, study name) of a fresh grid study, deleted afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}", "t"
        return
    if not PG_URL:
        pytest.skip("REGBENCH_TEST_POSTGRES_URL is not set; start a server with: "
                    "eval \"$(sudo bash .ci/postgres.sh)\"")
    name = f"regbench-grid-{uuid.uuid4().hex[:8]}"
    yield PG_URL, name
    db = tune.open_storage(PG_URL)
    for study in optuna.get_all_study_names(db):
        if study.startswith(name):
            optuna.delete_study(study_name=study, storage=db)


def _regbench(*args, wait=True, env=None):
    command = [sys.executable, "-m", "regbench.cli", *args]
    env = None if env is None else {**os.environ, **env}
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def _worker(data, out, url, name, *extra):
    return _regbench("run", "--data", str(data), "--out", str(out), *GRID, "--storage", url,
                     "--study-name", name, *extra, wait=False)


def _trained(stdout: str) -> list[str]:
    return re.findall(r"^trained (.+) \(ok\)$", stdout, re.M)


def _grid_trials(url, name):
    return optuna.load_study(study_name=f"{name}-grid",
                             storage=tune.open_storage(url)).get_trials()


def _claimed_runs(url, name, pid: int, timeout: float = 120) -> list:
    """The grid's runs that worker ``pid`` is training, polled until it claims one
    (empty when it has not within ``timeout`` s)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            running = [t for t in _grid_trials(url, name) if t.state == TrialState.RUNNING
                       and t.user_attrs.get("worker", "").endswith(f":{pid}")]
        except KeyError:   # the study does not exist yet
            continue
        if running:
            return running
    return []


def test_two_machines_work_one_grid_each_run_once(data, single_machine, storage, tmp_path,
                                                  tune_kit):
    url, name = storage
    artifacts = tmp_path / "artifacts"   # the machines share no folder: an artifact store
    workers = [_worker(data, tmp_path / f"machine{i}", url, name, "--artifacts",
                       str(artifacts)) for i in (1, 2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    trained = [_trained(out) for out, _ in outputs]
    assert sorted(trained[0] + trained[1]) == sorted(
        f"{r} seed {s}" for r in ("none", "fourier") for s in range(3))   # none twice
    complete = [t for t in _grid_trials(url, name) if t.state == TrialState.COMPLETE]
    assert len(complete) == N_RUNS and len({t.user_attrs["cell"] for t in complete}) == N_RUNS
    for i in (1, 2):   # each machine gathered the other's runs: the same table as one
        tune_kit.same_results(pd.read_csv(tmp_path / f"machine{i}" / "results.csv"), single_machine)
        assert (tmp_path / f"machine{i}" / "report.html").is_file()


def test_a_killed_worker_run_is_finished_by_the_other(data, storage, tmp_path):
    url, name = storage
    config = tmp_path / "slow.toml"   # runs of a few seconds, a dead worker noticed in 3 s
    config.write_text("[train]\nmax_epochs = 40\npatience = 40\n"
                      "[tuning]\nheartbeat = 1\ngrace_period = 3\n")
    shared = tmp_path / "shared"      # one folder shared by both (as on NFS)
    victim = _worker(data, shared, url, name, "--config", str(config))
    pid = victim.pid
    running = _claimed_runs(url, name, pid)   # kill it in the middle of a run
    assert running, "the first worker never claimed a run"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    other = _worker(data, shared, url, name, "--config", str(config))
    out, err = other.communicate(timeout=600)
    assert other.returncode == 0, err
    trials = _grid_trials(url, name)
    lost = [t for t in trials if t.number == running[0].number][0]
    assert lost.state == TrialState.FAIL                       # failed by the heartbeat check
    cell = lost.user_attrs["cell"]
    redone = [t for t in trials if t.user_attrs.get("cell") == cell
              and t.state == TrialState.COMPLETE]
    assert len(redone) == 1 and not redone[0].user_attrs["worker"].endswith(f":{pid}")
    results = pd.read_csv(shared / "results.csv")
    assert len(results.drop_duplicates(["regularizer", "seed"])) == N_RUNS
    assert (results["status"] == "ok").all()


def test_local_workers_share_the_grid_and_the_cores(data, single_machine, tmp_path, tune_kit):
    out = tmp_path / "out"
    done = _regbench("run", "--data", str(data), "--out", str(out), *GRID, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "started 1 more local worker(s), 1 thread(s) each" in done.stdout
    log = (out / "logs" / "worker-1.log").read_text()
    assert "seed grid complete" in log
    trained = _trained(done.stdout) + _trained(log)
    assert len(trained) == N_RUNS == len(set(trained))
    tune_kit.same_results(pd.read_csv(out / "results.csv"), single_machine)


def test_report_gathers_a_grid_from_the_storage(data, single_machine, tmp_path, tune_kit):
    url, name = f"sqlite:///{tmp_path / 's.db'}", "t"
    art = tmp_path / "art"
    first = _regbench("run", "--data", str(data), "--out", str(tmp_path / "a"), *GRID,
                      "--storage", url, "--study-name", name, "--artifacts", str(art))
    assert first.returncode == 0, first.stderr
    # a machine whose worker was stopped early: its folder holds part of the grid
    folder = tmp_path / "b"
    import shutil
    shutil.copytree(tmp_path / "a", folder)
    for path in list((folder / "runs").glob("fourier_*.json")):
        path.unlink()
    (folder / "results.csv").unlink()
    # the storage from $REGBENCH_STORAGE: the folder's grid.json says it is a grid's
    done = _regbench("report", str(folder), env={"REGBENCH_STORAGE": url})
    assert done.returncode == 0, done.stderr
    assert "gathered 6 of the grid's 6 runs" in done.stdout
    tune_kit.same_results(pd.read_csv(folder / "results.csv"), single_machine)
    bad = _regbench("report", str(tmp_path / "nothing"), "--storage", url)
    assert bad.returncode == 2 and "has no grid.json" in bad.stderr
    # an unreachable storage: one line, exit 2, the password hidden
    secret = "postgresql://user:s3cret@127.0.0.1:1/regbench"
    bad = _regbench("report", str(folder), env={"REGBENCH_STORAGE": secret})
    assert bad.returncode == 2 and "s3cret" not in bad.stderr + bad.stdout
    assert "user:***@127.0.0.1" in bad.stderr and "Traceback" not in bad.stderr


def test_report_with_a_storage_keeps_the_runs_a_plain_run_added(data, tmp_path):
    """Before: the gathered tables held the grid's runs only ("gathered 4 of the grid's
    4 runs", exit 0), and l2, added by a plain run, was gone from results.csv."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    out = tmp_path / "out"
    run = ["run", "--data", str(data), "--out", str(out), "--preset", "smoke", "--seeds",
           "2", "--threads", "1", "--no-progress", "--device", "cpu"]
    grid = _regbench(*run, "--regularizers", "none,fourier", "--storage", url,
                     "--study-name", "t")
    assert grid.returncode == 0, grid.stderr
    plain = _regbench(*run, "--regularizers", "none,fourier,l2")   # grid.json unchanged
    assert plain.returncode == 0, plain.stderr
    tables = {name: pd.read_csv(out / name) for name in ("results.csv", "per_sequence.csv",
                                                         "history.csv")}
    assert len(tables["results.csv"]) == 12   # 3 regularizers x 2 seeds x 2 methods
    offline = _regbench("report", str(out), "--offline", env={"REGBENCH_STORAGE": url})
    assert offline.returncode == 0, offline.stderr
    assert "runs of the shared grid" not in offline.stdout
    done = _regbench("report", str(out), env={"REGBENCH_STORAGE": url})
    assert done.returncode == 0, done.stderr
    assert "gathered 4 of the grid's 4 runs" in done.stdout
    for name, before in tables.items():   # the grid's runs replaced by themselves
        after = pd.read_csv(out / name)
        key = ["regularizer", "seed"] + (["method"] if name == "results.csv" else [])
        assert sorted(map(tuple, after[key].drop_duplicates().values.tolist())) == sorted(
            map(tuple, before[key].drop_duplicates().values.tolist())), name
        assert len(after) == len(before), name
    results = pd.read_csv(out / "results.csv")
    assert (results["regularizer"] == "l2").sum() == 4 and "l2" in (
        out / "report.md").read_text()


def test_local_workers_get_the_storage_through_the_environment(tmp_path, monkeypatch):
    """Not on the command line, which every user of the machine can read (ps)."""
    from regbench.distributed import workers
    started = []

    class Popen:
        def __init__(self, command, **kwargs):
            started.append((command, kwargs["env"]))

    monkeypatch.setattr(workers.subprocess, "Popen", Popen)
    url = "postgresql://user:s3cret@db/regbench"
    workers.start_local_workers(["run", "--preset", "smoke"], 2, 1, tmp_path, url)
    assert len(started) == 2
    for command, env in started:
        assert not any("s3cret" in part for part in command)
        assert command[-6:] == ["--workers", "1", "--threads", "1", "--no-progress",
                                "--worker"]
        assert env["REGBENCH_STORAGE"] == url


def test_machines_exchange_runs_through_s3(data, single_machine, tmp_path, tune_kit,
                                           monkeypatch, capsys):
    """Boto3ArtifactStore on an in-process S3 (moto): the second machine finds the grid
    complete and fetches every run the first one trained."""
    moto = pytest.importorskip("moto")
    import boto3

    from regbench.bench import Benchmark
    from regbench.options.config import preset_config
    for key, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)

    def machine(out):
        config = preset_config("smoke")
        config.data, config.scenario, config.out = str(data), None, str(out)
        config.regularizers, config.seeds = ["none", "fourier"], 3
        config.progress, config.device, config.threads = False, "cpu", 1
        config.tuning = {"storage": f"sqlite:///{tmp_path / 'grid.db'}", "study_name": "s3"}
        config.artifacts = "s3://regbench-runs"
        Benchmark(config).run(report=False)
        return pd.read_csv(out / "results.csv")

    with moto.mock_aws():
        boto3.client("s3").create_bucket(Bucket="regbench-runs")
        machine(tmp_path / "a")
        fetched = machine(tmp_path / "b")   # trains nothing: all from the bucket
        keys = boto3.client("s3").list_objects_v2(Bucket="regbench-runs")["KeyCount"]
    # per run its record, checkpoint and attributions, and each regularizer's examples
    assert keys == 6 * 3 + 2
    out = capsys.readouterr().out
    assert "this worker trained 0 of 6 runs" in out and "fetched 20 files" in out
    tune_kit.same_results(fetched, single_machine)


def test_report_refuses_a_sqlite_grid_database_that_does_not_exist(tmp_path, capsys):
    from regbench.cli import main
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "grid.json").write_text('{"study": "s", "cells": {}}')
    missing = tmp_path / "nowhere.db"
    assert main(["report", str(tmp_path / "out"), "--storage", f"sqlite:///{missing}"]) == 2
    assert "no Optuna database at" in capsys.readouterr().err
    assert not missing.exists()   # opening it would have created an empty database


def test_a_worker_whose_claim_lapsed_uploads_nothing_and_goes_on(tmp_path, capsys):
    """A run that outlived its claim (a pause past the grace period: another worker
    failed its trial) crashed in upload_artifact: a finished trial takes no attribute."""
    import dataclasses
    from types import SimpleNamespace

    from regbench.store.runs import RunKey, RunStore
    from regbench.distributed.workers import FILES, work_grid
    url, out = f"sqlite:///{tmp_path / 'grid.db'}", tmp_path / "out"
    tuning = SimpleNamespace(storage=url, study_name="lapse", heartbeat=1, grace_period=2)
    trained = []

    def key(regularizer, seed, data_fraction=1.0):
        return RunKey("data", regularizer, 0.0, seed, data_fraction, "cfg", "ev")

    def train_seeds(regularizer, seeds, fraction, bar=None):
        record = {"key": dataclasses.asdict(key(regularizer, seeds[0], fraction)),
                  "row": {"regularizer": regularizer, "seed": seeds[0], "status": "ok",
                          "data_fraction": fraction}}
        RunStore(out).save(key(regularizer, seeds[0], fraction), record)
        if not trained:   # the first time, another worker failed the trial meanwhile
            study = optuna.load_study(study_name="lapse-grid", storage=url)
            running = study.get_trials(states=(TrialState.RUNNING,))
            study._storage.set_trial_state_values(running[0]._trial_id, TrialState.FAIL)
        trained.append(regularizer)
        return [record]

    context = SimpleNamespace(
        out=out, key=key, seed_grid_groups=lambda grid: [(r, [s]) for r, s in grid],
        config=SimpleNamespace(tuning_config=lambda: tuning, progress=False,
                               artifacts=str(tmp_path / "artifacts")))
    out.mkdir()
    work_grid(SimpleNamespace(context=context, train_seeds=train_seeds), [("none", 0)], [])
    assert trained == ["none", "none"]   # the lapsed run, then its retry
    assert "finished after its claim lapsed" in capsys.readouterr().out
    trials = _grid_trials(url, "lapse")
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert FILES not in trials[0].user_attrs
    assert list(trials[1].user_attrs[FILES]) == [f"runs/{key('none', 0).id()}.json"]


def test_a_sigterm_worker_hands_its_run_back_and_the_next_run_succeeds(data, storage,
                                                                       tmp_path):
    """scancel, a Slurm time limit, docker stop: the run goes back to the queue at once
    (not after the grace period, as a loss), and the rerun finishes the grid."""
    url, name = storage
    config = tmp_path / "slow.toml"   # runs of a few seconds; a loss noticed only in 10 min
    config.write_text("[train]\nmax_epochs = 40\npatience = 40\n"
                      "[tuning]\nheartbeat = 60\ngrace_period = 600\n")
    shared = tmp_path / "shared"
    victim = _worker(data, shared, url, name, "--config", str(config))
    running = _claimed_runs(url, name, victim.pid)
    assert running, "the worker never claimed a run"
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == 143, err
    assert err.strip().splitlines()[-1] == ("regbench run: stopped (SIGTERM); finished "
                                            "results are kept, rerun the same command to "
                                            "continue")
    stopped = [t for t in _grid_trials(url, name) if t.number == running[0].number][0]
    assert stopped.state == TrialState.FAIL and stopped.user_attrs["ended"] == "interrupted"
    rerun = _worker(data, shared, url, name, "--config", str(config))
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    cell = stopped.user_attrs["cell"]
    assert f"trained {stopped.user_attrs['label']} (ok)" in out
    assert [t.state for t in _grid_trials(url, name) if t.user_attrs.get("cell") == cell
            ] == [TrialState.FAIL, TrialState.COMPLETE]
    results = pd.read_csv(shared / "results.csv")
    assert len(results.drop_duplicates(["regularizer", "seed"])) == N_RUNS
