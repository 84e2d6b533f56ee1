"""Attribution methods: the plug-point ``attribute(model, X, **kw) -> (N, 4, L)``.

``input_x_gradient`` is the training-time attribution (double backprop through
``create_graph=True``) and an evaluation method; ``deep_lift_shap`` hands DeepLIFT/SHAP
against dinucleotide-shuffled references to tangermeme. The evaluation methods beside
them: ``saliency`` (the plain input gradient), ``integrated_gradients`` (against
dinucleotide-shuffled references or the all-zero baseline) and ``ism`` (in-silico
mutagenesis, via tangermeme); the gradient-based ones also come with the gradient
correction of Majdandzic & Koo (``gradient_correction``), registered as ``NAME_corrected``.
``get_attribution_method`` and ``explain`` look any of them up by name; docs/metrics.md
("Attribution methods") has their formulas.
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from tangermeme.deep_lift_shap import deep_lift_shap as _tangermeme_deep_lift_shap
from tangermeme.ersatz import dinucleotide_shuffle
from tangermeme.saturation_mutagenesis import saturation_mutagenesis

from regbench.errors import RegbenchError
from regbench.store import METHOD_LABELS


def _model_device(model: torch.nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    param = next(model.parameters(), None)
    return param.dtype if param is not None else torch.float32


def _check_shape(X: torch.Tensor) -> None:
    if X.dim() != 3 or X.shape[1] != 4:
        raise RegbenchError(f"X must be one-hot DNA of shape (N, 4, L), got {tuple(X.shape)}")


@contextlib.contextmanager
def full_float32():
    """Turn off TF32 (cuDNN's default for float32 convolutions on recent GPUs) inside the
    block. TF32 keeps 10 mantissa bits: fine for training, but DeepLIFT/SHAP's
    summation-to-delta check then fails by ~1e-3 (seen on an H100)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module):
    """Run in eval mode (batchnorm on running stats), then restore the caller's mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _output_to_explain(logits: torch.Tensor, target: int | None) -> torch.Tensor:
    """The scalar whose input gradient is the attribution. logits: (N, T)."""
    if logits.dim() != 2:
        raise RegbenchError(f"the model must return logits of shape (N, T), got "
                            f"{tuple(logits.shape)}; wrap it to return one value per task")
    if target is None:
        return logits.sum()
    if not -logits.shape[1] <= target < logits.shape[1]:
        raise RegbenchError(f"target={target} is out of range for a model with "
                            f"{logits.shape[1]} task(s)")
    return logits[:, target].sum()


def _identity(outputs):
    return outputs


def training_attributions(model: torch.nn.Module, X: torch.Tensor,
                          target: int | None = None, output=_identity, args: tuple = (),
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
    _check_shape(X)
    X = X.detach().to(_model_dtype(model)).requires_grad_()
    with torch.enable_grad():
        outputs = model(X, *args)
        grad, = torch.autograd.grad(_output_to_explain(output(outputs), target), X,
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
            x = inputs[0].detach().float()
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
                            output=_identity, args: tuple = (), times_input: bool = True
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
                       output=_identity, args: tuple = ()) -> torch.Tensor:
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
    _check_shape(X)
    if source not in ("batch", "shuffle") or references < 1:
        raise RegbenchError(f"expected gradients: eg_source must be batch or shuffle and "
                            f"eg_references >= 1, got {source!r} and {references}")
    X = X.detach().to(_model_dtype(model))
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
            explained = _output_to_explain(output(model(point, *args)), None)
            grad, = torch.autograd.grad(explained, point, create_graph=True)
        total = total + (X - ref) * grad
    return total / references


def logits_and_expected_gradients(model: torch.nn.Module, X: torch.Tensor, n_attributed: int,
                                  output=_identity, args: tuple = (), **eg
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


def input_x_gradient(model: torch.nn.Module, X: torch.Tensor, *, batch_size: int = 256,
                     create_graph: bool = False, target: int | None = None,
                     args: tuple = (), device=None, corrected: bool = False) -> torch.Tensor:
    """Gradient of the summed logits w.r.t. the input, times the input.

    X: (N, 4, L) one-hot (float or integer). Returns attributions (N, 4, L).
    ``target=None`` explains the sum of logits over tasks (the training-time
    attribution); an int explains that task only.

    ``create_graph=True`` is the training path: the whole X in one pass, the model in
    its current mode, the graph kept for double backprop. ``create_graph=False`` is the
    evaluation path: ``saliency`` (eval mode, batches of ``batch_size`` on ``device``,
    by default the model's) times X, a detached result on X's device; ``corrected``
    takes the gradient minus its mean over bases (``gradient_correction``) there.
    ``args``: the model's further inputs (N, ...).
    """
    _check_shape(X)
    if create_graph:
        if corrected:
            raise RegbenchError("corrected=True is an evaluation option of input_x_gradient "
                                "(create_graph=False)")
        return training_attributions(model, X, target, args=args)[1]
    grad = saliency(model, X, batch_size=batch_size, target=target, device=device,
                    args=args, corrected=corrected)
    return X.to(grad.dtype) * grad


def gradient_correction(grad: torch.Tensor) -> torch.Tensor:
    """The gradient correction of Majdandzic & Koo (Genome Biology 2023): at every
    position, the gradient minus its mean over the four bases. grad: (N, 4, L) ->
    (N, 4, L).

    One-hot inputs lie on the simplex sum_b x_b = 1; the mean over bases is (up to a
    factor) the gradient's component orthogonal to it, a direction no input moves in,
    which the model was never trained on and which only adds noise. Applied to the
    gradient before any method uses it (saliency, input x gradient, integrated
    gradients' averaged path gradient)."""
    return grad - grad.mean(dim=1, keepdim=True)


@contextlib.contextmanager
def _evaluating(model: torch.nn.Module, device=None):
    """The model in eval mode on ``device`` (None: where it is), TF32 off; the caller's
    mode and device are restored after. Yields the device."""
    home = _model_device(model)
    device = torch.device(device) if device is not None else home
    model.to(device)
    try:
        with _eval_mode(model), full_float32():
            yield device
    finally:
        model.to(home)


def _gradient(model: torch.nn.Module, X: torch.Tensor, target: int | None,
              args: tuple = ()) -> torch.Tensor:
    """Input gradient of the explained output (``_output_to_explain``) for one batch
    X (B, 4, L) on the model's device; args (B, ...). Detached, in the model's dtype."""
    X = X.detach().to(_model_dtype(model)).requires_grad_()
    with torch.enable_grad():
        grad, = torch.autograd.grad(_output_to_explain(model(X, *args), target), X)
    return grad


def _batches(n: int, batch_size: int):
    if batch_size < 1:
        raise RegbenchError(f"batch_size must be >= 1, got {batch_size}")
    return [torch.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def saliency(model: torch.nn.Module, X: torch.Tensor, *, batch_size: int = 128,
             target: int | None = 0, device=None, args: tuple = (),
             corrected: bool = False) -> torch.Tensor:
    """Saliency (Simonyan, Vedaldi & Zisserman 2014): the gradient of the explained
    output (task ``target``; None: the sum over tasks) w.r.t. the one-hot input.

    X: (N, 4, L) one-hot (float or integer). Returns (N, 4, L) on X's device, in the
    model's dtype: all four bases at every position (hypothetical scores), not
    multiplied by X. ``corrected``: minus the mean over bases at each position
    (``gradient_correction``). The model runs in eval mode with TF32 off, in batches
    of ``batch_size`` on ``device`` (default: the model's own). ``args``: the model's
    further inputs (N, ...), passed with their rows, not attributed.
    """
    _check_shape(X)
    with _evaluating(model, device) as device:
        parts = [_gradient(model, X[rows].to(device), target,
                           tuple(a[rows].to(device) for a in args)).to(X.device)
                 for rows in _batches(len(X), batch_size)]
    grad = torch.cat(parts) if parts else torch.zeros(X.shape, dtype=_model_dtype(model))
    return gradient_correction(grad) if corrected else grad


def _check_one_hot(X: torch.Tensor, allow_N: bool) -> None:
    _check_shape(X)
    if not torch.all((X == 0) | (X == 1)) or not torch.all(X.sum(dim=1) <= 1):
        raise RegbenchError("X must be one-hot DNA (0/1, at most one base per position)")
    if not allow_N and not torch.all(X.sum(dim=1) == 1):
        raise RegbenchError("X has N (all-zero) positions; pass allow_N=True to give them "
                            "zero attribution (summation to delta then holds only roughly)")


def _check_target(model: torch.nn.Module, X: torch.Tensor, target: int,
                  args: tuple = ()) -> None:
    """Fail with a clear message, not tangermeme's IndexError. X: (1, 4, L)."""
    device, dtype = _model_device(model), _model_dtype(model)
    with _eval_mode(model), torch.no_grad():
        logits = model(X.to(device=device, dtype=dtype),
                       *(a.to(device=device, dtype=dtype) for a in args))
    _output_to_explain(logits, target)


def deep_lift_shap(model: torch.nn.Module, X: torch.Tensor, *, n_shuffles: int = 20,
                   batch_size: int = 128, random_state: int = 0, device=None,
                   target: int = 0, allow_N: bool = False, args: tuple = ()) -> torch.Tensor:
    """DeepLIFT/SHAP against dinucleotide-shuffled references, via tangermeme.

    X: (N, 4, L) one-hot. Returns attributions (N, 4, L) on X's device, non-zero only
    at the observed base. ``target`` picks the task of a multi-task model (logits
    (N, T)). ``batch_size`` counts example-reference pairs. Reference k of every
    example is drawn with seed ``random_state + k``, so a seed gives the same numbers.
    The model runs in eval mode (tangermeme sets it and restores the caller's mode) on
    ``device``, by default the model's own.

    Per pair, tangermeme checks that the attributions sum to model(X) - model(ref)
    and warns (RuntimeWarning) when a delta exceeds 1e-3. Attributions summed over
    (4, L) equal model(X)[:, target] minus the mean over the references.

    N positions: tangermeme rejects all-zero columns in X, and so does this function
    unless ``allow_N=True``. Then the shuffles keep each N as a character of its own
    (``dinucleotide_shuffle(allow_N=True)``, same seeds), N positions get zero
    attribution, and the sum misses the reference's share at the positions that are
    N in X, so summation to delta no longer holds exactly.

    ``args``: the model's further inputs (N, ...), given to each reference as to its
    input (tangermeme's ``args``), so they are not attributed.
    """
    X = torch.as_tensor(X)
    _check_one_hot(X, allow_N)
    has_N = allow_N and not torch.all(X.sum(dim=1) == 1)
    references = functools.partial(dinucleotide_shuffle, allow_N=True) if has_N \
        else dinucleotide_shuffle
    device = device if device is not None else _model_device(model)
    _check_target(model, X[:1], target, tuple(a[:1] for a in args))
    with warnings.catch_warnings(), full_float32():
        # only_warn lets N columns past tangermeme's check; we validated X above.
        warnings.filterwarnings("ignore", message="X must be one-hot encoded")
        attr = _tangermeme_deep_lift_shap(
            model, X, target=target, batch_size=batch_size, references=references,
            n_shuffles=n_shuffles, random_state=random_state, only_warn=has_N,
            device=device, args=tuple(args) or None,
            additional_nonlinear_ops=_extra_nonlinear_ops())
    return attr.to(X.device)


def _shuffled_references(X: torch.Tensor, seeds: list[int], allow_N: bool) -> torch.Tensor:
    """One dinucleotide shuffle of each row of X (B, 4, L), row i drawn with seed
    ``seeds[i]``: the reference deep_lift_shap pairs with it (reference k of every
    example has seed random_state + k). Returns (B, 4, L)."""
    return dinucleotide_shuffle(X, n=1, random_state=seeds, allow_N=allow_N)[:, 0]


def integrated_gradients(model: torch.nn.Module, X: torch.Tensor, *,
                         baseline: str = "shuffle", n_shuffles: int = 20, steps: int = 20,
                         batch_size: int = 128, random_state: int = 0, device=None,
                         target: int | None = 0, args: tuple = (),
                         corrected: bool = False) -> torch.Tensor:
    """Integrated gradients (Sundararajan, Taly & Yan 2017).

    For input x and reference x', ``(x - x') * mean_s grad f(x' + a_s (x - x'))`` with
    ``steps`` points a_s = (s + 1/2) / steps (the midpoint rule), averaged over the
    references. ``baseline="shuffle"``: ``n_shuffles`` dinucleotide-shuffled
    references per example, reference k drawn with seed ``random_state + k``, the
    same references as ``deep_lift_shap`` with that ``random_state``;
    ``baseline="zero"``: the all-zero sequence, one reference. ``corrected``: the
    averaged path gradient minus its mean over bases (``gradient_correction``) before
    it is multiplied by x - x'.

    X: (N, 4, L) one-hot (N positions, all-zero columns, allowed: the shuffles keep
    them). Returns (N, 4, L) on X's device, in the model's dtype; non-zero wherever x
    and x' differ. Summed over (4, L) it approaches f(x) minus the mean f(x') as steps
    grow (exactly for a linear model). The model runs in eval mode with TF32 off on
    ``device`` (default: the model's); ``batch_size`` counts example-reference pairs
    per forward pass (one pass per step). ``args``: the model's further inputs
    (N, ...): each evaluation along every path gets its example's own rows.
    """
    X = torch.as_tensor(X)
    _check_one_hot(X, allow_N=True)
    if baseline not in ("shuffle", "zero"):
        raise RegbenchError(f"baseline must be 'shuffle' or 'zero', got {baseline!r}")
    if steps < 1 or (baseline == "shuffle" and n_shuffles < 1):
        raise RegbenchError(f"integrated gradients needs steps >= 1 and n_shuffles >= 1, "
                            f"got steps={steps}, n_shuffles={n_shuffles}")
    n_refs = n_shuffles if baseline == "shuffle" else 1
    has_N = not torch.all(X.sum(dim=1) == 1)
    dtype = _model_dtype(model)
    attr = torch.zeros(X.shape, dtype=dtype)
    alphas = [(s + 0.5) / steps for s in range(steps)]
    with _evaluating(model, device) as device:
        for pairs in _batches(len(X) * n_refs, batch_size):
            rows, k = pairs // n_refs, pairs % n_refs     # pair = (example, reference)
            x = X[rows].cpu()
            ref = (_shuffled_references(x, (random_state + k).tolist(), has_N)
                   if baseline == "shuffle" else torch.zeros_like(x))
            x, ref = x.to(device=device, dtype=dtype), ref.to(device=device, dtype=dtype)
            batch_args = tuple(a[rows].to(device) for a in args)
            grad = sum(_gradient(model, ref + alpha * (x - ref), target, batch_args)
                       for alpha in alphas) / steps
            if corrected:
                grad = gradient_correction(grad)
            attr.index_add_(0, rows, ((x - ref) * grad).cpu())
    return (attr / n_refs).to(X.device)


def ism(model: torch.nn.Module, X: torch.Tensor, *, batch_size: int = 128,
        target: int = 0, device=None, args: tuple = (), fast: bool = False) -> torch.Tensor:
    """In-silico saturation mutagenesis via tangermeme's ``saturation_mutagenesis``.

    X: (N, 4, L) one-hot. Returns (N, 4, L) on X's device: at position i and base b,
    output(x with base b at i) - output(x) of task ``target``. Positive: substituting
    b raises the output. Exactly 0 at the observed base (tangermeme fills that
    identity edit with the unmutated prediction); at an N position (all-zero column)
    all four substitutions are made. This is tangermeme's ``raw_outputs``, not its
    default aggregation, which subtracts the mean over bases at each position.

    Every edit is one forward pass (3 L per sequence) in batches of ``batch_size`` on
    ``device`` (default: the model's), eval mode, TF32 off. ``fast=False`` by default:
    tangermeme's fastISM is chosen by timing the first batch, so with it the numbers
    could differ by rounding between two runs of the same config. ``args``: the
    model's further inputs (N, ...), each edited sequence gets its example's rows.
    """
    X = torch.as_tensor(X)
    _check_one_hot(X, allow_N=True)
    device = device if device is not None else _model_device(model)
    _check_target(model, X[:1], target, tuple(a[:1] for a in args))
    with full_float32():
        y0, y_hat = saturation_mutagenesis(model, X, args=tuple(args) or None,
                                           batch_size=batch_size, raw_outputs=True,
                                           device=device, fast=fast)
    # y0: (N, T); y_hat: (N, 4, L, T), the observed base's entry filled with y0
    return (y_hat[..., target] - y0[:, None, None, target]).to(X.device)


def _extra_nonlinear_ops() -> dict:
    """regbench's own activation modules, for tangermeme's rescale rule."""
    from tangermeme.deep_lift_shap import _nonlinear

    from regbench.models.binary import Exp
    return {Exp: _nonlinear}


@dataclass(frozen=True)
class ExplainSettings:
    """What evaluation tells every attribution method: the task to explain, where and
    in what batches to run, and the references' settings (DeepLIFT/SHAP, integrated
    gradients)."""

    target: int = 0
    device: object = None
    batch_size: int = 128
    n_shuffles: int = 20
    reference_seed: int = 0
    args: tuple = ()     # the model's further inputs, row-aligned with X (not attributed)
    ig_steps: int = 20   # integrated gradients: points on each path (midpoint rule)


def _explain_deep_lift_shap(model, X, settings: ExplainSettings) -> torch.Tensor:
    with _paired(model):
        return deep_lift_shap(model, X, n_shuffles=settings.n_shuffles,
                              batch_size=settings.batch_size,
                              random_state=settings.reference_seed, device=settings.device,
                              target=settings.target, allow_N=bool((X.sum(dim=1) == 0).any()),
                              args=settings.args)


@contextlib.contextmanager
def _paired(model):
    """Tell a task's explained-output wrapper (``paired`` attribute) that batches are
    inputs then their references (tangermeme concatenates them so)."""
    if not hasattr(model, "paired"):
        yield
        return
    model.paired = True
    try:
        yield
    finally:
        model.paired = False


def _on_device(settings: ExplainSettings) -> dict:
    """The keywords every gradient method and ISM take from the settings."""
    return dict(batch_size=settings.batch_size, target=settings.target,
                device=settings.device, args=settings.args)


def _explain_input_x_gradient(model, X, settings: ExplainSettings,
                              corrected: bool = False) -> torch.Tensor:
    return input_x_gradient(model, X, corrected=corrected, **_on_device(settings))


def _explain_saliency(model, X, settings: ExplainSettings,
                      corrected: bool = False) -> torch.Tensor:
    return saliency(model, X, corrected=corrected, **_on_device(settings))


def _explain_integrated_gradients(model, X, settings: ExplainSettings,
                                  baseline: str = "shuffle",
                                  corrected: bool = False) -> torch.Tensor:
    return integrated_gradients(model, X, baseline=baseline, n_shuffles=settings.n_shuffles,
                                steps=settings.ig_steps, random_state=settings.reference_seed,
                                corrected=corrected, **_on_device(settings))


def _explain_ism(model, X, settings: ExplainSettings) -> torch.Tensor:
    return ism(model, X, **_on_device(settings))


@dataclass(frozen=True)
class AttributionMethod:
    """A registry entry. explain(model, X (N, 4, L) one-hot, settings) -> (N, 4, L)
    attributions on X's device; ``function`` is the method's own call (keyword
    arguments), ``label`` its name in the report, ``description`` one line for
    ``regbench methods``."""

    name: str
    explain: Callable[..., torch.Tensor]
    label: str
    function: Callable[..., torch.Tensor] | None = None
    description: str = ""


_METHODS: dict[str, AttributionMethod] = {}


def register_attribution_method(name: str, *, label: str | None = None, function=None,
                                description: str = ""):
    """Decorator adding ``explain(model, X, settings) -> (N, 4, L)`` under ``name``;
    ``[evaluation] methods`` can then name it, and results.csv, the statistics and the
    report show its metrics under its own ``method``. ``model`` is what the task
    explains (one output tensor (N, T)); explain task ``settings.target``.
    ``description``: one line for ``regbench methods``."""
    def add(explain_fn):
        if name in _METHODS:
            raise RegbenchError(f"an attribution method named {name!r} is already registered")
        _METHODS[name] = AttributionMethod(name, explain_fn, label or name, function,
                                           description)
        METHOD_LABELS[name] = label or name
        return explain_fn
    return add


def unregister_attribution_method(name: str) -> None:
    _METHODS.pop(name, None)
    METHOD_LABELS.pop(name, None)


def _register_with_correction(name: str, *, label: str, function, explain_fn,
                              description: str) -> None:
    """A gradient-based method, and beside it ``NAME_corrected``: the same with
    ``corrected=True`` (``gradient_correction``)."""
    register_attribution_method(name, label=label, function=function,
                                description=description)(explain_fn)
    register_attribution_method(
        f"{name}_corrected", label=f"corrected {label}",
        function=functools.partial(function, corrected=True),
        description=f"{description}; gradient minus its mean over bases "
                    "(Majdandzic & Koo 2023)")(functools.partial(explain_fn, corrected=True))


# The labels are also in regbench.store.METHOD_LABELS, for readers that load no torch.
register_attribution_method(
    "deep_lift_shap", label="DeepLIFT/SHAP", function=deep_lift_shap,
    description="DeepLIFT/SHAP against n_shuffles dinucleotide-shuffled references "
                "(tangermeme); observed base only")(_explain_deep_lift_shap)
_register_with_correction(
    "input_x_gradient", label="input×gradient", function=input_x_gradient,
    explain_fn=_explain_input_x_gradient,
    description="gradient of the explained output times the one-hot input; observed "
                "base only")
_register_with_correction(
    "saliency", label="saliency", function=saliency, explain_fn=_explain_saliency,
    description="input gradient of the explained output, all four bases (Simonyan et "
                "al. 2014)")
_register_with_correction(
    "integrated_gradients", label="integrated gradients vs shuffled refs",
    function=integrated_gradients, explain_fn=_explain_integrated_gradients,
    description="(x - x') times the path-averaged gradient (ig_steps midpoints), mean "
                "over n_shuffles dinucleotide-shuffled references x' (Sundararajan et al. "
                "2017)")
register_attribution_method(
    "integrated_gradients_zero", label="integrated gradients vs zero baseline",
    function=functools.partial(integrated_gradients, baseline="zero"),
    description="x times the path-averaged gradient (ig_steps midpoints) from the "
                "all-zero baseline (Sundararajan et al. 2017)")(
    functools.partial(_explain_integrated_gradients, baseline="zero"))
register_attribution_method(
    "ism", label="ISM", function=ism,
    description="in-silico mutagenesis: output(x with base b at i) - output(x), all "
                "four bases, 0 at the observed base (tangermeme)")(_explain_ism)


def get_attribution_method(name: str) -> Callable[..., torch.Tensor]:
    """The attribution function called ``name``: ``attribute(model, X, **kw) -> (N, 4, L)``
    (the entry's evaluation call when it registered no function of its own)."""
    entry = _lookup(name)
    return entry.function or entry.explain


def explain(name: str, model: torch.nn.Module, X: torch.Tensor,
            settings: ExplainSettings) -> torch.Tensor:
    """Evaluation attributions (N, 4, L) of method ``name`` for X (N, 4, L) one-hot."""
    return _lookup(name).explain(model, X, settings)


def list_attribution_methods() -> list[str]:
    return list(_METHODS)


def describe_attribution_method(name: str) -> AttributionMethod:
    """The registry entry of ``name`` (label, description, ...)."""
    return _lookup(name)


def resolve_methods(names: list[str]) -> list[str]:
    """``[evaluation] methods`` -> the registered names it means: "all" is every
    registered method, in registration order; duplicates dropped. An unknown name is
    one RegbenchError line that lists the known ones."""
    unknown = [n for n in dict.fromkeys(names) if n not in _METHODS and n != "all"]
    if unknown:
        raise RegbenchError(f"[evaluation] methods: unknown attribution method(s) "
                            f"{', '.join(unknown)}; known: "
                            f"{', '.join(list_attribution_methods())} (or \"all\")")
    return list_attribution_methods() if "all" in names else list(dict.fromkeys(names))


def _lookup(name: str) -> AttributionMethod:
    try:
        return _METHODS[name]
    except KeyError:
        raise RegbenchError(f"unknown attribution method {name!r}; known: "
                            f"{', '.join(sorted(_METHODS))}") from None


__all__ = ["AttributionMethod", "BatchStatistics", "ExplainSettings", "deep_lift_shap",
           "describe_attribution_method", "explain", "get_attribution_method",
           "gradient_correction", "input_x_gradient", "integrated_gradients", "ism",
           "list_attribution_methods", "logits_and_attributions",
           "register_attribution_method", "resolve_methods", "saliency",
           "training_attributions", "unregister_attribution_method"]
