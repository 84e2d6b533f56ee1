"""Subcommands of the command line, one module each (``configure`` + ``main``)."""
from __future__ import annotations


def print_rows(rows: list[dict], fmt: str = "table") -> None:
    """Registry listings (``regbench regularizers``, ``regbench methods``): rows of
    equal keys as an aligned table, or as TSV with ``fmt="tsv"``."""
    columns = list(rows[0])
    if fmt == "tsv":
        print("\t".join(columns))
        for row in rows:
            print("\t".join(str(row[c]) for c in columns))
        return
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())
