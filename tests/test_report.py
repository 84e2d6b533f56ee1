"""The comparison report: built from a small fabricated results folder."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from regbench import cli
from regbench.errors import RegbenchError
from regbench.report import write_report
from regbench.report.inference import STATISTICS_COLUMNS
from regbench.report.stats import format_mean_sd, summarise

REGS = ["fourier", "none", "my_prior"]  # a custom name; `none` is not first on purpose
SEEDS = 3
L = 100
# the verdict's forest plot, perf scatter, 4 groups across seeds, 2 per-sequence
# methods, tracks, training curves
N_FIGURES = 10


def _results(rng) -> pd.DataFrame:
    rows = []
    for i, reg in enumerate(REGS):
        for seed in range(SEEDS):
            row = {"regularizer": reg, "lambda": 0.1 * (i + 1), "lambda_source": "default",
                   "seed": seed, "status": "ok", "epochs": 10 + seed, "best_epoch": 7,
                   "train_seconds": 5.0 + seed, "val_loss": rng.uniform(0.3, 0.5),
                   "test_loss": rng.uniform(0.3, 0.5), "test_accuracy": rng.uniform(.7, .9),
                   "test_auroc": rng.uniform(0.8, 0.95), "test_auprc": rng.uniform(.7, .9),
                   "highfreq_fraction": rng.uniform(0, 0.3), "entropy": rng.uniform(3, 4),
                   "motif_fraction": rng.uniform(0.1, 0.6), "motif_auprc": rng.uniform(.2, .8),
                   "summit_spearman": rng.uniform(-0.5, 0), "gc_reliance": rng.normal(0, .1),
                   "ixg_motif_auprc": rng.uniform(0.2, 0.8), "ixg_entropy": np.nan}
            rows.append(row)
    df = pd.DataFrame(rows)
    failed = (df["regularizer"] == "my_prior") & (df["seed"] == 2)
    metric_cols = df.columns[df.columns.get_loc("val_loss"):]
    df.loc[failed, metric_cols] = np.nan
    df.loc[failed, "status"] = "failed: loss became NaN"
    return df


def _per_sequence(rng) -> pd.DataFrame:
    rows = [{"regularizer": reg, "seed": seed, "method": method, "sequence": f"seq{s}",
             "highfreq_fraction": rng.uniform(0, .3), "entropy": rng.uniform(3, 4),
             "motif_fraction": rng.uniform(0, 1), "motif_auprc_per_sequence": rng.uniform(0, 1),
             "summit_spearman": rng.uniform(-1, 0), "gc_reliance": rng.normal(0, .1)}
            for reg in REGS for seed in range(SEEDS)
            for method in ("deep_lift_shap", "input_x_gradient") for s in range(12)]
    return pd.DataFrame(rows)


def _history() -> pd.DataFrame:
    rows = [{"regularizer": reg, "seed": seed, "epoch": e, "train_loss": 1 / (e + 1),
             "train_penalty": 0.1, "val_loss": 1 / (e + 1) + 0.05 * seed,
             "val_penalty": 0.1} for reg in REGS for seed in range(SEEDS) for e in range(5)]
    return pd.DataFrame(rows)


def _write_examples(folder, rng) -> None:
    (folder / "examples").mkdir()
    codes = rng.integers(0, 4, size=(2, L))
    X = np.zeros((2, 4, L), np.float32)
    X[np.arange(2)[:, None], codes, np.arange(L)] = 1
    mask = np.zeros((2, L), bool)
    mask[0, 40:52] = True
    for reg in REGS:
        attr = rng.normal(0, 0.1, (2, 4, L)).astype(np.float32) * X
        np.savez(folder / "examples" / f"{reg}.npz", X=X, attr=attr, motif_mask=mask,
                 names=np.array(["chr1:100-200", "chr2:5-105"]))


def make_folder(tmp_path, lambda_source="default", search=False):
    rng = np.random.default_rng(0)
    folder = tmp_path / "results"
    folder.mkdir()
    config = {"preset": "smoke", "data": "simulated, 200 sequences of 100 bp",
              "device": "cpu", "regularizers": REGS, "seeds": SEEDS,
              "lambdas": {r: 0.1 * (i + 1) for i, r in enumerate(REGS)},
              "lambda_source": {r: lambda_source for r in REGS},
              "model": {"filters": 8, "length": L},
              "paper_differences": "100 bp instead of 1000 bp; 8 filters instead of 64",
              "started": "2026-01-01T00:00:00", "finished": "2026-01-01T00:10:00",
              "wall_seconds": 600.0}
    (folder / "config.json").write_text(json.dumps(config))
    _results(rng).to_csv(folder / "results.csv", index=False)
    _per_sequence(rng).to_csv(folder / "per_sequence.csv", index=False)
    _history().to_csv(folder / "history.csv", index=False)
    _write_examples(folder, rng)
    if search:
        pd.DataFrame({"regularizer": ["fourier"] * 4 + ["my_prior"] * 3,
                      "lambda": [0.01, 0.1, 1, 10, 0.1, 1, 10],
                      "value": [0.5, 0.4, 0.45, 0.6, 0.5, 0.48, np.nan],
                      "state": ["COMPLETE"] * 3 + ["PRUNED"] + ["COMPLETE"] * 3}
                     ).to_csv(folder / "lambda_search.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = make_folder(tmp_path_factory.mktemp("report"))
    html_path, md_path = write_report(folder)
    return folder, html_path, md_path


def test_the_report_says_where_the_summit_comes_from(report):
    """Simulated binary data have no peaks: summit_spearman uses the sequence centre."""
    assert ("the peak summit of peaks.bed where the data have one, else the sequence "
            "centre, as on simulated binary data") in report[2].read_text()


def test_writes_both_files_and_figures(report):
    folder, html_path, md_path = report
    assert html_path == folder / "report.html" and md_path == folder / "report.md"
    assert html_path.is_file() and md_path.is_file()
    pngs = sorted(p.name for p in (folder / "figures").glob("*.png"))
    assert len(pngs) == N_FIGURES
    md = md_path.read_text(encoding="utf-8")
    for name in pngs:
        assert f"](figures/{name})" in md
    assert not list(folder.glob(".*.tmp")) and not list(folder.glob("figures/.*.tmp"))


def test_html_is_self_contained(report):
    html = report[1].read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == N_FIGURES
    assert "src=\"http" not in html
    # the only links are the table of contents' anchors to the page's own sections
    assert set(re.findall(r'href="(.)', html)) == {"#"}
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "figures/" not in html


def test_every_html_table_scrolls_in_its_own_box(report):
    # A wide table must not widen the page (a horizontal page scrollbar at 1440 px).
    html = report[1].read_text(encoding="utf-8")
    assert html.count("<table>") > 1
    assert html.count('<div class="wide"><table>') == html.count("<table>")
    assert ".wide{overflow-x:auto" in html


def test_summary_matches_hand_computed_means_and_excludes_failed(report):
    folder, html_path, md_path = report
    df = pd.read_csv(folder / "results.csv")
    # my_prior: the failed seed 2 has NaN metrics and must not count
    values = df.loc[(df.regularizer == "my_prior") & (df.seed < 2), "test_auroc"].to_numpy()
    mean, sd = values.mean(), np.sqrt(((values - values.mean()) ** 2).sum() / 1)
    expected = format_mean_sd(mean, sd)
    html, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    assert expected in html and expected in md
    summary = summarise(df, ["test_auroc"], REGS).set_index("regularizer")
    assert summary.loc["my_prior", "n"] == 2
    assert summary.loc["my_prior", "mean"] == pytest.approx(mean)
    assert summary.loc["my_prior", "sd"] == pytest.approx(sd)
    assert "2 ok, 1 failed" in html and "failed: loss became NaN" in html


def test_header_and_metric_meanings(report):
    html = report[1].read_text(encoding="utf-8")
    assert "λ was not tuned: each regularizer used its documented default λ" in html
    assert "smoke" in html and "100 bp instead of 1000 bp" in html
    assert "more negative is better" in html and "closer to 0 is better" in html
    assert "ixg_entropy" not in html  # an all-NaN column is skipped
    assert "my_prior" in html and "Welch" in html and "hierarchical bootstrap" in html
    assert "Wilcoxon" not in html and "Mann-Whitney" not in html and "Holm" not in html
    # the summary's rows are the regularizers, the baseline first
    summary = html[html.index('<details id="summary">'):]
    assert re.search(r"<tbody><tr><td>([^<]+)</td>", summary).group(1) == "none"


def test_statistics_csv_tests_the_primary_endpoint_only(report):
    folder, _, md_path = report
    table = pd.read_csv(folder / "statistics.csv", keep_default_na=False,
                        na_values=[""])
    assert list(table.columns) == STATISTICS_COLUMNS
    assert not {"epochs", "best_epoch", "train_seconds"} & set(table["metric"])
    results = pd.read_csv(folder / "results.csv")
    ok = results[results["status"] == "ok"]

    def seeds(reg, column):
        return ok.loc[ok.regularizer == reg].sort_values("seed")[column].to_numpy()

    # config.json names no endpoint; the results hold motif fractions: motif fraction is
    # primary. fourier holds none's 3 seeds (paired t-test); my_prior lost seed 2
    # (Welch). Benjamini-Hochberg over the 2: the larger p stays, the smaller becomes
    # min(2 p, the larger).
    primary = table[table.role == "primary"].set_index("regularizer")
    assert list(primary.index) == ["fourier", "my_prior"]
    assert set(primary["metric"]) == {"motif_fraction"}
    p_f = scipy.stats.ttest_1samp(seeds("fourier", "motif_fraction")
                                  - seeds("none", "motif_fraction"), 0).pvalue
    p_m = scipy.stats.ttest_ind(seeds("my_prior", "motif_fraction"),
                                seeds("none", "motif_fraction"), equal_var=False).pvalue
    assert primary.loc["fourier", "test"] == "paired_t"
    assert primary.loc["my_prior", "test"] == "welch_t"
    assert primary["p_value"].to_numpy() == pytest.approx([p_f, p_m])
    low, high = sorted((p_f, p_m))
    expected = {p_f: min(2 * low, high) if p_f == low else high,
                p_m: min(2 * low, high) if p_m == low else high}
    assert primary["p_adjusted"].to_numpy() == pytest.approx([expected[p_f], expected[p_m]])
    assert set(primary["correction"]) == {
        "Benjamini-Hochberg, false discovery rate 0.05 over 2 regularizers vs none"}
    # Every other row: an interval, no p-value.
    others = table[table.role != "primary"]
    assert others["p_value"].isna().all() and others["p_adjusted"].isna().all()
    # test auROC is held non-inferior (margin 0.01): my_prior's Welch interval by hand.
    a, b = seeds("my_prior", "test_auroc"), seeds("none", "test_auroc")
    row = table[(table.comparison == "my_prior vs none") & (table.metric == "test_auroc")]
    assert row["role"].item() == "non-inferiority" and row["margin"].item() == 0.01
    assert row["test"].item() == "welch_t" and row["n_pairs"].item() == 0
    assert (row["n"].item(), row["n_none"].item()) == (2, 3)
    ci = scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (row["ci_low"].item(), row["ci_high"].item()) == pytest.approx(tuple(ci))
    assert row["non_inferior"].item() == ("yes" if ci[0] > -0.01 else "no")
    a = seeds("fourier", "test_auroc")
    row = table[(table.comparison == "fourier vs none") & (table.metric == "test_auroc")]
    assert row["test"].item() == "paired_t" and row["n_pairs"].item() == 3
    assert row["mean_difference"].item() == pytest.approx((a - b).mean())
    assert row["n_better"].item() == ((a - b) > 0).sum()
    assert row["ci_method"].item() == "95% t-interval of the paired differences"
    # Per-sequence metrics: the hierarchical bootstrap, for both methods, no p-value.
    sequences = table[table.level == "sequences within seeds"]
    assert set(sequences["test"]) == {"hierarchical_bootstrap"}
    assert set(sequences["method"]) == {"deep_lift_shap", "input_x_gradient"}
    assert set(sequences["role"]) == {"secondary"}
    assert (sequences["ci_low"] <= sequences["mean_difference"]).all()
    assert (sequences["mean_difference"] <= sequences["ci_high"]).all()
    md = md_path.read_text()
    assert "Benjamini-Hochberg" in md and "Holm" not in md and "Wilcoxon" not in md


def test_tuned_lambda_and_lambda_search(tmp_path):
    folder = make_folder(tmp_path, lambda_source="tuned", search=True)
    html_path, _ = write_report(folder)
    html = html_path.read_text(encoding="utf-8")
    assert "λ was not tuned" not in html and "λ was tuned with Optuna" in html
    assert html.count("data:image/png;base64,") == N_FIGURES + 1
    assert (folder / "figures" / "lambda_search.png").is_file()


def test_minimal_folder_with_only_results(tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    pd.DataFrame({"regularizer": ["custom", "custom"], "seed": [0, 1],
                  "status": ["ok", "ok"], "test_auroc": [0.8, 0.9]}
                 ).to_csv(folder / "results.csv", index=False)
    html_path, md_path = write_report(folder)
    html = html_path.read_text(encoding="utf-8")
    assert "0.850 ± 0.071" in html and "config.json is missing" in html


def test_missing_folder_and_results(tmp_path):
    with pytest.raises(RegbenchError, match="does not exist"):
        write_report(tmp_path / "nope")
    with pytest.raises(RegbenchError, match="no results.csv"):
        write_report(tmp_path)


def test_cli_exit_code_for_missing_folder(tmp_path, monkeypatch, capsys):
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1


def test_cli_writes_report(report, monkeypatch, capsys):
    assert cli.main(["report", str(report[0])]) == 0
    assert "report.html" in capsys.readouterr().out


def test_robust_to_missing_baseline_failures_and_broken_files(tmp_path):
    folder = make_folder(tmp_path)
    df = pd.read_csv(folder / "results.csv")
    df = df[df.regularizer != "none"]
    df.loc[df.regularizer == "my_prior", "status"] = "failed: out of memory"
    df.to_csv(folder / "results.csv", index=False)
    (folder / "examples" / "broken.npz").write_text("not an npz")
    (folder / "history.csv").unlink()
    pd.DataFrame({"regularizer": ["fourier"], "lambda": [0.1], "value": [np.nan]}
                 ).to_csv(folder / "lambda_search.csv", index=False)
    html = write_report(folder)[0].read_text(encoding="utf-8")
    assert "0 ok, 3 failed" in html and "no tests against the baseline" in html
    assert "skipped examples/broken.npz" in html
    assert "Training curves" not in html and "λ search" not in html


def test_seed_stability_from_stored_attributions(tmp_path):
    """Seeds of 'fourier' store identical tracks (Jaccard 1); 'none' stores a track and
    its negation (-1) plus one that shares half the mass (1/3, by hand)."""
    from regbench.report.load import load_results
    from regbench.report.stability import seed_pairs, stability_table

    (tmp_path / "attributions").mkdir()
    base = np.array([[1.0, 2.0, 0.0, 1.0], [0.5, 0.0, 0.5, 0.0]])
    tracks = {("fourier", 0): base, ("fourier", 1): base, ("fourier", 2): base,
              ("none", 0): base, ("none", 1): -base,
              ("none", 2): base * np.array([[1, 1, 0, 0], [1, 0, 0, 0]])}
    rows = []
    for (reg, seed), attr in tracks.items():
        path = f"attributions/{reg}-{seed}.npz"
        names = ["s1", "s2"] if seed != 2 or reg != "none" else ["s2", "s1"]
        order = [0, 1] if names == ["s1", "s2"] else [1, 0]
        np.savez(tmp_path / path, attr=attr[order].astype(np.float16), names=np.array(names))
        rows.append({"regularizer": reg, "seed": seed, "status": "ok", "attributions": path,
                     "test_auroc": 0.9})
    rows.append({"regularizer": "none", "seed": 3, "status": "failed: NaN",
                 "attributions": np.nan, "test_auroc": np.nan})
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)

    folder = load_results(tmp_path)
    pairs = seed_pairs(folder, ["none", "fourier"]).set_index(
        ["regularizer", "seed_a", "seed_b"]).sort_index()
    assert (pairs.loc["fourier", "jaccard"] == 1.0).all() and len(pairs.loc["fourier"]) == 3
    assert pairs.loc[("none", 0, 1), "jaccard"] == -1.0
    # seed 2 keeps [1, 2, 0, 0] of [1, 2, 0, 1]: L1-normalised [1/3, 2/3, 0, 0] vs
    # [1/4, 1/2, 0, 1/4], Jaccard (1/4 + 1/2) / (1/3 + 2/3 + 1/4) = 3/5; and [0.5, 0, 0, 0]
    # of [.5, 0, .5, 0]: [1, 0, 0, 0] vs [1/2, 0, 1/2, 0], 1/2 / (1 + 1/2) = 1/3. Rows are
    # matched by name although stored in the other order.
    assert pairs.loc[("none", 0, 2), "jaccard"] == pytest.approx((3 / 5 + 1 / 3) / 2)
    assert pairs.loc[("none", 1, 2), "jaccard"] == pytest.approx(-(3 / 5 + 1 / 3) / 2)
    assert (pairs["sequences"] == 2).all()
    table = stability_table(seed_pairs(folder, ["none", "fourier"]), ["none", "fourier"])
    assert table.set_index("regularizer").loc["none", "seeds"] == 3  # the failed run is out
    write_report(tmp_path)
    assert "Stability across seeds" in (tmp_path / "report.md").read_text()


def _stored_stability_folder(tmp_path, rng):
    """Three seeds of 'none' and 'fourier' with random stored attributions and
    hypothetical scores, and a 0.25 share of each; returns the hypothetical scores by
    (regularizer, seed, share)."""
    (tmp_path / "attributions").mkdir()
    hypothetical, tables = {}, {1.0: [], 0.25: []}
    for reg in ("none", "fourier"):
        for seed in range(3):
            for share in (1.0, 0.25):
                h = rng.normal(size=(3, 4, 20)).astype(np.float16)
                path = f"attributions/{reg}-{seed}-{share}.npz"
                np.savez(tmp_path / path, attr=h.astype(np.float32).sum(axis=1).astype(
                    np.float16), names=np.array(["a", "b", "c"]), hypothetical=h)
                hypothetical[reg, seed, share] = h
                tables[share].append({"regularizer": reg, "seed": seed, "status": "ok",
                                      "data_fraction": share, "attributions": path,
                                      "test_auroc": rng.uniform(0.5, 1)})
    pd.DataFrame(tables[1.0]).to_csv(tmp_path / "results.csv", index=False)
    pd.DataFrame(tables[0.25]).to_csv(tmp_path / "results_fraction.csv", index=False)
    return hypothetical


def test_stability_csvs_hold_both_measures_and_rederive_the_reports_tables(tmp_path):
    from regbench.metrics import jaccard_positional
    from regbench.report.render import Table, _md_table
    from regbench.report.stability import fraction_table, stability_table

    hypothetical = _stored_stability_folder(tmp_path, np.random.default_rng(8))
    write_report(tmp_path)
    seeds = pd.read_csv(tmp_path / "stability.csv")
    shares = pd.read_csv(tmp_path / "stability_fraction.csv")
    assert list(seeds.columns) == ["regularizer", "seed_a", "seed_b", "method", "sequences",
                                   "jaccard", "jaccard_positional"]
    assert len(seeds) == 6 and (seeds["method"] == "deep_lift_shap").all()
    assert list(shares.columns) == ["regularizer", "seed", "fraction", "method", "sequences",
                                    "jaccard", "jaccard_positional", "auroc_full",
                                    "auroc_share", "auroc_drop"]
    # the paper's measure from the stored float16 hypothetical scores, by hand
    row = seeds.set_index(["regularizer", "seed_a", "seed_b"]).loc[("fourier", 0, 2)]
    expected = jaccard_positional(hypothetical["fourier", 0, 1.0],
                                  hypothetical["fourier", 2, 1.0]).mean()
    assert row["jaccard_positional"] == pytest.approx(expected, rel=1e-12)
    row = shares.set_index(["regularizer", "seed"]).loc[("none", 1)]
    assert row["auroc_drop"] == pytest.approx(row["auroc_full"] - row["auroc_share"])
    # every number of the report's two stability tables comes back from the CSVs
    report = (tmp_path / "report.md").read_text()
    order = ["none", "fourier"]
    for table in (stability_table(seeds, order), fraction_table(shares, order)):
        assert "positional Jaccard, the paper's (mean ± sd)" in table
        assert _md_table(Table(table)) in report
    assert "cont\\_jaccard of the hypothetical" in report


def test_runs_stored_without_hypothetical_scores_leave_the_papers_measure_out(tmp_path):
    from regbench.report.load import load_results
    from regbench.report.stability import seed_pairs, stability_table
    (tmp_path / "attributions").mkdir()
    for seed in range(2):
        np.savez(tmp_path / f"attributions/{seed}.npz", attr=np.ones((1, 5), np.float16),
                 names=np.array(["a"]))
    pd.DataFrame({"regularizer": "none", "seed": [0, 1], "status": "ok",
                  "attributions": ["attributions/0.npz", "attributions/1.npz"]}
                 ).to_csv(tmp_path / "results.csv", index=False)
    pairs = seed_pairs(load_results(tmp_path), ["none"])
    assert pairs["jaccard"].tolist() == [1.0] and pairs["jaccard_positional"].isna().all()
    assert "positional Jaccard, the paper's (mean ± sd)" not in stability_table(pairs,
                                                                                ["none"])


def test_report_without_stored_attributions_has_no_stability_section(report):
    assert "Stability across seeds" not in report[2].read_text()


def test_full_vs_share_stability_by_hand(tmp_path):
    from regbench.report.load import load_results
    from regbench.report.stability import fraction_pairs, fraction_table

    (tmp_path / "attributions").mkdir()
    base = np.array([[1.0, 2.0, 0.0, 1.0], [0.5, 0.0, 0.5, 0.0]])
    half = base * np.array([[1, 1, 0, 0], [1, 0, 0, 0]])  # Jaccard (3/5 + 1/3) / 2 vs base

    def runs(tracks, tag, fraction, auroc=0.9):
        rows = []
        for (reg, seed), attr in tracks.items():
            path = f"attributions/{tag}-{reg}-{seed}.npz"
            np.savez(tmp_path / path, attr=attr.astype(np.float16), names=np.array(["a", "b"]))
            rows.append({"regularizer": reg, "seed": seed, "status": "ok",
                         "data_fraction": fraction, "attributions": path, "test_auroc": auroc})
        return pd.DataFrame(rows)

    runs({("fourier", 0): base, ("fourier", 1): base, ("none", 0): base},
         "full", 1.0).to_csv(tmp_path / "results.csv", index=False)
    pd.concat([runs({("fourier", 0): base, ("fourier", 1): half, ("none", 0): -base},
                    "part", 0.01, auroc=0.6),
               runs({("fourier", 0): base, ("none", 0): base}, "half", 0.5, auroc=0.85)]
              ).to_csv(tmp_path / "results_fraction.csv", index=False)
    folder = load_results(tmp_path)
    pairs = fraction_pairs(folder, ["none", "fourier"])
    assert sorted(pairs["fraction"].unique()) == [0.01, 0.5]
    small = pairs[pairs["fraction"] == 0.01].set_index(["regularizer", "seed"])
    assert small.loc[("fourier", 0), "jaccard"] == 1.0
    assert small.loc[("fourier", 1), "jaccard"] == pytest.approx((3 / 5 + 1 / 3) / 2)
    assert small.loc[("none", 0), "jaccard"] == -1.0
    assert (pairs.loc[pairs["fraction"] == 0.5, "jaccard"] == 1.0).all()
    table = fraction_table(pairs, ["none", "fourier"]).set_index(["regularizer", "share"])
    assert table.loc[("fourier", "0.01"), "seeds"] == 2
    assert table.loc[("fourier", "0.5"), "seeds"] == 1
    assert table.loc[("fourier", "0.01"), "auROC drop"] == "0.300"   # 0.9 - 0.6
    assert table.loc[("none", "0.5"), "auROC drop"] == "0.050"
    write_report(tmp_path)
    assert "shares (0.5, 0.01)" in (tmp_path / "report.md").read_text()


def test_cost_beside_gains_by_hand():
    from regbench.report.sections import cost_frame
    rows = []
    for reg, step, mib, extra, auroc, auprc in (("none", 0.1, 100.0, 0, 0.8, 0.5),
                                                ("fourier", 0.25, 180.0, 1, 0.9, 0.7)):
        for seed, jitter in ((0, -0.01), (1, 0.01)):
            rows.append({"regularizer": reg, "seed": seed, "status": "ok",
                         "step_seconds": step + jitter, "peak_mib": mib,
                         "extra_backward": extra, "epochs": 4, "test_auroc": auroc + jitter,
                         "motif_auprc": auprc})
    table = cost_frame(pd.DataFrame(rows), ["none", "fourier"]).set_index("regularizer")
    assert table.loc["fourier", "× none (time)"] == "2.50"        # 0.25 / 0.1
    assert table.loc["fourier", "× none (memory)"] == "1.80"
    assert table.loc["fourier", "extra backward passes"] == "1"
    assert table.loc["fourier", "test auROC gain"] == "+0.100"
    assert table.loc["fourier", "motif auPRC (pooled) gain"] == "+0.200"
    assert table.loc["none", "× none (time)"] == "1.00"


def test_the_report_takes_lead_metrics_and_directions_from_the_registry():
    """A plug-in metric registered as the first lead, lower is better, is the one the
    cost table weighs (none's minus the regularizer's: + is better) and the ranking
    ranks (lowest first); no metric name is written into the report."""
    from regbench.metrics import register_metric, unregister_metric
    from regbench.report.sections import cost_frame, method_ranking
    register_metric("blur", needs="nothing", direction="lower", label="blur (bits)",
                    lead=0)(lambda attr, truth: attr.sum())
    try:
        rows = [{"regularizer": reg, "seed": seed, "status": "ok", "step_seconds": 0.1,
                 "motif_auprc": 0.5, "blur": blur, "ixg_blur": blur}
                for reg, blur in (("none", 0.5), ("fourier", 0.3), ("l2", 0.9))
                for seed in (0, 1)]
        table = cost_frame(pd.DataFrame(rows), ["none", "fourier", "l2"])
        table = table.set_index("regularizer")
        assert table.loc["fourier", "blur (bits) gain"] == "+0.200"
        assert table.loc["l2", "blur (bits) gain"] == "-0.400"
        assert "motif auPRC (pooled) gain" not in table
        section = method_ranking(pd.DataFrame(rows), ["none", "fourier", "l2"])
        ranked = section.blocks[1].frame.set_index("regularizer")
        assert ranked.loc["fourier", "DeepLIFT/SHAP"] == "1 (0.3)"
        assert ranked.loc["l2", "input×gradient"] == "3 (0.9)"
        assert "ranked on blur (bits) (lower is better)" in section.blocks[0].text
    finally:
        unregister_metric("blur")


def test_ranking_per_method_says_when_it_changes():
    from regbench.report.sections import method_ranking
    rows = []
    for reg, dls, ixg in (("none", 0.5, 0.5), ("fourier", 0.6, 0.9), ("l2", 0.8, 0.7)):
        for seed in (0, 1):
            rows.append({"regularizer": reg, "seed": seed, "status": "ok",
                         "motif_auprc": dls, "ixg_motif_auprc": ixg})
    section = method_ranking(pd.DataFrame(rows), ["none", "fourier", "l2"])
    table = section.blocks[1].frame.set_index("regularizer")
    assert table.loc["l2", "DeepLIFT/SHAP"] == "1 (0.8)"
    assert table.loc["fourier", "input×gradient"] == "1 (0.9)"
    assert table.loc["none", "input×gradient"] == "3 (0.5)"
    text = section.blocks[0].text
    assert "changes with the method" in text and "l2 under DeepLIFT/SHAP" in text
    assert "fourier under input×gradient" in text and "input×gradient 0.33" in text


def test_figure_names_from_table_values_stay_in_figures(tmp_path):
    """A crafted per_sequence.csv (its method column names figures) writes nothing
    outside the folder; the figure keeps a safe name of its own."""
    folder = make_folder(tmp_path)
    per_sequence = pd.read_csv(folder / "per_sequence.csv")
    per_sequence["method"] = per_sequence["method"].replace("input_x_gradient", "/../../../x")
    per_sequence.to_csv(folder / "per_sequence.csv", index=False)
    before = set(tmp_path.rglob("*"))
    write_report(folder)
    written = set(tmp_path.rglob("*")) - before
    assert all(folder in p.parents for p in written)
    crafted = [p.name for p in (folder / "figures").glob("per_sequence_*")]
    # figures/per_sequence_/../../../x.png would be beside the folder
    assert not (tmp_path / "x.png").exists()
    safe = "per_sequence_" + "_" * 10 + "x_3c7506e2.png"   # /../../../ -> __________, + hash
    assert sorted(crafted) == [safe, "per_sequence_deep_lift_shap.png"]
    assert f"](figures/{safe})" in (folder / "report.md").read_text()


# -- issue 42: a tampered results.csv or config.json is one line, never a traceback ------

@pytest.mark.parametrize("column,value,says", [
    ("seed", "abc", "line 3, column seed: 'abc' is not a number"),
    ("seed", "1.5", "line 3, column seed: '1.5' is not a whole number"),
    ("test_auroc", "high", "line 3, column test_auroc: 'high' is not a number"),
    ("motif_auprc", "x", "line 3, column motif_auprc: 'x' is not a number"),
])
def test_text_in_a_number_column_of_results_csv_is_one_line(tmp_path, capsys, column,
                                                             value, says):
    folder = make_folder(tmp_path)
    df = pd.read_csv(folder / "results.csv")
    df[column] = df[column].astype(object)
    df.loc[1, column] = value
    df.to_csv(folder / "results.csv", index=False)
    assert cli.main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{folder / 'results.csv'}, {says}" in err
    assert "rerun `regbench run` with the same options" in err


@pytest.mark.parametrize("key,value", [
    ("lambdas", "x"), ("lambda_source", 7), ("regularizers", 7),
    ("lambda_protocol", ["fixed"]),
])
def test_config_json_of_the_wrong_types_is_one_line(tmp_path, capsys, key, value):
    folder = make_folder(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    assert cli.main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{folder / 'config.json'}: {key} = {value!r} is not valid: expected" in err



def test_readme_tables_come_from_the_folder_and_match_its_report(tmp_path):
    """Issue 40 item 5: the README's tables are written from a results folder: the run's
    facts, λ with the seeds that chose it, and the verdict table of its report."""
    from regbench.report.readme import readme_tables
    folder = make_folder(tmp_path, lambda_source="selected (constrained)")
    config = json.loads((folder / "config.json").read_text())
    config.update(lambda_protocol="constrained", threads=2, torch_version="2.13.0",
                  lambda_reference={"selection": {"seeds": [1000, 1001, 1002]}})
    config["lambda_source"]["none"] = "registry"
    (folder / "config.json").write_text(json.dumps(config))
    text = readme_tables(folder)
    assert (f"Preset smoke, λ protocol constrained, {SEEDS} paired seeds, regularizers "
            "fourier, none, my\\_prior; 2 thread(s) on cpu, torch 2.13.0") in text
    assert "wall time of the last invocation 10 min 0 s" in text
    assert "| fourier | 0.1 | selected (constrained) | 1000-1002 |" in text
    assert "| none | 0.2 | registry |  |" in text
    write_report(folder)
    report = (folder / "report.md").read_text(encoding="utf-8")
    verdict_table = text[text.index("| regularizer | λ | motif"):].split("\n\n")[0]
    assert verdict_table.count("\n") >= len(REGS) and verdict_table in report


def test_report_readme_writes_and_prints_the_tables(tmp_path, capsys):
    folder = make_folder(tmp_path)
    assert cli.main(["report", str(folder), "--readme", "--offline"]) == 0
    written = (folder / "readme_tables.md").read_text(encoding="utf-8")
    assert written.startswith("# regbench results: results\n\n## Run\n\nPreset smoke")
    assert written in capsys.readouterr().out


def test_report_readme_into_replaces_only_a_pages_generated_block(tmp_path, capsys):
    """Issue 44 item 2: a docs page's result table is written by the command from the
    folder, between its markers; the rest of the page is kept, and a page without the
    markers is one line, left untouched."""
    folder = make_folder(tmp_path)
    page = tmp_path / "results.md"
    page.write_text("# Results\n\nabove\n<!-- regbench report: run -->\nold, typed\n"
                    "<!-- end regbench report: run -->\nbelow\n")
    assert cli.main(["report", str(folder), "--readme", "--offline", "--into",
                     f"{page}:run"]) == 0
    text = page.read_text()
    written = (folder / "readme_tables.md").read_text(encoding="utf-8")
    # the folder's tables without their title, headings two levels down, the rest kept
    body = written.rstrip("\n").split("\n")[2:]
    block = "\n".join("##" + line if line.startswith("#") else line for line in body)
    assert block.startswith("#### Run\n")
    assert text == ("# Results\n\nabove\n<!-- regbench report: run -->\n"
                    + block + "\n<!-- end regbench report: run -->\nbelow\n")
    capsys.readouterr()
    before = page.read_text()
    assert cli.main(["report", str(folder), "--readme", "--offline", "--into",
                     f"{page}:other"]) == 2
    err = capsys.readouterr().err
    assert "needs the lines '<!-- regbench report: other -->'" in err and page.read_text() == before


def test_readme_tables_count_the_models_that_converged(tmp_path):
    """Issue 41 item 4: the generated block says, per regularizer, how many of its
    finished full-data models converged; a record older than the check is not known."""
    from regbench.report.readme import readme_tables
    folder = make_folder(tmp_path)
    results = pd.read_csv(folder / "results.csv")
    results["converged"] = [i % 3 != 1 for i in range(len(results))]
    results["converged"] = results["converged"].astype(object)
    results.loc[0, "converged"] = None
    results.to_csv(folder / "results.csv", index=False)
    config = json.loads((folder / "config.json").read_text())
    config["stopping_rule"] = {"name": "authors"}
    (folder / "config.json").write_text(json.dumps(config))
    ok = results[results["status"] == "ok"]
    expected = []
    for name in ("none", "fourier", "my_prior"):
        rows = ok[ok["regularizer"] == name]["converged"]
        unknown = int(rows.isna().sum())
        expected.append(f"{name.replace('_', chr(92) + '_')} {int((rows == True).sum())} "  # noqa: E712
                        f"of {len(rows)}" + (f" ({unknown} stored before the check)"
                                              if unknown else ""))
    text = readme_tables(folder)
    line = next(t for t in text.split("\n") if t.startswith("Models that converged"))
    assert line.startswith("Models that converged (results.csv converged; stopping rule "
                           "authors): ")
    for part in expected:
        assert part in line, (part, line)
    assert "stored before the check" in line


def test_report_readme_into_a_page_it_cannot_write_is_one_line(tmp_path, capsys,
                                                              monkeypatch):
    """A read-only page (or folder) is one line and the page is kept (the write is
    refused as the OS refuses it: root may write anywhere, so it is simulated)."""
    from regbench.report import readme
    folder = make_folder(tmp_path)
    page = tmp_path / "results.md"
    page.write_text("<!-- regbench report: run -->\n<!-- end regbench report: run -->\n")

    def refuse(path, text):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(readme, "atomic_write", refuse)
    assert cli.main(["report", str(folder), "--readme", "--offline", "--into",
                     f"{page}:run"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"--into: cannot write {page}: Permission denied" in err
    assert page.read_text() == ("<!-- regbench report: run -->\n"
                                "<!-- end regbench report: run -->\n")
