"""``regbench tune``: search λ per regularizer with Optuna; many workers may share a study."""
from __future__ import annotations

import sys

from regbench.commands.run import add_data_arguments, add_tuning_arguments, resolve_config


def configure(parser) -> None:
    # The data, preset, config and tuning flags of `regbench run`; not the seed-run ones.
    add_data_arguments(parser)
    add_tuning_arguments(parser)


def main(args) -> int:
    config = resolve_config(args)
    tuning = config.tuning_config()
    import optuna  # heavy imports only once options are valid

    from regbench.runner.context import RunContext
    from regbench.runner.lambda_search import LambdaSearch
    from regbench.tune import write_lambda_search

    # A bar per study when shown; otherwise one log line per trial (worker logs).
    optuna.logging.set_verbosity(optuna.logging.WARNING if config.progress
                                 else optuna.logging.INFO)
    context = RunContext(config)
    search = LambdaSearch(context)
    from regbench.runtime.threads import apply_threads
    warning = apply_threads(config.threads)   # several workers per machine share its cores
    if warning:
        print(warning, file=sys.stderr, flush=True)
    results = {}
    for name in context.regularizers:
        study = f"{tuning.study_name}-{name}" if tuning.study_name else None
        if config.progress:
            print(f"tuning λ of {name}", file=sys.stderr)
        results[name] = search.search_lambda(
            name, n_trials=tuning.trials, timeout=tuning.timeout,
            storage=tuning.storage, study_name=study, objective=tuning.objective,
            progress=config.progress, trial_epochs=tuning.trial_epochs,
            heartbeat=tuning.heartbeat, grace=tuning.grace_period)
        write_lambda_search(context.out, results)   # after each: a stopped worker keeps it
    print_summary(results, tuning.trials, context, tuning.trial_epochs)
    return 0 if all(r.best_lambda is not None for r in results.values()) else 1


def print_summary(results: dict, n_trials: int, context, trial_epochs) -> None:
    """The chosen λ per regularizer, the trials spent, and the next command."""
    epochs = trial_epochs or context.config.train_config(0).max_epochs
    header = f"{'regularizer':<14}{'λ':>12}{'val loss':>10}  {'trials c/p/f':<13}study"
    lines = [header, "-" * len(header)]
    for name, r in results.items():
        if r.study_name is None:
            lines.append(f"{name:<14}{'0':>12}{'':>10}  {'no search':<13}-")
            continue
        lam = "none" if r.best_lambda is None else f"{r.best_lambda:.4g}"
        value = "" if r.best_lambda is None else f"{r.best_value:.4f}"
        counts = f"{r.n_complete}/{r.n_pruned}/{r.n_failed}"
        lines.append(f"{name:<14}{lam:>12}{value:>10}  {counts:<13}{r.study_name}")
    searched = [r for r in results.values() if r.study_name is not None]
    if searched:
        trained = sum(int(r.trials["epochs"].fillna(0).sum()) for r in searched)
        seconds = sum(r.seconds for r in searched)
        lines += ["", f"budget: {n_trials} finished trials per study (c/p/f = complete/"
                      f"pruned/failed, all workers), up to {epochs} epochs each; "
                      f"{trained} epochs trained in all; this worker {seconds:.0f} s",
                  f"storage: {searched[0].storage}",
                  f"λ search: {context.out / 'lambda_search.csv'}"]
    print("\n".join(lines))
    missing = [r.regularizer for r in searched if r.best_lambda is None]
    if missing:
        print(f"regbench tune: no trial completed for {', '.join(missing)}; rerun with more "
              "--trials or --trial-epochs (failed trials: see lambda_search.csv)",
              file=sys.stderr)
    chosen = [f"--lambda {r.regularizer}={r.best_lambda:.6g}" for r in results.values()
              if r.best_lambda is not None and r.study_name is not None]
    if chosen:
        print(f"next: regbench run {' '.join(chosen)} (with the data/preset flags used here)")


__all__ = ["configure", "main"]
