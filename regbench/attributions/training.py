"""Training-time attributions: what the attribution priors differentiate through.

``training_attributions`` (input x gradient, or the input gradient, graph kept for
double backprop), ``expected_gradients`` (``NAME@eg`` priors), and the training
step's pass ``logits_and_attributions`` / ``logits_and_expected_gradients``, which hold
batch-norm statistics constant (``BatchStatistics``) so that each row gets its own
gradient.
"""
from __future__ import annotations

import contextlib

import torch
from tangermeme.ersatz import dinucleotide_shuffle

from regbench.attributions.common import (check_shape, identity, model_dtype,
                                          output_to_explain)
from regbench.errors import RegbenchError


def training_attributions(model: torch.nn.Module, X: torch.Tensor,
                          target: int | None = None, output=identity, args: tuple = (),
                          times_input: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass giving the model's outputs and the input x gradient of the
    explained output, graph kept.

    X: (N, 4, L) one-hot, on the model's device. ``output(model(X))`` is the explained
    output (N, T) (``Task.explained_output``; binary models: the logits themselves).
    Returns ``(outputs, attr (N, 4, L))``; ``attr`` is differentiable w.r.t. the
    weights (``create_graph=True``), so a penalty on it trains the model, and the loss
    reuses ``outputs``. The model is used in its current mode. ``target=None``
    explains the sum over T. ``args``: the model's further inputs (N, ...), not
    attributed. ``times_input=False`` returns the input gradient itself (all four bases).
    """
    check_shape(X)
    X = X.detach().to(model_dtype(model)).requires_grad_()
    with torch.enable_grad():
        outputs = model(X, *args)
        grad, = torch.autograd.grad(output_to_explain(output(outputs), target), X,
                                    create_graph=True)
    return outputs, grad * X if times_input else grad


class BatchStatistics:
    """Each batch-norm layer's batch mean and variance, recorded in training mode and
    lent back as constants.

    Why: in training mode batch norm couples the examples of a batch, so the gradient
    of the batch's summed logits is not each example's own gradient. With batch norm
    right before the output layer (the paper's dense -> ReLU -> batch norm -> linear)
    the summed logits do not depend on the input at all, and that gradient is zero up
    to rounding. Holding the statistics constant gives each example the gradient of
    its own logits, for the model as it computes this batch.

        with BatchStatistics(model) as stats:
            logits = model(X)                     # records every layer's statistics
        with stats.held():
            attr = ...                            # batch norm uses them as constants
    """

    def __init__(self, model: torch.nn.Module):
        self.norms = [m for m in model.modules()
                      if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        self.stats: dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
        self._hooks = []

    def __enter__(self) -> "BatchStatistics":
        self._hooks = [m.register_forward_pre_hook(self._record) for m in self.norms]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def _record(self, module, inputs) -> None:
        if module.training:
            # at least float32 (as batch norm computes under autocast), else the
            # model's own dtype: float32 statistics fail a float64 model
            x = inputs[0].detach()
            x = x.to(torch.promote_types(x.dtype, torch.float32))
            dims = [0, *range(2, x.dim())]  # all but the channel dimension
            self.stats[module] = x.mean(dims), x.var(dims, unbiased=False)

    @contextlib.contextmanager
    def held(self):
        """Batch norm in eval mode on the recorded statistics; buffers restored after."""
        saved = [(m, m.training, m.running_mean, m.running_var) for m in self.stats]
        try:
            for m, (mean, var) in self.stats.items():
                m.eval()
                m.running_mean, m.running_var = mean, var
            yield
        finally:
            for m, training, mean, var in saved:
                m.train(training)
                m.running_mean, m.running_var = mean, var


def logits_and_attributions(model: torch.nn.Module, X: torch.Tensor, n_attributed: int,
                            output=identity, args: tuple = (), times_input: bool = True
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """The training step's forward pass: outputs of a batch and input x gradient of its
    first ``n_attributed`` rows, graph kept for double backprop.

    X: (B, 4, L) one-hot on the model's device; ``output`` maps the model's outputs
    to the explained output (N, T) (``Task.explained_output``). Returns (outputs
    (binary: logits (B, T)), attr (n_attributed, 4, L)). In training mode the logits come from the usual pass (batch
    norm on batch statistics, running statistics updated) and the attributions from a
    second pass over the attributed rows with those statistics held constant
    (``BatchStatistics``): each row's gradient of its own summed logits. In eval mode
    one pass gives both.
    """
    if not model.training:
        outputs, attr = training_attributions(model, X, output=output, args=args,
                                              times_input=times_input)
        return outputs, attr[:n_attributed]
    with BatchStatistics(model) as stats:
        outputs = model(X, *args)
    with stats.held():
        _, attr = training_attributions(model, X[:n_attributed], output=output,
                                        args=tuple(a[:n_attributed] for a in args),
                                        times_input=times_input)
    return outputs, attr


def expected_gradients(model: torch.nn.Module, X: torch.Tensor, *, references: int = 1,
                       source: str = "batch", generator: torch.Generator | None = None,
                       output=identity, args: tuple = ()) -> torch.Tensor:
    """Expected gradients (Erion et al., Nature Machine Intelligence 2021), the
    training-time attribution of ``NAME@eg`` priors, graph kept for double backprop.

    E over references x' and alpha ~ U(0, 1) of (x - x') * grad f(x' + alpha (x - x')),
    estimated with ``references`` draws (x', alpha) per example (Erion et al. used 1
    per step). ``source="batch"``: x' is another row of the same batch (a random
    permutation: references from the training data, as Erion et al.); ``"shuffle"``:
    a dinucleotide shuffle of x. Draws come from ``generator``. X: (N, 4, L) one-hot
    on the model's device; f = ``output(model(X, *args))`` summed over tasks. Returns
    (N, 4, L), differentiable w.r.t. the weights. The model is used in its current
    mode (the trainer holds batch-norm statistics, as for input x gradient).
    """
    check_shape(X)
    if source not in ("batch", "shuffle") or references < 1:
        raise RegbenchError(f"expected gradients: eg_source must be batch or shuffle and "
                            f"eg_references >= 1, got {source!r} and {references}")
    X = X.detach().to(model_dtype(model))
    device = X.device
    total = torch.zeros_like(X)
    for _ in range(int(references)):
        if source == "batch":
            ref = X[torch.randperm(len(X), generator=generator, device=device)]
        else:
            seeds = torch.randint(0, 2 ** 31 - 1, (len(X),), generator=generator,
                                  device=device).tolist()
            ref = dinucleotide_shuffle(X.cpu(), n=1, random_state=seeds,
                                       allow_N=True)[:, 0].to(X)
        alpha = torch.rand((len(X), 1, 1), generator=generator, device=device, dtype=X.dtype)
        point = (ref + alpha * (X - ref)).requires_grad_()
        with torch.enable_grad():
            explained = output_to_explain(output(model(point, *args)), None)
            grad, = torch.autograd.grad(explained, point, create_graph=True)
        total = total + (X - ref) * grad
    return total / references


def logits_and_expected_gradients(model: torch.nn.Module, X: torch.Tensor, n_attributed: int,
                                  output=identity, args: tuple = (), **eg
                                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``logits_and_attributions`` with expected gradients (``eg``: references, source,
    generator) as the attribution of the first ``n_attributed`` rows."""
    if not model.training:
        return model(X, *args), expected_gradients(
            model, X[:n_attributed], output=output,
            args=tuple(a[:n_attributed] for a in args), **eg)
    with BatchStatistics(model) as stats:
        outputs = model(X, *args)
    with stats.held():
        attr = expected_gradients(model, X[:n_attributed], output=output,
                                  args=tuple(a[:n_attributed] for a in args), **eg)
    return outputs, attr
