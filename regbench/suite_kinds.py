"""Suite kinds: each a registered object with what its report section shows, the
extra per-run columns its points add (``extras(point, context)``, scored after the
point's runs) and its report section (``section(out, experiment, results, shares,
order, manifest)``, yielding report Sections).

A ``plugins.Registry`` like every plug point (``register_suite_kind``,
``get_suite_kind``, ``list_suite_kinds``; entry-point group ``regbench.suites``); the
built-in kinds are registered below. A section is looked up
when the report is written, so this module imports no plotting library.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from regbench.plugins import GROUPS, Registry


@dataclass(frozen=True)
class SuiteKind:
    """name: the experiment's ``kind``; what: what its report section shows (suite.json);
    section: the report section's builder; extras: (Point, RunContext) -> DataFrame
    (regularizer, seed, columns...) or None; columns: the names (or prefixes) of the
    columns extras adds, one value per run (not per attribution method)."""

    name: str
    what: str
    section: Callable
    extras: Callable | None = None
    columns: tuple[str, ...] = ()


SUITE_KINDS: Registry[SuiteKind] = Registry(
    "suite kind", GROUPS["suites"], unknown="kind = {name!r} is not valid; expected one of "
                                            "{known}")


def register_suite_kind(kind: SuiteKind) -> SuiteKind:
    """Register ``kind`` under its name; a name registered already is an error."""
    return SUITE_KINDS.register(kind.name, kind)


def get_suite_kind(name: str) -> SuiteKind:
    return SUITE_KINDS.get(name)


def list_suite_kinds() -> list[str]:
    return SUITE_KINDS.names()


def extra_columns() -> tuple[str, ...]:
    """The names (or prefixes) of every registered kind's per-run extra columns."""
    return tuple(c for kind in SUITE_KINDS.entries() for c in kind.columns)


def _report_section(name: str) -> Callable:
    """The built-in report section ``name`` (regbench.report.suite_sections), imported
    when the report is written."""
    def build(*args):
        from regbench.report.suite_sections import SECTIONS
        return SECTIONS[name](*args)
    build.__name__ = name
    return build


def _extra(name: str) -> Callable:
    def extras(point, context):
        from regbench import suite_extras
        return getattr(suite_extras, name)(point, context)
    extras.__name__ = name
    return extras


for _kind in (
    SuiteKind("compare", "the regularizers side by side on one dataset (summary, figures, "
              "λ search)", _report_section("compare")),
    SuiteKind("stability", "attribution similarity between seeds, and between full-data "
              "models and models trained on nested shares of the training rows",
              _report_section("stability")),
    SuiteKind("gc_sweep", "GC reliance, auROC on GC-balanced data and motif fraction "
              "against the GC gap between positives and negatives",
              _report_section("gc_sweep"), _extra("balanced_auroc"), ("balanced_auroc",)),
    SuiteKind("data_scarcity", "performance and interpretability against the number of "
              "training rows", _report_section("data_scarcity")),
    SuiteKind("multi_motif", "several factors and tasks: per-task auROC, motif fraction "
              "and motif auPRC beside the usual tables", _report_section("multi_motif"),
              _extra("task_results"), ("auroc_", "motif_fraction_", "motif_auprc_")),
    SuiteKind("lambda_sweep", "test auROC, validation loss and interpretability against λ "
              "(a log grid across each penalty's range), none as a band, and the most "
              "interpretable λ at matched accuracy", _report_section("lambda_sweep")),
):
    register_suite_kind(_kind)


__all__ = ["SUITE_KINDS", "SuiteKind", "extra_columns", "get_suite_kind", "list_suite_kinds",
           "register_suite_kind"]
