"""``regbench report DIR``: (re)write the comparison report of a results folder."""
from __future__ import annotations


def configure(parser) -> None:
    parser.add_argument(
        "results_dir", metavar="DIR",
        help="results folder written by `regbench run` (must contain results.csv) or by "
             "`regbench run --suite` (suite.json: the suite report); DIR/report.html, "
             "DIR/report.md and DIR/figures/ are (re)written")


def main(args) -> int:
    from pathlib import Path

    from regbench.report import write_report  # imported late: matplotlib is slow to load
    from regbench.report.suite import write_suite_report

    suite = (Path(args.results_dir) / "suite.json").is_file()
    html_path, md_path = (write_suite_report if suite else write_report)(args.results_dir)
    print(f"wrote {html_path}")
    print(f"wrote {md_path}")
    return 0
