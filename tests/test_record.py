"""The run record: one owner of results.csv's columns, their order and their roles."""
import numpy as np
import pandas as pd
import pytest

from regbench.metrics import register_metric, unregister_metric
from regbench.store.record import (COST, FACT, ID, INTERPRETABILITY, LAYOUT, PERFORMANCE, ROLES,
                             RUN_RECORD)
from regbench.report import sections, stats
from regbench.store.runs import RunKey, RunStore, wide_results

# A run's per-run values, deliberately not in table order: the store puts them in it.
VALUES = {"status": "ok", "test_auroc": 0.75, "checkpoint": "checkpoints/l2_seed0_x.pt",
          "attributions": "attributions/l2_seed0_x.npz", "seed": 0, "lambda": 0.5,
          "regularizer": "l2", "test_accuracy": 0.5, "models_per_group": 1, "device": "cpu",
          "threads": 1, "val_loss": 0.7, "extra_backward": 0, "peak_mib": 0.5,
          "step_seconds": 0.003, "steps": 18, "train_seconds": 0.08, "best_epoch": 1,
          "epochs": 3, "train_rows": 192, "data_fraction": 1.0,
          "lambda_protocol": "fixed", "lambda_source": "registry"}
METRICS = {"highfreq_fraction": 0.6, "entropy": 6.4, "motif_fraction": 0.15,
           "motif_auprc": 0.16, "gc_reliance": -0.04}
HEADER = ["regularizer", "lambda", "lambda_source", "lambda_protocol", "seed", "method",
          "data_fraction", "train_rows", "status", "epochs", "best_epoch", "train_seconds",
          "steps", "step_seconds", "peak_mib", "extra_backward", "val_loss", "checkpoint",
          "threads", "device", "models_per_group", "test_accuracy", "test_auroc",
          "attributions", "highfreq_fraction", "entropy", "motif_fraction", "motif_auprc",
          "gc_reliance"]


def write_run(out, values=VALUES, metrics=METRICS, regularizers=("l2", "none")) -> pd.DataFrame:
    """results.csv of hand-made runs (two methods each) written by the store."""
    store = RunStore(out)
    records = []
    for seed, regularizer in enumerate(regularizers):
        key = RunKey("data", regularizer, 0.5, seed, 1.0, "cfg", "ev")
        row = {**values, "regularizer": regularizer, "seed": seed}
        store.save(key, {"key": key.__dict__, "row": row, "history": [], "per_sequence": [],
                         "methods": {"deep_lift_shap": metrics,
                                     "input_x_gradient": {m: v / 2 for m, v in metrics.items()}}})
        records.append(store.load(key))
    store.write_tables(records)
    return pd.read_csv(out / "results.csv")


def test_a_results_table_written_by_the_store_has_the_record_order(tmp_path):
    results = write_run(tmp_path)
    assert list(results.columns) == HEADER
    assert [c for c in RUN_RECORD.columns() if c in results] == HEADER
    # stored rows are in table order too, whatever order the values came in
    stored = RunStore(tmp_path).load(RunKey("data", "l2", 0.5, 0, 1.0, "cfg", "ev"))["row"]
    assert list(stored) == [c for c in HEADER if c in VALUES]
    assert stored == VALUES
    assert list(results["method"]) == ["deep_lift_shap", "input_x_gradient"] * 2


def test_every_results_column_has_exactly_one_role(tmp_path):
    results = write_run(tmp_path)
    for column in results:
        holders = [role for role in ROLES if column in RUN_RECORD.columns(role)]
        assert holders == [RUN_RECORD.role(column)], column
    assert {c: RUN_RECORD.role(c) for c in ("seed", "method", "lambda_source", "steps",
                                            "peak_mib", "val_loss", "test_auroc", "entropy")} \
        == {"seed": ID, "method": ID, "lambda_source": FACT, "steps": FACT, "peak_mib": COST,
            "val_loss": PERFORMANCE, "test_auroc": PERFORMANCE, "entropy": INTERPRETABILITY}
    names = [c.name for c in LAYOUT]
    assert len(names) == len(set(names)) and {c.role for c in LAYOUT} == set(ROLES)
    assert RUN_RECORD.role("no_such_column") is None


def test_the_store_refuses_a_row_column_the_record_does_not_own(tmp_path):
    key = RunKey("data", "l2", 0.5, 0, 1.0, "cfg", "ev")
    with pytest.raises(ValueError, match="no per-run column energy, entropy"):
        RunStore(tmp_path).save(key, {"row": {**VALUES, "energy": 1.0, "entropy": 2.0}})
    assert not (tmp_path / "runs").exists()


def test_statistics_and_report_take_the_roles_from_the_record(tmp_path):
    wide = wide_results(write_run(tmp_path))
    cost = RUN_RECORD.columns(COST)
    assert cost == ["epochs", "best_epoch", "train_seconds", "step_seconds", "peak_mib",
                    "extra_backward"]
    metrics = stats.metric_columns(wide)
    assert not {c for c in metrics if RUN_RECORD.role(c) in (ID, FACT)}
    assert [m for m in metrics if m in cost] == cost and "steps" not in metrics
    groups = {slug: columns for slug, _, columns in sections.metric_groups(metrics)}
    assert groups["cost"] == cost
    assert groups["performance"] == ["test_accuracy", "test_auroc", "val_loss"]
    assert groups["interpretability_ixg"] == ["ixg_" + m for m in METRICS]
    assert stats.performance_columns()[-1] == "val_loss"


@pytest.fixture
def plugin_metrics():
    """A performance and an attribution metric, registered as a plug-in would."""
    @register_metric("plugin_recall", needs="labels", direction="higher", label="recall",
                     kind="performance")
    def recall(y_true, logits):
        return 0.0

    @register_metric("plugin_share", needs="nothing", direction="lower", label="share")
    def share(attr, truth):
        return np.zeros(len(attr))
    yield
    unregister_metric("plugin_recall")
    unregister_metric("plugin_share")


def test_a_plugin_metric_gets_its_role_and_place_without_editing_the_record(
        tmp_path, plugin_metrics):
    assert RUN_RECORD.role("plugin_share") == INTERPRETABILITY
    assert RUN_RECORD.role("test_plugin_recall") == PERFORMANCE
    assert RUN_RECORD.columns(INTERPRETABILITY)[-1] == "plugin_share"
    assert "test_plugin_recall" in RUN_RECORD.columns(PERFORMANCE)
    results = write_run(tmp_path, {**VALUES, "test_plugin_recall": 0.25},
                        {**METRICS, "plugin_share": 0.125})
    assert list(results.columns) == [*HEADER[:23], "test_plugin_recall", *HEADER[23:],
                                     "plugin_share"]
    wide = wide_results(results)   # a performance metric per run, an attribution one per method
    assert list(wide["test_plugin_recall"]) == [0.25, 0.25]
    assert list(wide["plugin_share"]) == [0.125] * 2
    assert list(wide["ixg_plugin_share"]) == [0.0625] * 2
    groups = {slug: columns for slug, _, columns in
              sections.metric_groups(stats.metric_columns(wide))}
    assert "test_plugin_recall" in groups["performance"]
    assert groups["interpretability"][-1] == "plugin_share"
    assert groups["interpretability_ixg"][-1] == "ixg_plugin_share"
