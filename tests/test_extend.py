"""Adding a model, an attribution method and a data source, each in a few lines: the
new piece shows up in results.csv and in the report (the prior and the metric: see
test_readme.py and test_plugins.py)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from regbench.attributions import (ExplainSettings, register_attribution_method,
                                   unregister_attribution_method)
from regbench.cli import main
from regbench.data import (Dataset, DataSource, register_data_source,
                           unregister_data_source)
from regbench.models import register_model, unregister_model


def _run(tmp_path, toml: str, *flags) -> tuple[pd.DataFrame, str]:
    (tmp_path / "c.toml").write_text('preset = "smoke"\nseeds = 1\n' + toml)
    out = tmp_path / "run"
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--out", str(out),
                 "--no-progress", *flags]) == 0
    return pd.read_csv(out / "results.csv"), (out / "report.md").read_text()


@pytest.fixture
def tiny_cnn():
    @register_model("tiny_cnn")
    class TinyCNN(torch.nn.Module):
        """One conv, a ReLU, a global max pool, a linear head."""
        def __init__(self, seq_len, n_tasks, filters=6):
            super().__init__()
            self.conv, self.relu = torch.nn.Conv1d(4, filters, 7), torch.nn.ReLU()
            self.pool, self.flat = torch.nn.MaxPool1d(seq_len - 6), torch.nn.Flatten()
            self.head = torch.nn.Linear(filters, n_tasks)

        def forward(self, X):                      # (N, 4, L) -> logits (N, T)
            return self.head(self.flat(self.pool(self.relu(self.conv(X)))))
    yield TinyCNN
    unregister_model("tiny_cnn")


def test_a_registered_model_is_trained_and_reported(tiny_cnn, tmp_path):
    results, report = _run(tmp_path, '[model]\narchitecture = "tiny_cnn"\nfilters = 5\n',
                           "--regularizers", "fourier,none")
    assert (results.status == "ok").all() and results["motif_auprc"].notna().all()
    config = (tmp_path / "run" / "config.json").read_text()
    assert '"architecture": "tiny_cnn"' in config and '"filters": 5' in config
    from regbench.training.train import load_checkpoint
    model, _ = load_checkpoint(tmp_path / "run" / results["checkpoint"].iloc[0])
    assert isinstance(model, tiny_cnn) and model.conv.out_channels == 5
    assert "architecture=tiny\\_cnn" in report  # Markdown-escaped


def test_an_unknown_model_is_one_line_and_nothing_written(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('preset = "smoke"\n[model]\narchitecture = "nope"\n')
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--out",
                 str(tmp_path / "bad"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown model architecture 'nope'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


@pytest.fixture
def saliency():
    @register_attribution_method("abs_gradient", label="|gradient|")
    def abs_gradient(model, X, settings: ExplainSettings):
        X = X.clone().requires_grad_()
        model(X)[:, settings.target].sum().backward()
        return X.grad.abs() * X                    # (N, 4, L), at the observed base
    yield "abs_gradient"
    unregister_attribution_method("abs_gradient")


def test_a_registered_attribution_method_is_scored_and_reported(saliency, tmp_path):
    results, report = _run(tmp_path, '[evaluation]\nmethods = ["deep_lift_shap", '
                           '"abs_gradient"]\n', "--regularizers", "fourier,none")
    assert set(results["method"]) == {"deep_lift_shap", "abs_gradient"}
    per_seq = pd.read_csv(tmp_path / "run" / "per_sequence.csv")
    assert set(per_seq["method"]) == {"deep_lift_shap", "abs_gradient"}
    # its own attributions are the ones scored: |gradient| at the observed base of the
    # explained sequences, recomputed from the checkpoint, gives each sequence's motif
    # fraction and entropy (bits, pseudocount 0.001), and their means are the results'
    from regbench.data import load_dataset
    from regbench.training.train import load_checkpoint
    data = load_dataset(tmp_path / "run" / "data")
    row = {name: i for i, name in enumerate(data.names)}
    test = data.subset("test")
    positive = [n for n, label in zip(test.names, test.labels[:, 0]) if label == 1][:16]
    for r in results[results.method == "abs_gradient"].itertuples():
        scored = per_seq.query("regularizer == @r.regularizer and method == 'abs_gradient'")
        assert scored["sequence"].tolist() == positive    # max_sequences positive test rows
        rows = [row[n] for n in positive]
        model, _ = load_checkpoint(tmp_path / "run" / r.checkpoint)
        X = torch.nn.functional.one_hot(torch.as_tensor(data.codes[rows]).long(), 4)
        X = X.transpose(1, 2).float().requires_grad_()
        model(X)[:, 0].sum().backward()
        g = (X.grad.abs() * X.detach()).sum(1).numpy()           # (n, L), >= 0
        fraction = (g * data.motif_mask[rows]).sum(1) / g.sum(1)
        p = (g + 0.001) / (g + 0.001).sum(1, keepdims=True)
        entropy = -(p * np.log2(p)).sum(1)
        assert scored["motif_fraction"].to_numpy() == pytest.approx(fraction, rel=1e-5)
        assert scored["entropy"].to_numpy() == pytest.approx(entropy, rel=1e-5)
        assert (r.motif_fraction, r.entropy) == pytest.approx((fraction.mean(),
                                                               entropy.mean()), rel=1e-5)
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'alt="Interpretability (|gradient|) across seeds.' in html
    assert "abs\\_gradient\\_motif\\_auprc" in report  # its row in the summary table
    statistics = pd.read_csv(tmp_path / "run" / "statistics.csv")
    assert "abs_gradient" in set(statistics["method"])


@pytest.fixture
def array_source():
    @register_data_source("planted")
    class Planted(DataSource):
        """Random 100-bp sequences; positives carry GGAA twice at known places."""
        def __init__(self, n=240, seed=0):
            self.n, self.seed = n, seed

        def load(self, out, progress=False):
            rng = np.random.default_rng(self.seed)
            codes = rng.integers(0, 4, (self.n, 100)).astype(np.uint8)
            labels = (np.arange(self.n) % 2)[:, None]
            mask = np.zeros((self.n, 100), bool)
            for i in np.flatnonzero(labels[:, 0]):
                codes[i, 40:44] = codes[i, 60:64] = [2, 2, 0, 0]
                mask[i, 40:44] = mask[i, 60:64] = True
            split = np.array(["train"] * 8 + ["valid", "test"])[np.arange(self.n) % 10]
            return Dataset.from_arrays([f"s{i}" for i in range(self.n)], codes, labels,
                                       split, tasks=["ggaa"], motif_mask=mask)
    yield "planted"
    unregister_data_source("planted")


def test_a_registered_data_source_feeds_the_run(array_source, tmp_path):
    results, report = _run(tmp_path, '[data_source]\nkind = "planted"\nn = 200\n',
                           "--regularizers", "none")
    assert len(results) == 2 and (results.status == "ok").all()  # one run, two methods
    assert results["motif_auprc"].notna().all()
    assert results["train_rows"].iloc[0] == 160  # 8 of every 10 rows of n = 200
    assert "planted data (200 sequences x 100 bp, tasks: ggaa)" in report
    assert not (tmp_path / "run" / "data").exists()  # nothing simulated


def test_a_data_source_with_bad_arguments_is_one_line(array_source, tmp_path, capsys):
    (tmp_path / "c.toml").write_text('preset = "smoke"\n[data_source]\nkind = "planted"\n'
                                     'size = 3\n')
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--out",
                 str(tmp_path / "bad"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "error: [data_source] planted: " in err and "unexpected keyword argument 'size'" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


@pytest.fixture
def share_task():
    from regbench.tasks import BinaryTask, register_task, unregister_task

    @register_task("binary_share")
    class BinaryShare(BinaryTask):
        """The binary task, also reporting the share of positives among the test rows."""
        def performance(self, targets, predictions):
            share = float(np.asarray(targets).mean())
            return {**super().performance(targets, predictions), "positive_share": share}
    yield BinaryShare
    unregister_task("binary_share")


def test_a_registered_task_is_trained_scored_and_reported(share_task, tmp_path):
    # named on the command line; a BinaryTask subclass inherits the binary settings, so
    # the smoke preset's CNN sizes apply to it
    results, report = _run(tmp_path, "", "--model", "binary_share",
                           "--regularizers", "fourier,none")
    assert (results.status == "ok").all() and results["motif_auprc"].notna().all()
    from regbench.data import load_dataset
    test = load_dataset(tmp_path / "run" / "data").subset("test")
    # its own performance reached results.csv: the share of positive test rows
    assert results["test_positive_share"].tolist() == [test.labels.mean()] * len(results)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["model"]["conv_filters"] == [8, 8]        # the smoke preset's
    config = (tmp_path / "run" / "config.json").read_text()
    assert '"task": "binary_share"' in config
    from regbench.training.train import load_checkpoint
    _, record = load_checkpoint(tmp_path / "run" / results["checkpoint"].iloc[0])
    assert record["task"] == "binary_share"
    assert "test\\_positive\\_share" in report


def test_a_registered_task_brings_its_model_and_preset_sizes():
    """``settings`` on a task class (presets.TaskSettings): its model when [model] names
    none, its own preset tables instead of the binary CNN's sizes, its paper text, its λ
    protocol's [model] defaults; all gone with the task."""
    from regbench.options.config import RunConfig, architecture_of, preset_config
    from regbench.options.presets import TaskSettings, paper_differences
    from regbench.tasks import BinaryTask, register_task, unregister_task

    @register_task("binary_tiny")
    class TinyTask(BinaryTask):
        settings = TaskSettings(
            architecture="tiny_cnn",
            presets={"smoke": {"model": {"filters": 3}, "train": {"max_epochs": 1}}},
            paper_differences={"smoke": "a tiny model"},
            protocol_model_defaults={"paper": {"filters": 5}})
    try:
        config = preset_config("smoke", "binary_tiny")
        assert dict(config.model) == {"filters": 3}             # no binary CNN sizes
        assert config.train_config(0).max_epochs == 1
        assert config.train_config(0).batch_size == 32          # the preset's own
        assert paper_differences("smoke", "binary_tiny") == "a tiny model"
        assert paper_differences("quick", "binary_tiny") == ""  # not the binary text
        paper = RunConfig(task="binary_tiny", tune=True, tuning={"protocol": "paper"})
        assert dict(paper.task_model()) == {"filters": 5}
        assert architecture_of(dict(config.model), config) == "tiny_cnn"
    finally:
        unregister_task("binary_tiny")
    assert dict(preset_config("smoke", "binary_tiny").model) == dict(
        preset_config("smoke").model)                          # unknown again: defaults
