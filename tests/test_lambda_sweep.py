"""The λ-sensitivity suite (kind lambda_sweep): its grid, its matched-accuracy verdict,
its curves."""
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from regbench.cli import main
from regbench.options.config import preset_config
from regbench.report import lambda_sweep
from regbench.suites.suite import lambda_grid, load_suite, suite_points

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


# --- the constrained protocol's λ selection in the run report (issue 40) -----------

SELECTION_REFERENCE = {
    "seeds": [1000, 1001, 1002], "rule": "the rule",
    "endpoint": {"metric": "motif_fraction", "direction": "higher", "reason": "the paper's",
                 "performance": "auroc", "performance_direction": "higher", "margin": 0.01,
                 "margin_reason": "one point of auROC"},
    "none": {"endpoint": [0.2, 0.25, 0.3], "performance": [0.9, 0.91, 0.91],
             "val_loss": [0.4, 0.4, 0.4]}}


def _selection_search() -> pd.DataFrame:
    """fourier: λ 0.1 and 1 within the auROC margin, 10 not, 100 failed; the rule (SE
    pooled over the feasible λ 0.1 and 1: √(0.00625/3) = 0.0456) keeps only λ 1 within
    one SE of the best feasible (0.55).
    l2: no λ within the margin, so its smallest grid λ."""
    seeds = "1000; 1001; 1002"
    endpoints = ["0.3; 0.4; 0.5", "0.5; 0.6; 0.55", "0.7; 0.8; 0.75"]
    return pd.DataFrame({
        "regularizer": ["fourier"] * 4 + ["l2"] * 2, "trial": [0, 1, 2, 3, 0, 1],
        "lambda": [0.1, 1.0, 10.0, 100.0, 0.001, 0.01],
        "value": [0.4, 0.41, 0.6, math.nan, 0.5, 0.5],
        "state": ["complete"] * 3 + ["failed"] + ["complete"] * 2,
        "chosen": [False, True, False, False, True, False], "seeds": [seeds] * 3 + [""]
        + [seeds] * 2, "endpoint": [*endpoints, "", "0.2; 0.3; 0.4", "0.3; 0.3; 0.3"],
        "performance": ["0.9; 0.91; 0.92", "0.9; 0.9; 0.9", "0.7; 0.7; 0.7", "",
                        "0.5; 0.5; 0.5", "0.6; 0.6; 0.6"],
        "endpoint_mean": [0.4, 0.55, 0.75, math.nan, 0.3, 0.3],
        "endpoint_se": [0.0577, 0.0289, 0.0289, math.nan, 0.0577, 0.0],
        "performance_difference": [0.00333, -0.00667, -0.20667, math.nan, -0.4067, -0.3067],
        "feasible": [True, True, False, False, False, False],
        "within_one_se": [False, True, False, False, False, False]})


def test_selection_points_hold_every_seed_paired_with_none():
    points = lambda_sweep.selection_points(_selection_search(), SELECTION_REFERENCE)
    fourier = points[points["regularizer"] == "fourier"]
    assert list(zip(fourier["lambda"], fourier["seed"])) == [
        (lam, seed) for lam in (0.1, 1.0, 10.0) for seed in (1000, 1001, 1002)]  # 100 failed
    assert list(fourier["endpoint"]) == [0.3, 0.4, 0.5, 0.5, 0.6, 0.55, 0.7, 0.8, 0.75]
    assert list(fourier["difference"]) == pytest.approx(    # minus none's of the same seed
        [0.0, 0.0, 0.01, 0.0, -0.01, -0.01, -0.2, -0.21, -0.21])
    assert list(fourier["feasible"]) == [True] * 6 + [False] * 3
    assert list(fourier.loc[fourier["chosen"], "lambda"]) == [1.0] * 3
    none = points[points["regularizer"] == "none"]
    assert list(none["seed"]) == [1000, 1001, 1002] and list(none["endpoint"]) == [
        0.2, 0.25, 0.3] and none["lambda"].isna().all()
    assert len(points[points["regularizer"] == "l2"]) == 6
    lower = {**SELECTION_REFERENCE, "endpoint": {
        **SELECTION_REFERENCE["endpoint"], "performance_direction": "lower"}}
    flipped = lambda_sweep.selection_points(_selection_search(), lower)
    assert list(flipped.loc[flipped["regularizer"] == "fourier", "difference"])[:3] == \
        pytest.approx([0.0, 0.0, -0.01])   # a distance that rises is worse


def test_selection_curve_uses_the_rules_pooled_se_and_agrees_with_its_choice():
    from regbench.tune.selection import Candidate, choose_lambda
    search = _selection_search()
    points = lambda_sweep.selection_points(search, SELECTION_REFERENCE)
    curve = lambda_sweep.selection_curve(points, search)
    fourier = curve[curve["regularizer"] == "fourier"]
    assert list(fourier["lambda"]) == [0.1, 1.0, 10.0] and set(fourier["seeds"]) == {3}
    assert list(fourier["endpoint_mean"]) == pytest.approx([0.4, 0.55, 0.75])
    assert list(fourier["se"]) == pytest.approx([math.sqrt(0.00625 / 3)] * 3)  # one per reg
    assert list(fourier["difference"]) == pytest.approx([0.01 / 3, -0.02 / 3, -0.62 / 3])
    assert list(fourier["within_one_se"]) == [False, True, False]
    done = search[(search["regularizer"] == "fourier") & (search["state"] == "complete")]
    choice = choose_lambda([Candidate(lam, tuple(map(float, e.split(";"))),
                                      tuple(map(float, p.split(";"))))
                            for lam, e, p in zip(done["lambda"], done["endpoint"],
                                                 done["performance"])],
                           tuple(SELECTION_REFERENCE["none"]["performance"]), margin=0.01)
    assert choice.se == pytest.approx(fourier["se"].iloc[0])
    assert list(fourier.loc[fourier["chosen"], "lambda"]) == [choice.lam] == [1.0]
    assert [r["feasible"] for r in choice.table] == list(fourier["feasible"])
    table = lambda_sweep.selection_table(search, curve, ["none", "fourier", "l2"])
    assert table.to_dict("records") == [
        {"regularizer": "fourier", "grid": "0.1, 1, 10, 100", "λ scored on every seed":
         "3 of 4", "feasible (within the margin)": "0.1, 1", "within one SE of the best":
         "1", "chosen λ": "1", "chosen by": "one-standard-error rule"},
        {"regularizer": "l2", "grid": "0.001, 0.01", "λ scored on every seed": "2 of 2",
         "feasible (within the margin)": "–", "within one SE of the best": "–",
         "chosen λ": "0.001", "chosen by": "no λ within the margin: the smallest grid λ"}]


def test_selection_figure_draws_each_seed_the_chosen_lambda_and_the_margin():
    from matplotlib.colors import to_rgba
    search = _selection_search()
    points = lambda_sweep.selection_points(search, SELECTION_REFERENCE)
    curve = lambda_sweep.selection_curve(points, search)
    fig = lambda_sweep.selection_curves(points, curve, ["fourier", "l2"], SELECTION_REFERENCE)
    top, bottom = fig.axes[0], fig.axes[1]
    assert top.get_title() == "fourier" and top.get_xscale() == "log"
    dots = [c for c in top.collections if c.get_label() == "selection seed"]
    assert len(dots) == 1 and len(dots[0].get_offsets()) == 9        # 3 λ × 3 seeds
    assert sorted(dots[0].get_offsets()[:, 1]) == sorted(points.loc[
        points["regularizer"] == "fourier", "endpoint"])
    assert len([c for c in bottom.collections if c.get_label() == "selection seed"][0]
               .get_offsets()) == 9
    lines = {line.get_label(): line for line in top.lines}
    assert list(lines["chosen λ"].get_xdata()) == [1.0, 1.0]
    assert lines["none (seeds, mean)"].get_ydata()[0] == pytest.approx(0.25)
    means = {c.get_label(): c for c in top.containers}     # errorbar: (line, caps, bars)
    hollow = means["infeasible λ (performance beyond the margin)"].lines[0]
    assert list(hollow.get_xdata()) == [10.0]
    assert to_rgba(hollow.get_markerfacecolor()) == to_rgba("white")
    feasible = means["mean ± pooled SE"]
    assert list(feasible.lines[0].get_xdata()) == [0.1, 1.0]
    bars = feasible.lines[2][0].get_segments()
    assert [b[1][1] - b[0][1] for b in bars] == pytest.approx(
        [2 * math.sqrt(0.00625 / 3)] * 2)
    margin = [line for line in bottom.lines if line.get_label() == "−margin (0.01)"]
    assert list(margin[0].get_ydata()) == [-0.01, -0.01]
    assert fig.axes[2].get_title() == "l2"
    assert [t.get_text() for t in fig.legends[0].get_texts()].count("chosen λ") == 1


def _run_folder(tmp_path, search: pd.DataFrame, config: dict):
    folder = tmp_path / "run"
    folder.mkdir(parents=True)
    regs = ["fourier", "l2", "none"]
    pd.DataFrame([{"regularizer": r, "seed": s, "status": "ok", "lambda": lam,
                   "lambda_source": source, "val_loss": 0.4 + 0.01 * s,
                   "test_auroc": 0.8 + 0.01 * s, "motif_fraction": 0.3 + 0.02 * s}
                  for r, lam, source in (("fourier", 1.0, "selected (constrained)"),
                                         ("l2", 0.001, "smallest grid λ (no λ within the "
                                                       "margin)"), ("none", 0.0, "default"))
                  for s in range(3)]).to_csv(folder / "results.csv", index=False)
    (folder / "config.json").write_text(json.dumps(
        {"preset": "smoke", "seeds": 3, "regularizers": regs,
         "lambdas": {"fourier": 1.0, "l2": 0.001, "none": 0.0}, **config}))
    search.to_csv(folder / "lambda_search.csv", index=False)
    return folder


def test_the_report_shows_the_selection_curve_table_and_rule(tmp_path):
    from regbench.report import write_report
    from regbench.tune.selection import RULE
    folder = _run_folder(tmp_path, _selection_search(), {
        "lambda_protocol": "constrained",
        "lambda_reference": {"selection": SELECTION_REFERENCE}})
    md = write_report(folder)[1].read_text(encoding="utf-8")
    assert (folder / "figures" / "lambda_selection.png").is_file()
    assert not (folder / "figures" / "lambda_search.png").exists()   # no loss search here
    assert f"Rule: {RULE}" in md and "−margin (0.01: one point of auROC)" in md
    assert ("the seed sd pooled over the regularizer's feasible λ (the SE the rule uses)"
            in md)
    assert "λ selection per regularizer (constrained protocol)" in md
    assert "0.1, 1, 10, 100" in md and "one-standard-error rule" in md
    assert "no λ within the margin: the smallest grid λ" in md
    assert "λ was selected for fourier on the selection seeds" in md
    assert "validation loss spans" not in md and "not identified" not in md


def test_a_selection_search_without_config_reference_still_renders(tmp_path):
    from regbench.report import write_report
    folder = _run_folder(tmp_path, _selection_search(), {})
    md = write_report(folder)[1].read_text(encoding="utf-8")
    assert (folder / "figures" / "lambda_selection.png").is_file()
    assert "records no none scores for the selection seeds" in md


def test_an_old_constrained_search_and_a_loss_search_render_as_before(tmp_path):
    """lambda_search.csv of the constrained protocol before issue 40 (interpretability,
    feasible from the loss limit) and of the loss protocol: the loss per trial."""
    from regbench.report import write_report
    old = pd.DataFrame({"regularizer": ["fourier"] * 3 + ["l2"] * 2,
                        "trial": [0, 1, 2, 0, 1], "lambda": [0.1, 1.0, 10.0, 0.001, 0.01],
                        "value": [0.4, 0.41, 0.6, 0.5, 0.52], "state": ["complete"] * 5,
                        "chosen": [False, True, False, True, False],
                        "interpretability": [0.8, 0.82, 0.3, 0.7, 0.71],
                        "feasible": [True, True, False, True, True]})
    folder = _run_folder(tmp_path, old, {"lambda_protocol": "constrained",
                                         "lambda_reference": {"loss_limit": 0.55}})
    md = write_report(folder)[1].read_text(encoding="utf-8")
    assert (folder / "figures" / "lambda_search.png").is_file()
    assert not (folder / "figures" / "lambda_selection.png").exists()
    assert "## λ search" in md and "λ selection per regularizer" not in md
    mixed = pd.concat([_selection_search().query("regularizer == 'fourier'"),
                       old.query("regularizer == 'l2'")], ignore_index=True)
    folder = _run_folder(tmp_path / "mixed", mixed, {
        "lambda_reference": {"selection": SELECTION_REFERENCE}})
    write_report(folder)
    assert (folder / "figures" / "lambda_selection.png").is_file()
    assert (folder / "figures" / "lambda_search.png").is_file()      # l2's loss search
