"""The notebook API (issue 44 item 3): regbench.run, regbench.load, Results."""
import subprocess
import sys

import pandas as pd
import pytest
from matplotlib.figure import Figure

import regbench
from regbench.errors import RegbenchError


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tune_kit):
    """A smoke run of fourier, l2 and none (2 seeds) on a tiny dataset, through
    regbench.run with keyword options."""
    root = tmp_path_factory.mktemp("api")
    data = tune_kit.make_dataset(root / "data")
    results = regbench.run(regularizers=["fourier", "l2", "none"], preset="smoke",
                           data=str(data), out=str(root / "out"), progress=False,
                           device="cpu")
    return results


def test_run_takes_keyword_options_and_returns_the_folders_results(folder):
    assert isinstance(folder, regbench.Results)
    table = folder.table()
    assert sorted(table["regularizer"].unique()) == ["fourier", "l2", "none"]
    assert len(table) == 3 * 2                      # one row per run: smoke's 2 seeds
    assert folder.config["preset"] == "smoke"
    assert (folder.path / "report.html").is_file()
    assert "3 regularizers, 6 runs" in repr(folder)


def test_the_verdict_is_the_reports_statistics(folder):
    """verdict() holds statistics.csv's primary and non-inferiority rows: the notebook
    and the report say the same."""
    verdict = folder.verdict()
    written = pd.read_csv(folder.path / "statistics.csv")
    expected = written[written["role"].isin(["primary", "non-inferiority"])]
    assert sorted(verdict["regularizer"].unique()) == ["fourier", "l2"]   # against none
    assert set(verdict["role"]) == {"primary", "non-inferiority"}
    assert len(verdict) == len(expected) == 4
    got = verdict.set_index(["regularizer", "role"])["mean_difference"].sort_index()
    want = expected.set_index(["regularizer", "role"])["mean_difference"].sort_index()
    pd.testing.assert_series_equal(got.astype(float), want.astype(float), rtol=1e-12)
    primary = verdict[verdict["role"] == "primary"]
    assert set(primary["metric"]) == {"motif_fraction"}
    assert set(primary["better"]) <= {"yes", "worse", "no"}


def test_load_reads_a_folder_and_plots_the_verdict(folder):
    again = regbench.load(folder.path)
    pd.testing.assert_frame_equal(again.table(), folder.table())
    fig = again.plot_verdict()
    assert isinstance(fig, Figure)
    primary, performance = fig.axes
    assert [t.get_text() for t in primary.get_yticklabels()] == ["l2", "fourier"]
    assert primary.get_title().startswith("primary: ")
    assert performance.get_title().startswith("performance: ")


def test_a_notebook_line_prints_the_verdict(folder):
    code = f"import regbench; r = regbench.load({str(folder.path)!r}); print(r.verdict())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "motif_fraction" in done.stdout and "fourier" in done.stdout


def test_load_refuses_what_is_not_a_results_folder(tmp_path):
    with pytest.raises(RegbenchError, match="does not exist"):
        regbench.load(tmp_path / "nowhere")
    with pytest.raises(RegbenchError, match="has no results.csv"):
        regbench.load(tmp_path)


def test_configure_layers_preset_file_and_options(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('preset = "smoke"\nseeds = 3\nregularizers = ["l2", "none"]\n')
    config = regbench.configure(toml, seeds=4, out=str(tmp_path / "o"))
    assert (config.seeds, config.regularizers) == (4, ["l2", "none"])
    assert config.train_config(0).max_epochs == 3           # the smoke preset's
    assert regbench.configure({"preset": "smoke"}).seeds == 2
    with pytest.raises(RegbenchError, match="seeds"):
        regbench.configure(preset="smoke", seeds=0)


def test_the_command_line_runs_through_the_same_call(monkeypatch, tmp_path):
    import regbench.api as api
    from regbench.cli import main
    calls = []
    monkeypatch.setattr(api, "run", lambda config, **kw: calls.append((config, kw)))
    assert main(["run", "--preset", "smoke", "--regularizers", "l2,none",
                 "--out", str(tmp_path / "o")]) == 0
    (config, options), = calls
    assert config.regularizers == ["l2", "none"] and options["argv"] is not None


def test_the_verdict_figure_marks_better_and_worse_and_draws_the_margin():
    from regbench.report.forest import verdict_figure
    rows = pd.DataFrame([
        {"regularizer": "a", "metric": "motif_fraction", "method": "deep_lift_shap",
         "role": "primary", "mean_difference": 0.2, "ci_low": 0.1, "ci_high": 0.3,
         "better": "yes", "margin": None},
        {"regularizer": "b", "metric": "motif_fraction", "method": "deep_lift_shap",
         "role": "primary", "mean_difference": -0.2, "ci_low": -0.3, "ci_high": -0.1,
         "better": "worse", "margin": None},
        {"regularizer": "a", "metric": "test_auroc", "method": None,
         "role": "non-inferiority", "mean_difference": 0.0, "ci_low": -0.005,
         "ci_high": 0.004, "better": "", "margin": 0.01}])
    fig = verdict_figure(rows)
    primary, performance = fig.axes
    assert sorted(t.get_text() for t in primary.texts) == ["▼", "★"]
    lines = {round(line.get_xdata()[0], 6) for line in performance.get_lines()
             if line.get_linestyle() in ("--", ":")}
    assert lines == {0.0, -0.01}          # none, and the auROC margin below it
    assert verdict_figure(rows.iloc[:0]) is None
