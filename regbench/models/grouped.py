"""The grouped binary CNN: G ``BinaryCNN`` of one config side by side in the channel
dimension, so that one forward pass computes every member (``regbench.training.group``).

Each Conv1d(Cin, Cout, W) becomes Conv1d(G·Cin, G·Cout, W, groups=G), each
BatchNorm1d(C) BatchNorm1d(G·C) (every member keeps its own batch and running
statistics), each Linear a ``GroupedLinear`` (weight (G, out, in)); ReLU, Exp, max pool
and Flatten are unchanged, since they act per channel or keep each member's features
together in the solo layout. Nothing mixes members, so member m computes exactly what
its solo model computes (up to floating-point summation order).
"""
from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from regbench.errors import RegbenchError
from regbench.models.binary import BinaryCNN, Exp

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


__all__ = ["GroupedBinaryCNN", "GroupedLinear", "solo_model", "stack_models"]
