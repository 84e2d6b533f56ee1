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
    from regbench.commands import print_rows
    print_rows(method_rows(), args.format)
    return 0
