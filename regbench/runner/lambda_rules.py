"""What the λ protocols' rules rest on: none trained at the λ search's settings (the
paper protocol: as the verdict's models), the penalty measured on that model, the scale
rule and the paper's λ.

``LambdaRules(context)`` trains its reference (none, seeds 0..n-1) in a context of its
own (``RunContext.for_trials``: OUT/tuning, the search's epoch limit or, under the paper
protocol, the verdict's, this run's data)
and notes what each rule rests on in its own ``reference`` (config.json's
lambda_reference, through the λ search's LambdaChoice).
"""
from __future__ import annotations

import math

import numpy as np

from regbench.runner.context import RunContext
from regbench.errors import RegbenchError
from regbench.runner.executor import RunExecutor
from regbench.regularizers import get_spec
from regbench.store.runs import folder_file
from regbench.tasks import Task
from regbench.training.train import Trainer, load_checkpoint


def measured_penalty(task: Task, regularizer, model, valid: tuple,
                     config) -> tuple[float, float]:
    """(validation correctness loss, penalty) of ``model`` as training reports them
    (``Trainer.evaluate`` at λ = 1: the penalty's mean over the prior's validation rows,
    or the model's for a weight penalty). valid: (codes (N, L), targets, prior rows
    bool (N,)); config: a TrainConfig."""
    trainer = Trainer(task, regularizer, 1.0, config)
    codes, targets = trainer.to_device(valid[0], valid[1])
    return trainer.evaluate(model.to(trainer.device), codes, targets, np.asarray(valid[2]))


def scale_lambda(loss: float, penalty: float) -> float | None:
    """The scale rule (the paper's for smoothness and sparsity, generalised): the λ at
    which λ × |penalty| equals the correctness loss; None when the penalty is 0 or
    not finite (a penalty such as sparsity's minus twice the Gini is negative: its size
    counts)."""
    if not (math.isfinite(loss) and math.isfinite(penalty)) or penalty == 0:
        return None
    return float(loss / abs(penalty))


class LambdaRules:
    """The reference none model and the rules measured on it, for one RunContext."""

    def __init__(self, context: RunContext):
        self.context = context
        self._none_reference: dict | None = None
        # what the rules rest on: none's reference, measured penalties, the paper rule
        self.reference: dict = {}

    def none_reference(self, n_seeds: int) -> dict:
        """``none`` trained at the λ search's settings (OUT/tuning: at most [tuning]
        trial_epochs, scored on validation data only; under the paper protocol at most
        [train] max_epochs, as the verdict's models: the paper's rule reads "a model
        trained without the prior") with seeds 0..n_seeds-1, stored
        runs trained once: {"seeds", "losses" (best validation loss per seed), "loss"
        (seed 0's: the trials train seed 0 too, so the comparison is paired), "mean",
        "noise" (the losses' sd, ddof 1; 0 for one seed), "checkpoint" (seed 0's model),
        "epochs"}. Also kept in ``reference``."""
        cached = self._none_reference
        if cached is not None and cached["seeds"] >= n_seeds:
            return cached
        facts, make_trials = self.context.facts(), self.context.for_trials
        paper = facts.choice.protocol == "paper"
        trials = make_trials("none", None if paper else facts.tuning.trial_epochs)
        executor = RunExecutor(trials)
        records = [executor.train_one("none", seed, lam=0.0, evaluate=False)
                   for seed in range(n_seeds)]
        failed = [r["row"]["seed"] for r in records if r["row"]["status"] != "ok"]
        if failed:
            raise RegbenchError(f"the none model of seed {failed[0]} (the λ protocol's "
                                "reference) did not train; fix the training settings or "
                                "use --lambda-protocol fixed")
        if paper and "none" in facts.regularizers:
            self._share_with_verdict(trials)
        losses = [float(r["row"]["val_loss"]) for r in records]
        # a stored record (OUT/tuning/runs, maybe another worker's) names the checkpoint:
        # not trusted, so checked as gather checks the paths it fetches
        checkpoint = folder_file(trials.out, records[0]["row"]["checkpoint"], "checkpoints")
        self._none_reference = {
            "seeds": n_seeds, "losses": losses, "loss": losses[0],
            "mean": float(np.mean(losses)),
            "noise": float(np.std(losses, ddof=1)) if n_seeds > 1 else 0.0,
            "checkpoint": str(checkpoint),
            "epochs": trials.facts().train.max_epochs,
            # what training them took, for the expected time (``plan.expected_line``)
            "trained": {"epochs": [int(r["row"]["epochs"]) for r in records],
                        "train_seconds": [float(r["row"]["train_seconds"]) for r in records]}}
        self.reference["none"] = {
            k: v for k, v in self._none_reference.items() if k not in ("checkpoint", "trained")}
        epochs = self._none_reference["epochs"]
        settings = "the verdict's settings" if paper else "the λ search's settings"
        self.reference["none"]["rule"] = (
            f"none trained with seeds 0-{n_seeds - 1} at {settings} (at most "
            f"{epochs} epoch(s)): loss = seed 0's best validation loss (trials train seed "
            "0), noise = the sd of the seeds' best validation losses")
        print(f"λ reference: none at {settings} (at most {epochs} epoch(s)): "
              f"validation loss {losses[0]:.4f} (seed 0)"
              + (f", sd {self._none_reference['noise']:.4f} across seeds 0-{n_seeds - 1}"
                 if n_seeds > 1 else ""), flush=True)
        return self._none_reference

    def _share_with_verdict(self, trials: RunContext) -> None:
        """The paper rule's none (seed 0, the verdict's settings) is the verdict's none
        seed 0: the same run key. Its checkpoint is linked (or copied) to where the
        verdict's run looks for one, which is then scored from it (``RunExecutor``'s
        stored-checkpoint path) instead of trained a second time."""
        key = trials.key("none", 0, 0.0)   # the verdict's too: its keyed settings are
        store = self.context.store         # the same (``RunConfig.hash``)
        source = trials.store.trained(key)
        if source is not None and store.load(key) is None:
            store.adopt_checkpoint(key, source)

    def paper_choice(self, searched, choice, reference: dict, plan=None):
        """The paper protocol's λ of each of ``searched`` (``paper_lambda``) in
        ``choice`` (a LambdaChoice; returned with them), each rule's words noted in
        ``reference``; then, when its none trained, the run's expected time (``plan``:
        the run's ``plan.Estimate``)."""
        for name in searched:
            lam, source, why = self.paper_lambda(name)
            choice = choice.chose(name, lam, source)
            reference.setdefault("rules", {})[name] = why
            print(f"λ {name}: {lam:.4g} ({source}: {why})", flush=True)
        if plan is not None and self._none_reference is not None:
            print(plan.expected_line(self._none_reference["trained"]), flush=True)
        return choice

    def penalty_on_none(self, regularizer: str) -> tuple[float, float]:
        """(validation loss, penalty of ``regularizer``) measured on the reference's
        trained none model (seed 0), as training reports them (``measured_penalty``)."""
        data = self.context.training_values()
        model, _ = load_checkpoint(self.none_reference(1)["checkpoint"], device="cpu")
        return measured_penalty(data.task, data.regularizers[regularizer], model, data.valid,
                                data.config)

    def paper_scale_loss_on_none(self) -> float:
        """The reference's trained none model's (seed 0) validation correctness loss as
        the paper's authors' code computes it (``Task.paper_scale_loss``)."""
        data = self.context.training_values()
        model, _ = load_checkpoint(self.none_reference(1)["checkpoint"], device="cpu")
        trainer = Trainer(data.task, data.regularizers["none"], 0.0, data.config)
        codes, targets, _ = data.valid
        outputs, targets = trainer.outputs(model.to(trainer.device),
                                           *trainer.to_device(codes, targets))
        return float(data.task.paper_scale_loss(outputs, targets))

    def scale_rule(self, regularizer: str) -> tuple[float | None, str]:
        """(λ at which λ × the penalty measured on the trained none model equals that
        model's validation loss, or None when the penalty is 0; the sentence saying
        so, with the measured numbers)."""
        loss, penalty = self.penalty_on_none(regularizer)
        lam = scale_lambda(loss, penalty)
        self.reference.setdefault("penalties", {})[regularizer] = penalty
        if lam is None:
            return None, (f"its penalty on the trained none model is {penalty:.4g}, so no "
                          "λ scales it to the loss")
        low, high = get_spec(regularizer).lambda_range or (lam, lam)
        outside = (f"; outside the registry's range [{low:g}, {high:g}]"
                   if not low <= lam <= high else "")
        return lam, (f"none's validation loss {loss:.4g} ÷ |its penalty on the trained none "
                     f"model, {penalty:.4g}| = {lam:.4g}{outside}")

    def paper_lambda(self, regularizer: str) -> tuple[float, str, str]:
        """The paper protocol's λ of ``regularizer``: (λ, its source, why). Fourier:
        1 on binary models, ½ × none's validation loss on profile models; every other
        penalty: the scale rule (the registry's λ when the penalty measures 0)."""
        if regularizer.split("@")[0] == "fourier":
            if self.context.facts().task == "binary":
                return 1.0, "paper rule", ("Fourier prior on a binary model: λ = 1 "
                                           "(paper §2.2)")
            loss = self.penalty_on_none(regularizer)[0]
            authors = self.paper_scale_loss_on_none()
            self.reference["paper_rule"] = {
                "none_validation_loss": loss, "authors_correctness_loss": authors,
                "lambda": 0.5 * authors}
            return 0.5 * authors, "paper rule", (
                f"Fourier prior on a profile model: ½ × none's validation correctness loss "
                f"as the authors' code computes it, {authors:.4g} (multinomial constants "
                f"in; regbench's loss without them: {loss:.4g}) (paper §2.2)")
        lam, why = self.scale_rule(regularizer)
        if lam is None:
            default = get_spec(regularizer).default_lambda
            return (default, "registry (scale rule undefined)",
                    f"{why}; registry λ {default:g}")
        return lam, "scale rule", why


__all__ = ["LambdaRules", "measured_penalty", "scale_lambda"]
