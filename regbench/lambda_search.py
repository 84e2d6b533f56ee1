"""The λ search of a run: choose λ per regularizer by the run's protocol
(``config.LAMBDA_PROTOCOLS``: fixed, paper, loss, constrained).

``LambdaSearch(context)`` sets ``context.lambdas`` and ``context.lambda_sources`` and
notes what each λ rests on in ``context.lambda_reference``. Its Optuna searches are
handed ``tune.Trials`` built from a context of their own (``RunContext.for_trials``:
OUT/tuning, at most [tuning] trial_epochs, this run's data) and a RunExecutor on it;
trials are scored on validation data only.
"""
from __future__ import annotations

from regbench.config import NOISE_SEEDS
from regbench.context import RunContext
from regbench.errors import RegbenchError
from regbench.evaluate import explain_rows
from regbench.executor import RunExecutor
from regbench.lambda_rules import LambdaRules
from regbench.metrics import motif_auprc
from regbench.regularizers import get_spec
from regbench.train import load_checkpoint


class LambdaSearch:
    """Chooses the λ of a RunContext's regularizers."""

    def __init__(self, context: RunContext):
        self.context = context
        self.rules = LambdaRules(context)

    def tune_lambdas(self) -> dict:
        """Choose λ by the run's protocol (``lambda_protocol``, LAMBDA_PROTOCOLS) for
        every regularizer whose λ the user did not fix; returns the TuneResults of the
        searches (constrained, loss), {} for the others. What each λ rests on goes to
        ``lambda_reference`` (config.json) and is printed."""
        ctx = self.context
        searched = ctx.searched_regularizers()
        if ctx.lambda_protocol == "fixed" or not searched:
            return {}
        if ctx.lambda_protocol == "constrained" and ctx.validation_truth() is None:
            print("λ protocol: this data has neither motifs nor peak intervals to score "
                  "attributions against, so the constrained search cannot run: λ is "
                  "searched by validation loss instead (protocol loss)", flush=True)
            ctx.lambda_protocol = "loss"
            ctx.lambda_reference["fallback"] = "constrained -> loss: no ground truth"
        if ctx.lambda_protocol == "paper":
            for name in searched:
                lam, source, why = self.rules.paper_lambda(name)
                ctx.lambdas[name], ctx.lambda_sources[name] = lam, source
                ctx.lambda_reference.setdefault("rules", {})[name] = why
                print(f"λ {name}: {lam:.4g} ({source}: {why})", flush=True)
            return {}
        return self._search_lambdas(searched)

    def _search_lambdas(self, searched: list[str]) -> dict:
        """The constrained or loss protocol's Optuna search of each regularizer in
        ``searched``, the registry's λ (and, constrained, the scale rule's) tried first."""
        import optuna

        from regbench.tune import search_notes, write_lambda_search
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per study
        ctx = self.context
        tuning = ctx.config.tuning_config()
        reference = self.rules.none_reference(NOISE_SEEDS)
        constrained = ctx.lambda_protocol == "constrained"
        objective = "constrained" if constrained else tuning.objective
        limit = reference["loss"] + reference["noise"] if constrained else None
        if constrained:
            metric = ctx.validation_truth()[0]
            ctx.lambda_reference.update(loss_limit=limit, interpretability=(
                f"DeepLIFT/SHAP {metric} of the validation positives"))
            print(f"λ protocol constrained: the most interpretable λ (DeepLIFT/SHAP {metric} "
                  f"of the validation positives) whose validation loss is at most none's "
                  f"(seed 0) {reference['loss']:.4f} + its seed noise "
                  f"{reference['noise']:.4f} = {limit:.4f}", flush=True)
        results = {}
        for i, name in enumerate(searched, 1):
            enqueue = [get_spec(name).default_lambda]
            if constrained:
                scale, why = self.rules.scale_rule(name)
                ctx.lambda_reference.setdefault("rules", {})[name] = (
                    f"tried first: the registry's λ {enqueue[0]:g}, the scale rule's: {why}")
                enqueue += [scale] if scale is not None else []
            study = f"{tuning.study_name}-{name}" if tuning.study_name else None
            result = self.search_lambda(
                name, n_trials=tuning.trials, timeout=tuning.timeout,
                storage=tuning.storage, study_name=study, objective=objective,
                progress=ctx.config.progress, trial_epochs=tuning.trial_epochs,
                heartbeat=tuning.heartbeat, grace=tuning.grace_period,
                label=f"λ search {i}/{len(searched)}", enqueue=tuple(enqueue),
                loss_limit=limit)
            results[name] = result
            if constrained:   # the study's limit (another worker's, should they differ)
                ctx.lambda_reference.setdefault("loss_limits", {})[name] = result.loss_limit
            write_lambda_search(ctx.out, results)
            self._use_search(name, result, objective)
            for note in search_notes(result.trials, get_spec(name).lambda_range,
                                     result.best_lambda, reference["noise"],
                                     flat=not constrained):
                ctx.lambda_reference.setdefault("notes", {}).setdefault(name, []).append(note)
                print(f"λ search {name}: note: {note}", flush=True)
        return results

    def _use_search(self, name: str, result, objective: str) -> None:
        """Take a search's λ; a constrained search with no feasible trial falls back to
        the registry's λ (and says so)."""
        ctx = self.context
        counts = (f"{result.n_complete} complete, {result.n_pruned} pruned, "
                  f"{result.n_failed} failed trials, {result.seconds:.0f} s")
        if result.best_lambda is None and objective == "constrained" and result.n_complete:
            ctx.lambdas[name] = get_spec(name).default_lambda
            ctx.lambda_sources[name] = "registry (no feasible trial)"
            print(f"λ search {name}: no trial's validation loss was within none's seed "
                  f"noise, so the registry's λ={ctx.lambdas[name]:.4g} is used; {counts}",
                  flush=True)
            return
        if result.best_lambda is None:
            raise RegbenchError(f"no λ trial of {name} completed; raise --trials or "
                                "--trial-epochs, or fix λ with --lambda")
        ctx.lambdas[name] = result.best_lambda
        ctx.lambda_sources[name] = ("tuned (constrained)" if objective == "constrained"
                                    else f"tuned ({ctx.lambda_protocol}"
                                    + (", pareto)" if objective == "pareto" else ")"))
        score = (f", interpretability {result.best_score:.4f}"
                 if objective == "constrained" else "")
        print(f"λ search {name}: λ={result.best_lambda:.4g} (validation loss "
              f"{result.best_value:.4f}{score}); {counts}", flush=True)

    def search_lambda(self, regularizer: str, *, n_trials: int, trial_epochs=None,
                      **options):
        """``tune.tune_lambda`` for one regularizer on this run's data, with trials
        trained into OUT/tuning; ``options`` as tune_lambda's (timeout, storage,
        study_name, objective, seed, progress, label, enqueue, loss_limit). Returns
        its TuneResult."""
        from regbench.tune import check_search, tune_lambda
        check_search(regularizer, n_trials, options.get("objective", "loss"))
        ctx = self.context
        if ctx.dataset is None:
            ctx.check_data()
            ctx.out.mkdir(parents=True, exist_ok=True)
            ctx.prepare_data()
        return tune_lambda(self.lambda_trials(regularizer, trial_epochs), regularizer,
                           n_trials=n_trials, **options)

    def lambda_trials(self, regularizer: str, trial_epochs: int | None):
        """The λ search's ``tune.Trials``: seed 0 of ``regularizer`` trained at a trial's
        λ for at most ``trial_epochs`` epochs into OUT/tuning (runs/, checkpoints/),
        apart from the comparison's runs, scored on validation data only."""
        from regbench.tune import Trials
        ctx = self.context
        trials = ctx.for_trials(regularizer, trial_epochs)
        executor = RunExecutor(trials)
        truth = ctx.validation_truth()
        return Trials(
            train=lambda lam, on_epoch: executor.train_one(
                regularizer, 0, lam=lam, epoch_callback=on_epoch, evaluate=False),
            run_id=lambda lam: trials.key(regularizer, 0, lam).id(),
            score=((lambda record: validation_motif_auprc(trials, record))
                   if ctx.dataset.motif_mask is not None else None),
            study_key=f"{ctx.dataset.fingerprint}-{trials.config.hash()}", out=ctx.out,
            interpretability=((lambda record: validation_motif_auprc(trials, record,
                                                                     truth[1]))
                              if truth is not None else None))


def validation_motif_auprc(context: RunContext, record: dict,
                           truth: str = "motif_mask") -> float:
    """Motif auPRC (pooled, as ``metrics.motif_auprc``) of DeepLIFT/SHAP attributions
    of a stored run's model on positive validation sequences; the test set stays out
    of the λ search. truth: the Dataset's mask scored (motif_mask, peak_mask; the
    constrained search's is ``RunContext.validation_truth``)."""
    valid = context.split("valid")
    ev = context.config.evaluation_config()
    task = context.task()
    rows, target = task.attributed_rows(valid.labels, ev.max_sequences)
    mask = getattr(valid, truth)
    if mask is None or not len(rows):
        return float("nan")
    from regbench.store import folder_file   # a record of another worker: not trusted
    checkpoint = folder_file(context.out, record["row"]["checkpoint"], "checkpoints")
    model, _ = load_checkpoint(checkpoint, device=context.device)
    attr = explain_rows(model, valid, rows, target, task, ev, device=context.device,
                        methods=["deep_lift_shap"])["deep_lift_shap"]
    return motif_auprc(attr.numpy(), mask[rows])


__all__ = ["LambdaSearch", "validation_motif_auprc"]
