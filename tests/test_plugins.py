"""Extending regbench in a few lines: the new piece shows up in results and report; one
registry type for every plug point, filled by installed plug-ins too."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.attributions import (describe_attribution_method, register_attribution_method,
                                   unregister_attribution_method)
from regbench.cli import main
from regbench.data import (DataSource, create_data_source, register_data_source,
                           unregister_data_source)
from regbench.metrics import get_metric, register_metric, unregister_metric
from regbench.models import create_model, register_model, unregister_model
from regbench.plugins import GROUPS, Registry
from regbench.regularizers.registry import REGULARIZERS
from regbench.tasks import BinaryTask, create_task, register_task, unregister_task


@pytest.fixture
def attribution_total():
    """A metric added in four lines: the total |attribution| of each sequence."""
    @register_metric("attribution_total", needs="nothing", direction="higher",
                     label="total |attribution|")
    def total(attr, truth):
        return np.abs(attr).sum(axis=(1, 2))
    yield "attribution_total"
    unregister_metric("attribution_total")


def test_a_registered_metric_reaches_results_statistics_and_report(attribution_total,
                                                                   tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--preset", "smoke", "--regularizers", "none,l2", "--out", str(out),
                 "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv")
    per_seq = pd.read_csv(out / "per_sequence.csv")
    assert "attribution_total" in results and results["attribution_total"].notna().all()
    # The model-level value is the mean over the sequences of that run.
    run = per_seq[(per_seq.regularizer == "l2") & (per_seq.seed == 1)
                  & (per_seq.method == "deep_lift_shap")]
    row = results[(results.regularizer == "l2") & (results.seed == 1)
                  & (results.method == "deep_lift_shap")].iloc[0]
    assert row.attribution_total == pytest.approx(run.attribution_total.mean())
    statistics = pd.read_csv(out / "statistics.csv")
    # Across seeds (secondary: an interval, no p) and across sequences nested in seeds.
    assert {"paired_t", "hierarchical_bootstrap"} <= set(
        statistics.loc[statistics.metric == "attribution_total", "test"])
    assert statistics.loc[statistics.metric == "attribution_total", "p_value"].isna().all()
    report = (out / "report.md").read_text()
    # the summary's column, in the legend under it: label, direction, results.csv column
    assert ("- total \\|attribution\\| ↑: higher is better (results.csv: "
            "attribution\\_total") in report
    assert get_metric("attribution_total").better == "higher is better"


# -- one registry type for every plug point ---------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_every_plug_point_has_its_entry_point_group():
    assert GROUPS == {"regularizers": "regbench.regularizers", "metrics": "regbench.metrics",
                      "attribution_methods": "regbench.attribution_methods",
                      "models": "regbench.models", "data_sources": "regbench.data_sources",
                      "tasks": "regbench.tasks", "suites": "regbench.suites"}


def test_a_registry_lists_by_pattern_and_refuses_a_name_taken():
    shapes = Registry("shape", "regbench.test_shapes")
    for name in ("fourier", "fourier_soft", "l2", "none"):
        shapes.register(name, name.upper())
    assert shapes.names() == ["fourier", "fourier_soft", "l2", "none"]
    assert shapes.names("fourier*") == ["fourier", "fourier_soft"]
    assert shapes.names(["l*", "n*"], exclude="none") == ["l2"]
    assert shapes.get("l2") == "L2" and "l2" in shapes and "l3" not in shapes
    with pytest.raises(RegbenchError, match="^a shape named 'l2' is already registered; "):
        shapes.register("l2", "other")
    assert shapes.register("l2", "other", overwrite=True) == "other"
    with pytest.raises(RegbenchError) as info:
        shapes.get("l3")
    assert str(info.value) == "unknown shape 'l3'; known: fourier, fourier_soft, l2, none"


def _register_twice(register, entry):
    """Register ``entry`` under a fresh name, then again under the same name."""
    register(entry)
    with pytest.raises(RegbenchError, match="already registered"):
        register(entry)


def test_a_duplicate_name_is_an_error_at_every_plug_point():
    class Source(DataSource):
        pass

    class Task(BinaryTask):
        pass

    model = type("Model", (torch.nn.Module,), {})
    cases = [
        (lambda f: regbench.register_regularizer("dup_prior", needs="nothing")(f),
         lambda target: torch.zeros(()), lambda: REGULARIZERS.unregister("dup_prior")),
        (lambda f: register_metric("dup_metric", needs="nothing", direction="higher",
                                   label="x")(f),
         lambda attr, truth: attr, lambda: unregister_metric("dup_metric")),
        (lambda f: register_attribution_method("dup_method")(f),
         lambda model, X, settings: X, lambda: unregister_attribution_method("dup_method")),
        (lambda c: register_model("dup_model")(c), model, lambda: unregister_model("dup_model")),
        (lambda c: register_data_source("dup_source")(c), Source,
         lambda: unregister_data_source("dup_source")),
        (lambda c: register_task("dup_task")(c), Task, lambda: unregister_task("dup_task")),
    ]
    for register, entry, unregister in cases:
        try:
            if register is cases[0][0]:   # the same penalty again is the same entry
                register(entry)
                register(entry)
                with pytest.raises(RegbenchError, match="already registered"):
                    register(lambda target: torch.ones(()))
            else:
                _register_twice(register, entry)
        finally:
            unregister()
    # a built-in name is taken too
    with pytest.raises(RegbenchError, match="a task named 'binary' is already registered"):
        register_task("binary")(Task)


@pytest.mark.parametrize("lookup, message", [
    (lambda: regbench.get_regularizer("nope"),
     "unknown regularizer 'nope'; known regularizers: "),
    (lambda: get_metric("nope"), "unknown metric 'nope'; known: "),
    (lambda: describe_attribution_method("nope"), "unknown attribution method 'nope'; known: "),
    (lambda: create_model("nope"), "unknown model architecture 'nope'; known: "),
    (lambda: create_data_source("nope"),
     "[data_source] kind = 'nope' is not a known data source; known: "),
    (lambda: create_task("nope"), "unknown task 'nope'; known: "),
])
def test_an_unknown_name_is_one_line_listing_the_known_ones(lookup, message):
    with pytest.raises(RegbenchError) as info:
        lookup()
    text = str(info.value)
    assert text.startswith(message) and "\n" not in text
    known = text[len(message):].removesuffix(" ([model] architecture)").split(", ")
    assert known == sorted(known) and len(known) >= 2   # every known name, sorted


def _write_distribution(site: Path, name: str, module: str, code: str,
                        groups: dict[str, str]) -> None:
    """An installed distribution as importlib.metadata finds it on sys.path: the module
    and NAME-1.0.dist-info with METADATA and entry_points.txt ({group: entry line})."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    dist = site / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "".join(f"[{group}]\n{line}\n" for group, line in groups.items()))


def _regbench(*args, site: Path | None = None, timeout=600):
    """``python -m regbench.cli ARGS`` with only this worktree (and ``site``) importable."""
    path = os.pathsep.join([str(ROOT)] + ([str(site)] if site else []))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run([sys.executable, "-m", "regbench.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_a_plug_in_that_fails_to_load_is_one_line_naming_it(tmp_path):
    _write_distribution(tmp_path, "broken-plug", "broken_plug",
                        "import not_a_module_anywhere\n",
                        {"regbench.metrics": "broken = broken_plug"})
    done = _regbench("regularizers", site=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "regbench regularizers: error: plug-in broken-plug failed to load its entry point "
        "broken = broken_plug (group regbench.metrics): ModuleNotFoundError: No module "
        "named 'not_a_module_anywhere'; fix it or uninstall broken-plug\n")


PLUGIN = """
    import numpy as np
    import torch

    import regbench
    from regbench.attributions import register_attribution_method
    from regbench.metrics import register_metric


    @regbench.register_regularizer("plug_prior", needs="attributions",
                                   lambda_range=(0.01, 1.0), default_lambda=0.1)
    def plug_prior(attr, scale=1.0):
        \"\"\"Mean |attribution| (a plug-in's prior).\"\"\"
        return scale * attr.abs().mean()


    @register_metric("plug_spread", needs="nothing", direction="lower",
                     label="attribution spread (plug-in)")
    def plug_spread(attr, truth):
        a = np.abs(attr).sum(axis=1)                                 # (N, L)
        return (a > a.mean(axis=1, keepdims=True)).mean(axis=1)     # (N,)


    @register_attribution_method("plug_gradient", label="|gradient| (plug-in)")
    def plug_gradient(model, X, settings):
        X = X.clone().requires_grad_()
        model(X)[:, settings.target].sum().backward()
        return X.grad.abs() * X
"""


def test_a_plug_in_distribution_reaches_run_workers_and_report(tmp_path, monkeypatch):
    """A distribution announcing a prior, a metric and an attribution method through
    their entry-point groups: trained and scored by a local worker of ``regbench run``,
    tested and named by the run's report, and reported the same by ``regbench report``
    from config.json once the plug-in is gone."""
    site = tmp_path / "site"
    _write_distribution(site, "regbench-plug", "regbench_plug", PLUGIN, {
        "regbench.regularizers": "plug_prior = regbench_plug",
        "regbench.metrics": "plug_spread = regbench_plug",
        "regbench.attribution_methods": "plug_gradient = regbench_plug"})
    (tmp_path / "c.toml").write_text('[evaluation]\nmethods = ["deep_lift_shap", '
                                     '"plug_gradient"]\n')
    out, storage = tmp_path / "run", f"sqlite:///{tmp_path / 'grid.db'}"
    argv = ["run", "--preset", "smoke", "--config", str(tmp_path / "c.toml"),
            "--regularizers", "plug_prior,none", "--seeds", "1", "--out", str(out)]
    # the local worker `regbench run --workers N` starts, started first and alone, so it
    # trains and scores every run; the command then plans, gathers and reports them
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(site)]))
    from regbench.distributed.workers import start_local_workers, wait_local_workers
    wait_local_workers(start_local_workers(argv, 1, 1, out, storage))
    log = (out / "logs" / "worker-1.log").read_text()
    assert "seed grid complete: this worker trained 2 of 2 runs" in log, log
    done = _regbench(*argv, "--storage", storage, "--no-progress", site=site)
    assert done.returncode == 0, done.stderr
    results = pd.read_csv(out / "results.csv")
    assert (results.status == "ok").all()
    assert sorted(set(zip(results.regularizer, results.seed, results.method))) == sorted(
        (r, 0, m) for r in ("none", "plug_prior")
        for m in ("deep_lift_shap", "plug_gradient"))
    assert results["plug_spread"].notna().all()   # scored in the worker
    config = json.loads((out / "config.json").read_text())
    assert config["labels"]["metrics"]["plug_spread"] == {
        "label": "attribution spread (plug-in)", "direction": "lower",
        "better": "lower is better", "kind": "attribution", "per_sequence": True,
        "in_results": True, "headline": False, "lead": None}
    assert config["labels"]["attribution_methods"]["plug_gradient"] == {
        "label": "|gradient| (plug-in)"}

    with_plugin = (out / "statistics.csv").read_text()   # the run's report
    statistics = pd.read_csv(out / "statistics.csv")
    tested = statistics[statistics.metric.str.endswith("plug_spread")]
    assert set(tested.method) == {"deep_lift_shap", "plug_gradient"}
    # One seed: per-sequence differences, but no interval (one seed says nothing of how
    # another seed's models would differ).
    assert set(tested.test) == {"hierarchical_bootstrap"} and tested.ci_low.isna().all()
    report = _without_timestamp((out / "report.md").read_text())
    # the Summary's legend: the plug-in metric's label, direction and results.csv column
    assert ("- attribution spread (plug-in) ↓: lower is better (results.csv: "
            "plug\\_spread") in report
    assert "\\|gradient\\| (plug-in)" in report                 # the method's label
    html = (out / "report.html").read_text()
    assert 'alt="Interpretability (|gradient| (plug-in)) across seeds.' in html
    assert "attribution spread (plug-in), |gradient| (plug-in): lower is better." in html

    done = _regbench("report", str(out))   # the plug-in uninstalled: config.json's labels
    assert done.returncode == 0, done.stderr
    assert (out / "statistics.csv").read_text() == with_plugin
    assert _without_timestamp((out / "report.md").read_text()) == report
    assert (out / "report.html").read_text().count(
        "attribution spread (plug-in), |gradient| (plug-in): lower is better.") == html.count(
        "attribution spread (plug-in), |gradient| (plug-in): lower is better.")


def _without_timestamp(report: str) -> str:
    """report.md without its last line ("Written by regbench ... at TIME ...")."""
    assert report.rstrip().splitlines()[-1].startswith("Written by regbench")
    return "\n".join(report.rstrip().splitlines()[:-1])


def test_recorded_labels_stand_in_for_a_plug_in_not_installed_and_never_score():
    from regbench.store.labels import METHOD_LABELS, remember_labels
    from regbench.metrics import describe_metric, list_metrics, sequence_metrics
    from regbench.report.stats import metric_info
    recorded = {"metrics": {"gone_metric": {
        "label": "gone (bits)", "direction": "zero", "better": "closer to 0 is better",
        "kind": "attribution", "per_sequence": True, "in_results": True,
        "headline": False, "lead": None}, "motif_fraction": {
        "label": "overridden?", "direction": "lower", "kind": "attribution"}},
        "attribution_methods": {"gone_method": {"label": "gone method"}}}
    try:
        remember_labels({"labels": recorded})
        assert describe_metric("gone_metric").label == "gone (bits)"
        assert describe_metric("motif_fraction").direction == "higher"   # installed wins
        assert list_metrics("attribution", recorded=True)[-1] == "gone_metric"
        assert "gone_metric" not in list_metrics("attribution")          # never computed
        assert "gone_metric" not in sequence_metrics(recorded=False)
        info = metric_info("saliency_gone_metric")   # the wide table's prefixed column
        assert (info.label, info.direction) == ("gone (bits), saliency", "zero")
        assert list(METHOD_LABELS)[-1] == "gone_method"
        with pytest.raises(RegbenchError, match="unknown metric 'gone_metric'"):
            get_metric("gone_metric")
        with pytest.raises(TypeError):
            METHOD_LABELS["x"] = "y"   # read-only: the registries own the labels
    finally:
        remember_labels({})   # a folder without recorded labels forgets them
    assert "gone_metric" not in list_metrics("attribution", recorded=True)
    assert "gone_method" not in METHOD_LABELS
