"""One plain sentence per regularizer: what it did to the primary endpoint and what it
cost in performance, against ``none``, in words a reader who does not code can follow.

Generated from the same seed-level rows of the statistics table as the verdict table and
figure; the wording comes from each metric's label and direction (``stats.MetricInfo``)
and the row's role, never typed per metric. For example::

    fourier: motif fraction higher than none, +0.100 [+0.0834, +0.117], better in 8 of
    8 seeds, significantly better (q < 0.001) ★; test auROC 0 [-0.0164, +0.0164]: a
    cost beyond the 0.01 margin is not ruled out.
"""
from __future__ import annotations

import math

import pandas as pd

from regbench.endpoints import Endpoint
from regbench.report import inference, stats
from regbench.report.inference import DAGGER, NON_INFERIORITY, PRIMARY
from regbench.report.numbers import is_zero
from regbench.report.stats import BASELINE, STAR, WORSE, format_ci, format_p, format_signed
from regbench.store.record import TEST_PREFIX


def label(column: str) -> str:
    """The metric's label in words; |label| where its best value is 0 (compared as
    absolute values)."""
    info = stats.metric_info(column)
    return f"|{info.label}|" if info.direction == "zero" else info.label


def identical(row, scale: float = 1.0) -> bool:
    """Whether a comparison's mean difference and both interval ends are 0: the two
    models gave the same values in every seed."""
    values = [row["mean_difference"], row["ci_low"], row["ci_high"]]
    return all(not pd.isna(v) and is_zero(float(v), scale) for v in values)


def interval(row, scale: float = 1.0) -> str:
    """'+0.100 [+0.0834, +0.117]': the mean difference and its 95 % interval."""
    return (f"{format_signed(row['mean_difference'], scale)} "
            f"{format_ci(row['ci_low'], row['ci_high'], scale)}")


def change(row, column: str, scale: float) -> str:
    """'motif fraction higher than none, +0.100 [+0.0834, +0.117], better in 8 of 8
    seeds'."""
    way = "higher" if row["mean_difference"] > 0 else "lower"
    seeds = (f"better in {int(row['n_better'])} of {int(row['n_pairs'])} seeds"
             if not pd.isna(row["n_better"]) else "unpaired seeds")
    return f"{label(column)} {way} than none, {interval(row, scale)}, {seeds}"


def significance(row) -> str:
    """The primary endpoint's test in words, with the mark the table gives."""
    q = format_p(row["p_adjusted"])
    if inference.marked(row.get("unconverged")):
        return (f", not starred: {row['unconverged']} models did not converge "
                f"{DAGGER}")
    if row["better"] == "yes":
        return f", significantly better (q {q}) {STAR}"
    if row["better"] == "worse":
        return f", significantly worse (q {q}) {WORSE}"
    return f", not significant (q {q})" if not math.isnan(row["p_adjusted"]) else ""


def cost(row, column: str, scale: float, margin: float) -> str:
    """The performance metric against its non-inferiority margin, in words."""
    if identical(row, scale):
        return f"{label(column)} identical to none"
    if row["non_inferior"] == "yes":
        return (f"no cost in {label(column)} ({interval(row, scale)}, within the "
                f"{margin:g} margin)")
    if row["non_inferior"] == "no":
        return (f"{label(column)} {interval(row, scale)}: a cost beyond the {margin:g} "
                f"margin is not ruled out")
    return f"{label(column)} {interval(row, scale)}"


def clause(row, column: str, scale: float, endpoint: Endpoint | None) -> str:
    """One comparison in words, by its role."""
    if row["role"] == NON_INFERIORITY:
        return cost(row, column, scale, endpoint.margin)
    if identical(row, scale):
        return f"{label(column)} identical to none"
    text = change(row, column, scale)
    return text + significance(row) if row["role"] == PRIMARY else text


def sentence_columns(columns, endpoint: Endpoint | None) -> list[str]:
    """The columns a sentence speaks of: the primary endpoint and the performance it is
    held to; without an endpoint, the first two headline columns."""
    if endpoint is None:
        return list(columns)[:2]
    wanted = [endpoint.metric, TEST_PREFIX + endpoint.performance]
    return [c for c in wanted if c in columns]


def sentence(reg: str, rows: pd.DataFrame, columns, scales: dict,
             endpoint: Endpoint | None) -> str | None:
    """'REG: clause; clause.' from ``rows`` (seed rows indexed by regularizer, column);
    None when nothing of ``reg`` was compared."""
    parts = [clause(rows.loc[(reg, c)], c, scales.get(c, 1.0), endpoint)
             for c in columns if (reg, c) in rows.index]
    return f"{reg}: " + "; ".join(parts) + "." if parts else None


def answer_sentences(statistics: pd.DataFrame, order, columns, scales: dict,
                     endpoint: Endpoint | None) -> list[str]:
    """One sentence per regularizer compared with none, in table order. ``columns``:
    the verdict's results columns; ``scales``: column -> size of its values."""
    if statistics is None or statistics.empty:
        return []
    chosen = sentence_columns(columns, endpoint)
    rows = statistics[statistics["test"].isin(inference.SEED_TESTS)
                      & statistics["column"].isin(chosen)].set_index(["regularizer",
                                                                      "column"])
    sentences = (sentence(reg, rows, chosen, scales, endpoint)
                 for reg in order if reg != BASELINE)
    return [s for s in sentences if s]


__all__ = ["answer_sentences", "identical", "interval", "label"]
