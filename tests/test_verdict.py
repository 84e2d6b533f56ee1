"""The verdict that opens the main report: values on a hand-made results frame whose
paired differences are known, ★ only where a lead is significant."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from regbench.config import LAMBDA_PROTOCOLS
from regbench.report import write_report
from regbench.report.load import load_results
from regbench.report.stats import headline_columns, statistics_table
from regbench.report.verdict import findings, lambda_protocol, verdict_frame

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


def _expected(d: np.ndarray, p: str, star: bool) -> str:
    low, high = scipy.stats.ttest_1samp(d, 0).confidence_interval(0.95)
    return f"{d.mean():+#.3g} [{low:+#.3g}, {high:+#.3g}], p {p}" + (" ★" if star else "")


def test_headline_columns_come_from_the_registry():
    frame = _frame()
    assert headline_columns(frame) == ["test_auroc", "entropy", "motif_fraction"]
    # DeepLIFT/SHAP not run: the next method's headline columns stand in.
    other = frame.rename(columns={"entropy": "ixg_entropy",
                                  "motif_fraction": "ixg_motif_fraction"})
    assert headline_columns(other) == ["test_auroc", "ixg_entropy", "ixg_motif_fraction"]


def test_verdict_cells_are_the_paired_differences_with_ci_and_holm_p():
    frame = _frame()
    statistics = statistics_table(frame, None, ORDER)
    table = verdict_frame(frame, statistics, ORDER, headline_columns(frame)).set_index(
        "regularizer")
    assert list(table.columns) == ["test auROC ↑", "attribution entropy (bits) ↓",
                                   "motif fraction ↑"]
    assert table.loc["none", "motif fraction ↑"] == "0.320 (mean)"   # 3 digits, zeros kept
    # 8 of 8 seeds one way: p = 2 / 2^8; Holm over fourier's DeepLIFT/SHAP family of 2
    # tests, both at 2 / 2^8: 2 x 0.0078125 = 0.015625.
    assert table.loc["fourier", "motif fraction ↑"] == _expected(UP, "0.0156", True)
    assert table.loc["fourier", "attribution entropy (bits) ↓"] == _expected(
        -5 * UP, "0.0156", True)
    # Significantly worse: no star. l2's own family: its entropy is far above, its motif
    # fraction first at 2 x 2 / 2^8.
    assert table.loc["l2", "motif fraction ↑"] == _expected(-UP / 2, "0.0156", False)
    auroc = table.loc["fourier", "test auROC ↑"]
    assert auroc.startswith(f"{WOBBLE.mean():+#.3g} [") and "★" not in auroc
    assert sum("★" in c for c in table.to_numpy().ravel()) == 2


def test_one_sentence_per_significant_finding():
    frame = _frame()
    lines = findings(statistics_table(frame, None, ORDER), ORDER, headline_columns(frame))
    assert len(lines) == 3
    assert lines[0].startswith("★ fourier is better than none on attribution entropy (bits)")
    assert lines[1].startswith("★ fourier is better than none on motif fraction")
    assert lines[2].startswith("l2 is worse than none on motif fraction")
    assert "8 paired seeds; Holm-adjusted p 0.0156" in lines[2]


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
    assert first.count("<table>") == 1 and table.count("★") == 2
    assert first.count("<li>★ fourier is better") == 2
    # The protocol, spelled out, comes before the table (a long table fills the screen).
    assert ("λ protocol: paper (the paper&#x27;s rule: Fourier λ = 1 on binary models"
            in first)
    assert first.index("λ protocol: paper") < first.index("<table>")
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert md.index("## Verdict") < md.index("## Run")


def test_nothing_significant_says_the_smallest_reachable_p(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _frame(seeds=4).to_csv(folder / "results.csv", index=False)
    html = write_report(folder)[0].read_text(encoding="utf-8")
    first = html[html.index("<h2>Verdict</h2>"):html.index("<h2>Run</h2>")]
    assert "★" not in first.replace("★: significantly better", "")
    # 4 pairs: 2 / 2^4 = 0.125 before correction; a regularizer's performance family
    # holds one test with a p (test loss is the same everywhere): at best 0.125 still.
    assert ("With 4 paired seeds the smallest two-sided p is 2 / 2^4 = 0.125 before "
            "correction, and Holm&#x27;s correction over its family leaves at best 0.125"
            in first)
    assert "λ protocol: not recorded." in first


def test_one_seed_says_nothing_was_tested(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _frame(seeds=1).to_csv(folder / "results.csv", index=False)
    html = write_report(folder)[0].read_text(encoding="utf-8")
    first = html[html.index("<h2>Verdict</h2>"):html.index("<h2>Run</h2>")]
    assert "No difference from none was tested across seeds" in first
    assert first.count("<td>–</td>") == 2 * 3   # fourier and l2: no cell tested


@pytest.mark.parametrize("column", [["paper", "paper"], ["constrained", None]])
def test_lambda_protocol_from_results_column(tmp_path, column):
    folder = tmp_path / "run"
    folder.mkdir()
    pd.DataFrame({"regularizer": ["none", "fourier"], "seed": [0, 0], "status": ["ok"] * 2,
                  "test_auroc": [0.8, 0.9], "lambda_protocol": column}
                 ).to_csv(folder / "results.csv", index=False)
    assert lambda_protocol(load_results(folder)).startswith(
        f"λ protocol: {column[0]} ({LAMBDA_PROTOCOLS[column[0]][:20]}")


def test_suite_verdict_tests_the_lead_on_paired_seeds():
    from regbench.report.suite import verdict_table
    _, leads = verdict_table(_frame(), ORDER)
    motif = leads[leads.metric == "motif fraction"].iloc[0]
    # fourier leads; none is baseline and runner-up: 8 of 8 paired seeds higher, exact
    # p = 2 / 2^8, Holm over the table's 3 tests (entropy's also 2 / 2^8): 3 x 0.0078125.
    assert (motif["best"], motif["test"]) == ("fourier", "paired")
    assert motif["p (Holm)"] == "0.0234" and motif["significant"] == "yes"
