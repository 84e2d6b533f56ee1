"""The ``regbench`` command line: simulate, run, tune, report, regularizers, data.

Each subcommand lives in its own module exposing ``configure(parser)`` (adds its
options) and ``main(args) -> int``. A ``RegbenchError`` anywhere becomes one line on
stderr and exit code 2, with no traceback. SIGTERM (``scancel``, a Slurm time limit,
``docker stop``, a parent stopping its local workers) ends a command as Ctrl-C does:
a grid run claimed goes back to the queue at once, temporary files are removed; exit
code 143. Installed plug-ins (``regbench.plugins``) are loaded before any command.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading

from regbench import __version__
from regbench.errors import RegbenchError, disk_full
from regbench.plugins import load_plugins

# name -> (module, one-line help)
SUBCOMMANDS = {
    "simulate": ("regbench.simulate.cli", "simulate sequences with embedded motifs"),
    "run": ("regbench.commands.run", "train and compare regularizers, write a report"),
    "tune": ("regbench.commands.tune", "tune λ per regularizer with Optuna"),
    "report": ("regbench.commands.report", "(re)write the report of a results folder"),
    "regularizers": ("regbench.commands.regularizers", "list the registered regularizers"),
    "methods": ("regbench.commands.methods", "list the registered attribution methods"),
    "data": ("regbench.commands.data", "fetch ENCODE data; make 5′ count bigWigs from a BAM"),
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
        with interrupt_on_sigterm():
            load_plugins()   # every process, local workers too, sees the installed plug-ins
            return int(args._module.main(args) or 0)
    except RegbenchError as exc:
        print(f"regbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:      # a full disk, quota or study database: one line
        full = disk_full(exc)
        if full is None:
            raise
        print(f"regbench {args.command}: error: {full}; free some space (or raise the "
              "quota) and rerun the same command: finished results are kept, and no file "
              "was left half-written", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        how = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"regbench {args.command}: {how}; finished results are kept, "
              "rerun the same command to continue", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process was, as Ctrl-C raises KeyboardInterrupt."""


@contextlib.contextmanager
def interrupt_on_sigterm():
    """While the body runs, SIGTERM raises ``Terminated``: every ``except
    KeyboardInterrupt`` / ``finally`` runs (a grid claim is handed back, a λ trial
    ended). Further SIGTERMs during that clean-up are ignored (Slurm and docker follow
    with SIGKILL). Not in a thread other than the main one, where Python takes no
    signal handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
