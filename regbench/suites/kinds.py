"""Suite kinds: each a registered object that owns what makes its experiments differ:
its own keys and their checks, how an experiment expands into points, the points'
labels and facts, the extra per-run columns its points add, its report section and
tables, and (optionally) its own verdict (``SuiteKind``, in ``suites.hooks`` with the
hooks' defaults).

A ``plugins.Registry`` like every plug point (``register_suite_kind``,
``get_suite_kind``, ``list_suite_kinds``; entry-point group ``regbench.suites``). The
built-in kinds live in ``regbench.suites.builtins``, registered below; no other module
names them. Every hook has a default, so a plug-in kind that sets only name, what and
section expands, labels and checks like a plain scenario sweep. Report hooks are
looked up when the report is written, so this module imports no plotting library.
"""
from __future__ import annotations

from regbench.plugins import GROUPS, Registry
from regbench.suites.builtins import DEFAULT_KIND, KINDS
from regbench.suites.hooks import SuiteKind

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


def default_suite_kind() -> str:
    """The kind of an experiment table that names none."""
    return DEFAULT_KIND


def extra_columns() -> tuple[str, ...]:
    """The names (or prefixes) of every registered kind's per-run extra columns."""
    return tuple(c for kind in SUITE_KINDS.entries() for c in kind.columns)


def key_owners() -> dict[str, str]:
    """{experiment key: the kind that owns it}, over every registered kind's ``keys``."""
    return {key: kind.name for kind in SUITE_KINDS.entries() for key in kind.keys}


def lambda_sweeping_kinds() -> set[str]:
    """The names of the kinds whose points set λ themselves."""
    return {kind.name for kind in SUITE_KINDS.entries() if kind.sweeps_lambda}


for _kind in KINDS:
    register_suite_kind(_kind)


__all__ = ["SUITE_KINDS", "SuiteKind", "default_suite_kind", "extra_columns",
           "get_suite_kind", "key_owners", "lambda_sweeping_kinds", "list_suite_kinds",
           "register_suite_kind"]
