"""DeepLIFT/SHAP against dinucleotide-shuffled references, via tangermeme.

A model's own non-linearities declare their DeepLIFT rule (``declared_rules``): this
module never names a model's modules."""
from __future__ import annotations

import functools
import warnings

import torch
from tangermeme.deep_lift_shap import _nonlinear
from tangermeme.deep_lift_shap import deep_lift_shap as _tangermeme_deep_lift_shap
from tangermeme.ersatz import dinucleotide_shuffle

from regbench.attributions.common import (check_one_hot, check_target, eval_mode,
                                          full_float32, model_device, model_dtype)
from regbench.errors import RegbenchError

# tangermeme's rules by the names modules declare: "rescale", (f(x) - f(x')) / (x - x')
# times the incoming multiplier, for element-wise non-linearities such as exp.
RULES = {"rescale": _nonlinear}


def deep_lift_shap(model: torch.nn.Module, X: torch.Tensor, *, n_shuffles: int = 20,
                   batch_size: int = 128, random_state: int = 0, device=None,
                   target: int = 0, allow_N: bool = False, args: tuple = (),
                   hypothetical: bool = False) -> torch.Tensor:
    """DeepLIFT/SHAP against dinucleotide-shuffled references, via tangermeme.

    X: (N, 4, L) one-hot. Returns attributions (N, 4, L) on X's device, non-zero only
    at the observed base. ``target`` picks the task of a multi-task model (logits
    (N, T)). ``batch_size`` counts example-reference pairs. Reference k of every
    example is drawn with seed ``random_state + k``, so a seed gives the same numbers.
    The model runs in eval mode (tangermeme sets it and restores the caller's mode) on
    ``device``, by default the model's own.

    Per pair, tangermeme checks that the attributions sum to model(X) - model(ref)
    and warns (RuntimeWarning) when a delta exceeds a threshold: here 1e-3 times the
    largest |model(X)[:, target]|, at least 1e-3 (``delta_threshold``). Attributions
    summed over (4, L) equal model(X)[:, target] minus the mean over the references.

    N positions: tangermeme rejects all-zero columns in X, and so does this function
    unless ``allow_N=True``. Then the shuffles keep each N as a character of its own
    (``dinucleotide_shuffle(allow_N=True)``, same seeds), N positions get zero
    attribution, and the sum misses the reference's share at the positions that are
    N in X, so summation to delta no longer holds exactly.

    ``args``: the model's further inputs (N, ...), given to each reference as to its
    input (tangermeme's ``args``), so they are not attributed.

    ``hypothetical=True``: tangermeme's hypothetical scores, every base at every
    position (what it would contribute there, the same multipliers); the actual
    scores are exactly these times X (tangermeme computes them so).
    """
    X = torch.as_tensor(X)
    check_one_hot(X, allow_N)
    has_N = allow_N and not torch.all(X.sum(dim=1) == 1)
    references = functools.partial(dinucleotide_shuffle, allow_N=True) if has_N \
        else dinucleotide_shuffle
    device = device if device is not None else model_device(model)
    check_target(model, X[:1], target, tuple(a[:1] for a in args))
    threshold = delta_threshold(model, X, target, tuple(args), device, batch_size)
    with warnings.catch_warnings(), full_float32():
        # only_warn lets N columns past tangermeme's check; we validated X above.
        warnings.filterwarnings("ignore", message="X must be one-hot encoded")
        attr = _tangermeme_deep_lift_shap(
            model, X, target=target, batch_size=batch_size, references=references,
            n_shuffles=n_shuffles, random_state=random_state, only_warn=has_N,
            device=device, args=tuple(args) or None, hypothetical=hypothetical,
            additional_nonlinear_ops=declared_rules(model), warning_threshold=threshold)
    return attr.to(X.device)


def delta_threshold(model: torch.nn.Module, X: torch.Tensor, target: int, args: tuple,
                    device, batch_size: int) -> float:
    """tangermeme's convergence-delta threshold for these inputs: 1e-3 relative to the
    largest |model(X)[:, target]| (at least 1e-3, tangermeme's own, absolute). Float32
    sums of a large output miss it by more than 1e-3 with every rule right: a profile
    model's explained output (hundreds, a sum over its positions) ends 0.015 off, 1e-4
    of what is attributed. X: (N, 4, L)."""
    dtype = model_dtype(model)
    largest = 0.0
    with eval_mode(model), torch.no_grad(), full_float32():
        for i in range(0, len(X), batch_size):
            out = model(X[i:i + batch_size].to(device=device, dtype=dtype),
                        *(a[i:i + batch_size].to(device=device, dtype=dtype) for a in args))
            largest = max(largest, float(out[:, target].abs().max()))
    return 1e-3 * max(1.0, largest)


def declared_rules(model: torch.nn.Module) -> dict:
    """tangermeme's ``additional_nonlinear_ops`` for ``model``: each module class in it
    that declares ``deep_lift_rule`` (a name in RULES, or a tangermeme rule function)
    gets that rule; tangermeme knows torch's own non-linearities (ReLU, ...)."""
    rules = {}
    for kind in {type(m) for m in model.modules()}:
        rule = getattr(kind, "deep_lift_rule", None)
        if rule is None:
            continue
        if isinstance(rule, str) and rule not in RULES:
            raise RegbenchError(f"{kind.__name__}.deep_lift_rule = {rule!r} is not a "
                                f"DeepLIFT rule; use one of {', '.join(RULES)} or a "
                                "tangermeme rule function")
        rules[kind] = RULES[rule] if isinstance(rule, str) else rule
    return rules
