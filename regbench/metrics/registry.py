"""The metric registry: every number regbench reports, registered once.

An entry says how to compute the metric, what ground truth it needs, which direction
is better, and its label (with unit) for the report. ``evaluate`` computes every
attribution metric whose ground truth the data has; the results table, the statistics
and the report take names, directions and labels from here. A new metric is one
registration:

    @register_metric("peak_share", needs="motif_mask", direction="higher",
                     label="attribution share in motifs, top decile")
    def peak_share(attr, truth):          # attr (N, 4, L); returns (N,)
        ...

Attribution metrics take ``(attr, truth)`` with ``truth`` a ``GroundTruth``;
``per_sequence=True`` ones return one value per sequence (the results table gets
their mean over sequences unless ``in_results=False``), the others one value for the
model. ``headline=True`` puts the metric in the verdict table that opens the report;
``lead=K`` makes it the report's K-th choice among metrics of its kind, where one
stands for them all (``lead_metrics``). Performance metrics take ``(y_true, logits)`` and return one float; results.csv
names them ``test_<name>``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from regbench.errors import RegbenchError

NEEDS = ("nothing", "motif_mask", "summits", "peak_mask", "labels", "profile")
DIRECTIONS = ("higher", "lower", "zero")


@dataclass(frozen=True)
class GroundTruth:
    """What attribution metrics may compare with. X: (N, 4, L) one-hot; motif_mask:
    (N, L) bool or None; summits: (N,) or None; freq_limit: T of the high-frequency
    fraction (None: 0.15 L); peak_mask: (N, L) bool, True inside the sequence's peak
    interval (real data), or None; scores: what the attributions hold, "actual" or
    "hypothetical" (the method's registry entry), for metrics that read bases apart."""

    X: np.ndarray
    motif_mask: np.ndarray | None = None
    summits: np.ndarray | None = None
    freq_limit: int | None = None
    peak_mask: np.ndarray | None = None
    scores: str = "actual"

    def has(self, need: str) -> bool:
        return need == "nothing" or getattr(self, need, None) is not None


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable
    needs: str            # one of NEEDS
    direction: str        # higher, lower, or zero (best at 0: |value| is compared)
    label: str            # axis label, with unit
    better: str           # one line for the report
    kind: str             # "attribution" or "performance"
    per_sequence: bool    # attribution metrics: one value per sequence (else per model)
    in_results: bool      # per-sequence metrics: their mean goes to results.csv
    headline: bool = False  # a column of the report's verdict table
    lead: int | None = None  # the report's choice among its kind: 1 first (lead_metrics)


_METRICS: dict[str, Metric] = {}


def register_metric(name: str, *, needs: str, direction: str, label: str,
                    better: str | None = None, kind: str = "attribution",
                    per_sequence: bool = True, in_results: bool = True,
                    headline: bool = False, lead: int | None = None):
    """Decorator registering ``func`` as metric ``name`` (see the module docstring)."""
    if needs not in NEEDS:
        raise RegbenchError(f"metric {name!r}: needs must be one of {', '.join(NEEDS)}, "
                            f"got {needs!r}")
    if direction not in DIRECTIONS:
        raise RegbenchError(f"metric {name!r}: direction must be one of "
                            f"{', '.join(DIRECTIONS)}, got {direction!r}")
    if kind not in ("attribution", "performance"):
        raise RegbenchError(f"metric {name!r}: kind must be attribution or performance")

    def add(func: Callable) -> Callable:
        default = {"higher": "higher is better", "lower": "lower is better",
                   "zero": "closer to 0 is better"}[direction]
        _METRICS[name] = Metric(name, func, needs, direction, label, better or default,
                                kind, per_sequence and kind == "attribution", in_results,
                                headline, lead)
        return func
    return add


def get_metric(name: str) -> Metric:
    try:
        return _METRICS[name]
    except KeyError:
        raise RegbenchError(f"unknown metric {name!r}; known: "
                            f"{', '.join(_METRICS)}") from None


def list_metrics(kind: str | None = None) -> list[str]:
    """Registered names, in registration order; ``kind`` filters."""
    return [n for n, m in _METRICS.items() if kind is None or m.kind == kind]


def lead_metrics(kind: str) -> list[str]:
    """The names of ``kind`` that the report may let stand for their kind, first
    choice first (``lead``): the axes of its performance-vs-interpretability figure,
    the metric it ranks per attribution method and weighs against cost."""
    leads = [m for m in _METRICS.values() if m.kind == kind and m.lead is not None]
    return [m.name for m in sorted(leads, key=lambda m: m.lead)]


def unregister_metric(name: str) -> None:
    """Remove a metric (for tests and interactive use)."""
    _METRICS.pop(name, None)


__all__ = ["GroundTruth", "Metric", "get_metric", "lead_metrics", "list_metrics",
           "register_metric", "unregister_metric"]
