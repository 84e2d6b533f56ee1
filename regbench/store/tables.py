"""Rows added to a table of a results folder, none dropped: ``regbench report --storage``
adds the runs of a shared grid to the tables a folder holds (``RunStore.gather_tables``),
keeping the runs a plain ``regbench run`` added there."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from regbench.errors import RegbenchError


def added_rows(new: pd.DataFrame, path: Path, keys: list[str]) -> pd.DataFrame:
    """``new``'s rows, then those of the table at ``path`` that no row of ``new``
    replaces (the same values in ``keys``). A table that is there but cannot be read
    is a RegbenchError: its rows would be lost."""
    try:
        old = pd.read_csv(path)
    except FileNotFoundError:
        return new
    except pd.errors.EmptyDataError:
        return new
    except (OSError, ValueError) as exc:   # unreadable, not UTF-8, not CSV
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RegbenchError(f"{path} cannot be read ({why}), so the runs it holds would "
                            "be lost: move it aside to write it from the grid's runs "
                            "alone; nothing was written") from None
    absent = [k for k in keys if k not in old]
    if absent:
        raise RegbenchError(f"{path} has no {absent[0]} column, so its runs cannot be told "
                            "apart: move it aside to write it from the grid's runs alone; "
                            "nothing was written")
    replaced = set(_ids(new, keys))
    kept = old[[i not in replaced for i in _ids(old, keys)]]
    return new if kept.empty else pd.concat([new, kept], ignore_index=True)


def _ids(frame: pd.DataFrame, keys: list[str]) -> list[tuple]:
    """Each row's values in ``keys``, as text that a CSV round trip keeps (0 and 0.0,
    a float and its CSV text, compare equal)."""
    def text(value) -> str:
        try:
            return repr(float(value))
        except (TypeError, ValueError):
            return str(value)
    return [tuple(text(v) for v in row) for row in frame[keys].itertuples(index=False)]


__all__ = ["added_rows"]
