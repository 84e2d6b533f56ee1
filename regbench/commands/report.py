"""``regbench report DIR``: (re)write the comparison report of a results folder."""
from __future__ import annotations


def configure(parser) -> None:
    parser.add_argument(
        "results_dir", metavar="DIR",
        help="results folder written by `regbench run` (must contain results.csv) or by "
             "`regbench run --suite` (suite.json: the suite report); DIR/report.html, "
             "DIR/report.md and DIR/figures/ are (re)written")
    parser.add_argument(
        "--storage", default=None, metavar="URL",
        help="the Optuna storage of a shared seed grid (regbench run --storage URL): "
             "first fetch the runs other workers trained (DIR/grid.json names the grid) "
             "and rewrite DIR's tables (default: $REGBENCH_STORAGE when DIR/grid.json "
             "exists)")
    parser.add_argument(
        "--offline", action="store_true",
        help="report DIR's tables as they are, without opening a storage even when "
             "$REGBENCH_STORAGE is set and DIR/grid.json exists (gathering adds the grid's "
             "runs to the tables and keeps every run they hold; it rewrites nothing unless "
             "every run of the grid is found)")
    parser.add_argument(
        "--readme", action="store_true",
        help="also write DIR/readme_tables.md and print it: the run's facts (settings, "
             "machine, wall time), λ per regularizer with the seeds that chose it, and the "
             "report's verdict table, in Markdown; docs/results.md's tables are pasted from it")
    parser.add_argument(
        "--into", default=None, metavar="FILE:NAME",
        help="with --readme: also put the tables into FILE between its lines "
             "'<!-- regbench report: NAME -->' and '<!-- end regbench report: NAME -->' "
             "(a docs page's generated block, e.g. docs/results.md:all-eleven)")
    parser.add_argument(
        "--artifacts", default=None, metavar="DIR_OR_S3",
        help="with --storage: the artifact store the workers used, if not the one "
             "DIR/grid.json names (e.g. mounted elsewhere here)")


def main(args) -> int:
    import contextlib
    from pathlib import Path

    from regbench.options.config import storage_from_environment
    from regbench.errors import RegbenchError
    from regbench.plugins import load_plugins
    from regbench.distributed.workers import GRID_FILE
    load_plugins()   # the metrics and methods of installed plug-ins (once per process)
    if args.offline and args.storage:
        raise RegbenchError("--offline does not go with --storage: one opens no storage, "
                            "the other gathers the grid's runs from it")
    storage = args.storage
    if storage is None and not args.offline and (Path(args.results_dir) / GRID_FILE).is_file():
        storage = storage_from_environment()
    if args.into and not args.readme:
        raise RegbenchError("--into goes with --readme: it puts the --readme tables into a "
                            "page")
    if args.readme and (Path(args.results_dir) / "suite.json").is_file():
        raise RegbenchError("--readme writes a single run's tables; this folder is a "
                            "suite: report one of its points/NAME folders with --readme")
    if args.artifacts and not storage:
        raise RegbenchError("--artifacts goes with --storage (the grid's Optuna storage)")
    with contextlib.ExitStack() as held:
        if Path(args.results_dir).is_dir():   # rewrites the tables and the report: alone
            from regbench.store.locks import lock_folder
            held.enter_context(lock_folder(args.results_dir))
        return _report(args, storage)


def _report(args, storage) -> int:
    from pathlib import Path

    from regbench.errors import RegbenchError
    from regbench.report import write_report  # imported late: matplotlib is slow to load
    from regbench.suites.report import write_suite_report
    if storage:
        from regbench.tune import parse_storage
        from regbench.distributed.workers import gather_folder
        given = "--storage" if args.storage else "$REGBENCH_STORAGE"
        shown = parse_storage(storage).render_as_string(hide_password=True)
        print(f"runs of the shared grid from the Optuna storage {shown} ({given})",
              flush=True)
        found, total = gather_folder(args.results_dir, storage, args.artifacts)
        print(f"gathered {found} of the grid's {total} runs")
        if found < total:
            raise RegbenchError(f"{total - found} runs of the grid are neither in "
                                f"{args.results_dir} nor in an artifact store: rerun "
                                "`regbench run` with the same options to train them; "
                                "no table was rewritten")
    suite = (Path(args.results_dir) / "suite.json").is_file()
    html_path, md_path = (write_suite_report if suite else write_report)(args.results_dir)
    print(f"wrote {html_path}")
    print(f"wrote {md_path}")
    if args.readme and not suite:
        from regbench.report.readme import readme_tables
        from regbench.store.runs import atomic_write
        text = readme_tables(args.results_dir)
        atomic_write(Path(args.results_dir) / "readme_tables.md", text)
        print(f"wrote {Path(args.results_dir) / 'readme_tables.md'}\n\n{text}")
        if args.into:
            from regbench.report.readme import write_into
            print(f"wrote {write_into(args.into, text)}")
    return 0
