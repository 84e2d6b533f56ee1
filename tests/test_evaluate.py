"""Evaluation on its own: methods by name, long-format tables, no files written."""
import numpy as np
import pandas as pd
import pytest
import torch

from regbench.cli import main
from regbench.options.config import EvaluationConfig
from regbench.data import load_dataset
from regbench.evaluate import evaluate
from regbench.metrics import get_metric, list_metrics, motif_auprc
from regbench.models import BinaryCNN
from regbench.tasks import BinaryTask


@pytest.fixture(scope="module")
def test_rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval") / "data"
    assert main(["simulate", "--scenario", "spi1_binary", "--out", str(folder),
                 "--set", "length=100", "--set", "positives=40",
                 "--set", "negatives=40"]) == 0
    return load_dataset(folder).subset("test")


def test_evaluate_scores_each_method_in_long_tables_and_writes_nothing(test_rows, tmp_path):
    torch.manual_seed(0)
    model = BinaryCNN(seq_len=100, conv_filters=[4], conv_widths=[5], pool_size=10,
                      pool_stride=10, dense_sizes=[4]).eval()
    before = sorted(p for p in test_rows.path.rglob("*"))
    config = EvaluationConfig(methods=["input_x_gradient", "deep_lift_shap"], n_shuffles=2,
                              max_sequences=3)
    task = BinaryTask(seq_len=100, n_tasks=1)
    result = evaluate(model, test_rows, task, config, device="cpu")
    assert sorted(p for p in test_rows.path.rglob("*")) == before
    assert set(result.performance) == {m for m in list_metrics("performance")
                                       if get_metric(m).needs == "labels"}
    assert list(result.summary.columns) == ["method", "metric", "value"]
    assert list(result.summary["method"].unique()) == ["input_x_gradient", "deep_lift_shap"]
    assert list(result.per_sequence["method"].value_counts()) == [3, 3]
    assert len(result.names) == 3 and result.X.shape == (3, 4, 100)
    pooled = result.summary.set_index(["method", "metric"]).loc[
        ("deep_lift_shap", "motif_auprc"), "value"]
    assert pooled == pytest.approx(motif_auprc(result.attributions["deep_lift_shap"].numpy(),
                                               result.motif_mask))
    # input x gradient is non-zero only at the observed base
    ixg = result.attributions["input_x_gradient"]
    assert torch.all(ixg[result.X == 0] == 0)


def test_methods_are_chosen_in_the_evaluation_config(tmp_path, capsys):
    out = tmp_path / "run"
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "smoke"\nseeds = 1\nregularizers = "none"\n'
                   '[evaluation]\nmethods = ["deep_lift_shap"]\n')
    assert main(["run", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert "motif_auprc" in results and set(results["method"]) == {"deep_lift_shap"}
    assert set(pd.read_csv(out / "per_sequence.csv")["method"]) == {"deep_lift_shap"}
    cfg.write_text('preset = "smoke"\n[evaluation]\nmethods = ["saliency_maps"]\n')
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown attribution method(s) saliency_maps" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    assert np.isfinite(results["motif_auprc"]).all()


def test_evaluate_computes_only_the_metrics_asked_for(test_rows):
    torch.manual_seed(0)
    model = BinaryCNN(seq_len=100, conv_filters=[4], conv_widths=[5], pool_size=10,
                      pool_stride=10, dense_sizes=[4]).eval()
    config = EvaluationConfig(methods=["input_x_gradient"], max_sequences=3)
    task = BinaryTask(seq_len=100, n_tasks=1)
    result = evaluate(model, test_rows, task, config, device="cpu",
                      metrics=["entropy", "motif_auprc"])
    assert set(result.summary["metric"]) == {"entropy", "motif_auprc"}
    assert list(result.per_sequence.columns) == ["method", "sequence", "entropy"]
    full = evaluate(model, test_rows, task, config, device="cpu")
    assert full.summary.set_index("metric").loc["entropy", "value"] == \
        result.summary.set_index("metric").loc["entropy", "value"]
