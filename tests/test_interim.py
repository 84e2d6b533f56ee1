"""Issue 44 item 4: a run reports as each regularizer's seeds finish (interim), none and
the first regularizer first, and the order changes no number."""
import json

import pandas as pd
import pytest

from regbench.runner import comparison
from regbench.runner.comparison import stages


def test_none_and_the_first_regularizer_go_first_then_one_at_a_time():
    assert stages(["l2", "fourier", "none", "sparsity"]) == [
        ["none", "l2"], ["fourier"], ["sparsity"]]
    assert stages(["fourier", "l2"]) == [["fourier"], ["l2"]]
    assert stages(["none"]) == [["none"]]


def _tuned_bench(tune_kit, data, out):
    """A smoke run of l2, fourier and none whose λ the constrained protocol selects
    (2 candidates each, 2 selection seeds)."""
    bench = tune_kit.make_bench(data, out, ["l2", "fourier", "none"])
    config = bench.config
    config.tune = True
    config.tuning = {**config.tuning, "protocol": "constrained", "trials": 2,
                     "selection_seeds": 2}
    return type(bench)(config)


@pytest.fixture(scope="module")
def data(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("interim") / "data")


def test_an_interim_report_covers_the_regularizers_done(data, tmp_path, tune_kit,
                                                        monkeypatch):
    import regbench.report as report
    seen, write = [], report.write_report

    def record(folder):
        config = json.loads((folder / "config.json").read_text())
        rows = pd.read_csv(folder / "results.csv")
        seen.append((config.get("interim"), sorted(rows["regularizer"].unique())))
        return write(folder)

    monkeypatch.setattr(comparison, "INTERIM_EVERY", 0.0)
    monkeypatch.setattr(report, "write_report", record)
    out = _tuned_bench(tune_kit, data, tmp_path / "staged").run()
    assert seen[0] == ("2 of 3 regularizers (none, l2)", ["l2", "none"])
    assert seen[-1] == (None, ["fourier", "l2", "none"])      # the final report
    assert len(seen) == 2                                      # the last stage: final only
    html = (out / "report.html").read_text()
    assert "(interim)" not in html
    lambdas = pd.read_csv(out / "lambda_search.csv")
    assert set(lambdas["regularizer"]) == {"l2", "fourier"}    # every stage's selection


def test_the_stages_change_no_number(data, tmp_path, tune_kit):
    """The same tuned run, staged (with a report) and in one go (report off: λ for all,
    then the grid), gives the same λ and the same results."""
    staged = _tuned_bench(tune_kit, data, tmp_path / "staged")
    staged.run()
    whole = _tuned_bench(tune_kit, data, tmp_path / "whole")
    whole.run(report=False)
    assert dict(staged.context.choice.lambdas) == dict(whole.context.choice.lambdas)
    tune_kit.same_results(pd.read_csv(tmp_path / "staged" / "results.csv"),
                          pd.read_csv(tmp_path / "whole" / "results.csv"))


def test_the_time_left_counts_each_regularizers_models_at_their_own_pace():
    from collections import Counter

    from regbench.runner.pace import Pace
    pace = Pace(Counter(fourier=3, none=3))
    assert pace.left() is None and pace.line() == ""          # nothing known yet
    pace.add({"regularizer": "fourier", "train_seconds": 1000.0})   # from the store
    pace.add({"regularizer": "fourier", "train_seconds": 2000.0}, wall=2100.0)
    # a model: fourier 1500 s of training, none (none finished) as the others, 1500 s;
    # 100 s around each (scoring): 1 fourier + 3 none to come
    assert pace.left() == 4 * 1600.0
    assert pace.line() == ("; about 1:46:40 left (training a model: fourier 25:00, "
                           "none 25:00 (as the others))")
    pace.add({"regularizer": "none", "train_seconds": 400.0}, wall=50.0)   # scored only
    assert pace.left() == 1500.0 + 2 * 400.0 + 3 * 75.0       # around: mean of 100, 50
    for row in ({"regularizer": "fourier", "train_seconds": 1500.0},
                {"regularizer": "none", "train_seconds": 400.0},
                {"regularizer": "none", "train_seconds": 400.0}):
        pace.add(row)
    assert pace.left() == 0.0 and pace.line() == ""
