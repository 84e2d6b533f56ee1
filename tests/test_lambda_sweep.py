"""The λ-sensitivity suite (kind lambda_sweep): its grid, its matched-accuracy verdict,
its curves."""
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from regbench.cli import main
from regbench.config import preset_config
from regbench.report import lambda_sweep
from regbench.suite import lambda_grid, load_suite, suite_points

SHIPPED = Path(__file__).resolve().parents[1] / "simulations" / "suites" / "lambda.toml"


def test_the_grid_is_log_spaced_across_the_registry_range():
    assert lambda_grid("fourier", 5) == [0.01, 0.1, 1.0, 10.0, 100.0]
    assert lambda_grid("l2", 3) == [1e-06, 0.000316228, 0.1]       # 1e-6 .. 0.1
    assert lambda_grid("smoothness", 2) == [0.001, 10.0]


def test_the_shipped_suite_sweeps_every_penalty_and_fewer_at_smoke(tmp_path):
    suite = load_suite(SHIPPED)
    quick = preset_config("quick")
    quick.out = str(tmp_path)
    points = suite_points(suite, quick)
    assert [p.label for p in points] == [f"λ step {i}" for i in range(1, 6)]
    swept = ["fourier", "l1_gradient", "l2", "off_simplex", "saliency_guided", "smoothness",
             "sparsity"]
    assert all(p.config.regularizers == [*swept, "none"] for p in points)
    assert [p.config.lambdas["sparsity"] for p in points] == [0.01, 0.1, 1.0, 10.0, 100.0]
    assert len({p.config.out for p in points}) == 1       # one folder: none stored once
    smoke = preset_config("smoke")
    smoke.out = str(tmp_path)
    points = suite_points(suite, smoke)
    assert [p.config.lambdas for p in points] == [
        {"fourier": 0.01, "l2": 1e-06}, {"fourier": 1.0, "l2": 0.000316228},
        {"fourier": 100.0, "l2": 0.1}]
    smoke.regularizers = ["sparsity", "none"]     # a list of the run's own wins
    assert [p.config.regularizers for p in suite_points(suite, smoke)] == [
        ["sparsity", "none"]] * 3


def _runs(regularizer, lam, losses, fractions, entropies=None):
    return [{"regularizer": regularizer, "lambda": lam, "seed": seed, "val_loss": loss,
             "motif_fraction": fraction,
             "entropy": entropies[seed] if entropies else math.nan}
            for seed, (loss, fraction) in enumerate(zip(losses, fractions))]


def _frame():
    """none: loss 1.1 ± 0.141 (within noise up to 1.241), motif fraction 0.31 ± 0.014."""
    return pd.DataFrame(
        _runs("none", 0.0, [1.0, 1.2], [0.30, 0.32], [6.0, 6.2])
        + _runs("a", 0.1, [1.0, 1.2], [0.35, 0.37], [5.9, 6.1])
        + _runs("a", 1.0, [1.2, 1.28], [0.50, 0.52], [6.5, 6.5])    # within: 1.24 <= 1.241
        + _runs("a", 10.0, [1.5, 1.7], [0.90, 0.90], [4.0, 4.0])    # best, but out of noise
        + _runs("b", 1.0, [1.4, 1.5], [0.80, 0.80])                 # none within noise
        + _runs("b", 10.0, [2.0, 2.0], [0.90, 0.90])
        + _runs("c", 1.0, [1.1, 1.1], [0.31, 0.32]))                # within, gain 0.005


def test_matched_accuracy_takes_the_most_interpretable_lambda_within_noise():
    chosen = lambda_sweep.matched_accuracy(_frame(), "motif_fraction").set_index(
        "regularizer")
    assert chosen.loc["a", "lambda"] == 1.0               # never 10: out of noise
    assert chosen.loc["a", "motif_fraction"] == pytest.approx(0.51)
    assert chosen.loc["a", "gain_vs_none"] == pytest.approx(0.20)
    assert chosen.loc["a", "within_noise"] == 2 and chosen.loc["a", "lambdas"] == 3
    assert chosen.loc["a", "free"]
    assert math.isnan(chosen.loc["b", "lambda"]) and not chosen.loc["b", "free"]
    assert chosen.loc["c", "lambda"] == 1.0 and not chosen.loc["c", "free"]  # inside band
    assert chosen.attrs["threshold"] == pytest.approx(1.1 + math.sqrt(0.02))
    lines = lambda_sweep.verdict_sentences(
        lambda_sweep.matched_accuracy(_frame(), "motif_fraction"), "motif_fraction")
    assert lines[0].startswith("a: interpretability bought for free at λ = 1 ")
    assert "b: no λ of the 2 tried is within noise of none's validation loss." in lines
    assert any(line.startswith("c: no gain beyond none's noise") for line in lines)


def test_matched_accuracy_follows_the_metric_direction():
    """Entropy: lower is better; λ 0.1 (5.9/6.1) beats λ 1 (6.5), λ 10 is out of noise."""
    chosen = lambda_sweep.matched_accuracy(_frame().dropna(subset=["entropy"]), "entropy")
    a = chosen.set_index("regularizer").loc["a"]
    assert a["lambda"] == 0.1 and a["gain_vs_none"] == pytest.approx(0.1)
    assert not a["free"]                 # 0.1 is not beyond none's sd (0.141)


def _suite(tmp_path, body, name="sweep"):
    path = tmp_path / f"{name}.toml"
    path.write_text('[[experiment]]\nname = "λ"\nkind = "lambda_sweep"\n' + body)
    return path


@pytest.mark.parametrize("body, message", [
    ("lambda_points = 1\n", "lambda_points = 1 is not valid: expected an integer >= 2"),
    ("[at_preset.tiny]\nlambda_points = 2\n", "at_preset.tiny: unknown preset"),
    ("[at_preset.smoke]\npoints = 2\n", "unknown key(s) in suite file"),
    ('sweep = "gc.positives"\nvalues = [0.5]\n', "a lambda_sweep experiment sweeps λ"),
])
def test_a_bad_lambda_sweep_table_exits_2_in_one_line(tmp_path, capsys, body, message):
    body = body.replace("[at_preset", "[experiment.at_preset")
    out = tmp_path / "out"
    argv = ["run", "--suite", str(_suite(tmp_path, body)), "--preset", "smoke", "--out",
            str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("flags, message", [
    (["--regularizers", "dropout,fourier,none"], "dropout has no λ to sweep"),
    (["--regularizers", "fourier,none", "--lambda", "fourier=1"], "λ of fourier is swept"),
])
def test_what_cannot_be_swept_exits_2_before_anything_runs(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    assert main(["run", "--suite", str(_suite(tmp_path, "")), "--preset", "smoke", "--out",
                 str(out), *flags]) == 2
    assert message in capsys.readouterr().err and not out.exists()
    path = _suite(tmp_path, "lambda_points = 2\n", "compare")
    path.write_text(path.read_text().replace("lambda_sweep", "compare"))
    assert main(["run", "--suite", str(path), "--out", str(out)]) == 2
    assert "lambda_points belongs to a lambda_sweep experiment" in capsys.readouterr().err


def test_a_smoke_lambda_suite_writes_its_curves(tmp_path):
    """Two λ of fourier and none, 2 seeds, on 120 sequences: every run in
    lambda_sweep.csv, none trained once, the figures redrawn from the CSV alone."""
    path = _suite(tmp_path, "lambda_points = 2\n[experiment.config]\nseeds = 2\n"
                            "simulate = {positives = 60, negatives = 60}\n")
    out = tmp_path / "out"
    assert main(["run", "--suite", str(path), "--preset", "smoke", "--regularizers",
                 "fourier,none", "--out", str(out), "--no-progress"]) == 0
    curves = pd.read_csv(out / "lambda_sweep.csv")
    assert list(curves.columns[:4]) == ["experiment", "regularizer", "lambda", "seed"]
    assert {"val_loss", "test_auroc", "motif_fraction"} <= set(curves.columns)
    assert sorted(zip(curves["regularizer"], curves["lambda"], curves["seed"])) == [
        ("fourier", 0.01, 0), ("fourier", 0.01, 1), ("fourier", 100.0, 0),
        ("fourier", 100.0, 1), ("none", 0.0, 0), ("none", 0.0, 1)]
    assert len(list(out.glob("points/*/runs/*.json"))) == 6      # none stored once
    manifest = json.loads((out / "suite.json").read_text())
    assert [p["point"] for p in manifest["points"]] == ["λ step 1", "λ step 2"]
    report = (out / "report.md").read_text()
    assert report.index("## Verdict") < report.index("at matched accuracy")
    assert "figures/lambda_motif_fraction.png" in report and "fourier: " in report
    for name in ("test_auroc", "motif_fraction", "val_loss"):
        assert (out / "figures" / f"lambda_{name}.png").is_file()
    frame = curves.drop(columns="experiment")
    assert lambda_sweep.lambda_curves(frame, "test_auroc", ["none", "fourier"]) is not None
    chosen = lambda_sweep.matched_accuracy(frame, "motif_fraction")
    assert list(chosen["regularizer"]) == ["fourier"]
