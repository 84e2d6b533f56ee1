"""``regbench methods``: print the attribution-method registry as a table: the names
``[evaluation] methods`` takes ("all": every one), the report's label of each, and
one line on what it computes (docs/metrics.md, "Attribution methods", has the
formulas)."""
from __future__ import annotations


def configure(parser) -> None:
    parser.add_argument("--format", choices=["table", "tsv"], default="table",
                        help="output format (default: table)")


def method_rows() -> list[dict]:
    from regbench.attributions import describe_attribution_method, list_attribution_methods
    rows = []
    for name in list_attribution_methods():
        entry = describe_attribution_method(name)
        rows.append({"name": name, "label": entry.label,
                     "description": entry.description or "-"})
    return rows


def main(args) -> int:
    rows = method_rows()
    columns = list(rows[0])
    if args.format == "tsv":
        print("\t".join(columns))
        for row in rows:
            print("\t".join(str(row[c]) for c in columns))
        return 0
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())
    return 0
