"""One registry type for every plug point, and the entry-point groups that fill them.

Each plug point (regularizers, metrics, attribution methods, models, data sources,
tasks, suite kinds) is a ``Registry``, in the style of timm's model registry:
``register`` adds an entry under a new name (a name taken is an error), ``get`` looks
one up (an unknown name is one line listing the known ones), ``names`` lists them,
optionally by fnmatch pattern (``names("fourier*")``).

Installed packages add entries through one entry-point group per plug point
(``GROUPS``), as pytest plug-ins do: loading the entry point must register. A
distribution announces, in its ``entry_points.txt`` (or ``pyproject.toml``)::

    [regbench.regularizers]
    my_prior = my_package.priors
    [regbench.metrics]
    my_metric = my_package.metrics

``load_plugins`` imports every group once per process: the CLI calls it before any
command (so local workers, which run ``python -m regbench.cli``, do too), and so does
``regbench report``; a registry also loads its own group on its first lookup, for
scripts that use the Python API. A plug-in that fails to load is one RegbenchError
line naming its distribution and entry point.
"""
from __future__ import annotations

import fnmatch
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterable, TypeVar

from regbench.errors import RegbenchError

# plug point -> its entry-point group
GROUPS = {
    "regularizers": "regbench.regularizers",
    "metrics": "regbench.metrics",
    "attribution_methods": "regbench.attribution_methods",
    "models": "regbench.models",
    "data_sources": "regbench.data_sources",
    "tasks": "regbench.tasks",
    "suites": "regbench.suites",   # suite kinds (regbench.suites.suite)
}

_LOADED: set[str] = set()
T = TypeVar("T")


def load_group(group: str, again: bool = False) -> None:
    """Import every entry point of ``group`` once (``again``: look again, e.g. after
    installing a plug-in in a running process)."""
    if group in _LOADED and not again:
        return
    _LOADED.add(group)   # first: a plug-in that looks entries up does not reload
    for entry_point in entry_points(group=group):
        try:
            entry_point.load()
        except Exception as exc:  # noqa: BLE001  (any failure of foreign code)
            raise RegbenchError(_load_failure(entry_point, group, exc)) from None


def _load_failure(entry_point, group: str, exc: Exception) -> str:
    dist = getattr(entry_point.dist, "name", None) or "an unknown distribution"
    reason = (str(exc).strip().splitlines() or [""])[0]
    return (f"plug-in {dist} failed to load its entry point {entry_point.name} = "
            f"{entry_point.value} (group {group}): {type(exc).__name__}: {reason}; "
            f"fix it or uninstall {dist}")


def load_plugins() -> None:
    """Import the entry points of every group once (the CLI and ``report`` call it)."""
    for group in GROUPS.values():
        load_group(group)


class Registry(Generic[T]):
    """Name -> entry for one plug point.

    kind: what an entry is, in messages ("metric"); group: its entry-point group;
    builtins: called once before the first lookup, to register entries whose
    imports are heavy (torch); unknown: the message for an unknown name, formatted
    with ``kind``, ``name`` and ``known`` (the known names, sorted).
    """

    def __init__(self, kind: str, group: str, *, builtins: Callable[[], None] | None = None,
                 unknown: str = "unknown {kind} {name!r}; known: {known}"):
        self.kind, self.group = kind, group
        self._builtins, self._unknown = builtins, unknown
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T, *, overwrite: bool = False) -> T:
        """Add ``entry`` under ``name``; a name taken is an error unless ``overwrite``."""
        if not isinstance(name, str) or not name.strip():
            raise RegbenchError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries and not overwrite:
            raise RegbenchError(f"a {self.kind} named {name!r} is already registered; "
                                "choose another name (or unregister the first)")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and notebooks that re-register)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The entry called ``name``; an unknown name is one line listing the known."""
        self._ready()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise RegbenchError(self.unknown_message(name)) from None

    def unknown_message(self, name) -> str:
        known = ", ".join(sorted(self._entries)) or "none"
        return self._unknown.format(kind=self.kind, name=name, known=known)

    def __contains__(self, name) -> bool:
        self._ready()
        return name in self._entries

    def names(self, include: str | Iterable[str] | None = None,
              exclude: str | Iterable[str] = (), sort: bool = False) -> list[str]:
        """Registered names, in registration order (``sort``: alphabetical), those
        matching an fnmatch pattern of ``include`` and none of ``exclude``."""
        self._ready()
        names = sorted(self._entries) if sort else list(self._entries)
        if include is not None:
            names = [n for n in names if _matches(n, include)]
        return [n for n in names if not _matches(n, exclude)]

    def entries(self) -> list[T]:
        """The entries, in registration order."""
        self._ready()
        return list(self._entries.values())

    def load_entry_points(self, again: bool = False) -> None:
        """Import this plug point's entry-point group (once; ``again``: look again)."""
        load_group(self.group, again)

    def _ready(self) -> None:
        if self._builtins is not None:
            builtins, self._builtins = self._builtins, None
            builtins()
        self.load_entry_points()


def _matches(name: str, patterns) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


__all__ = ["GROUPS", "Registry", "load_group", "load_plugins"]
