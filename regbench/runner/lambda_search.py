"""The λ search of a run: choose λ per regularizer by the run's protocol
(``config.LAMBDA_PROTOCOLS``: fixed, paper, loss, constrained).

``LambdaSearch(context).tune_lambdas()`` returns a frozen ``LambdaChoice``: the λ, where
each came from and what it rests on (config.json's lambda_reference); the caller hands
it to the context (``RunContext.use_lambdas``). Its Optuna searches are
handed ``tune.Trials`` built from a context of their own (``RunContext.for_trials``:
OUT/tuning, this run's data) and a RunExecutor on it; trials are scored on validation
data only. The constrained protocol (``LambdaSearch.select_lambdas``) trains each
candidate λ of a fixed grid exactly as the verdict's models, on selection seeds
(``selection_seeds``) the verdict never uses, and chooses by the declared primary
endpoint under a performance margin against none (``tune.selection``); the loss
protocol's trials train seed 0 for at most [tuning] trial_epochs.
"""
from __future__ import annotations

import dataclasses
import time

from regbench.options.config import NOISE_SEEDS, SELECTION_SEED_BASE
from regbench.runner.context import RunContext
from regbench.endpoints import Endpoint, for_data, power_line
from regbench.errors import RegbenchError
from regbench.runner.executor import RunExecutor
from regbench.runner.lambda_choice import LambdaChoice
from regbench.runner.lambda_rules import LambdaRules
from regbench.regularizers import get_spec
from regbench.runner.values import RunFacts, Scoring
from regbench.training.train import load_checkpoint
from regbench.training.stopping import selection_warning


class LambdaSearch:
    """Chooses the λ of a RunContext's regularizers."""

    def __init__(self, context: RunContext):
        self.context = context
        self.rules = LambdaRules(context)
        # kept across calls (``tune_lambdas(only=...)``: one regularizer at a time): the
        # searches so far (lambda_search.csv holds them all), their notes, and none's
        # selection scores (trained and scored once)
        self._results: dict = {}
        self._reference: dict = {}
        self._none: dict | None = None
        self._total = 0   # regularizers whose λ is searched, for the labels

    def tune_lambdas(self, plan=None, only=None) -> LambdaChoice:
        """Choose λ by the run's protocol (``LAMBDA_PROTOCOLS``) for every regularizer
        whose λ the user did not fix (``only``: those of them named), starting from the
        context's choice; returns the new LambdaChoice: its λ, what each rests on
        (``reference``, config.json) and the TuneResults of the searches (constrained,
        loss; none for the others), those of earlier calls included. ``plan``: the run's
        ``plan.Estimate``, whose expected time the constrained selection prints once
        none's models have trained."""
        facts = self.context.facts()
        self._total = len(facts.searched)   # the labels count across calls
        searched = [n for n in facts.searched if only is None or n in only]
        facts = dataclasses.replace(facts, searched=tuple(searched))
        choice, reference = facts.choice, self._reference
        if choice.protocol == "fixed" or not searched:
            return choice
        if choice.protocol == "constrained" and declared_endpoint(self.context) is None:
            print("λ protocol: this data has neither motifs nor peak intervals to score "
                  "attributions against, so the constrained search cannot run: λ is "
                  "searched by validation loss instead (protocol loss)", flush=True)
            choice = dataclasses.replace(choice, protocol="loss")
            reference["fallback"] = "constrained -> loss: no ground truth"
        results = self._results
        if choice.protocol == "paper":
            choice = self.rules.paper_choice(searched, choice, reference, plan)
        elif choice.protocol == "constrained":
            choice, results = self.select_lambdas(facts, choice, reference, plan)
        else:
            choice, results = self._search_lambdas(facts, choice, reference)
        return dataclasses.replace(choice, reference={**self.rules.reference, **reference},
                                   results=dict(results))

    def _search_lambdas(self, facts: RunFacts, choice: LambdaChoice,
                        reference: dict) -> tuple[LambdaChoice, dict]:
        """The loss protocol's Optuna search of each regularizer whose λ is searched
        (``facts.searched``), the registry's λ tried first: (``choice`` with their λ,
        the TuneResults). Notes go into ``reference``."""
        import optuna

        from regbench.tune import search_notes, write_lambda_search
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per study
        tuning, searched = facts.tuning, facts.searched
        noise = self.rules.none_reference(NOISE_SEEDS)["noise"]
        results = self._results
        for name in searched:
            study = f"{tuning.study_name}-{name}" if tuning.study_name else None
            result = self.search_lambda(
                name, n_trials=tuning.trials, timeout=tuning.timeout,
                storage=tuning.storage, study_name=study, objective=tuning.objective,
                progress=facts.progress, trial_epochs=tuning.trial_epochs,
                heartbeat=tuning.heartbeat, grace=tuning.grace_period,
                label=f"λ search {len(results) + 1}/{self._total}",
                enqueue=(get_spec(name).default_lambda,))
            results[name] = result
            write_lambda_search(facts.out, results)
            choice = self._use_search(choice, name, result, tuning.objective)
            for note in search_notes(result.trials, get_spec(name).lambda_range,
                                     result.best_lambda, noise):
                reference.setdefault("notes", {}).setdefault(name, []).append(note)
                print(f"λ search {name}: note: {note}", flush=True)
        return choice, results

    def select_lambdas(self, facts: RunFacts, choice: LambdaChoice, reference: dict,
                       plan=None) -> tuple[LambdaChoice, dict]:
        """The constrained protocol: none, then each candidate λ of each regularizer
        whose λ is searched (``facts.searched``), trained on the selection seeds as the
        verdict's models are and scored on validation data; λ chosen by
        ``tune.selection.choose_lambda``. Returns (``choice`` with their λ, the
        TuneResults); notes go into ``reference``."""
        import optuna

        from regbench.tune import lambda_grid, search_notes, tune_lambda, write_lambda_search
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per study
        tuning, searched = facts.tuning, facts.searched
        endpoint = declared_endpoint(self.context)
        if self._none is None:
            self._none = self._none_selection(facts, endpoint, reference, plan)
        none = self._none
        margin = {"none_performance": none["performance"], "margin": endpoint.margin,
                  "direction": endpoint.direction,
                  "performance_direction": endpoint.performance_direction}
        results = self._results
        for name in searched:
            spec = get_spec(name)
            grid = lambda_grid(spec.default_lambda, spec.lambda_range, tuning.trials)
            study = f"{tuning.study_name}-{name}" if tuning.study_name else None
            result = tune_lambda(
                self.selection_trials(name, endpoint, facts.out), name, n_trials=len(grid),
                timeout=tuning.timeout, storage=tuning.storage, study_name=study,
                objective="selection", progress=facts.progress,
                heartbeat=tuning.heartbeat, grace=tuning.grace_period,
                label=f"λ selection {len(results) + 1}/{self._total}", grid=grid,
                reference=margin)
            results[name] = result
            write_lambda_search(facts.out, results)
            choice = self._use_selection(facts, choice, name, result, grid)
            for note in search_notes(result.trials, spec.lambda_range, result.best_lambda,
                                     flat=False):
                reference.setdefault("notes", {}).setdefault(name, []).append(note)
                print(f"λ selection {name}: note: {note}", flush=True)
        return choice, results

    def _none_selection(self, facts: RunFacts, endpoint: Endpoint, reference: dict,
                        plan=None) -> dict:
        """none on the selection seeds (``selection_scores``), once: the expected time,
        the power line and the selection's line printed, what it rests on noted in
        ``reference``. RegbenchError when none does not train."""
        from regbench.tune import RULE
        seeds = selection_seeds(facts)
        none = self.selection_scores("none", 0.0, endpoint)
        if "failed" in none:
            raise RegbenchError(f"none did not train on the selection seeds ({none['failed']}); "
                                "fix the training settings or use --lambda-protocol fixed")
        if plan is not None:
            print(plan.expected_line(none), flush=True)
        reference["selection"] = {
            "seeds": seeds, "endpoint": endpoint.as_dict(), "rule": RULE,
            "none": {k: none[k] for k in ("endpoint", "performance", "val_loss")}}
        compared = [r for r in facts.regularizers if r != "none"]
        if "none" in facts.regularizers and compared:
            power = power_line(endpoint, none["endpoint"], facts.seeds, len(compared))
            reference["selection"]["power"] = power
            print(power, flush=True)
        print(f"λ selection: on seeds {seed_range(seeds)} (the verdict's are 0-"
              f"{facts.seeds - 1}), every candidate trained as the verdict's models; "
              f"{endpoint.describe()}; rule: {RULE}", flush=True)
        if selection_warning(none):
            print(selection_warning(none), flush=True)
        return none

    def _use_selection(self, facts: RunFacts, choice: LambdaChoice, name: str, result,
                       grid: list[float]) -> LambdaChoice:
        """``choice`` with a selection's λ; says what it rests on."""
        if result.best_lambda is None:
            raise RegbenchError(f"no λ of {name} trained on every selection seed; see "
                                f"{facts.out / 'lambda_search.csv'} for the reasons, or fix λ "
                                "with --lambda")
        choice = choice.chose(name, result.best_lambda,
                              "selected (constrained)" if result.feasible_found else
                              "smallest grid λ (no λ within the margin)",
                              seeds=seed_range(selection_seeds(facts)))
        grid_text = ", ".join(f"{lam:g}" for lam in grid)
        if not result.feasible_found:
            print(f"λ selection {name}: no λ of the grid ({grid_text}) kept validation "
                  f"performance within the margin of none's, so the smallest, "
                  f"λ={result.best_lambda:g}, is used", flush=True)
            return choice
        print(f"λ selection {name}: λ={result.best_lambda:g} of ({grid_text}); mean "
              f"validation endpoint {result.best_score:.4f}; {result.n_complete} of "
              f"{len(grid)} λ trained on every seed, {result.seconds:.0f} s", flush=True)
        return choice

    def selection_trials(self, regularizer: str, endpoint: Endpoint, out):
        """The constrained protocol's ``tune.Trials``: ``select(λ)`` trains every selection
        seed of ``regularizer`` at λ (OUT/tuning, the verdict's training) and scores it;
        ``out``: the run's folder (its Optuna journal)."""
        from regbench.tune import Trials
        trials = self.context.for_trials(regularizer, None)
        seeds = selection_seeds(trials.facts())
        key = f"{trials.study_key()}-selection-{seed_range(seeds)}-{endpoint.metric}"
        return Trials(
            train=lambda lam, on_epoch: RunExecutor(trials).train_one(
                regularizer, seeds[0], lam=lam, epoch_callback=on_epoch, evaluate=False),
            run_id=lambda lam: trials.key(regularizer, seeds[0], lam).id(),
            score=None, study_key=key, out=out,
            select=lambda lam: self.selection_scores(regularizer, lam, endpoint))

    def selection_scores(self, regularizer: str, lam: float, endpoint: Endpoint) -> dict:
        """``regularizer`` at ``lam`` on every selection seed, trained as the verdict's
        models (stored runs reused) and scored on validation data: {"seeds",
        "endpoint", "performance", "val_loss", "epochs", "direction"}, one value per seed,
        or {"failed": reason}."""
        trials = self.context.for_trials(regularizer, None)
        executor, scoring = RunExecutor(trials), trials.scoring("valid")
        scores = {"seeds": selection_seeds(trials.facts()), "endpoint": [], "performance": [],
                  "val_loss": [], "epochs": [], "train_seconds": [], "score_seconds": [],
                  "converged": [], "direction": endpoint.direction}
        for seed in scores["seeds"]:
            record = executor.train_one(regularizer, seed, lam=lam, evaluate=False)
            row = record["row"]
            if row["status"] != "ok":
                return {"failed": f"seed {seed}: {row['status']}"}
            start = time.perf_counter()
            value, performance = validation_scores(scoring, trials.out, record, endpoint)
            scores["score_seconds"].append(time.perf_counter() - start)
            scores["endpoint"].append(value)
            scores["performance"].append(performance)
            scores["val_loss"].append(float(row["val_loss"]))
            scores["epochs"].append(int(row["epochs"]))
            scores["converged"].append(row.get("converged"))
            scores["train_seconds"].append(float(row["train_seconds"]))
        return scores

    def _use_search(self, choice: LambdaChoice, name: str, result,
                    objective: str) -> LambdaChoice:
        """``choice`` with a loss-protocol search's λ."""
        counts = (f"{result.n_complete} complete, {result.n_pruned} pruned, "
                  f"{result.n_failed} failed trials, {result.seconds:.0f} s")
        if result.best_lambda is None:
            raise RegbenchError(f"no λ trial of {name} completed; raise --trials or "
                                "--trial-epochs, or fix λ with --lambda")
        print(f"λ search {name}: λ={result.best_lambda:.4g} (validation loss "
              f"{result.best_value:.4f}); {counts}", flush=True)
        return choice.chose(name, result.best_lambda, f"tuned ({choice.protocol}"
                            + (", pareto)" if objective == "pareto" else ")"))

    def search_lambda(self, regularizer: str, *, n_trials: int, trial_epochs=None,
                      **options):
        """``tune.tune_lambda`` for one regularizer on this run's data, with trials
        trained into OUT/tuning; ``options`` as tune_lambda's (timeout, storage,
        study_name, objective, seed, progress, label, enqueue). Returns
        its TuneResult."""
        from regbench.tune import check_search, tune_lambda
        check_search(regularizer, n_trials, options.get("objective", "loss"))
        self.context.ready_data()
        return tune_lambda(self.lambda_trials(regularizer, trial_epochs), regularizer,
                           n_trials=n_trials, **options)

    def lambda_trials(self, regularizer: str, trial_epochs: int | None):
        """The λ search's ``tune.Trials``: seed 0 of ``regularizer`` trained at a trial's
        λ for at most ``trial_epochs`` epochs into OUT/tuning (runs/, checkpoints/),
        apart from the comparison's runs, scored on validation data only."""
        from regbench.tune import Trials
        trials = self.context.for_trials(regularizer, trial_epochs)
        executor, scoring = RunExecutor(trials), trials.scoring("valid")
        return Trials(
            train=lambda lam, on_epoch: executor.train_one(
                regularizer, 0, lam=lam, epoch_callback=on_epoch, evaluate=False),
            run_id=lambda lam: trials.key(regularizer, 0, lam).id(),
            score=((lambda record: validation_motif_auprc(scoring, trials.out, record))
                   if scoring.rows.motif_mask is not None else None),
            study_key=trials.study_key(), out=self.context.out)


def declared_endpoint(context: RunContext) -> Endpoint | None:
    """The run's primary endpoint and margin (``endpoints.declare``), from its task and
    the ground truth its data carry; None without ground truth."""
    return for_data(context.config.task, context.dataset)


def selection_seeds(facts: RunFacts) -> list[int]:
    """The constrained protocol's selection seeds: SELECTION_SEED_BASE + 0..n-1, none of
    them a verdict seed (those are 0..seeds-1, at most SELECTION_SEED_BASE)."""
    n = facts.tuning.selection_seeds
    return list(range(SELECTION_SEED_BASE, SELECTION_SEED_BASE + n))


def seed_range(seeds: list[int]) -> str:
    """'1000-1002' for consecutive seeds (results.csv's selection_seeds)."""
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def validation_evaluation(scoring: Scoring, out, record: dict, metric: str):
    """``evaluate`` of a stored run's model (its checkpoint named relative to the
    folder ``out``) on the validation split (``scoring``; the verdict's own scoring
    path; the test split stays out of λ choices): performance over all validation rows,
    ``metric`` from DeepLIFT/SHAP attributions of the validation rows the task explains.
    Returns the Evaluation."""
    from regbench.store.runs import folder_file   # a record of another worker: not trusted
    checkpoint = folder_file(out, record["row"]["checkpoint"], "checkpoints")
    model, _ = load_checkpoint(checkpoint, device=scoring.device)
    settings = dataclasses.replace(scoring.settings, methods=["deep_lift_shap"])
    return scoring.evaluate(model, settings, metrics=[metric])


def _summary_value(scored, metric: str) -> float:
    return float(scored.summary.set_index("metric")["value"].get(metric, float("nan")))


def validation_scores(scoring: Scoring, out, record: dict,
                      endpoint: Endpoint) -> tuple[float, float]:
    """(primary endpoint, performance) of a stored run's model on the validation split
    (``validation_evaluation``)."""
    scored = validation_evaluation(scoring, out, record, endpoint.metric)
    return (_summary_value(scored, endpoint.metric),
            float(scored.performance.get(endpoint.performance, float("nan"))))


def validation_motif_auprc(scoring: Scoring, out, record: dict) -> float:
    """Motif auPRC (pooled, as ``metrics.motif_auprc``) of DeepLIFT/SHAP attributions
    of a stored run's model on positive validation sequences (the pareto objective's
    second score); NaN without motifs or explained validation rows."""
    valid = scoring.rows
    rows, _ = scoring.task.attributed_rows(valid.labels, scoring.settings.max_sequences)
    if valid.motif_mask is None or not len(rows):
        return float("nan")
    return _summary_value(validation_evaluation(scoring, out, record, "motif_auprc"),
                          "motif_auprc")


__all__ = ["LambdaSearch", "declared_endpoint", "seed_range", "selection_seeds",
           "validation_evaluation", "validation_motif_auprc", "validation_scores"]
