"""Grouped training: the seeds of one (regularizer, λ) trained together as one batched
model, so that one step keeps a GPU (or the CPU's vector units) busier than a small
model alone does.

G members sit side by side in the channel dimension (``regbench.models.grouped``:
``stack_models``); nothing mixes members, so member m computes exactly what its solo
model computes (up to floating-point summation order).

``GroupTrainer`` is the grouped step: ``Trainer``'s step for G members at once, the
penalties computed by the regularizer's kind (``Kind.group_forward``). ``GroupStepper``
holds a grouped run's state for the one fit loop (``regbench.training.fit``), which gives each
member what ``Trainer.fit`` gives a solo run: its own seeded initialisation, its own
NumPy generator for the batch order and the task's augmentation, its own training rows,
its own early stopping. One Adam over the stacked parameters is G Adams (Adam is
elementwise), and the summed loss gives each member the gradient of its own loss.
``can_group`` says which runs qualify.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.training.fit import fit as fit_members
from regbench.models.grouped import (GroupedBinaryCNN, GroupedLinear,  # noqa: F401
                                     solo_model, stack_models)
from regbench.models.registry import DEFAULT_ARCHITECTURE
from regbench.regularizers import Regularizer
from regbench.options.settings import TrainConfig
from regbench.tasks.base import Task
from regbench.tasks.binary import BinaryTask
from regbench.training.train import (Trainer, TrainResult, concat_outputs, epoch_batches, index_tensor,
                            one_hot_codes, save_checkpoint, set_seed, with_peak_memory)


# -- which runs can be grouped -------------------------------------------------------------

def why_not_grouped(task: Task, regularizer: Regularizer, config: TrainConfig) -> str | None:
    """None when the run can train in a group, else the reason.

    - binary task with the binary_cnn architecture only: the grouped layers are written
      for that network, and no dropout (members would draw their own masks, not the
      draws of solo runs);
    - no mixed precision: bfloat16 autocast was not checked for grouped layers;
    - penalties on nothing, on ``ixg`` attributions or gradients, and the L2 weight
      penalty: each is a function of one member's rows or weights. Expected gradients
      draw references from the trainer's torch generator, ``step`` penalties and
      ``batch`` transforms see (and draw for) the whole batch, ``model`` regularizers
      change the architecture: they train solo. Another ``parameters`` penalty than L2
      (the group computes per-member L2 itself) trains solo too. The regularizer's kind
      says which (``Kind.solo_reason``).
    """
    if not isinstance(task, BinaryTask) or task.architecture != DEFAULT_ARCHITECTURE:
        architecture = task.model_record()["architecture"]
        return (f"the {architecture} model of the {task.name} task trains solo: only "
                f"{DEFAULT_ARCHITECTURE} on the binary task has grouped layers")
    if task.params.get("dropout"):
        return "a model with dropout trains solo (dropout draws differ)"
    if config.mixed_precision:
        return "mixed precision trains solo"
    return regularizer.kind.solo_reason()


def can_group(task: Task, regularizer: Regularizer, config: TrainConfig) -> bool:
    """Whether seeds of this run may train as one ``GroupTrainer`` (``why_not_grouped``)."""
    return why_not_grouped(task, regularizer, config) is None


# -- training --------------------------------------------------------------------------------

class GroupTrainer:
    """Fit the seeds of one (regularizer, λ) as one grouped model:
    ``GroupTrainer(task, regularizer, lam, configs).fit(trains, valid)``.

    configs: one ``TrainConfig`` per member, equal but for the seed. Each member
    reproduces ``Trainer(task, regularizer, lam, configs[m]).fit(trains[m], valid)``
    up to floating-point summation order (never bit for bit). With batch norm, a weight
    whose gradient is zero up to rounding (a dense bias before ReLU -> batch norm with
    every unit active) takes Adam steps of about ±lr from that rounding in both runs,
    differently; tests/test_group.py has the measured differences. Over a whole
    training such differences grow until early stopping picks other epochs, as between
    solo runs with different thread counts (docs/distributed.md).
    """

    def __init__(self, task: Task, regularizer: Regularizer, lam: float,
                 configs: list[TrainConfig]):
        if not configs:
            raise RegbenchError("GroupTrainer needs one TrainConfig per member")
        base = dataclasses.replace(configs[0], seed=0)
        if any(dataclasses.replace(c, seed=0) != base for c in configs):
            raise RegbenchError("GroupTrainer: the members' TrainConfigs may differ only "
                                "in the seed")
        reason = why_not_grouped(task, regularizer, configs[0])
        if reason:
            raise RegbenchError(f"GroupTrainer: {reason}")
        # One solo Trainer per member: its checks, data helpers, model builder and
        # checkpoint form are the solo run's.
        self.solo = [Trainer(task, regularizer, lam, c) for c in configs]
        self.task, self.regularizer, self.lam = task, regularizer, self.solo[0].lam
        self.configs, self.config = list(configs), self.solo[0].config
        self.device = self.solo[0].device

    # -- one step -------------------------------------------------------------------------
    def penalty(self, model, X, n_prior: list[int]):
        """The forward pass of a step. X: (B, G, 4, L); member m's penalty applies to its
        first n_prior[m] rows. Returns (logits (B, G, T) float32, penalties (G,)); the
        regularizer's kind computes them (``Kind.group_forward``)."""
        return self.regularizer.kind.group_forward(self, model, X, n_prior)

    def attributions(self, model, X, times_input: bool, create_graph: bool) -> torch.Tensor:
        """Input x gradient (``times_input``) or the input gradient of the summed
        explained outputs, model in its current mode. X: (n, G, 4, L) → (n, G, 4, L);
        members are independent, so slice m is member m's own."""
        X = X.detach().requires_grad_()
        with torch.enable_grad():
            explained = self.task.explained_output(model(X))
            grad, = torch.autograd.grad(explained.sum(), X, create_graph=create_graph)
        return grad * X if times_input else grad

    def train_step(self, model, optimizer, params, X, y, n_prior: list[int]) -> torch.Tensor:
        """One optimisation step of every member. X: (B, G, 4, L); y: (B, G, T).
        Returns [correctness, penalty] per member (G, 2), detached, on the device."""
        outputs, penalties = self.penalty(model, X, n_prior)
        correctness = torch.stack([self.task.loss(outputs[:, m], y[:, m])
                                   for m in range(model.n_members)])
        # The sum: d(sum)/d(member m's weights) is member m's own loss gradient.
        loss = (correctness + self.lam * penalties).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=params)
        optimizer.step()
        return torch.stack([correctness.detach(), penalties.detach()], dim=1)

    def run_epoch(self, model, optimizer, data, active: list[int], rngs, measure: bool):
        """One training epoch of the active members, each in its own shuffled batches
        (``epoch_batches`` with its own generator). data: (codes (R, L), labels (R, T),
        offsets, priors) from ``_stack_data``. Returns (mean [correctness, penalty]
        per member (G, 2) as lists, steps, first-step peak bytes or NaN)."""
        codes, labels, offsets, priors = data
        model.train()
        plans = [epoch_batches(priors[m], self.config, rngs[m]) for m in active]
        n_steps, G = len(plans[0]), len(active)
        if not n_steps:
            return [[0.0, 0.0]] * G, 0, float("nan")
        # Each step's rows, members interleaved (row b·G + m), so the gathered codes
        # are already (B, G, L): one index copy for the epoch, one gather per step.
        order = index_tensor(np.concatenate([
            np.stack([plan[s][0] + offsets[m] for plan, m in zip(plans, active)], 1).ravel()
            for s in range(n_steps)]), codes.device)
        params = [p for p in model.parameters() if p.requires_grad]
        totals = torch.zeros(G, 2, device=self.device)
        start, rows, peak = 0, 0, float("nan")
        for s in range(n_steps):
            B = len(plans[0][s][0])
            idx = order[start:start + B * G]
            start, rows = start + B * G, rows + B
            X = one_hot_codes(self.solo[0].on_device(codes[idx])).view(B, G, 4, -1)
            y = self.solo[0].on_device(labels[idx]).view(B, G, *labels.shape[1:])
            X, y = self.augment(X, y, [rngs[m] for m in active])
            n_prior = [plan[s][1] for plan in plans]
            step = lambda: self.train_step(model, optimizer, params, X, y, n_prior)  # noqa: E731
            if measure and s == 0:
                losses, peak = with_peak_memory(step, self.device)
            else:
                losses = step()
            totals += losses * B
        return (totals / rows).tolist(), n_steps, peak

    def augment(self, X, y, rngs):
        """``task.augment`` of each member's batch with its own generator, in the solo
        run's order. X: (B, G, 4, L'), y: (B, G, ...) → (B, G, 4, L), (B, G, ...);
        unchanged (no copy) when the task changes nothing."""
        parts = [(X[:, m], y[:, m]) for m in range(X.shape[1])]
        out = [self.task.augment(x, t, rng) for (x, t), rng in zip(parts, rngs)]
        if all(a is x and b is t for (a, b), (x, t) in zip(out, parts)):
            return X, y
        return torch.stack([a for a, _ in out], 1), torch.stack([b for _, b in out], 1)

    def evaluate(self, model, codes, labels, prior) -> list[tuple[float, float]]:
        """Per member: validation correctness loss over the whole set and mean penalty
        on its prior rows, as ``Trainer.evaluate``. codes (N, L), labels (N, T): the
        one validation set every member sees; prior: bool (N,)."""
        model.eval()
        G, batch = model.n_members, max(self.config.batch_size, 256)
        on_device = self.solo[0].on_device
        labels = on_device(labels)
        with torch.no_grad():
            outputs = concat_outputs([model(one_hot_codes(on_device(codes[i:i + batch])))
                                      for i in range(0, len(codes), batch)])   # (N, G, T)
        losses = torch.stack([self.task.loss(outputs[:, m], labels) for m in range(G)])
        if self.lam > 0:
            penalties = self.regularizer.kind.group_validation(
                self, model, self._prior_batches(codes, prior, batch))
        else:
            penalties = torch.zeros(G, device=self.device)
        return [tuple(v) for v in torch.stack([losses, penalties], 1).tolist()]

    def _prior_batches(self, codes, prior, batch: int):
        """X (n, 4, L) of the prior's validation rows (bool (N,)), ``batch`` at a time."""
        rows = index_tensor(np.flatnonzero(prior), codes.device)
        for i in range(0, len(rows), batch):
            yield one_hot_codes(self.solo[0].on_device(codes[rows[i:i + batch]]))

    # -- the loop -------------------------------------------------------------------------
    def fit(self, trains: list[tuple], valid: tuple, checkpoints: list | None = None,
            progress=None) -> list[TrainResult]:
        """Train every member to its own early stopping; returns one ``TrainResult`` per
        member, as ``Trainer.fit`` would.

        trains: per member (codes (N, L), labels (N, T)[, prior rows bool (N,)]), the
        same N for all; valid: one such tuple for every member. checkpoints: None or
        one path per member (``save_checkpoint``'s file, as a solo run writes it).
        progress: optional callable(member, epoch, record) after each member's epoch.

        Costs are shared: each result's ``seconds`` is the group's wall time / G,
        ``train_step_seconds`` the training time per member-step, ``peak_step_bytes``
        the group's first-step peak / G (one member's share, not a solo step's peak).
        """
        G = len(self.configs)
        if len(trains) != G or (checkpoints is not None and len(checkpoints) != G):
            raise RegbenchError(f"GroupTrainer.fit: {G} members need {G} training sets"
                                + (" and checkpoint paths" if checkpoints is not None else ""))
        if len({len(t[0]) for t in trains}) != 1:
            raise RegbenchError("GroupTrainer.fit: every member needs the same number of "
                                f"training rows, got {[len(t[0]) for t in trains]}")
        return fit_members(GroupStepper(self, trains, valid), checkpoints, progress)

    def _shrink(self, model, optimizer, keep: list[int]):
        """(group of members ``keep``, an Adam carrying their state). Adam is elementwise,
        so slicing its moments continues each member's optimiser exactly."""
        smaller = model.select(keep)
        new = torch.optim.Adam(smaller.parameters(), lr=self.config.learning_rate)
        for (key, old), param in zip(model.named_parameters(), smaller.parameters()):
            state = optimizer.state.get(old)
            if state:
                new.state[param] = {k: model._take(key, v, keep) if torch.is_tensor(v) else v
                                    for k, v in state.items()}
        return smaller, new

    def _stack_data(self, trains):
        """Every member's training rows in one tensor pair on the device: (codes (R, L),
        labels (R, T), offsets (G,), priors [bool (N,)] * G); member m's row i is row
        offsets[m] + i. Members given the same arrays share one copy."""
        first_row, codes, labels, offsets, priors = {}, [], [], [], []
        for trainer, (tr_codes, tr_labels, *given) in zip(self.solo, trains):
            key = (id(tr_codes), id(tr_labels))
            if key not in first_row:
                first_row[key] = sum(len(c) for c in codes)
                codes.append(np.asarray(tr_codes))
                labels.append(np.asarray(tr_labels))
            offsets.append(first_row[key])
            priors.append(trainer._prior(tr_labels, given))
        if len({l.shape[1:] for l in labels}) != 1:
            raise RegbenchError("GroupTrainer.fit: the members' targets differ in shape")
        one = lambda parts: parts[0] if len(parts) == 1 else np.concatenate(parts)  # noqa: E731
        codes, labels = self.solo[0].to_device(one(codes), one(labels))
        return codes, labels, offsets, priors


class GroupStepper:
    """``fit``'s stepper for a group (``regbench.training.fit.Stepper``): the grouped model, its
    Adam, each member's generator and rows, and which members still train (``active``:
    their indices among the G)."""

    def __init__(self, trainer: GroupTrainer, trains: list[tuple], valid: tuple):
        self.trainer, self.trains, self.valid = trainer, trains, valid
        self.n_members, self.lam = len(trainer.configs), trainer.lam
        self.patience, self.max_epochs = trainer.config.patience, trainer.config.max_epochs
        self.stopping = trainer.config.stopping

    def start(self) -> None:
        trainer, models = self.trainer, []
        for solo in trainer.solo:   # each member initialised as its solo run is
            set_seed(solo.config.seed)
            models.append(solo.build_model())
        self.model = stack_models(models)
        del models
        self.optimizer = torch.optim.Adam(self.model.parameters(),
                                          lr=trainer.config.learning_rate)
        self.rngs = [np.random.default_rng(c.seed) for c in trainer.configs]
        self.data = trainer._stack_data(self.trains)
        self.valid_data = (*trainer.solo[0].to_device(*self.valid[:2]),
                           trainer.solo[0]._prior(self.valid[1], self.valid[2:]))
        self.active = list(range(self.n_members))

    def train_epoch(self, measure: bool):
        return self.trainer.run_epoch(self.model, self.optimizer, self.data, self.active,
                                      self.rngs, measure)

    def evaluate(self) -> list[tuple[float, float]]:
        return self.trainer.evaluate(self.model, *self.valid_data)

    def member_state(self, j: int) -> dict:
        return self.model.member_state(j)

    def release(self, j: int, state: dict | None) -> torch.nn.Module:
        """Member j as a solo ``BinaryCNN``: its best state, else its weights now."""
        dtype = next(self.model.parameters()).dtype
        return solo_model(self.model.config, state or self.model.member_state(j),
                          self.trainer.device, dtype).eval()

    def drop(self, keep: list[int]) -> None:
        self.active = [self.active[j] for j in keep]
        self.model, self.optimizer = self.trainer._shrink(self.model, self.optimizer, keep)

    def checkpoint(self, m: int, path, result: TrainResult) -> None:
        save_checkpoint(path, self.trainer.solo[m], result)


__all__ = ["GroupStepper", "GroupTrainer", "GroupedBinaryCNN", "GroupedLinear", "can_group", "solo_model",
           "stack_models", "why_not_grouped"]
