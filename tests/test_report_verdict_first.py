"""Issue 44 item 1: the report's first screen is its answer. The verdict opens on a
figure (before any table), then one sentence per regularizer, then the table; numbers
print in plain decimals, exact zeros as 0, identical models in words. Built from
fabricated results folders whose paired differences are known: no training."""
from __future__ import annotations

import html as html_lib
import json
import re

import numpy as np
import pandas as pd
import pytest

from regbench.report import write_report
from regbench.report.numbers import p_value, plain

NONE_MOTIF = np.array([0.30, 0.35, 0.28, 0.33, 0.31, 0.36, 0.29, 0.34])
NONE_AUROC = np.array([0.89, 0.90, 0.88, 0.91, 0.89, 0.90, 0.88, 0.90])
NONE_HIGHFREQ = np.array([0.50, 0.52, 0.49, 0.51, 0.50, 0.53, 0.48, 0.51])
UP = np.array([0.10, 0.12, 0.08, 0.11, 0.09, 0.13, 0.10, 0.07])   # mean 0.1, sd 0.02
WOBBLE = np.array([0.01, -0.01, 0.02, -0.02, 0.01, -0.01, 0.03, -0.03])   # mean 0
E_NOTATION = re.compile(r"[0-9]e[-+][0-9]")


def _frame(seeds: int = 8) -> pd.DataFrame:
    """none; fourier: motif fraction +UP (better in every seed), auROC +WOBBLE (mean 0
    up to rounding), high-frequency fraction +UP/10000 (differences near 1e-5, which
    %g would print in e-notation); l2: motif fraction -UP/2; same: none's values."""
    parts = {"none": (NONE_AUROC, NONE_MOTIF, NONE_HIGHFREQ),
             "fourier": (NONE_AUROC + WOBBLE, NONE_MOTIF + UP, NONE_HIGHFREQ + UP / 1e4),
             "l2": (NONE_AUROC - WOBBLE, NONE_MOTIF - UP / 2, NONE_HIGHFREQ),
             "same": (NONE_AUROC, NONE_MOTIF, NONE_HIGHFREQ)}
    return pd.DataFrame([
        {"regularizer": reg, "lambda": 1.0, "seed": seed, "status": "ok",
         "test_auroc": auroc[seed], "motif_fraction": motif[seed],
         "highfreq_fraction": highfreq[seed], "epochs": 10}
        for reg, (auroc, motif, highfreq) in parts.items() for seed in range(seeds)])


def _folder(tmp_path, frame: pd.DataFrame, config: dict | None = None):
    folder = tmp_path / "run"
    folder.mkdir()
    frame.to_csv(folder / "results.csv", index=False)
    (folder / "config.json").write_text(json.dumps(config or {"preset": "smoke"}))
    return folder


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = _folder(tmp_path_factory.mktemp("verdict_first"), _frame())
    html_path, md_path = write_report(folder)
    return folder, html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")


def _verdict(html: str) -> str:
    return html[html.index('<section id="verdict">'):html.index("</section>")]


def _text(fragment: str) -> str:
    """What the reader sees: the HTML without its tags and embedded images."""
    return re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]*"', "", fragment))


def test_the_figure_comes_before_any_table(written):
    folder, html, md = written
    figure = min(i for i in (html.find("<img"), html.find("<svg")) if i >= 0)
    assert 0 <= figure < html.index("<table")
    assert (folder / "figures" / "verdict.png").is_file()
    # report.md in the same order: the figure, the sentences, the table
    verdict = md[md.index("## Verdict"):]
    assert (verdict.index("](figures/verdict.png)") < verdict.index("- fourier: ")
            < verdict.index("| regularizer |"))


def test_one_plain_sentence_per_regularizer_by_hand(written):
    """fourier: motif fraction +UP, mean 0.1, sd 0.02, 8 seeds: the 95% t-interval
    0.1 ± 2.3646 x 0.02 / sqrt(8) = [0.0833, 0.117], p 2.1e-6 (BH q the same) ★;
    auROC +WOBBLE: mean 0, sd sqrt(0.003 / 7) = 0.0207, interval ± 0.0173, whose worse
    end passes the 0.01 margin. l2: -UP/2, so -0.0500 [-0.0584, -0.0416] ▼."""
    sentences = re.findall(r"<li>([^<]+)</li>", _verdict(written[1]))
    assert sentences[:3] == [
        "fourier: motif fraction higher than none, +0.100 [+0.0833, +0.117], better in 8 "
        "of 8 seeds, significantly better (q &lt; 0.001) ★; test auROC 0 [-0.0173, "
        "+0.0173]: a cost beyond the 0.01 margin is not ruled out.",
        "l2: motif fraction lower than none, -0.0500 [-0.0584, -0.0416], better in 0 of 8 "
        "seeds, significantly worse (q &lt; 0.001) ▼; test auROC 0 [-0.0173, +0.0173]: a "
        "cost beyond the 0.01 margin is not ruled out.",
        "same: motif fraction identical to none; test auROC identical to none."]


def test_no_e_notation_in_the_verdict(written):
    verdict = _text(_verdict(written[1]))
    assert not E_NOTATION.search(verdict), E_NOTATION.search(verdict)
    # fourier's high-frequency fraction: UP / 10000, mean 0.00001 in plain decimals
    assert "+0.0000100 [" in verdict


def _table(fragment: str) -> pd.DataFrame:
    """The first <table> of an HTML fragment as a DataFrame of its cells' text."""
    table = fragment[fragment.index("<table>"):fragment.index("</table>")]
    headers = [html_lib.unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", table)]
    rows = [[html_lib.unescape(c) for c in re.findall(r"<td>([^<]*)</td>", row)]
            for row in re.findall(r"<tr>(<td>.*?)</tr>", table)]
    return pd.DataFrame(rows, columns=headers)


def _verdict_table(html: str) -> pd.DataFrame:
    return _table(_verdict(html)).set_index("regularizer")


def test_exact_zeros_print_as_0_and_identical_models_in_words(written):
    table = _verdict_table(written[1])
    assert table.loc["fourier", "test auROC ↑ (non-inferiority)"] == (
        "0 [-0.0173, +0.0173]: not shown non-inferior")
    assert set(table.loc["same"].drop("λ")) == {"identical to none"}
    assert "+0.00 [+0.00, +0.00]" not in written[1] and "p –" not in written[1]


def test_verdict_headers_are_words_with_the_column_in_a_tooltip(written):
    html = _verdict(written[1])
    assert ('<th title="results.csv column motif_fraction: higher is better (more '
            'attribution inside motifs)">motif fraction ↑ (primary)</th>') in html


def test_the_summary_has_regularizers_as_rows(written):
    summary = written[1][written[1].index('<details id="summary">'):]
    summary = summary[:summary.index("</details>")]
    first = summary[summary.index("<table>"):summary.index("</table>")]
    table = _table(summary)
    assert list(table["regularizer"]) == ["none", "fourier", "l2", "same"]
    assert "test auROC ↑" in table.columns and "runs" in table.columns
    assert 'title="results.csv column test_auroc"' in first
    # what each metric means: a list under the tables, not a column
    assert "<li>test auROC ↑: higher is better (results.csv: test_auroc)</li>" in summary


def test_every_section_after_the_verdict_is_collapsed_under_a_contents_line(written):
    html = written[1]
    titles = re.findall(r"<h2>([^<]+)</h2>", html)
    assert titles[0] == "Verdict"
    assert html.count("<details id=") == len(titles) - 1
    contents = html[html.index('<nav class="toc">'):html.index("</nav>")]
    assert contents.count("<a href=\"#") == len(titles)
    assert html.index("</nav>") < html.index("<table")


@pytest.mark.parametrize("case,says", [
    ("one seed", "No verdict figure: a difference from none needs at least 2 finished "
                 "seeds"),
    ("no truth", "No verdict figure: these data hold no ground truth"),
    ("no none", "There is no &#x27;none&#x27; run"),
])
def test_without_a_verdict_a_note_stands_in_for_the_figure(tmp_path, case, says):
    frame = {"one seed": _frame(seeds=1),
             "no truth": _frame().drop(columns="motif_fraction"),
             "no none": _frame().query("regularizer != 'none'")}[case]
    html = write_report(_folder(tmp_path, frame))[0].read_text(encoding="utf-8")
    verdict = _verdict(html)
    assert says in verdict and "<img" not in verdict


def test_a_profile_run_plots_its_own_performance_metric(tmp_path):
    """A profile folder is held to the profile Jensen-Shannon distance, lower is better:
    fourier's +0.001 everywhere stays within the 0.01 margin (no cost)."""
    frame = _frame().rename(columns={"test_auroc": "test_profile_jsd"})
    frame["test_profile_jsd"] = 0.3 + (frame["regularizer"] == "fourier") * 0.001 + (
        frame["seed"] * 0.0001)
    html = write_report(_folder(tmp_path, frame, {"task": "profile"}))[0].read_text(
        encoding="utf-8")
    verdict = _verdict(html)
    assert "Right: test profile Jensen-Shannon distance" in verdict
    assert verdict.index("<img") < verdict.index("<table>")
    assert ("no cost in test profile Jensen-Shannon distance (+0.00100 [+0.00100, "
            "+0.00100], within the 0.01 margin)") in verdict


@pytest.mark.parametrize("value,digits,signed,text", [
    (0.0834, 3, False, "0.0834"), (0.1, 3, True, "+0.100"), (0.09996, 3, False, "0.100"),
    (1.2e-5, 3, False, "0.0000120"), (1234.0, 3, False, "1230"), (-5.55e-17, 3, True, "0"),
    (0.0, 3, False, "0"), (0.0707, 2, False, "0.071"), (float("nan"), 3, False, "–"),
])
def test_plain_numbers(value, digits, signed, text):
    assert plain(value, digits, signed=signed) == text


def test_small_p_values_and_scaled_zeros():
    assert p_value(2.1e-6) == "< 0.001" and p_value(0.0123) == "0.0123"
    # 1e-10 is noise on values of size 1000, not on values of size 1
    assert plain(1e-10, scale=1000.0) == "0" and plain(1e-10) == "0.000000000100"


def test_an_interim_report_keeps_its_note_and_the_verdict_open(tmp_path):
    """An interim report puts its note before the verdict: both stay open, the figure
    still comes before any table, and the details are collapsed."""
    folder = _folder(tmp_path, _frame(), {"preset": "smoke", "interim": "2 of 3"})
    html = write_report(folder)[0].read_text(encoding="utf-8")
    assert '<section id="interim-report">' in html and '<section id="verdict">' in html
    assert 0 <= html.index("<img") < html.index("<table")
    assert '<details id="run">' in html
