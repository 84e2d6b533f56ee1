"""The results row: the columns of results.csv, in their order, each with its role.

results.csv holds one row per run and attribution method (``store.results_frame``).
Its columns, in order, are ``LAYOUT``'s: fixed columns, and two stand-ins where the
metric registry's columns go, so that a metric a plug-in registers has its place and
its role without an edit here:

- ``test_<name>`` for each performance metric (the task's, in registry order);
- the method's attribution metrics under their registry names (those kept in the
  results: model-level ones, and the means of per-sequence ones), last.

Each column has one role:

- id: what names the row (the run's key: regularizer, λ, seed, training share; and the
  attribution method);
- training fact: how the run was trained and where its files are, not a measurement;
- cost: what training took;
- performance: how well the model predicts;
- interpretability: how its attributions score.

The store writes a run's row through ``RUN_RECORD.row`` and tables it through
``RUN_RECORD.table_rows``; the statistics and the report ask ``RUN_RECORD.role`` and
``RUN_RECORD.columns`` which columns are which.
"""
from __future__ import annotations

from dataclasses import dataclass

ID = "id"
FACT = "training fact"
COST = "cost"
PERFORMANCE = "performance"
INTERPRETABILITY = "interpretability"
ROLES = (ID, FACT, COST, PERFORMANCE, INTERPRETABILITY)

METHOD = "method"          # the attribution method of a row; '' for a run not evaluated
TEST_PREFIX = "test_"      # performance metric NAME is the column test_NAME


@dataclass(frozen=True)
class Column:
    """One column. ``setting``: how the run was trained that its key leaves out
    (changing one would make every stored run new), though it moves the run's numbers,
    so a comparison should not mix values (``store.mixed_settings``). ``per_method``:
    its value differs between a run's method rows (the others repeat on each)."""

    name: str
    role: str
    setting: bool = False
    per_method: bool = False


# Stand-ins for the metric registry's columns (``RunRecord.columns`` lists them).
PERFORMANCE_METRICS = Column(TEST_PREFIX + "<performance metric>", PERFORMANCE)
ATTRIBUTION_METRICS = Column("<attribution metric>", INTERPRETABILITY, per_method=True)

LAYOUT = (
    Column("regularizer", ID),
    Column("lambda", ID),
    Column("lambda_source", FACT),
    Column("lambda_protocol", FACT),
    # The seeds that chose λ (constrained protocol: "1000-1002"); empty where λ was not
    # chosen on seeds (fixed, paper rule, none). Never a verdict seed.
    Column("selection_seeds", FACT),
    Column("seed", ID),
    Column(METHOD, ID, per_method=True),
    Column("data_fraction", ID),
    Column("train_rows", FACT),
    Column("status", FACT),
    Column("epochs", COST),
    Column("best_epoch", COST),
    # Training ended by its stopping rule, not cut off by the epoch cap or while its
    # loss still fell (regbench.training.stopping.converged); empty: not known (older records).
    # The report marks comparisons of unconverged models and stars none of them.
    Column("converged", FACT),
    Column("train_seconds", COST),
    Column("steps", FACT),
    Column("step_seconds", COST),
    Column("peak_mib", COST),
    Column("extra_backward", COST),
    # The λ search minimises it: a performance measure, never tested against none.
    Column("val_loss", PERFORMANCE),
    Column("checkpoint", FACT),
    Column("threads", FACT, setting=True),
    Column("device", FACT, setting=True),
    Column("models_per_group", FACT, setting=True),
    Column("hardware", FACT, setting=True),   # where it was trained (runtime.hardware)
    PERFORMANCE_METRICS,
    Column("attributions", FACT),   # DeepLIFT/SHAP's attributions of the run
    ATTRIBUTION_METRICS,
)


def _registered(kind: str) -> list[str]:
    """The metric registry's names of one kind, in registration order, then those a
    results folder recorded that are not installed here (imported here: the registry
    brings torch, which the store does not otherwise need)."""
    from regbench.metrics import list_metrics
    return list_metrics(kind, recorded=True)


def _tabled_attribution_metrics() -> list[str]:
    """Attribution metrics with a results.csv column: model-level ones, and per-sequence
    ones whose mean is kept (``Metric.in_results``)."""
    from regbench.metrics import describe_metric
    return [n for n in _registered("attribution")
            if not describe_metric(n).per_sequence or describe_metric(n).in_results]


@dataclass(frozen=True)
class RunRecord:
    """The row of results.csv: ``layout``'s columns in order, each with one role."""

    layout: tuple[Column, ...] = LAYOUT

    def columns(self, role: str | None = None) -> list[str]:
        """Every column of ``role`` (default: all), in table order; the registry's
        metrics expanded (every performance metric: a table holds its task's)."""
        names = []
        for column in self.layout:
            if role is None or column.role == role:
                names += self._expand(column)
        return names

    def column(self, name: str) -> Column | None:
        """The layout entry of a column: its own, the stand-in of the registry's
        metrics (a test_ column is always a performance one), or None for a column the
        record does not know (e.g. a metric of a plug-in not installed here)."""
        for column in self.layout:
            if column.name == name:
                return column
        if str(name).startswith(TEST_PREFIX) and PERFORMANCE_METRICS in self.layout:
            return PERFORMANCE_METRICS
        if ATTRIBUTION_METRICS in self.layout and name in _registered("attribution"):
            return ATTRIBUTION_METRICS
        return None

    def role(self, name: str) -> str | None:
        """The role of a column (ROLES), or None when the record does not know it."""
        column = self.column(name)
        return None if column is None else column.role

    def settings(self) -> tuple[str, ...]:
        """The training settings that run keys leave out (``Column.setting``)."""
        return tuple(c.name for c in self.layout if c.setting)

    def per_run(self, name: str) -> bool:
        """Whether a column is known and repeats on each of a run's method rows."""
        column = self.column(name)
        return column is not None and not column.per_method

    def run_keys(self) -> list[str]:
        """The id columns that name a run (all but the method), in order."""
        return [c for c in self.columns(ID) if self.per_run(c)]

    def row(self, values: dict) -> dict:
        """A run's stored row: ``values`` (its per-run columns: not the method, nor a
        method's metrics) in table order (a test_ column of no registered metric after
        the registered ones). A column the record does not own is a ValueError (a bug:
        add it to LAYOUT)."""
        unknown = [c for c in values if not self.per_run(c)]
        if unknown:
            raise ValueError(f"the run record has no per-run column {', '.join(unknown)}: "
                             "add it to regbench.store.record.LAYOUT with its role")
        place = {column: i for i, column in enumerate(self.layout)}
        order = {name: i for i, name in enumerate(self.columns())}
        return dict(sorted(values.items(), key=lambda kv: (
            place[self.column(kv[0])], order.get(kv[0], len(order)))))

    def table_rows(self, row: dict, methods: dict | None) -> list[dict]:
        """results.csv's rows of one stored run: its ``row``, with the method column
        after the columns that precede it (the run's λ and seed), and each method's
        metrics last (``methods``: {method: {metric: value}}). A run not evaluated
        (failed, or a λ-search trial) has one row with an empty method. A stored row
        is tabled in its own order: records written by an older regbench keep
        theirs."""
        names = self.columns()
        before = set(names[:names.index(METHOD)])
        at = max((i + 1 for i, c in enumerate(row) if c in before), default=0)
        items = list(row.items())
        head, tail = dict(items[:at]), dict(items[at:])
        return [{**head, METHOD: method, **tail, **metrics}
                for method, metrics in (methods or {"": {}}).items()]

    def _expand(self, column: Column) -> list[str]:
        if column is PERFORMANCE_METRICS:
            return [TEST_PREFIX + n for n in _registered("performance")]
        if column is ATTRIBUTION_METRICS:
            return _tabled_attribution_metrics()
        return [column.name]


RUN_RECORD = RunRecord()

__all__ = ["ATTRIBUTION_METRICS", "COST", "Column", "FACT", "ID", "INTERPRETABILITY",
           "LAYOUT", "METHOD", "PERFORMANCE", "PERFORMANCE_METRICS", "ROLES", "RUN_RECORD",
           "RunRecord", "TEST_PREFIX"]
