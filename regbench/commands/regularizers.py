"""``regbench regularizers``: print the registry as a table."""
from __future__ import annotations

from regbench.regularizers import get_spec, list_regularizers


def configure(parser) -> None:
    parser.add_argument("--format", choices=["table", "tsv"], default="table",
                        help="output format (default: table)")


def regularizer_rows() -> list[dict]:
    rows = []
    for name in list_regularizers():
        spec = get_spec(name)
        lam_range = (f"{spec.lambda_range[0]:g} .. {spec.lambda_range[1]:g}"
                     if spec.lambda_range else "-")
        params = ", ".join(f"{k}={v!r}" for k, v in spec.params.items()) or "-"
        rows.append({"name": name, "needs": spec.needs, "parameters": params,
                     "default λ": f"{spec.default_lambda:g}", "λ search range": lam_range,
                     "description": spec.description})
    return rows


def main(args) -> int:
    from regbench.commands import print_rows
    print_rows(regularizer_rows(), args.format)
    return 0
