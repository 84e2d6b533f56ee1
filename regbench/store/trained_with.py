"""What a results folder's rows were trained with: the settings the run keys leave out
(``RunRecord.settings``: torch threads, device, models trained as one group).

These settings stay out of the run keys (issue 42). In principle they change no model,
only the order of float32 sums (grouped and solo training are tested to agree, within
rounding), though training can amplify the rounding (docs/distributed.md: test auROC by up to 0.13).
Keying runs by them would make every stored run new: a rerun with another --threads or
--models-per-group would train the whole grid again, and every folder stored so far
would be orphaned, for numbers that differ by rounding. So a stored run is reused
whatever these settings were, and nothing claims it was trained otherwise:

- each row records its own (results.csv, the run record: ``RunContext.run_settings``);
- config.json records the rows' settings (``rows_settings``), and this invocation's
  apart (``invocation_settings``), never this invocation's as the rows';
- a rerun that reuses runs stored with other settings says so (``reused_runs_note``);
- a table that mixes settings warns (``store.mixed_settings``).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from regbench.store.record import RUN_RECORD

TABLES = ("results.csv", "results_fraction.csv")


def invocation_settings(context) -> dict:
    """How this invocation trains a run that is not stored yet: its torch threads, its
    device and the models it trains as one group (``RunContext.models_per_group``; a
    regularizer that cannot be grouped trains alone)."""
    return context.run_settings(context.models_per_group())


def rows_settings(out) -> dict:
    """{setting: what the rows of OUT/results.csv and OUT/results_fraction.csv were
    trained with}: the value when every row that recorded it agrees, the sorted list of
    values when they differ, None when no row recorded it (no rows, or runs stored
    before the columns existed)."""
    values: dict[str, set] = {column: set() for column in RUN_RECORD.settings()}
    for name in TABLES:
        path = Path(out) / name
        if not path.is_file():
            continue
        frame = pd.read_csv(path)
        for column, seen in values.items():
            if column in frame:
                seen.update(_plain(v) for v in frame[column].dropna())
    return {column: (None if not seen else next(iter(seen)) if len(seen) == 1
                     else sorted(seen, key=str))
            for column, seen in values.items()}


def reused_runs_note(context) -> str | None:
    """One line naming the stored runs of ``context``'s grid (every regularizer, seed
    and share) that this invocation reuses although they were trained with other
    settings than it would train them with: how many, with which settings, and this
    invocation's. None when every stored run matches (or none is stored). A model
    trained earlier and scored again counts as reused, with the settings of its other
    record."""
    differ = []   # (stored settings, or None when not recorded; this invocation's)
    config = context.config
    for regularizer in context.regularizers:
        group = {s: len(seeds) for seeds in context.seed_groups(regularizer) for s in seeds}
        for seed in range(config.seeds):
            mine = context.run_settings(group.get(seed, 1))
            for share in (1.0, *config.data_fractions()):
                key = context.key(regularizer, seed, data_fraction=share)
                stored = _stored_settings(context.store, key)
                if stored is not False and _differs(stored, mine):
                    differ.append((stored, mine))
    if not differ:
        return None
    columns = [c for c in RUN_RECORD.settings()
               if any(s is not None and s[c] is not None and s[c] != m[c]
                      for s, m in differ)]
    columns = columns or list(RUN_RECORD.settings())
    counts = Counter(", ".join(f"{c} {s[c]}" for c in columns) if s is not None
                     else "settings not recorded" for s, _ in differ)
    mine = ", ".join(f"{c} {' / '.join(sorted({str(m[c]) for _, m in differ}))}"
                     for c in columns)
    stored = "; ".join(f"{n} with {said}" for said, n in counts.items())
    return (f"note: reusing {len(differ)} stored run{'s' if len(differ) != 1 else ''} "
            f"trained with other settings than this invocation's ({mine}): {stored}; the "
            "run keys leave these settings out, so results.csv and config.json record what "
            "each row was trained with")


def say_reused_runs(context) -> None:
    """Print ``reused_runs_note`` (stderr), if there is one: once the λ are known (they
    are in the run keys), before the grid is trained."""
    note = reused_runs_note(context)
    if note:
        print(note, file=sys.stderr, flush=True)


def _differs(stored: dict | None, mine: dict) -> bool:
    """Whether a stored run's settings (None: not recorded) differ from this
    invocation's in a setting it recorded (one added since, e.g. hardware, is not
    known, so not counted)."""
    return stored is None or any(v is not None and v != mine[c] for c, v in stored.items())


def _stored_settings(store, key):
    """The settings ``key``'s stored run was trained with: a dict, None when its record
    does not say (stored before they were recorded), False when it is not stored (it
    will be trained now; an unreadable record too: it is noted when loaded)."""
    try:
        record = json.loads(store.record_path(key).read_bytes())
        row = record["row"]
    except FileNotFoundError:
        row = None
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if row is None:
        if not store.trained(key):
            return False
        settings = store.trained_settings(key)   # trained earlier, to be scored again
    else:
        settings = {c: row.get(c) if isinstance(row, dict) else None
                    for c in RUN_RECORD.settings()}
    if settings is None or all(v is None for v in settings.values()):
        return None
    return settings


def _plain(value):
    """A table's value as Python: 2.0 read back from a column with gaps is 2."""
    if hasattr(value, "item"):
        value = value.item()
    return int(value) if isinstance(value, float) and value.is_integer() else value


__all__ = ["invocation_settings", "reused_runs_note", "rows_settings", "say_reused_runs"]
