"""Workers sharing one Optuna study in PostgreSQL (the multi-machine set-up).

Needs a server: ``eval "$(sudo bash .ci/postgres.sh)"`` sets REGBENCH_TEST_POSTGRES_URL.
"""
import os
import uuid

import optuna
import pytest

from regbench import tune

# A test that plays a worker with study.ask(), outside optimize(), on purpose.
MANUAL_ASK = pytest.mark.filterwarnings("ignore:Heartbeat of storage")

URL = os.environ.get("REGBENCH_TEST_POSTGRES_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not URL, reason="REGBENCH_TEST_POSTGRES_URL is not set; start a "
                       "server with: eval \"$(sudo bash .ci/postgres.sh)\""),
]


@pytest.fixture
def study_name():
    """A fresh name per test; its studies are deleted afterwards."""
    name = f"regbench-test-{uuid.uuid4().hex[:8]}"
    yield name
    storage = tune.open_storage(URL)
    for study in optuna.get_all_study_names(storage):
        if study.startswith(name):
            optuna.delete_study(study_name=study, storage=storage)


def test_two_machines_share_one_postgres_study(tmp_path, study_name, tune_kit):
    data = tune_kit.make_dataset(tmp_path / "data")
    # Two "machines": each its own results folder; the study is in the database.
    workers = [tune_kit.start_worker(data, tmp_path / f"machine{i}", "--trials", "4",
                                     "--storage", URL, "--study-name", study_name)
               for i in (1, 2)]
    outputs = tune_kit.finish(workers)
    assert sum(tune_kit.finished_trials(err) for _, _, err in outputs) == 4  # none run twice
    for _, stdout, _ in outputs:
        assert f"storage: {tune.redact_url(URL)}" in stdout    # password hidden
    study = optuna.load_study(study_name=f"{study_name}-l2", storage=tune.open_storage(URL))
    tune_kit.check_shared_study(study, 4)


def test_tune_lambda_resumes_and_tops_up_on_postgres(tmp_path, study_name, tune_kit):
    bench = tune_kit.make_bench(tune_kit.make_dataset(tmp_path / "data"), tmp_path / "out")
    options = dict(trial_epochs=1, storage=URL, study_name=study_name, progress=False)
    first = bench.search.search_lambda("l2", n_trials=2, **options)
    assert first.n_complete == 2 and first.best_lambda is not None
    more = bench.search.search_lambda("l2", n_trials=3, **options)
    assert more.n_complete == 3 and more.best_value <= first.best_value
    assert not (tmp_path / "out" / "optuna.db").exists()


@MANUAL_ASK
def test_dead_workers_trial_is_retried_on_postgres(tmp_path, study_name, monkeypatch, tune_kit):
    tune_kit.check_dead_worker_is_retried(tune_kit.make_dataset(tmp_path / "data"),
                                          tmp_path / "out", URL, study_name, monkeypatch)
