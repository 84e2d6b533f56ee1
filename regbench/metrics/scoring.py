"""Score attributions with every registered attribution metric the ground truth allows."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from regbench.metrics import builtin  # noqa: F401  (registers the built-in metrics)
from regbench.metrics._arrays import as_tracks, to_numpy
from regbench.metrics.registry import GroundTruth, describe_metric, get_metric, list_metrics


def sequence_metrics(recorded: bool = True) -> list[str]:
    """Per-sequence attribution metrics, in registration order: the registered ones,
    then (``recorded``) those a results folder recorded that are not installed here
    (the report's view; ``list_metrics``)."""
    return [n for n in list_metrics("attribution", recorded=recorded)
            if describe_metric(n).per_sequence]


def summarize_interpretability(attr, X, motif_mask=None, summits=None,
                               freq_limit: int | None = None) -> pd.DataFrame:
    """Every per-sequence attribution metric, one row per sequence.

    attr, X: (N, 4, L); motif_mask: (N, L) bool or None; summits: (N,) or None.
    Columns in registration order (built in: highfreq_fraction, entropy,
    motif_fraction, motif_auprc_per_sequence, summit_spearman, gc_reliance); a metric
    whose ground truth is None is NaN (gc_reliance then counts every position as
    background). Model-level metrics such as the pooled ``motif_auprc`` are not here.
    """
    truth = GroundTruth(to_numpy(X), motif_mask, summits, freq_limit)
    return _per_sequence(attr, truth)


def _per_sequence(attr, truth: GroundTruth, names=None) -> pd.DataFrame:
    n = as_tracks(attr).shape[0]
    columns = {}
    for name in sequence_metrics(recorded=False):
        if names is not None and name not in names:
            continue
        metric = get_metric(name)
        columns[name] = (np.asarray(metric.compute(attr, truth), dtype=float)
                         if truth.has(metric.needs) else np.full(n, np.nan))
    return pd.DataFrame(columns)


def score_attributions(attr, truth: GroundTruth, names=None) -> tuple[pd.DataFrame, dict]:
    """(per-sequence table, model-level values) of attributions (N, 4, L) under the
    registered attribution metrics ``names`` (default: all).

    Model-level values: the mean over sequences of every per-sequence metric kept in
    the results (NaN when no sequence has a value), and every model-level metric
    (NaN when its ground truth is missing), in registration order.
    """
    if names is not None:
        for name in names:
            get_metric(name)  # an unknown name is a clear error
    table = _per_sequence(attr, truth, names)
    summary = {}
    for name in list_metrics("attribution"):
        if names is not None and name not in names:
            continue
        metric = get_metric(name)
        if metric.per_sequence:
            if metric.in_results:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: NaN
                    summary[name] = float(np.nanmean(table[name]))
        else:
            summary[name] = (float(metric.compute(attr, truth)) if truth.has(metric.needs)
                             else float("nan"))
    return table, summary


__all__ = ["score_attributions", "sequence_metrics", "summarize_interpretability"]
