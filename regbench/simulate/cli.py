"""``regbench simulate``: write a simulated dataset folder from a scenario."""
from __future__ import annotations

import argparse
import sys

from regbench.simulate.core import simulate
from regbench.simulate.scenario import list_scenarios, parse_overrides


def configure(parser: argparse.ArgumentParser) -> None:
    shipped = ", ".join(list_scenarios()) or "see regbench/simulations/"
    parser.add_argument("--scenario", required=True, metavar="NAME_OR_FILE",
                        help=f"scenario name ({shipped}) or path to a .toml file")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created; must be empty unless --force)")
    parser.add_argument("--seed", type=int, default=None, metavar="N",
                        help="random seed, replacing the scenario's (default: its seed)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest="overrides",
                        help="override a scenario value, TOML syntax, repeatable: "
                             "--set positives=500 --set gc.positives=0.55 "
                             "--set 'tasks.0.motifs=[\"SP1\"]'")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR if it exists and is not empty")
    parser.add_argument("--no-progress", action="store_true",
                        help="do not show a progress bar (hidden anyway when stderr is "
                             "not a terminal)")


def main(args: argparse.Namespace) -> int:
    out = simulate(args.scenario, args.out, seed=args.seed,
                   overrides=parse_overrides(args.overrides), force=args.force,
                   progress=not args.no_progress and sys.stderr.isatty())
    print(f"wrote {out}")
    return 0
