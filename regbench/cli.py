"""The ``regbench`` command line: simulate, run, tune, report, regularizers.

Each subcommand lives in its own module exposing ``configure(parser)`` (adds its
options) and ``main(args) -> int``. A ``RegbenchError`` anywhere becomes one line on
stderr and exit code 2, with no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from regbench import __version__
from regbench.errors import RegbenchError

# name -> (module, one-line help)
SUBCOMMANDS = {
    "simulate": ("regbench.simulate.cli", "simulate sequences with embedded motifs"),
    "run": ("regbench.commands.run", "train and compare regularizers, write a report"),
    "tune": ("regbench.commands.tune", "tune λ per regularizer with Optuna"),
    "report": ("regbench.commands.report", "(re)write the report of a results folder"),
    "regularizers": ("regbench.commands.regularizers", "list the registered regularizers"),
    "methods": ("regbench.commands.methods", "list the registered attribution methods"),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """Options of the ``chosen`` subcommand only are loaded (its imports are heavy)."""
    parser = argparse.ArgumentParser(
        prog="regbench",
        description="Benchmark regularizers and attribution priors for genomics models.")
    parser.add_argument("--version", action="version", version=f"regbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.configure(sub)
            sub.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    args.argv = argv   # local workers run the same command
    try:
        return int(args._module.main(args) or 0)
    except RegbenchError as exc:
        print(f"regbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"regbench {args.command}: interrupted; finished results are kept, "
              "rerun the same command to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
