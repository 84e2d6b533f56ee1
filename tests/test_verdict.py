"""The verdict that opens the main report: values on a hand-made results frame whose
paired differences are known; ★ (▼) only on the primary endpoint, where a regularizer is
significantly better (worse) after Benjamini-Hochberg across all regularizers."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from regbench.options.config import LAMBDA_PROTOCOLS
from regbench.endpoints import Endpoint, declare
from regbench.report import write_report
from regbench.report.inference import statistics_table
from regbench.report.load import load_results
from regbench.report.stats import headline_columns
from regbench.report.verdict import (findings, lambda_protocol, verdict_columns, verdict_frame,
                                     verdict_sentences)

MOTIF = declare("binary", {"motif_mask"})

NONE_MOTIF = np.array([0.30, 0.35, 0.28, 0.33, 0.31, 0.36, 0.29, 0.34])
NONE_ENTROPY = np.array([6.6, 6.7, 6.5, 6.8, 6.6, 6.9, 6.4, 6.7])
NONE_AUROC = np.array([0.89, 0.90, 0.88, 0.91, 0.89, 0.90, 0.88, 0.90])
UP = np.array([0.10, 0.12, 0.08, 0.11, 0.09, 0.13, 0.10, 0.07])   # all > 0
WOBBLE = np.array([0.01, -0.01, 0.02, -0.02, 0.01, -0.01, 0.03, -0.03])


def _frame(seeds: int = 8) -> pd.DataFrame:
    """none, fourier (motif fraction +UP, entropy -5 UP: both better in every seed;
    auROC +WOBBLE: noise) and l2 (motif fraction -UP/2: worse in every seed; entropy
    +WOBBLE). The rows of each regularizer come in a different seed order."""
    s = slice(0, seeds)
    parts = {"none": (NONE_AUROC, NONE_MOTIF, NONE_ENTROPY),
             "fourier": (NONE_AUROC + WOBBLE, NONE_MOTIF + UP, NONE_ENTROPY - 5 * UP),
             "l2": (NONE_AUROC - WOBBLE, NONE_MOTIF - UP / 2, NONE_ENTROPY + WOBBLE)}
    rows = []
    for reg, (auroc, motif, entropy) in parts.items():
        seed_order = range(seeds) if reg == "none" else reversed(range(seeds))
        for seed in seed_order:
            rows.append({"regularizer": reg, "lambda": 1.0, "seed": seed, "status": "ok",
                         "test_auroc": auroc[s][seed], "test_loss": 0.4,
                         "motif_fraction": motif[s][seed], "entropy": entropy[s][seed],
                         "epochs": 10})
    return pd.DataFrame(rows)


ORDER = ["none", "fourier", "l2"]


def _interval(d: np.ndarray) -> str:
    """As the report prints it: 3 significant digits, a mean of 0 up to rounding as 0."""
    low, high = scipy.stats.ttest_1samp(d, 0).confidence_interval(0.95)
    mean = "0" if abs(d.mean()) < 1e-12 else f"{d.mean():+#.3g}"
    return f"{mean} [{low:+#.3g}, {high:+#.3g}]"


def _q(p: float) -> str:
    """A q-value as the report prints it: below 0.001 as '< 0.001'."""
    return "< 0.001" if p < 0.001 else f"{p:#.3g}"


def test_headline_columns_come_from_the_registry():
    frame = _frame()
    assert headline_columns(frame) == ["test_auroc", "entropy", "motif_fraction"]
    # DeepLIFT/SHAP not run: the next method's headline columns stand in.
    other = frame.rename(columns={"entropy": "ixg_entropy",
                                  "motif_fraction": "ixg_motif_fraction"})
    assert headline_columns(other) == ["test_auroc", "ixg_entropy", "ixg_motif_fraction"]
    # The verdict puts the primary endpoint first, then the performance it is held to.
    assert verdict_columns(frame, MOTIF) == ["motif_fraction", "test_auroc", "entropy"]
    assert verdict_columns(frame, None) == headline_columns(frame)


def test_verdict_stars_the_primary_endpoint_only():
    frame = _frame()
    statistics = statistics_table(frame, None, ORDER, MOTIF)
    columns = verdict_columns(frame, MOTIF)
    table = verdict_frame(frame, statistics, ORDER, columns, endpoint=MOTIF).set_index(
        "regularizer")
    assert list(table.columns) == ["motif fraction ↑ (primary)",
                                   "test auROC ↑ (non-inferiority)",
                                   "attribution entropy (bits) ↓ (secondary)"]
    assert table.loc["none", "motif fraction ↑ (primary)"] == "0.320 (mean)"
    # fourier +UP, l2 -UP/2: the same t, the same p; BH over the 2 regularizers gives
    # both min(2 p / 1, 2 p / 2) = p.
    p = scipy.stats.ttest_1samp(UP, 0).pvalue
    assert table.loc["fourier", "motif fraction ↑ (primary)"] == (
        f"{_interval(UP)}, q {_q(p)} ★")
    assert table.loc["l2", "motif fraction ↑ (primary)"] == (
        f"{_interval(-UP / 2)}, q {_q(p)} ▼")
    # auROC +-WOBBLE: mean 0, but the interval's lower end (-0.0164) passes -0.01.
    assert table.loc["fourier", "test auROC ↑ (non-inferiority)"] == (
        f"{_interval(WOBBLE)}: not shown non-inferior")
    # Entropy is secondary: fourier's -5 UP is 8 of 8 seeds lower, and no star.
    assert table.loc["fourier", "attribution entropy (bits) ↓ (secondary)"] == (
        f"{_interval(-5 * UP)}, 8 of 8 seeds better")
    assert table.loc["l2", "attribution entropy (bits) ↓ (secondary)"] == (
        f"{_interval(WOBBLE)}, 4 of 8 seeds better")
    cells = table.to_numpy().ravel()
    assert sum("★" in c for c in cells) == 1 and sum("▼" in c for c in cells) == 1


def test_without_an_endpoint_nothing_is_starred():
    frame = _frame()
    statistics = statistics_table(frame, None, ORDER, None)
    table = verdict_frame(frame, statistics, ORDER, headline_columns(frame))
    assert not any("★" in c or "▼" in c or "q " in c for c in table.to_numpy().ravel())
    assert findings(statistics, ORDER) == []


def test_one_sentence_per_significant_finding_then_non_inferiority():
    frame = _frame()
    lines = findings(statistics_table(frame, None, ORDER, MOTIF), ORDER)
    p = _q(scipy.stats.ttest_1samp(UP, 0).pvalue)
    assert lines == [
        f"★ fourier is better than none on the primary endpoint, motif fraction: "
        f"{_interval(UP)} (mean difference, 95% CI; 8 paired seeds; t-test p {p}, "
        f"Benjamini-Hochberg q {p}).",
        f"▼ l2 is worse than none on the primary endpoint, motif fraction: "
        f"{_interval(-UP / 2)} (mean difference, 95% CI; 8 paired seeds; t-test p {p}, "
        f"Benjamini-Hochberg q {p}).",
        "test auROC, held to a non-inferiority margin of 0.01 against none: not shown "
        "non-inferior for fourier, l2 (the 95% interval's worse end within the margin, "
        "or not)."]


def _with_converged(frame: pd.DataFrame, cut: dict) -> pd.DataFrame:
    """``frame`` with results.csv's converged: False for the runs of ``cut``
    ({regularizer: seed}), True for the others."""
    return frame.assign(converged=[(r, s) not in cut.items()
                                   for r, s in zip(frame["regularizer"], frame["seed"])])


def test_comparisons_with_an_unconverged_model_are_marked_and_never_starred():
    """fourier seed 3 did not converge: every fourier comparison is marked † with '1 of
    16' (its 8 models and none's 8), and its primary endpoint, q <= 0.05, gets no ★;
    l2's models all converged: its ▼ stands. No number changes."""
    frame = _frame()
    plain = statistics_table(frame, None, ORDER, MOTIF)
    marked = statistics_table(_with_converged(frame, {"fourier": 3}), None, ORDER, MOTIF)
    numbers = ["n", "n_pairs", "n_better", "mean_difference", "ci_low", "ci_high",
               "p_value", "p_adjusted"]
    pd.testing.assert_frame_equal(marked[numbers], plain[numbers])
    assert set(marked.loc[marked.regularizer == "fourier", "unconverged"]) == {"1 of 16"}
    assert set(marked.loc[marked.regularizer == "l2", "unconverged"]) == {""}
    primary = marked[marked.role == "primary"].set_index("regularizer")["better"]
    assert dict(primary) == {"fourier": "unconverged", "l2": "worse"}
    table = verdict_frame(frame, marked, ORDER, verdict_columns(frame, MOTIF),
                          endpoint=MOTIF).set_index("regularizer")
    p = scipy.stats.ttest_1samp(UP, 0).pvalue
    assert table.loc["fourier", "motif fraction ↑ (primary)"] == (
        f"{_interval(UP)}, q {_q(p)} †")
    assert all(c.endswith(" †") for c in table.loc["fourier"])
    assert not any(c.endswith("†") for c in table.loc["l2"])
    cells = table.to_numpy().ravel()
    assert sum("★" in c for c in cells) == 0 and sum("▼" in c for c in cells) == 1
    lines = findings(marked, ORDER)
    assert lines[0].startswith("▼ l2 is worse") and not any(x.startswith("★") for x in lines)
    assert lines[-1] == (
        "† fourier vs none: 1 of 16 models did not converge (results.csv's converged: the "
        "best epoch within the stopping window of the epoch cap, or the loss still falling "
        "when training ended), so its comparisons are marked and get no ★ or ▼ (the "
        "primary endpoint's q <= 0.05 would have given one); docs/profile.md says how to "
        "raise the budget.")


def test_an_unconverged_none_marks_every_comparison():
    marked = statistics_table(_with_converged(_frame(), {"none": 0}), None, ORDER, MOTIF)
    assert set(marked["unconverged"]) == {"1 of 16"}
    assert set(marked.loc[marked.role == "primary", "better"]) == {"unconverged"}
    assert verdict_sentences(marked, ORDER, MOTIF)[0] == (
        "Nothing is starred: 2 regularizers differ from none at q <= 0.05 on the primary "
        "endpoint, but with models that did not converge (†, below).")


@pytest.mark.parametrize("values", [[np.nan] * 24, ["True"] * 23 + [""]])
def test_runs_recorded_before_the_check_are_not_marked(values):
    """converged empty (an older record; read back from results.csv as NaN or text) is
    not known, so nothing is marked."""
    marked = statistics_table(_frame().assign(converged=values), None, ORDER, MOTIF)
    assert set(marked["unconverged"]) == {""}
    assert set(marked.loc[marked.role == "primary", "better"]) == {"yes", "worse"}
    text = statistics_table(_with_converged(_frame(), {"l2": 5}).assign(
        converged=lambda f: f["converged"].astype(str)), None, ORDER, MOTIF)
    assert set(text.loc[text.regularizer == "l2", "unconverged"]) == {"1 of 16"}


def _first_section(folder) -> str:
    html = write_report(folder)[0].read_text(encoding="utf-8")
    return html[html.index("<h2>Verdict</h2>"):html.index("<h2>Run</h2>")]


def test_report_opens_on_the_verdict(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _frame().to_csv(folder / "results.csv", index=False)
    (folder / "config.json").write_text(json.dumps({"preset": "quick", "seeds": 8,
                                                    "lambda_protocol": "paper"}))
    html = write_report(folder)[0].read_text(encoding="utf-8")
    sections = re.findall(r"<h2>([^<]+)</h2>", html)
    assert sections[:2] == ["Verdict", "Run"]
    first = html[html.index("<h2>Verdict</h2>"):html.index("<h2>Run</h2>")]
    table = first[first.index("<table>"):first.index("</table>")]
    assert first.count("<table>") == 1 and table.count("★") == 1 and table.count("▼") == 1
    # The answer first: the figure, then one sentence per regularizer, then the table.
    assert first.index("<img") < first.index("<li>fourier: ") < first.index("<table>")
    assert first.count("<li>fourier: motif fraction higher than none") == 1
    assert first.count("<li>l2: motif fraction lower than none") == 1
    # The endpoint and why, the margin and why, the error rate: config.json has no
    # endpoint (an older run), so it is inferred from the motif fraction's values.
    assert "Primary endpoint, inferred from the data&#x27;s ground truth" in first
    assert "DeepLIFT/SHAP motif fraction, higher is better: the paper&#x27;s headline" in first
    assert ("test auROC, held non-inferior to none by a margin of 0.01: auROC may fall by "
            "at most 0.01 (one point on its 0-1 scale)") in first
    assert ("Benjamini-Hochberg controls the false discovery rate at 5% across the 2 "
            "regularizers compared with none") in first
    # The protocol, spelled out, comes before the table (a long table fills the screen).
    assert ("λ protocol: paper (the paper&#x27;s rule: Fourier λ = 1 on binary models"
            in first)
    assert first.index("λ protocol: paper") < first.index("<table>")
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert md.index("## Verdict") < md.index("## Run")
    statistics = pd.read_csv(folder / "statistics.csv")
    assert set(statistics.loc[statistics.role == "primary", "metric"]) == {"motif_fraction"}


def test_one_regularizer_says_so_in_the_singular(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _frame().query("regularizer != 'l2'").to_csv(folder / "results.csv", index=False)
    first = _first_section(folder)
    assert "false discovery rate at 5% across the 1 regularizer compared with none" in first


def test_a_recorded_endpoint_decides_what_is_starred(tmp_path):
    # config.json declares entropy (lower is better): fourier's -5 UP is starred, and
    # its motif fraction, better in every seed, is secondary.
    folder = tmp_path / "run"
    folder.mkdir()
    _frame().to_csv(folder / "results.csv", index=False)
    endpoint = Endpoint("entropy", "lower", "declared for this test", "auroc", "higher",
                        0.05, "a wide margin, for this test")
    (folder / "config.json").write_text(json.dumps({"endpoint": endpoint.as_dict()}))
    first = _first_section(folder)
    assert "Primary endpoint, declared before training and recorded in config.json" in first
    assert "a wide margin, for this test" in first
    table = first[first.index("<table>"):first.index("</table>")]
    assert table.count("★") == 1 and "▼" not in table
    assert f"{_interval(-5 * UP)}, q " in table
    assert f"{_interval(UP)}, 8 of 8 seeds better" in table     # motif fraction
    assert f"{_interval(WOBBLE)}: non-inferior" in table         # -0.0164 > -0.05


def test_nothing_significant_says_so_with_the_family_size(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    frame = _frame(seeds=4)
    for reg, sign in (("fourier", 1), ("l2", -1)):
        rows = frame.regularizer == reg
        frame.loc[rows, "motif_fraction"] = (NONE_MOTIF + sign * WOBBLE)[
            frame.loc[rows, "seed"].to_numpy()]
    frame.to_csv(folder / "results.csv", index=False)
    first = _first_section(folder)
    table = first[first.index("<table>"):first.index("</table>")]
    assert "★" not in table and "▼" not in table
    assert ("No regularizer differs significantly from none on the primary endpoint, "
            "motif fraction (Benjamini-Hochberg q &lt;= 0.05 over the 2 regularizers "
            "compared)." in first)
    assert "λ protocol: not recorded." in first


def test_one_seed_says_nothing_was_tested(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _frame(seeds=1).to_csv(folder / "results.csv", index=False)
    first = _first_section(folder)
    assert ("No difference from none was tested on the primary endpoint: a test needs at "
            "least 2 finished seeds on each side." in first)
    assert first.count("<td>–</td>") == 2 * 3   # fourier and l2: no cell compared


def test_no_ground_truth_no_endpoint_no_star(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _frame().drop(columns="motif_fraction").to_csv(folder / "results.csv", index=False)
    first = _first_section(folder)
    assert "No primary endpoint could be declared for these data" in first
    assert "No primary endpoint: these data hold no ground truth" in first
    table = first[first.index("<table>"):first.index("</table>")]
    assert "★" not in table and "▼" not in table and "(secondary)" in table


@pytest.mark.parametrize("column", [["paper", "paper"], ["constrained", None]])
def test_lambda_protocol_from_results_column(tmp_path, column):
    folder = tmp_path / "run"
    folder.mkdir()
    pd.DataFrame({"regularizer": ["none", "fourier"], "seed": [0, 0], "status": ["ok"] * 2,
                  "test_auroc": [0.8, 0.9], "lambda_protocol": column}
                 ).to_csv(folder / "results.csv", index=False)
    assert lambda_protocol(load_results(folder)).startswith(
        f"λ protocol: {column[0]} ({LAMBDA_PROTOCOLS[column[0]][:20]}")


def test_suite_verdict_stars_the_primary_endpoint_only():
    from regbench.suites.report import verdict_table
    from regbench.suites.verdict import BEST, primary_blocks
    table, leads = verdict_table(_frame(), ORDER)
    # The best mean of each column is marked, not starred.
    assert not table.astype(str).apply(lambda c: c.str.contains("★")).any().any()
    assert table.loc[table.regularizer == "fourier", "motif fraction ↑"].item().endswith(BEST)
    motif = leads[leads.metric == "motif fraction"].iloc[0]
    # fourier leads; none is baseline and runner-up: the paired interval, 8 of 8 seeds.
    assert (motif["best"], motif["pairing"], motif["seeds better"]) == ("fourier", "paired",
                                                                         "8 of 8")
    low, high = scipy.stats.ttest_1samp(UP, 0).confidence_interval(0.95)
    assert motif["95% CI"] == f"[{low:+#.3g}, {high:+#.3g}]"
    assert not {"p", "p (Holm)", "significant"} & set(leads.columns)
    # The primary endpoint's own table, as in a run's report.
    blocks = primary_blocks(_frame(), ORDER, {"task": "binary"})
    assert "Benjamini-Hochberg" in blocks[0].text
    cells = blocks[1].frame.to_numpy().ravel()
    assert sum("★" in c for c in cells) == 1 and sum("▼" in c for c in cells) == 1
