"""Extending regbench in a few lines: the new piece shows up in results and report."""
import numpy as np
import pandas as pd
import pytest

from regbench.cli import main
from regbench.metrics import get_metric, register_metric, unregister_metric


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
    assert {"wilcoxon_seeds", "wilcoxon"} <= set(
        statistics.loc[statistics.metric == "attribution_total", "test"])
    report = (out / "report.md").read_text()
    assert "| attribution\\_total | higher is better |" in report  # the summary row
    assert get_metric("attribution_total").better == "higher is better"
