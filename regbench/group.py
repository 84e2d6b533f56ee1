"""Grouped training: the seeds of one (regularizer, λ) trained together as one batched
model, so that one step keeps a GPU (or the CPU's vector units) busier than a small
model alone does.

G members sit side by side in the channel dimension (``stack_models``): each
Conv1d(Cin, Cout, W) becomes Conv1d(G·Cin, G·Cout, W, groups=G), each BatchNorm1d(C)
BatchNorm1d(G·C) (every member keeps its own batch and running statistics), each
Linear a ``GroupedLinear`` (weight (G, out, in)); ReLU, Exp, max pool and Flatten are
unchanged, since they act per channel or keep each member's features together in the
solo layout. Nothing mixes members, so member m computes exactly what its solo model
computes (up to floating-point summation order).

``GroupTrainer`` reproduces ``Trainer.fit`` for each member: its own seeded
initialisation, its own NumPy generator for the batch order and the task's
augmentation, its own training rows, its own early stopping. One Adam over the stacked
parameters is G Adams (Adam is elementwise), and the summed loss gives each member the
gradient of its own loss. ``can_group`` says which runs qualify.
"""
from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch
from torch import nn

from regbench.attributions import BatchStatistics
from regbench.errors import RegbenchError
from regbench.models.binary import BinaryCNN, Exp
from regbench.models.registry import DEFAULT_ARCHITECTURE
from regbench.regularizers import Regularizer
from regbench.settings import TrainConfig
from regbench.tasks.base import Task
from regbench.tasks.binary import BinaryTask
from regbench.train import (INPUT_PRIORS, Trainer, TrainResult, _float, batch_order,
                            concat_outputs, index_tensor, one_hot_codes, record_epoch,
                            save_checkpoint, set_seed, with_peak_memory)

# Modules that act per channel (or per feature) and so need no change when members are
# side by side in the channel dimension; Flatten keeps each member's C·Lp features
# together, in the solo layout.
_SHARED = (nn.ReLU, Exp, nn.MaxPool1d, nn.Flatten, nn.Identity)


class GroupedLinear(nn.Module):
    """G independent linear layers. weight (G, out, in), bias (G, out).

    forward: x (B, G·in), member-major → (B, G·out), member-major (the flat layout
    keeps BatchNorm1d(G·out) and Flatten working unchanged)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = None if bias is None else nn.Parameter(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups, out_features, in_features = self.weight.shape
        y = torch.einsum("bgi,goi->bgo", x.reshape(len(x), groups, in_features), self.weight)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(len(x), groups * out_features)


class GroupedBinaryCNN(nn.Module):
    """G ``BinaryCNN`` of one config as one model (build it with ``stack_models``).

    forward: X (B, G, 4, L) one-hot, member m's batch in X[:, m] (or (B, 4, L), one
    batch for every member) → logits (B, G, T). ``layers`` has the solo model's
    indices, so state-dict keys match a member's.
    """

    def __init__(self, layers: nn.Sequential, config, n_members: int):
        super().__init__()
        self.layers, self.config, self.n_members = layers, config, int(n_members)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X: (B, G, 4, L) or (B, 4, L) float one-hot. Returns logits (B, G, T)."""
        if X.dim() == 3:
            X = X.unsqueeze(1).expand(-1, self.n_members, -1, -1)
        logits = self.layers(X.reshape(len(X), -1, X.shape[-1]))
        return logits.view(len(X), self.n_members, -1)

    # -- members ----------------------------------------------------------------------
    def _split(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        """State entry ``key`` viewed with the member axis first: (G, *solo shape).
        Grouped linear layers store it first already; convolutions and batch norm
        store members as consecutive blocks of dimension 0."""
        module = self.get_submodule(key.rpartition(".")[0])
        if isinstance(module, GroupedLinear):
            return tensor
        return tensor.unflatten(0, (self.n_members, -1))

    def _take(self, key: str, tensor: torch.Tensor, keep: list[int]) -> torch.Tensor:
        """State entry (or a tensor shaped like one, e.g. Adam's moments) of the members
        ``keep`` only, in the grouped layout of a group of len(keep)."""
        if tensor.dim() == 0:   # num_batches_tracked, Adam's step: shared
            return tensor.clone()
        part = self._split(key, tensor)[keep]
        # blocks of dimension 0 (conv, batch norm) merge back; grouped linear's axis stays
        return (part.flatten(0, 1) if part.dim() > tensor.dim() else part).clone()

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Member m's state dict in the solo model's keys and shapes (copies)."""
        return {key: t.clone() if t.dim() == 0 else self._split(key, t)[m].clone()
                for key, t in self.state_dict().items()}   # state_dict(): detached

    def member(self, m: int) -> BinaryCNN:
        """A fresh ``BinaryCNN`` with member m's weights and batch-norm buffers, on the
        group's device, in the group's mode."""
        param = next(self.parameters())
        return solo_model(self.config, self.member_state(m), param.device,
                          param.dtype).train(self.training)

    def select(self, keep: list[int]) -> "GroupedBinaryCNN":
        """A new group of members ``keep`` (in that order), same mode."""
        return stack_models([self.member(m) for m in keep]).train(self.training)

    def member_square_norms(self) -> torch.Tensor:
        """(G,): each member's sum of squares of its trainable parameters, the value
        ``l2_penalty`` gives the member's solo model. Differentiable."""
        named = [(k, p) for k, p in self.named_parameters() if p.requires_grad]
        return torch.stack([self._split(k, p).flatten(1).pow(2).sum(1)
                            for k, p in named]).sum(0)


def solo_model(config, state: dict, device, dtype=torch.float32) -> BinaryCNN:
    """A ``BinaryCNN`` of ``config`` holding ``state`` (solo keys and shapes). Built on
    the meta device, so no initialisation runs and torch's global generator is not
    touched."""
    with torch.device("meta"):
        model = BinaryCNN(config)
    model = model.to_empty(device=device).to(dtype)
    model.load_state_dict(state)
    return model


def stack_models(models: list[BinaryCNN]) -> GroupedBinaryCNN:
    """G ``BinaryCNN`` of one config as one ``GroupedBinaryCNN``; member m's weights and
    buffers are copies of models[m]'s. The group takes models[0]'s mode and device."""
    if not models or not all(isinstance(m, BinaryCNN) for m in models):
        raise RegbenchError("stack_models needs one or more BinaryCNN models")
    config = models[0].config
    if any(dataclasses.asdict(m.config) != dataclasses.asdict(config) for m in models):
        raise RegbenchError("stack_models: every model must have the same configuration")
    layers = nn.Sequential(*[_stack_layer([m.layers[i] for m in models])
                             for i in range(len(models[0].layers))])
    return GroupedBinaryCNN(layers, config, len(models)).train(models[0].training)


def _stack_layer(layers: list[nn.Module]) -> nn.Module:
    """The grouped version of one layer of every member (its tensors concatenated,
    member-major)."""
    first, n = layers[0], len(layers)
    cat = lambda name: torch.cat([getattr(l, name).detach() for l in layers])  # noqa: E731
    if isinstance(first, nn.Conv1d):
        with torch.device("meta"):   # shapes only: the tensors are the members'
            conv = nn.Conv1d(n * first.in_channels, n * first.out_channels,
                             first.kernel_size, first.stride, first.padding, first.dilation,
                             groups=n * first.groups, bias=first.bias is not None,
                             padding_mode=first.padding_mode)
        conv.weight = nn.Parameter(cat("weight"))
        conv.bias = None if first.bias is None else nn.Parameter(cat("bias"))
        return conv
    if isinstance(first, nn.BatchNorm1d):
        return _stack_batch_norm(layers)
    if isinstance(first, nn.Linear):
        return GroupedLinear(torch.stack([l.weight.detach() for l in layers]).clone(),
                             None if first.bias is None else
                             torch.stack([l.bias.detach() for l in layers]).clone())
    if isinstance(first, _SHARED):
        return copy.deepcopy(first)
    # Dropout among them: each member would draw its own mask, not the solo run's.
    raise RegbenchError(f"stack_models: no grouped version of {type(first).__name__}")


def _stack_batch_norm(layers: list[nn.BatchNorm1d]) -> nn.BatchNorm1d:
    """BatchNorm1d(G·C): every member's channels, so its own batch statistics and
    running statistics. num_batches_tracked is one count for the group (members train
    in lockstep); it matters only with momentum=None, where members must agree."""
    first = layers[0]
    counts = {int(l.num_batches_tracked) for l in layers if l.num_batches_tracked is not None}
    if first.momentum is None and len(counts) > 1:
        raise RegbenchError("stack_models: batch norm with momentum=None needs members "
                            "that tracked the same number of batches")
    with torch.device("meta"):
        norm = nn.BatchNorm1d(len(layers) * first.num_features, first.eps, first.momentum,
                              first.affine, first.track_running_stats)
    if first.affine:
        norm.weight = nn.Parameter(torch.cat([l.weight.detach() for l in layers]))
        norm.bias = nn.Parameter(torch.cat([l.bias.detach() for l in layers]))
    if first.track_running_stats:
        norm.running_mean = torch.cat([l.running_mean for l in layers])
        norm.running_var = torch.cat([l.running_var for l in layers])
        norm.num_batches_tracked = first.num_batches_tracked.clone()
    return norm


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
      (the group computes per-member L2 itself) trains solo too.
    """
    if not isinstance(task, BinaryTask) or task.architecture != DEFAULT_ARCHITECTURE:
        return "only the binary task with the binary_cnn architecture trains in groups"
    if task.params.get("dropout"):
        return "a model with dropout trains solo (dropout draws differ)"
    if config.mixed_precision:
        return "mixed precision trains solo"
    if regularizer.needs not in ("nothing", *INPUT_PRIORS, "parameters"):
        return f"a needs={regularizer.needs!r} regularizer trains solo"
    if regularizer.attribution != "ixg":
        return ("expected-gradients priors train solo (their draws come from the run's "
                "generator)")
    if regularizer.needs == "parameters" and not _is_l2(regularizer):
        return "of the parameter penalties only l2 trains in groups"
    return None


def can_group(task: Task, regularizer: Regularizer, config: TrainConfig) -> bool:
    """Whether seeds of this run may train as one ``GroupTrainer`` (``why_not_grouped``)."""
    return why_not_grouped(task, regularizer, config) is None


def _is_l2(regularizer: Regularizer) -> bool:
    from regbench.regularizers.builtin import l2
    return regularizer.spec.penalty is l2


# -- training --------------------------------------------------------------------------------

@dataclasses.dataclass
class _Member:
    """Early-stopping state of one member (as ``Trainer.fit`` keeps it)."""

    result: TrainResult
    best_state: dict | None = None
    best_loss: float = float("inf")
    since_best: int = 0
    final_state: dict | None = None   # set when it stops: the weights it returns


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
    solo runs with different thread counts (README: Many workers).
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
        first n_prior[m] rows. Returns (logits (B, G, T) float32, penalties (G,)).

        As ``logits_and_attributions``: the full pass records the batch statistics, a
        second pass over the first max(n_prior) rows holds them, so rows are independent
        and member m's penalty sees exactly its solo attributions attr[:n_prior[m], m].
        """
        needs, n = self.regularizer.needs, max(n_prior)
        zero = torch.zeros((), device=X.device)
        if needs in INPUT_PRIORS and self.lam > 0 and n > 0:
            with BatchStatistics(model) as stats:
                outputs = model(X)
            with stats.held():
                attr = self.attributions(model, X[:n], create_graph=True)
            penalties = [self.regularizer(attr[:k, m].float()) if k > 0 else zero
                         for m, k in enumerate(n_prior)]
            return _float(outputs), torch.stack(penalties)
        outputs = _float(model(X))
        if needs == "parameters" and self.lam > 0:
            return outputs, model.member_square_norms()
        return outputs, zero.expand(model.n_members)

    def attributions(self, model, X, create_graph: bool) -> torch.Tensor:
        """Input x gradient (needs="attributions") or the input gradient ("gradients")
        of the summed explained outputs, model in its current mode. X: (n, G, 4, L) →
        (n, G, 4, L); members are independent, so slice m is member m's own."""
        X = X.detach().requires_grad_()
        with torch.enable_grad():
            explained = self.task.explained_output(model(X))
            grad, = torch.autograd.grad(explained.sum(), X, create_graph=create_graph)
        return grad * X if self.regularizer.needs == "attributions" else grad

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
        (``batch_order`` with its own generator). data: (codes (R, L), labels (R, T),
        offsets, priors) from ``_stack_data``. Returns (mean [correctness, penalty]
        per member (G, 2) as lists, steps, first-step peak bytes or NaN)."""
        codes, labels, offsets, priors = data
        model.train()
        plans = [[b for b in batch_order(priors[m], self.config.batch_size, rngs[m])
                  if len(b[0]) > 1] for m in active]   # batch norm needs two examples
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
        penalties = torch.zeros(G, device=self.device)
        needs = self.regularizer.needs
        if needs == "parameters" and self.lam > 0:
            with torch.no_grad():
                penalties = model.member_square_norms()
        elif needs in INPUT_PRIORS and self.lam > 0 and prior.any():
            rows = index_tensor(np.flatnonzero(prior), codes.device)
            for i in range(0, len(rows), batch):
                X = one_hot_codes(on_device(codes[rows[i:i + batch]]))
                X = X.unsqueeze(1).expand(-1, G, -1, -1)
                attr = self.attributions(model, X, create_graph=False)
                penalties += torch.stack([self.regularizer(attr[:, m].float())
                                          for m in range(G)]).detach() * len(X)
            penalties /= len(rows)
        return [tuple(v) for v in torch.stack([losses, penalties], 1).tolist()]

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
        started = time.perf_counter()
        models = []
        for trainer in self.solo:   # each member initialised as its solo run is
            set_seed(trainer.config.seed)
            models.append(trainer.build_model())
        model = stack_models(models)
        del models
        optimizer = torch.optim.Adam(model.parameters(), lr=self.config.learning_rate)
        rngs = [np.random.default_rng(c.seed) for c in self.configs]
        data = self._stack_data(trains)
        va_codes, va_labels = self.solo[0].to_device(*valid[:2])
        va_prior = self.solo[0]._prior(valid[1], valid[2:])

        members = [_Member(TrainResult(model=None)) for _ in range(G)]
        active, timed, peak = list(range(G)), [], float("nan")
        for epoch in range(1, self.config.max_epochs + 1):
            tick = time.perf_counter()
            train, steps, first_peak = self.run_epoch(model, optimizer, data, active, rngs,
                                                      measure=epoch == 1)
            timed.append((time.perf_counter() - tick, steps * len(active)))
            peak = first_peak if epoch == 1 else peak
            valid_losses = self.evaluate(model, va_codes, va_labels, va_prior)
            stopped = [j for j, m in enumerate(active)
                       if self._end_epoch(members[m], epoch, steps, train[j],
                                          valid_losses[j], model, j,
                                          None if progress is None else
                                          (lambda e, r, m=m: progress(m, e, r)))]
            if stopped:
                keep = [j for j in range(len(active)) if j not in stopped]
                active = [active[j] for j in keep]
                if not active:
                    break
                # Stopped members leave the group: no more compute spent on them.
                model, optimizer = self._shrink(model, optimizer, keep)
        for j, m in enumerate(active):   # ran to max_epochs
            self._stop(members[m], model, j)

        seconds = (time.perf_counter() - started) / G
        kept = timed[1:] or timed   # as Trainer.fit: the first epoch only when alone
        member_steps = sum(n for _, n in kept)
        dtype = next(model.parameters()).dtype
        results = []
        for m, member in enumerate(members):
            result = member.result
            result.model = solo_model(model.config, member.final_state, self.device,
                                      dtype).eval()
            result.best_val_loss = member.best_loss if member.best_state is not None \
                else float("nan")
            result.seconds, result.peak_step_bytes = seconds, float(peak) / G
            if member_steps:
                result.train_step_seconds = sum(t for t, _ in kept) / member_steps
            if checkpoints is not None:
                save_checkpoint(checkpoints[m], self.solo[m], result)
            results.append(result)
        return results

    def _end_epoch(self, member: _Member, epoch: int, steps: int, train, valid,
                   model, j: int, progress) -> bool:
        """Record member j's epoch and apply ``Trainer.fit``'s rules (non-finite loss,
        best epoch, patience). Returns whether it stops now."""
        val_loss = valid[0]
        result = member.result
        result.steps += steps
        failure = record_epoch(result, epoch, train, valid, progress, self.lam)
        if failure:
            result.status = failure
        elif val_loss < member.best_loss:
            member.best_loss, member.since_best, result.best_epoch = val_loss, 0, epoch
            member.best_state = model.member_state(j)
            return False
        else:
            member.since_best += 1
            if member.since_best < self.configs[0].patience:
                return False
        self._stop(member, model, j)
        return True

    @staticmethod
    def _stop(member: _Member, model, j: int) -> None:
        """Fix the weights member j returns: its best epoch's, else (a run that failed
        before any finite epoch) its last, as ``Trainer.fit`` leaves them."""
        member.final_state = member.best_state or model.member_state(j)

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


__all__ = ["GroupTrainer", "GroupedBinaryCNN", "GroupedLinear", "can_group", "solo_model",
           "stack_models", "why_not_grouped"]
