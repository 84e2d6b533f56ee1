"""``regbench run``: train every regularizer over seeds, score them, write a report."""
from __future__ import annotations

import argparse
import sys

from regbench.options.config import LAMBDA_PROTOCOLS, PRESETS, preset_config
from regbench.options.merge import merge, parse_lambda_assignments, read_toml
from regbench.errors import RegbenchError


def configure(parser) -> None:
    parser.add_argument("--suite", default=None, metavar="NAME_OR_FILE",
                        help="run a suite of experiments (compare, stability, gc-sweep, "
                             "data-scarcity, multi-motif, paper; or your own suite TOML) "
                             "and write one report with a verdict; the other options "
                             "(--preset, --regularizers, --seeds, --set, --config, ...) "
                             "apply to every point, --scenario/--data/--genome only to "
                             "experiments that name no scenario")
    add_data_arguments(parser)
    parser.add_argument("--data-recipe", default=None, metavar="NAME",
                        help="fetch a `regbench data fetch --recipe` dataset (e.g. "
                             "paper-spi1: four experiments, one binary task each) into "
                             "data/NAME, unless there, then run on it as --data data/NAME")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="number of seeds per regularizer (default from the preset)")
    parser.add_argument("--lambda", dest="lambdas", action="append", default=None,
                        metavar="NAME=VALUE",
                        help="fix a regularizer's λ, e.g. --lambda fourier=1.0 (repeatable); "
                             "the others are tuned when tuning is on (quick and paper "
                             "presets, or --tune), else use their registry default")
    parser.add_argument("--stability-fraction", type=float, default=None, metavar="F",
                        help="also train every regularizer and seed on this share of the "
                             "training rows (e.g. 0.01, the paper's 1%%) and report how alike "
                             "its attributions are to the full-data model's (default: off)")
    parser.add_argument("--fractions", default=None, metavar="LIST",
                        help="also train every regularizer and seed on these shares of the "
                             "training rows, a comma list such as 0.1,0.01 (nested: each "
                             "smaller set inside the larger); the report compares their "
                             "attributions and auROC with the full-data models' (default: none)")
    add_tuning_arguments(parser, with_switch=True)


def _workers(text: str):
    """--workers: 'auto' or a whole number (checked >= 1 with the configuration)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a whole number, got {text!r}")


def _shares(text):
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise RegbenchError(f"--fractions {text!r} is not valid: expected a comma list of "
                            "shares such as 0.1,0.01") from None


def add_data_arguments(parser) -> None:
    """What to compare, on which data, where: shared by `regbench run` and `regbench tune`."""
    parser.add_argument("--regularizers", default=None, metavar="LIST",
                        help="'all' (default) or a comma list such as fourier,none; "
                             "see `regbench regularizers`")
    parser.add_argument("--preset", default=None, metavar="NAME",
                        help=f"sizes of data, model and training: {', '.join(PRESETS)} "
                             "(default quick: a real comparison on a 2-core CPU, ~1 h 45 "
                             "min for all eleven regularizers, 13 min for fourier,none; "
                             "smoke: seconds, checks the install; paper: the paper's sizes, "
                             "for a GPU)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--scenario", default=None, metavar="NAME_OR_FILE",
                        help="simulation scenario to generate the data from "
                             "(default spi1_binary)")
    source.add_argument("--data", default=None, metavar="DIR",
                        help="an existing data folder (sequences.fa, labels.tsv, "
                             "motifs.bed...) instead of a simulation; it is only read")
    source.add_argument("--genome", default=None, metavar="FASTA",
                        help="a genome FASTA: windows around --peaks summits plus as many "
                             "GC-matched background windows, split by chromosome (test "
                             "chr1, chr3, chr6; valid chr8, chr20); [data_source] in a "
                             "config file sets the window length and folds")
    parser.add_argument("--peaks", default=None, metavar="FILE",
                        help="peaks for --genome: narrowPeak (summit column used) or BED "
                             "(window centred on each peak)")
    parser.add_argument("--bigwig-plus", default=None, metavar="BW",
                        help="--genome: plus-strand read counts (bigWig), for --model profile")
    parser.add_argument("--bigwig-minus", default=None, metavar="BW",
                        help="--genome: minus-strand read counts (bigWig), for --model profile")
    parser.add_argument("--blacklist", default=None, metavar="BED",
                        help="--genome: regions no window may touch (e.g. the ENCODE "
                             "exclusion list); windows dropped are counted in the log")
    parser.add_argument("--controls", default=None, nargs=2, metavar=("PLUS.bw", "MINUS.bw"),
                        help="--genome, --model profile: a control experiment's per-strand "
                             "read counts (input, IgG), fed to the profile model as its "
                             "authors' model takes them (never attributed)")
    parser.add_argument("--jitter", default=None, type=int, metavar="BP",
                        help="--genome: train on windows shifted at random by up to ±BP "
                             "(extracted with BP more bases each side; BPNet used 128); "
                             "validation and test stay centred (default 0)")
    parser.add_argument("--model", dest="task", default=None, metavar="TASK",
                        help="binary: peak vs background (the paper's CNN, default); "
                             "profile: per-strand read counts (BPNet-style model; needs "
                             "bigWigs or a profile simulation such as spi1_profile); or a "
                             "task a plug-in registers (regbench.tasks)")
    parser.add_argument("--set", dest="overrides", action="append", default=None,
                        metavar="KEY=VALUE",
                        help="override a scenario value (TOML syntax, repeatable), e.g. "
                             "--set positives=500 --set gc.positives=0.5")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="results folder (default results/PRESET); rerunning with the "
                             "same folder resumes and never retrains a finished run")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads of this process (default: one per core); "
                             "with several regbench processes on one machine give each its "
                             "share, e.g. --threads 1 for two workers on 2 cores")
    parser.add_argument("--models-per-group", type=int, default=None, metavar="N",
                        help="seeds of a regularizer trained together as one grouped model "
                             "(binary CNN; priors on attributions or weights): each member "
                             "trains as alone up to float32 rounding, which over a whole "
                             "training changes results as another thread count does; "
                             "default 1; on a GPU 8 trains 2-3.5x more models per second "
                             "(python -m benchmarks --only group)")
    parser.add_argument("--workers", type=_workers, default=None, metavar="N|auto",
                        help="processes on this machine that work the seed grid (and the "
                             "λ studies) together through the Optuna storage, each with "
                             "cores ÷ N threads unless --threads is given (default auto: "
                             "one process below 4 cores, else one per 2 cores)")
    parser.add_argument("--artifacts", default=None, metavar="DIR_OR_S3",
                        help="with --storage on machines that share no folder: where each "
                             "worker puts its runs' files for the others, a folder or "
                             "s3://BUCKET (S3-compatible stores via AWS_ENDPOINT_URL)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="auto (default: CUDA when present, else CPU), cpu, cuda, cuda:N")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="TOML file with the same keys as these flags plus [model], "
                             "[train], [evaluation], [simulate] tables; flags win")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide progress bars (hidden anyway when stderr is not a "
                             "terminal, e.g. redirected to a log)")


def add_tuning_arguments(parser, with_switch: bool = False) -> None:
    """λ search options, shared by `regbench run` (with --tune/--no-tune) and
    `regbench tune`."""
    tuning = parser.add_argument_group("λ tuning (Optuna)")
    if with_switch:
        tuning.add_argument("--tune", action=argparse.BooleanOptionalAction, default=None,
                            help="search λ per regularizer before the seed runs (default: "
                                 "on for the quick and paper presets, off for smoke); a λ "
                                 "fixed with --lambda is not searched")
        tuning.add_argument("--lambda-protocol", choices=tuple(LAMBDA_PROTOCOLS),
                            default=None,
                            help="how λ is chosen ([tuning] protocol). constrained "
                                 "(default): Optuna maximises the DeepLIFT/SHAP motif auPRC "
                                 "of validation positives (peak auPRC on genomes) among λ "
                                 "whose validation loss is within none's seed noise; the "
                                 "registry λ and the scale rule's λ are tried first. paper: "
                                 "Fourier λ = 1 (binary), ½ × none's validation loss "
                                 "(profile), other penalties λ × penalty = none's loss, "
                                 "measured on a trained none model (the paper preset's). "
                                 "loss: Optuna minimises the validation loss (the paper's "
                                 "S25B search). fixed: the registry λ or --lambda (what "
                                 "--no-tune means)")
    tuning.add_argument("--trials", type=int, default=None, metavar="N",
                        help="finished trials wanted per regularizer, counted over every "
                             "worker of the study (default by preset: "
                             + ", ".join(f"{k} {v['tuning'].get('trials')}"
                                         for k, v in PRESETS.items())
                             + "); rerunning tops a study up to N")
    tuning.add_argument("--trial-epochs", type=int, default=None, metavar="N",
                        help="max epochs of a trial (default by preset; smaller is cheaper, "
                             "the median pruner stops poor trials early)")
    tuning.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="per regularizer, start no new trial after this many seconds")
    tuning.add_argument("--storage", default=None, metavar="URL",
                        help="Optuna storage, any SQLAlchemy URL, e.g. "
                             "postgresql://user:pw@host/db: every worker given it shares the "
                             "λ studies and, with regbench run, the seed grid, each run "
                             "trained once (default: $REGBENCH_STORAGE, which keeps a "
                             "password off the command line, else sqlite:///OUT/optuna.db)")
    tuning.add_argument("--study-name", default=None, metavar="NAME",
                        help="study name prefix; the study of a regularizer is "
                             "NAME-REGULARIZER (default: REGULARIZER-DATASET-CONFIG_HASH, "
                             "the same on every machine with the same data and flags)")
    tuning.add_argument("--objective", choices=("loss", "pareto"), default=None,
                        help="loss (default): minimize the validation correctness loss; "
                             "pareto: also maximize the motif auPRC of attributions on "
                             "validation positives, and keep the Pareto front")


def resolve_config(args):
    """Preset defaults < config file < command-line flags, checked (``check_run``).
    Checked here: only what the flags' syntax says (--fractions, --genome's flags)."""
    file_values = read_toml(args.config) if args.config else {}
    preset = args.preset or file_values.get("preset") or "quick"
    task = getattr(args, "task", None) or file_values.get("task") or "binary"
    config = preset_config(preset, task if isinstance(task, str) else "binary")
    if file_values:
        config = merge(config, file_values, f"config file {args.config}")
    lambdas = getattr(args, "lambdas", None)
    flags = {"regularizers": args.regularizers, "scenario": args.scenario, "data": args.data,
             "seeds": getattr(args, "seeds", None), "out": args.out, "device": args.device,
             "stability_fraction": getattr(args, "stability_fraction", None),
             "fractions": _shares(getattr(args, "fractions", None)),
             "threads": getattr(args, "threads", None),
             "workers": getattr(args, "workers", None),
             "models_per_group": getattr(args, "models_per_group", None),
             "artifacts": getattr(args, "artifacts", None),
             "lambda": parse_lambda_assignments(lambdas) if lambdas else None,
             # bars only on a terminal: in a log file they are lines of \r-joined updates
             "progress": False if args.no_progress or not sys.stderr.isatty() else None,
             "simulate": _overrides(args.overrides),
             "tune": getattr(args, "tune", None),
             "tuning": {k: v for k, v in (("trials", args.trials),
                                          ("trial_epochs", args.trial_epochs),
                                          ("timeout", args.timeout),
                                          ("storage", args.storage),
                                          ("study_name", args.study_name),
                                          ("objective", args.objective),
                                          ("protocol", getattr(args, "lambda_protocol",
                                                               None)))
                        if v is not None}}
    if (args.genome is None) != (args.peaks is None):
        raise RegbenchError("--genome and --peaks go together: give both, e.g. --genome "
                            "hg38.fa --peaks peaks.narrowPeak")
    genome_only = {"bigwig_plus": args.bigwig_plus, "bigwig_minus": args.bigwig_minus,
                   "blacklist": args.blacklist, "jitter": args.jitter,
                   "control_plus": args.controls[0] if args.controls else None,
                   "control_minus": args.controls[1] if args.controls else None}
    given = [k for k, v in genome_only.items() if v is not None]
    if given and not args.genome:
        flag = "controls" if given[0].startswith("control") else given[0].replace("_", "-")
        raise RegbenchError(f"--{flag} goes with --genome and --peaks")
    if args.genome:
        flags["data_source"] = {"kind": "genome", "fasta": args.genome, "peaks": args.peaks,
                                **{k: v for k, v in genome_only.items() if v is not None}}
    flags["task"] = args.task
    config = merge(config, flags, "command-line flags")
    if config.data or config.data_source:
        config.scenario = None
    from regbench.runner.checks import check_run
    check_run(config)  # early: nothing is read or written on bad options (as RunContext)
    return config


def _overrides(items):
    if not items:
        return None
    from regbench.simulate import parse_overrides
    return parse_overrides(items)


def main(args) -> int:
    if getattr(args, "data_recipe", None):
        _fetch_recipe(args)
    if getattr(args, "suite", None):
        return _run_suite(args)
    config = resolve_config(args)
    from regbench.api import run  # heavy imports only once options are valid
    if args.worker:   # started by another regbench, which plans and reports
        # stopped by its parent (SIGTERM): ends as on Ctrl-C (regbench.cli)
        run(config, report=False, plan=False)
        return 0
    # the notebook's regbench.run: process set-up and local workers (runtime.process)
    # once the data are ready
    run(config, argv=getattr(args, "argv", None))  # prints where results are
    return 0


def _fetch_recipe(args) -> None:
    """--data-recipe NAME: data/NAME fetched (once: workers find it there), then --data."""
    from pathlib import Path
    given = [f for f in ("scenario", "data", "genome") if getattr(args, f, None)]
    if given:
        raise RegbenchError(f"--data-recipe does not go with --{given[0]}: the recipe's "
                            "data are the run's data")
    from regbench.data.fetched import is_fetched, read_dataset_toml
    from regbench.data.recipes import load_recipe
    name = load_recipe(args.data_recipe)["name"]
    folder = Path("data") / name
    if not (is_fetched(folder) and read_dataset_toml(folder).get("recipe") == name):
        from regbench.commands.data import fetch_from_args
        fetch_from_args(argparse.Namespace(
            accessions=[], recipe=args.data_recipe, out=str(folder), chroms=None,
            bigwigs=False, base_url=None, cache=None, no_progress=args.no_progress))
    args.data = str(folder)


def _run_suite(args) -> int:
    from regbench.suites.suite import load_suite, run_suite, suite_points
    suite = load_suite(args.suite)
    file_preset = read_toml(args.config).get("preset") if args.config else None
    if args.preset is None and file_preset is None and suite.preset:
        args.preset = suite.preset
    if args.regularizers is None and suite.regularizers is not None:
        args.regularizers = (suite.regularizers if isinstance(suite.regularizers, str)
                             else ",".join(suite.regularizers))
    out_given = args.out is not None
    config = resolve_config(args)
    from regbench.runner.checks import check_suite
    check_suite(suite, config, scenario_given=args.scenario is not None)
    if not out_given:
        config.out = f"results/suite-{suite.name}"
    suite_points(suite, config)   # every point's configuration checked before anything runs
    from regbench.runtime.process import process_hook
    run_suite(suite, config, ready=process_hook())
    return 0


__all__ = ["configure", "main", "resolve_config"]
