"""λ search: ranges, the study on disk, failures, pruning, Pareto, shared workers."""
import functools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from optuna.trial import TrialState

import regbench.tune as tune
import regbench.tune.search
import regbench.tune.storage
import regbench.tune.study
from regbench import RegbenchError
from regbench.cli import main as cli_main
from regbench.regularizers import get_spec, register_regularizer
from regbench.regularizers.registry import _REGISTRY
from regbench.tune import write_lambda_search

SEARCHED = ["fourier", "l2", "smoothness", "sparsity"]
# Tests that play a worker with study.ask(), outside optimize(), on purpose.
MANUAL_ASK = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


def load(out, name) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{Path(out) / 'optuna.db'}")


def leftovers(folder) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if ".tmp" in p.name]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def tuned(data_dir, tmp_path_factory, tune_kit):
    """Two trials for each searched regularizer, in one results folder."""
    out = tmp_path_factory.mktemp("tuned")
    bench = tune_kit.make_bench(data_dir, out, SEARCHED)
    results = {name: bench.search.search_lambda(name, n_trials=2, trial_epochs=1, progress=False)
               for name in SEARCHED}
    return bench, results


@pytest.mark.parametrize("name", SEARCHED)
def test_tuning_finds_a_lambda_in_range_and_keeps_the_study(tuned, name):
    bench, results = tuned
    result = results[name]
    low, high = get_spec(name).lambda_range
    assert low <= result.best_lambda <= high and math.isfinite(result.best_value)
    assert (result.n_complete, result.n_pruned, result.n_failed) == (2, 0, 0)
    study = load(bench.out, result.study_name)   # reopened from the SQLite file
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert study.best_params["lambda"] == result.best_lambda
    assert study.best_value == result.best_value
    fingerprint = bench.context.dataset.fingerprint
    assert result.study_name.startswith(f"{name}-{fingerprint}-")


def test_trials_are_stored_apart_from_the_comparison(tuned):
    bench, results = tuned
    run_ids = {r.trials["trial"].size for r in results.values()}
    assert run_ids == {2}
    assert not (bench.out / "runs").exists()     # the comparison's own store is untouched
    stored = sorted(p.stem for p in (bench.out / "tuning" / "runs").glob("*.json"))
    study = load(bench.out, results["l2"].study_name)
    assert {t.user_attrs["run"] for t in study.trials} <= set(stored)
    assert not (bench.out / "tuning" / "examples").exists() and not leftovers(bench.out)


def test_rerun_tops_the_study_up_to_n_trials(tuned):
    bench, results = tuned
    again = bench.search.search_lambda("l2", n_trials=2, trial_epochs=1, progress=False)
    assert again.n_complete == 2 and again.best_lambda == results["l2"].best_lambda
    more = bench.search.search_lambda("l2", n_trials=3, trial_epochs=1, progress=False)
    study = load(bench.out, more.study_name)
    assert len(study.trials) == 3 and more.n_complete == 3
    assert len({t.params["lambda"] for t in study.trials}) == 3


def test_same_seed_draws_the_same_lambdas(data_dir, tmp_path, tune_kit):
    draws = []
    for folder in ("a", "b"):
        bench = tune_kit.make_bench(data_dir, tmp_path / folder)
        draws.append(bench.search.search_lambda("l2", n_trials=2, trial_epochs=1, seed=7,
                                 progress=False).trials["lambda"].tolist())
    assert draws[0] == draws[1] and draws[0][0] != draws[0][1]


def test_regularizers_with_the_same_range_search_different_lambdas(tuned):
    """Studies are seeded by the regularizer's name too, so fourier and sparsity (the
    same λ range) and smoothness (that range / 10) are not tried at the same points."""
    _, results = tuned
    assert get_spec("fourier").lambda_range == get_spec("sparsity").lambda_range
    draws = {name: np.array(results[name].trials["lambda"]) for name in SEARCHED}
    assert not np.isclose(draws["fourier"], draws["sparsity"]).any()
    low_f, low_s = get_spec("fourier").lambda_range[0], get_spec("smoothness").lambda_range[0]
    assert not np.isclose(draws["fourier"] / low_f, draws["smoothness"] / low_s).any()
    assert tune.study_seed(0, "fourier") != tune.study_seed(0, "sparsity")


def test_the_study_seed_is_the_same_in_every_process():
    """A resumed study and every worker of a shared one must seed its sampler alike, so
    the seed may not come from Python's per-process hash(): pinned to the first 8 hex
    digits of sha256("seed:name") (as `printf 0:fourier | sha256sum` gives them), and
    the same in a process with another PYTHONHASHSEED."""
    pinned = {(0, "fourier"): 0xfc637c9e, (0, "sparsity"): 0xfc27a04c, (7, "l2"): 0x6e07d1cc}
    assert {key: tune.study_seed(*key) for key in pinned} == pinned
    code = ("import json; from regbench.tune import study_seed; "
            "print(json.dumps([study_seed(0, 'fourier'), study_seed(7, 'l2')]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True, env={**os.environ, "PYTHONHASHSEED": "1"})
    assert json.loads(done.stdout) == [0xfc637c9e, 0x6e07d1cc]


def trials_table(lambdas, values, states=None) -> pd.DataFrame:
    return pd.DataFrame({"lambda": lambdas, "value": values,
                         "state": states or ["complete"] * len(lambdas)})


def test_search_notes_edge_and_flat_curves():
    spread = trials_table([1e-3, 1e-2, 1e-1, 1.0], [0.40, 0.35, 0.30, 0.45])
    assert tune.search_notes(spread, (1e-4, 1.0), 1e-1) == []
    # log position of 1.2e-4 in [1e-4, 1]: 0.02 < 5 %: the lower edge.
    edge = tune.search_notes(spread, (1e-4, 1.0), 1.2e-4)
    assert len(edge) == 1 and "lower edge" in edge[0]
    assert "upper edge" in tune.search_notes(spread, (1e-4, 1.0), 0.9)[0]
    # Flat: a spread of 0.002 is within 1 % of 0.300 (0.003) ...
    flat = trials_table([1e-3, 1e-2, 1e-1], [0.301, 0.300, 0.302])
    assert "flat within noise" in tune.search_notes(flat, (1e-4, 1.0), 1e-2)[0]
    # ... and within a seed noise of 0.01, but not within one of 0.001.
    assert tune.search_notes(flat, (1e-4, 1.0), 1e-2, noise=0.01)
    assert not tune.search_notes(flat, (1e-4, 1.0), 1e-2, noise=0.001)
    # Pruned trials do not count: two completed ones are too few to call it flat.
    two = trials_table([1e-3, 1e-2, 1e-1], [0.301, 0.300, 0.9],
                       ["complete", "complete", "pruned"])
    assert tune.search_notes(two, (1e-4, 1.0), 1e-2) == []


def test_lambda_search_csv(tuned):
    bench, results = tuned
    path = write_lambda_search(bench.out, results)
    table = pd.read_csv(path)
    assert list(table.columns) == ["regularizer", "trial", "lambda", "value", "state", "chosen"]
    assert set(table["regularizer"]) == set(SEARCHED)
    chosen = table[table["chosen"]].set_index("regularizer")["lambda"]
    assert chosen.to_dict() == pytest.approx({n: r.best_lambda for n, r in results.items()})
    # Writing one regularizer again replaces its rows and keeps the others'.
    write_lambda_search(bench.out, [results["l2"]])
    again = pd.read_csv(path)
    assert len(again) == len(table) and set(again["regularizer"]) == set(SEARCHED)
    assert not leftovers(bench.out)


def test_none_needs_no_study(data_dir, tmp_path, tune_kit):
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    result = bench.search.search_lambda("none", n_trials=5)
    assert result.best_lambda == 0.0 and result.study_name is None
    assert not (tmp_path / "optuna.db").exists()
    assert write_lambda_search(tmp_path, [result]) is None


@pytest.fixture
def nan_prior():
    @register_regularizer("test_nan_prior", needs="parameters", lambda_range=(1.0, 10.0))
    def penalty(model):
        return torch.tensor(float("nan"))
    yield "test_nan_prior"
    _REGISTRY.pop("test_nan_prior", None)


def test_failed_training_is_recorded_not_raised(data_dir, tmp_path, nan_prior, tune_kit):
    bench = tune_kit.make_bench(data_dir, tmp_path, [nan_prior])
    result = bench.search.search_lambda(nan_prior, n_trials=2, trial_epochs=2, progress=False)
    assert result.best_lambda is None and (result.n_failed, result.n_complete) == (2, 0)
    assert set(result.trials["state"]) == {"failed"}
    assert result.trials["reason"].str.contains("non-finite loss").all()
    study = load(tmp_path, result.study_name)
    assert all("non-finite" in t.user_attrs["fail_reason"] for t in study.trials)
    write_lambda_search(tmp_path, [result])
    assert set(pd.read_csv(tmp_path / "lambda_search.csv")["state"]) == {"failed"}


def test_pruned_trials_leave_no_files(data_dir, tmp_path, monkeypatch, tune_kit):
    # Prune every trial at its first report: the validation loss is always > 0.
    monkeypatch.setattr(tune.study, "make_pruner", lambda: optuna.pruners.ThresholdPruner(upper=0.0))
    bench = tune_kit.make_bench(data_dir, tmp_path)
    result = bench.search.search_lambda("l2", n_trials=3, trial_epochs=3, progress=False)
    assert (result.n_pruned, result.n_complete, result.best_lambda) == (3, 0, None)
    assert (result.trials["epochs"] == 1).all() and result.trials["value"].notna().all()
    tuning = tmp_path / "tuning"
    assert not list(tuning.rglob("*.json")) and not list(tuning.rglob("*.pt"))
    assert not leftovers(tmp_path)


def test_pareto_gives_a_front(data_dir, tmp_path, tune_kit):
    bench = tune_kit.make_bench(data_dir, tmp_path)
    result = bench.search.search_lambda("l2", n_trials=3, trial_epochs=2, objective="pareto",
                         progress=False)
    trials = result.trials
    assert result.n_complete == 3 and trials["on_front"].any()
    assert trials["motif_auprc"].between(0, 1).all()
    chosen = trials.set_index("trial").loc[result.best_trial]
    assert chosen["on_front"] and chosen["lambda"] == result.best_lambda
    study = load(tmp_path, result.study_name)
    assert len(study.directions) == 2 and result.study_name.endswith("-pareto")
    assert {t.number for t in study.best_trials} == set(trials.loc[trials["on_front"], "trial"])
    write_lambda_search(tmp_path, [result])
    pareto = pd.read_csv(tmp_path / "pareto.csv")
    assert list(pareto.columns) == tune.PARETO_COLUMNS and pareto["chosen"].sum() == 1


def test_pareto_needs_ground_truth_motifs(data_dir, tmp_path, tune_kit):
    plain = tmp_path / "data"
    plain.mkdir()
    for name in ("sequences.fa", "labels.tsv"):
        (plain / name).write_bytes((data_dir / name).read_bytes())
    bench = tune_kit.make_bench(plain, tmp_path / "out", ["fourier"])
    with pytest.raises(RegbenchError, match="motifs.bed"):
        bench.search.search_lambda("fourier", n_trials=1, objective="pareto")


@MANUAL_ASK
def test_a_trial_beyond_the_budget_does_not_run(tmp_path):
    """Workers that finish together may both start a trial; only those within the
    budget by trial number go on (trials 0 and 1 running, budget 1)."""
    study = tune.open_study(f"sqlite:///{tmp_path / 'optuna.db'}", "race", "loss", seed=0)
    first, second = study.ask(), study.ask()
    objective = tune.search._Objective(None, (1e-3, 1e-1), "loss", n_trials=1)
    assert not objective._over_budget(first) and objective._over_budget(second)


@MANUAL_ASK
@MANUAL_ASK
def test_running_trials_count_against_the_budget(data_dir, tmp_path, tune_kit, monkeypatch):
    import threading
    url, name = f"sqlite:///{tmp_path / 'optuna.db'}", "busy"
    study = tune.open_study(url, name, "loss", seed=0)
    other = study.ask()                    # another worker's trial, running
    other.suggest_float("lambda", 1e-3, 1e-2, log=True)
    # ... which that worker finishes a moment later: this one waits for it, so that
    # every worker chooses λ from the same finished trials
    threading.Timer(1.5, lambda: study.tell(other, 0.5)).start()
    monkeypatch.setattr(tune.search, "_wait_for_others", functools.partial(
        tune.search._wait_for_others, poll=0.2))
    bench = tune_kit.make_bench(data_dir, tmp_path)
    kwargs = dict(trial_epochs=1, storage=url, study_name=name, progress=False)
    first = bench.search.search_lambda("l2", n_trials=1, **kwargs)
    assert len(first.trials) == 1 and first.best_trial == other.number   # ran none itself
    assert bench.search.search_lambda("l2", n_trials=2, **kwargs).n_complete == 2


@MANUAL_ASK
def test_dead_workers_trial_is_failed_and_retried(data_dir, tmp_path, monkeypatch, tune_kit):
    tune_kit.check_dead_worker_is_retried(data_dir, tmp_path, f"sqlite:///{tmp_path / 'optuna.db'}",
                                 "dead-worker", monkeypatch)


def test_bad_storage_is_one_line_error(data_dir, tmp_path, capsys):
    code = cli_main(["tune", "--data", str(data_dir), "--preset", "smoke", "--regularizers",
                     "l2", "--out", str(tmp_path), "--storage", "nosuchdb://x/y", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "storage" in err


def test_two_workers_share_one_sqlite_study(data_dir, tmp_path, tune_kit):
    outputs = tune_kit.finish([tune_kit.start_worker(data_dir, tmp_path, "--trials", "4")
                               for _ in range(2)])
    # Together the workers finished 4 trials, none twice. (How the 4 split between
    # them depends on the machine's load.)
    assert sum(tune_kit.finished_trials(err) for _, _, err in outputs) == 4
    names = optuna.get_all_study_names(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert len(names) == 1
    study = load(tmp_path, names[0])
    tune_kit.check_shared_study(study, 4)
    stored = {p.stem for p in (tmp_path / "tuning" / "runs").glob("*.json")}
    assert {t.user_attrs["run"] for t in study.get_trials(states=(TrialState.COMPLETE,))} \
        <= stored


def test_small_budgets_leave_most_trials_to_tpe(data_dir, tmp_path, monkeypatch, tune_kit):
    assert [tune.startup_trials(n) for n in (1, 6, 9, 20, 30)] == [2, 2, 3, 5, 5]
    seen = {}
    real_open = tune.open_study

    def spy(url, name, objective, seed, n_startup_trials=tune.STARTUP_TRIALS, **storage):
        study = real_open(url, name, objective, seed, n_startup_trials, **storage)
        seen["startup"] = study.sampler._make(0)._n_startup_trials
        return study

    monkeypatch.setattr(tune.search, "open_study", spy)
    search = tune_kit.make_bench(data_dir, tmp_path).search
    search.search_lambda("l2", n_trials=1, trial_epochs=1, progress=False)
    assert seen["startup"] == 2


@MANUAL_ASK
def test_a_restarted_worker_uses_the_lambda_the_others_chose(tmp_path, monkeypatch):
    """Worker A's trial is interrupted (FAIL: it does not count in the budget); B, which
    waited for it, chooses from the trials that finished. A restarted ran one more
    trial, and with a better loss chose another λ than B."""
    import threading
    url, name = f"sqlite:///{tmp_path / 'optuna.db'}", "restart"
    low, high = get_spec("l2").lambda_range
    study = tune.open_study(url, name, "loss", seed=0)
    for value in (0.5, 0.3, None):
        trial = study.ask()
        trial.suggest_float("lambda", low, high, log=True)
        if value is not None:
            study.tell(trial, value)
    threading.Timer(1.0, lambda: study.tell(trial, state=TrialState.FAIL)).start()
    monkeypatch.setattr(tune.search, "_wait_for_others", functools.partial(
        tune.search._wait_for_others, poll=0.2))
    trained = []

    def train(lam, on_epoch):
        trained.append(lam)
        return {"row": {"status": "ok", "val_loss": 0.01, "epochs": 1}}   # the best yet

    trials = tune.Trials(train=train, run_id=str, score=None, study_key="k", out=tmp_path)
    kwargs = dict(n_trials=3, storage=url, study_name=name, progress=False)
    b = tune.tune_lambda(trials, "l2", **kwargs)   # waited for A's trial, then chose
    a = tune.tune_lambda(trials, "l2", **kwargs)   # A, restarted
    assert trained == []
    assert (a.best_trial, a.best_lambda) == (b.best_trial, b.best_lambda)
    assert b.best_trial == 1 and b.best_value == 0.3
    assert study.user_attrs["chosen-loss-3"] == {"trial": 1, "lambda": b.best_lambda}
    topped_up = tune.tune_lambda(trials, "l2", **{**kwargs, "n_trials": 4})
    assert len(trained) == 2 and topped_up.best_value == 0.01   # a new budget chooses anew


def test_the_first_recorded_choice_wins(tmp_path):
    study = tune.open_study(f"sqlite:///{tmp_path / 'optuna.db'}", "race", "loss", seed=0)
    assert tune.storage.record_once(study, "chosen-3", {"trial": 1}) == {"trial": 1}
    assert tune.storage.record_once(study, "chosen-3", {"trial": 2}) == {"trial": 1}
    assert study.user_attrs["chosen-3"] == {"trial": 1}
