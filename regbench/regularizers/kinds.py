"""Regularizer kinds as types: what each kind of regularizer does in a training step.

A registry entry's ``needs`` picks its kind once, when the entry is bound to its
parameters (``Regularizer.kind``); the solo trainer, the grouped step and the plan
then call the kind and never look at ``needs`` again:

- ``NoPenalty`` (nothing), ``AttributionPrior`` / ``ExpectedGradientsPrior``
  (attributions), ``GradientPrior`` (gradients), ``ParameterPenalty`` (parameters),
  ``StepPenalty`` (step): a penalty, added as ``λ · penalty`` to the task's loss;
- ``BatchTransform`` (batch) and ``ModelOption`` (model): no penalty, λ means nothing.

The solo methods take ``run``, the solo trainer: ``run.task``, ``run.lam``,
``run.generator`` (the run's seeded torch.Generator on the device), ``run.device`` and
``run.autocast()``. The grouped methods take ``group``, the grouped step
(``regbench.training.group``): ``group.lam``, ``group.device`` and ``group.attributions``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from regbench.regularizers.weight import l2_penalty


def float_outputs(outputs):
    """Outputs (a tensor or a tuple of them) in float32."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float()
    return type(outputs)(o.float() for o in outputs)


@dataclass(frozen=True)
class StepContext:
    """What a ``needs="step"`` penalty sees of a training step. X: (B, 4, L) one-hot,
    its first ``n_prior`` rows the prior's; outputs: the model's outputs for X (the
    loss uses them); explain(Z) -> (N, T): the task's explained output of the model on
    Z (batch-norm statistics held at the batch's); generator: the run's seeded
    torch.Generator on the device."""

    model: torch.nn.Module
    X: torch.Tensor
    n_prior: int
    outputs: object
    explain: Callable[[torch.Tensor], torch.Tensor]
    generator: torch.Generator


class Kind:
    """A regularizer with no part in the step beyond the plain forward pass; each kind
    below overrides what it adds."""

    needs = ""
    is_penalty = True       # False: a batch transform or model options
    takes_lambda = True     # whether λ means anything
    leading_args = 1        # arguments regbench passes the registered function first
    training_attribution = False   # whether NAME@eg exists

    def __init__(self, regularizer):
        self.regularizer = regularizer

    # -- the solo step ------------------------------------------------------------------
    def forward(self, run, model, X, n_prior: int, args: tuple = ()):
        """The forward pass of a step: (outputs in float32, penalty 0-dim) for the batch
        X (B, 4, L) whose first ``n_prior`` rows get the prior; ``args``: the model's
        further inputs (``Task.model_args``)."""
        with run.autocast():
            outputs = float_outputs(model(X, *args))
        return outputs, torch.zeros((), device=X.device)

    def validation_penalty(self, run, model, prior_batches) -> float:
        """The penalty validation reports (λ > 0): the mean over the prior's rows, or
        the model's own. prior_batches: iterable of (X (n, 4, L), args) of the prior's
        validation rows, read only by kinds that need them."""
        return 0.0

    def transform(self, X: torch.Tensor, y, generator: torch.Generator):
        """A training batch as the regularizer changes it (after the task's
        augmentation); unchanged by every kind but ``BatchTransform``."""
        return X, y

    def model_options(self) -> dict:
        """[model] keys the model is built with; {} but for ``ModelOption``."""
        return {}

    # -- costs (bench's extra_backward column, the plan) ---------------------------------
    def extra_backward_passes(self, lam: float) -> int:
        """Backward passes a training step makes beyond the loss's own."""
        return 0

    def cost_key(self, lam: float) -> tuple:
        """Regularizers with equal keys cost the same per step: the plan times one."""
        return (type(self).__name__, self.extra_backward_passes(lam))

    # -- the grouped step ---------------------------------------------------------------
    def solo_reason(self) -> str | None:
        """None when members can train in a group (``regbench.training.group``), else why not."""
        return f"a needs={self.needs!r} regularizer trains solo"

    def group_forward(self, group, model, X, n_prior: list[int]):
        """The grouped step's forward pass. X: (B, G, 4, L); member m's penalty applies
        to its first n_prior[m] rows. Returns (outputs (B, G, T) float32, penalties
        (G,))."""
        outputs = float_outputs(model(X))
        return outputs, torch.zeros((), device=X.device).expand(model.n_members)

    def group_validation(self, group, model, prior_batches) -> torch.Tensor:
        """Per member (G,): ``validation_penalty`` of the grouped model (λ > 0).
        prior_batches: iterable of X (n, 4, L) of the prior's validation rows."""
        return torch.zeros(model.n_members, device=group.device)


class NoPenalty(Kind):
    """``needs="nothing"``: the penalty is 0 (e.g. ``none``)."""

    needs, takes_lambda = "nothing", False

    def solo_reason(self) -> str | None:
        return None


class ExamplePenalty(Kind):
    """A penalty on the prior's rows of the batch (attributions, gradients, a step
    penalty): the plain pass when λ = 0 or the batch has none of them."""

    def forward(self, run, model, X, n_prior: int, args: tuple = ()):
        if run.lam > 0 and n_prior > 0:
            return self.prior_forward(run, model, X, n_prior, args)
        return super().forward(run, model, X, n_prior, args)

    def prior_forward(self, run, model, X, n_prior: int, args: tuple):
        raise NotImplementedError

    def validation_penalty(self, run, model, prior_batches) -> float:
        total, rows = torch.zeros((), device=run.device), 0
        for X, args in prior_batches:
            with torch.enable_grad():
                _, penalty = self.forward(run, model, X, len(X), args)
            total += penalty.detach() * len(X)
            rows += len(X)
        return total.item() / rows if rows else 0.0

    def extra_backward_passes(self, lam: float) -> int:
        return 1 if lam > 0 else 0


class GradientPrior(ExamplePenalty):
    """``needs="gradients"``: a penalty on the input gradients (N, 4, L) of the prior's
    rows (all four bases), kept for double backprop."""

    needs, times_input = "gradients", False

    def prior_forward(self, run, model, X, n_prior: int, args: tuple):
        from regbench.attributions import logits_and_attributions
        with run.autocast():
            outputs, attr = logits_and_attributions(
                model, X, n_prior, output=run.task.explained_output, args=args,
                times_input=self.times_input)
        # The penalty in float32: rfft needs it, and its normalisation is fragile.
        return float_outputs(outputs), self.regularizer(attr.float())

    def solo_reason(self) -> str | None:
        return None

    def group_forward(self, group, model, X, n_prior: list[int]):
        """As ``logits_and_attributions``: the full pass records the batch statistics,
        a second pass over the first max(n_prior) rows holds them, so rows are
        independent and member m's penalty sees exactly its solo attributions
        attr[:n_prior[m], m]."""
        n = max(n_prior)
        if group.lam <= 0 or n <= 0:
            return super().group_forward(group, model, X, n_prior)
        from regbench.attributions import BatchStatistics
        zero = torch.zeros((), device=X.device)
        with BatchStatistics(model) as stats:
            outputs = model(X)
        with stats.held():
            attr = group.attributions(model, X[:n], self.times_input, create_graph=True)
        penalties = [self.regularizer(attr[:k, m].float()) if k > 0 else zero
                     for m, k in enumerate(n_prior)]
        return float_outputs(outputs), torch.stack(penalties)

    def group_validation(self, group, model, prior_batches) -> torch.Tensor:
        G = model.n_members
        penalties, rows = torch.zeros(G, device=group.device), 0
        for X in prior_batches:
            X = X.unsqueeze(1).expand(-1, G, -1, -1)
            attr = group.attributions(model, X, self.times_input, create_graph=False)
            penalties += torch.stack([self.regularizer(attr[:, m].float())
                                      for m in range(G)]).detach() * len(X)
            rows += len(X)
        if rows:
            penalties /= rows
        return penalties


class AttributionPrior(GradientPrior):
    """``needs="attributions"``: a penalty on the input x gradient attributions
    (N, 4, L) of the prior's rows (the paper's Fourier prior)."""

    needs, times_input, training_attribution = "attributions", True, True


class ExpectedGradientsPrior(AttributionPrior):
    """An attribution prior on expected-gradients attributions (NAME@eg): one input
    gradient pass per reference, drawn from the run's generator."""

    def prior_forward(self, run, model, X, n_prior: int, args: tuple):
        from regbench.attributions import logits_and_expected_gradients
        params = self.regularizer.params
        with run.autocast():
            outputs, attr = logits_and_expected_gradients(
                model, X, n_prior, output=run.task.explained_output, args=args,
                references=params["eg_references"], source=params["eg_source"],
                generator=run.generator)
        return float_outputs(outputs), self.regularizer(attr.float())

    def extra_backward_passes(self, lam: float) -> int:
        return int(self.regularizer.params["eg_references"]) if lam > 0 else 0

    def solo_reason(self) -> str | None:
        return ("expected-gradients priors train solo (their draws come from the run's "
                "generator)")


class StepPenalty(ExamplePenalty):
    """``needs="step"``: a penalty on the whole step (``StepContext``), e.g.
    saliency-guided training: one saliency pass beyond the loss's."""

    needs = "step"

    def prior_forward(self, run, model, X, n_prior: int, args: tuple):
        from regbench.attributions import BatchStatistics
        with run.autocast(), BatchStatistics(model) as stats:
            outputs = model(X, *args)
        with run.autocast(), stats.held():
            prior_args = tuple(a[:n_prior] for a in args)
            context = StepContext(model, X, n_prior, outputs,
                                  lambda Z: run.task.explained_output(
                                      model(Z, *prior_args)), run.generator)
            return float_outputs(outputs), self.regularizer(context).float()


class ParameterPenalty(Kind):
    """``needs="parameters"``: a penalty on the model's weights (e.g. l2), one value
    per model, no pass over the data."""

    needs = "parameters"

    def forward(self, run, model, X, n_prior: int, args: tuple = ()):
        outputs, zero = super().forward(run, model, X, n_prior, args)
        return outputs, (self.regularizer(model) if run.lam > 0 else zero)

    def validation_penalty(self, run, model, prior_batches) -> float:
        with torch.no_grad():
            return self.regularizer(model).item()

    def solo_reason(self) -> str | None:
        if self.regularizer.spec.penalty is not l2_penalty:
            return "of the parameter penalties only l2 trains in groups"
        return None

    def group_forward(self, group, model, X, n_prior: list[int]):
        """The grouped model computes each member's l2 itself (the only groupable
        parameter penalty, ``solo_reason``)."""
        outputs = float_outputs(model(X))
        if group.lam > 0:
            return outputs, model.member_square_norms()
        return outputs, torch.zeros((), device=X.device).expand(model.n_members)

    def group_validation(self, group, model, prior_batches) -> torch.Tensor:
        with torch.no_grad():
            return model.member_square_norms()


class BatchTransform(Kind):
    """``needs="batch"``: transform(X, y, generator, **params) -> (X, y) of every
    training batch (e.g. evoaug); no penalty."""

    needs, is_penalty, takes_lambda, leading_args = "batch", False, False, 3

    def transform(self, X, y, generator):
        return self.regularizer.spec.penalty(X, y, generator, **self.regularizer.params)

    def cost_key(self, lam: float) -> tuple:
        return (type(self).__name__, self.regularizer.name)   # each transform its own


class ModelOption(Kind):
    """``needs="model"``: options(**params) -> [model] keys the model is built with
    (e.g. dropout); no penalty."""

    needs, is_penalty, takes_lambda, leading_args = "model", False, False, 0

    def model_options(self) -> dict:
        return dict(self.regularizer.spec.penalty(**self.regularizer.params))

    def cost_key(self, lam: float) -> tuple:
        return (type(self).__name__, self.regularizer.name)   # each model its own


KINDS: dict[str, type[Kind]] = {k.needs: k for k in (
    NoPenalty, AttributionPrior, GradientPrior, ParameterPenalty, StepPenalty,
    BatchTransform, ModelOption)}


def kind_of(regularizer) -> Kind:
    """The kind of a bound regularizer, from its entry's ``needs`` and training-time
    attribution (the one place that reads them)."""
    if regularizer.spec.attribution == "eg":
        return ExpectedGradientsPrior(regularizer)
    return KINDS[regularizer.spec.needs](regularizer)


__all__ = ["AttributionPrior", "BatchTransform", "ExpectedGradientsPrior",
           "GradientPrior", "KINDS", "Kind", "ModelOption", "NoPenalty", "ParameterPenalty",
           "StepContext", "StepPenalty", "float_outputs", "kind_of"]
