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

Plug-ins register through the entry-point group ``regbench.metrics``
(``regbench.plugins``). config.json records every metric's label and direction
(``regbench.store.labels``); a results folder's report takes those of metrics not installed
here from it (``remember_recorded``), so it needs no plug-in to report them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from regbench.errors import RegbenchError
from regbench.plugins import GROUPS, Registry

NEEDS = ("nothing", "motif_mask", "summits", "peak_mask", "labels", "profile")
# "" is no direction: a property recorded beside the qualities (e.g. the attribution
# scale), never tested against none nor ranked.
DIRECTIONS = ("higher", "lower", "zero", "")
BETTER = {"higher": "higher is better", "lower": "lower is better",
          "zero": "closer to 0 is better",
          "": "not a quality: never tested against none"}  # the report's line, unless given


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
    direction: str        # higher, lower, zero (best at 0: |value| is compared), "": none
    label: str            # axis label, with unit
    better: str           # one line for the report
    kind: str             # "attribution" or "performance"
    per_sequence: bool    # attribution metrics: one value per sequence (else per model)
    in_results: bool      # per-sequence metrics: their mean goes to results.csv
    headline: bool = False  # a column of the report's verdict table
    lead: int | None = None  # the report's choice among its kind: 1 first (lead_metrics)


METRICS: Registry[Metric] = Registry("metric", GROUPS["metrics"])
# Metrics a results folder recorded (config.json) that are not installed here: what
# the report knows of them (compute is None). Set by ``remember_recorded``.
_RECORDED: dict[str, Metric] = {}


def register_metric(name: str, *, needs: str, direction: str, label: str,
                    better: str | None = None, kind: str = "attribution",
                    per_sequence: bool = True, in_results: bool = True,
                    headline: bool = False, lead: int | None = None):
    """Decorator registering ``func`` as metric ``name`` (see the module docstring)."""
    if needs not in NEEDS:
        raise RegbenchError(f"metric {name!r}: needs must be one of {', '.join(NEEDS)}, "
                            f"got {needs!r}")
    if direction not in DIRECTIONS:
        raise RegbenchError(f"metric {name!r}: direction must be higher, lower, zero "
                            f"or \"\" (not a quality), got {direction!r}")
    if kind not in ("attribution", "performance"):
        raise RegbenchError(f"metric {name!r}: kind must be attribution or performance")

    def add(func: Callable) -> Callable:
        METRICS.register(name, Metric(name, func, needs, direction, label,
                                      better or BETTER[direction], kind,
                                      per_sequence and kind == "attribution", in_results,
                                      headline, lead))
        return func
    return add


def get_metric(name: str) -> Metric:
    """The registered metric ``name`` (one that can be computed here)."""
    return METRICS.get(name)


def describe_metric(name: str) -> Metric:
    """What is known of ``name``: its registry entry, else what a results folder
    recorded of it (``remember_recorded``; its ``compute`` is None)."""
    if name not in METRICS and name in _RECORDED:
        return _RECORDED[name]
    return get_metric(name)


def list_metrics(kind: str | None = None, recorded: bool = False) -> list[str]:
    """Registered names, in registration order; ``kind`` filters. ``recorded``: also
    the metrics a results folder recorded that are not installed here (the report's
    view; they cannot be computed)."""
    entries = METRICS.entries() + (list(_RECORDED.values()) if recorded else [])
    return list(dict.fromkeys(m.name for m in entries if kind is None or m.kind == kind))


RECORDED_FIELDS = ("label", "direction", "better", "kind", "per_sequence", "in_results",
                   "headline", "lead")


def metric_record(name: str) -> dict:
    """What config.json records of metric ``name`` (``RECORDED_FIELDS``)."""
    metric = describe_metric(name)
    return {field: getattr(metric, field) for field in RECORDED_FIELDS}


def remember_recorded(recorded: dict) -> list[str]:
    """Take ``{name: metric_record(name)}`` (a results folder's config.json) as what is
    known of the metrics in it that are not installed here, replacing what an earlier
    folder recorded. Returns their names; a malformed entry is skipped."""
    _RECORDED.clear()
    for name, fields in (recorded or {}).items():
        if name in METRICS or not isinstance(fields, dict):
            continue
        direction, kind = fields.get("direction"), fields.get("kind")
        if direction not in DIRECTIONS or kind not in ("attribution", "performance"):
            continue
        _RECORDED[name] = Metric(
            name, None, "nothing", direction, str(fields.get("label") or name),
            str(fields.get("better") or BETTER[direction]), kind,
            bool(fields.get("per_sequence", True)) and kind == "attribution",
            bool(fields.get("in_results", True)), bool(fields.get("headline", False)),
            fields.get("lead") if isinstance(fields.get("lead"), int) else None)
    return list(_RECORDED)


def lead_metrics(kind: str) -> list[str]:
    """The names of ``kind`` that the report may let stand for their kind, first
    choice first (``lead``): the axes of its performance-vs-interpretability figure,
    the metric it ranks per attribution method and weighs against cost."""
    leads = [m for m in METRICS.entries() if m.kind == kind and m.lead is not None]
    return [m.name for m in sorted(leads, key=lambda m: m.lead)]


def unregister_metric(name: str) -> None:
    """Remove a metric (for tests and interactive use)."""
    METRICS.unregister(name)


__all__ = ["GroundTruth", "METRICS", "Metric", "describe_metric", "get_metric",
           "lead_metrics", "list_metrics", "metric_record", "register_metric",
           "remember_recorded", "unregister_metric"]
