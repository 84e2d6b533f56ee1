"""Data sources: where a run's ``Dataset`` comes from, behind one interface.

A source checks its inputs before anything is written (``check``), then gives the
Dataset once (``load(out)``); ``describe`` is its line in config.json and the report.
Built in: ``folder`` (a dataset folder: FASTA + labels.tsv + optional BED and bigWig)
and ``simulation`` (a scenario simulated into OUT/data once, then read as a folder).
A genome source (FASTA + peaks + bigWig) is the next one. A new source is one
registration, chosen with ``[data_source] kind = "NAME"`` (its other keys are the
source's arguments):

    @regbench.data.register_data_source("my_arrays")
    class MyArrays(regbench.data.DataSource):
        def __init__(self, path):
            self.path = path
        def load(self, out, progress=False):
            return Dataset.from_arrays(names, codes, labels, split)

Plug-ins register through the entry-point group ``regbench.data_sources``
(``regbench.plugins``).
"""
from __future__ import annotations

from pathlib import Path

from regbench.errors import RegbenchError
from regbench.plugins import GROUPS, Registry


class DataSource:
    """Interface: ``check()``, ``load(out, progress) -> Dataset``, ``describe(dataset)``."""

    name = ""

    def check(self) -> None:
        """Fail early (RegbenchError, one line) on inputs that cannot work."""

    def load(self, out: Path, progress: bool = False):
        """The Dataset; ``out`` is the results folder (for anything the source writes)."""
        raise NotImplementedError

    def has_signal(self) -> bool | None:
        """Whether the data will carry per-strand read counts (profile models need
        them), known before anything is read or written; None: only loading tells."""
        return None

    def planned_shape(self) -> tuple[int, int] | None:
        """(sequence length, tasks) the data will have, known before anything is read or
        written; None: only loading tells."""
        return None

    def describe(self, dataset) -> str:
        """One line saying what the data are."""
        return (f"{self.name} data ({len(dataset.names)} sequences x {dataset.length} bp, "
                f"tasks: {', '.join(dataset.tasks)})")


SOURCES: Registry[type] = Registry(
    "data source", GROUPS["data_sources"],
    unknown="[data_source] kind = {name!r} is not a known data source; known: {known}")


def register_data_source(name: str):
    """Decorator adding a DataSource subclass under ``name``."""
    def add(cls):
        SOURCES.register(name, cls)
        cls.name = name
        return cls
    return add


def unregister_data_source(name: str) -> None:
    SOURCES.unregister(name)


def list_data_sources() -> list[str]:
    return SOURCES.names()


def create_data_source(kind: str, **params) -> DataSource:
    """Source ``kind`` bound to its arguments (a clear error for unknown ones)."""
    cls = SOURCES.get(kind)
    try:
        return cls(**params)
    except TypeError as exc:
        raise RegbenchError(f"[data_source] {kind}: {exc}") from None


@register_data_source("folder")
class FolderSource(DataSource):
    """A dataset folder (``regbench simulate`` output or real data in the same files)."""

    def __init__(self, path):
        self.path = Path(path)
        self._dataset = None

    def check(self) -> None:
        self._dataset = self.load(None)  # reading it is the check, and it is kept

    def load(self, out, progress: bool = False):
        if self._dataset is None:
            from regbench.data.dataset import load_dataset
            self._dataset = load_dataset(self.path)
        return self._dataset

    def has_signal(self) -> bool:
        from regbench.data.dataset import SIGNALS
        return all((self.path / s).is_file() for s in SIGNALS)

    def describe(self, dataset) -> str:
        return str(self.path)


@register_data_source("simulation")
class SimulatedSource(DataSource):
    """A simulation scenario (name or TOML file, with overrides) written to OUT/data once;
    seeded, so every worker on a folder writes the same data."""

    def __init__(self, scenario: str, overrides: dict | None = None):
        self.scenario, self.overrides = scenario, dict(overrides or {})

    def check(self) -> None:
        from regbench.simulate import load_scenario
        load_scenario(self.scenario, overrides=self.overrides)

    def has_signal(self) -> bool:
        from regbench.simulate import load_scenario
        return bool(load_scenario(self.scenario, overrides=self.overrides)["profile"]["enabled"])

    def planned_shape(self) -> tuple[int, int]:
        from regbench.simulate import load_scenario
        scenario = load_scenario(self.scenario, overrides=self.overrides)
        return int(scenario["length"]), len(scenario["tasks"])

    def check_existing(self, out) -> None:
        """Refuse, before anything is written, an OUT/data simulated from another
        scenario or other overrides (see ``_check_same_scenario``)."""
        target = Path(out) / "data"
        if (target / "manifest.json").exists():
            self._check_same_scenario(target)

    def load(self, out, progress: bool = False):
        from regbench.data.dataset import load_dataset
        from regbench.simulate import simulate
        target = Path(out) / "data"
        if (target / "manifest.json").exists():
            self._check_same_scenario(target)
        else:
            try:
                simulate(self.scenario, target, overrides=self.overrides, progress=progress)
            except (OSError, RegbenchError):
                # Another worker on this folder may have won the race to write the
                # same (seeded, identical) data; use it, if it is.
                if not (target / "manifest.json").exists():
                    raise
                self._check_same_scenario(target)
        return load_dataset(target)

    def _check_same_scenario(self, target: Path) -> None:
        """Refuse OUT/data simulated from another scenario or other overrides: its runs
        would be trained on the other data under this scenario's name. The folder is
        compared, not renamed per scenario, so existing results folders keep working."""
        import json
        from regbench.simulate import load_scenario
        asked = json.loads(json.dumps(load_scenario(self.scenario, overrides=self.overrides)))
        try:
            stored = json.loads((target / "manifest.json").read_text())["scenario"]
        except (OSError, ValueError, KeyError, TypeError):
            raise RegbenchError(f"{target / 'manifest.json'} is not a readable simulation "
                                f"manifest; delete {target} to simulate the data again") from None
        where = scenario_difference(stored, asked)
        if where is None:
            return
        key, there, here = where
        if stored.get("name") != asked["name"]:
            what = f"scenario {stored.get('name')!r}, not {asked['name']!r} as asked"
        else:
            what = (f"scenario {asked['name']!r} with {key} = {_short(there)}, not "
                    f"{_short(here)} as asked")
        raise RegbenchError(f"{target} holds data simulated from {what}; give another "
                            f"--out, or delete {target} to simulate this scenario there")

    def describe(self, dataset) -> str:
        return (f"simulated scenario {self.scenario} ({len(dataset.names)} sequences x "
                f"{dataset.length} bp, tasks: {', '.join(dataset.tasks)})")


def scenario_difference(stored, asked, key: str = "") -> tuple[str, object, object] | None:
    """The first (dotted key, stored value, asked value) where two loaded scenarios
    differ, or None when they simulate the same data. ``source`` (the name or path the
    scenario was given as) is left out: it does not change the data."""
    if isinstance(stored, dict) and isinstance(asked, dict):
        for name in sorted(set(stored) | set(asked)):
            if key or name != "source":
                found = scenario_difference(stored.get(name), asked.get(name),
                                            f"{key}.{name}" if key else name)
                if found:
                    return found
        return None
    if isinstance(stored, list) and isinstance(asked, list) and len(stored) == len(asked):
        for i, (a, b) in enumerate(zip(stored, asked)):
            found = scenario_difference(a, b, f"{key}.{i}")
            if found:
                return found
        return None
    return None if stored == asked else (key, stored, asked)


def _short(value, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def source_of(config) -> DataSource:
    """The data source of a RunConfig: ``[data_source]``, else --data, else the scenario."""
    if config.data_source:
        params = dict(config.data_source)
        kind = params.pop("kind", None)
        if not kind:
            raise RegbenchError("[data_source] needs kind = NAME; known: "
                                f"{', '.join(SOURCES.names(sort=True))}")
        return create_data_source(kind, **params)
    if config.data:
        if (Path(config.data) / "dataset.toml").is_file():   # `regbench data fetch` output
            return create_data_source("encode", path=config.data)
        return FolderSource(config.data)
    return SimulatedSource(config.scenario, config.simulate)


__all__ = ["DataSource", "FolderSource", "SOURCES", "SimulatedSource", "create_data_source",
           "list_data_sources", "register_data_source", "scenario_difference",
           "source_of",
           "unregister_data_source"]
