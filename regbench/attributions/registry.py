"""The attribution-method registry: ``register_attribution_method`` adds
``explain(model, X, settings) -> (N, 4, L)`` under a name; ``explain``,
``get_attribution_method`` and ``resolve_methods`` look names up. Plug-ins register
through the entry-point group ``regbench.attribution_methods`` (``regbench.plugins``);
the report takes a method's label from here (``regbench.store.labels.METHOD_LABELS``)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from regbench.errors import RegbenchError
from regbench.plugins import GROUPS, Registry


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


# What an attribution of (4, L) holds, for metrics that read bases apart (GC reliance):
# "actual": signed contributions of the bases present (their sum over bases is the
# position's share of the output); "hypothetical": at every base what it would
# contribute there, up to a constant per position (the input gradient, ISM's
# differences), whatever base the sequence has.
SCORES = ("actual", "hypothetical")


@dataclass(frozen=True)
class AttributionMethod:
    """A registry entry. explain(model, X (N, 4, L) one-hot, settings) -> (N, 4, L)
    attributions on X's device; ``function`` is the method's own call (keyword
    arguments), ``label`` its name in the report, ``description`` one line for
    ``regbench methods``, ``scores`` one of SCORES. ``explain_hypothetical``: where the
    method has them, its hypothetical scores H (N, 4, L) with explain(...) == H * X
    exactly, so evaluation gets both from one call."""

    name: str
    explain: Callable[..., torch.Tensor]
    label: str
    function: Callable[..., torch.Tensor] | None = None
    description: str = ""
    scores: str = "actual"
    explain_hypothetical: Callable[..., torch.Tensor] | None = None


METHODS: Registry[AttributionMethod] = Registry("attribution method",
                                               GROUPS["attribution_methods"])


def register_attribution_method(name: str, *, label: str | None = None, function=None,
                                description: str = "", scores: str = "actual",
                                explain_hypothetical=None):
    """Decorator adding ``explain(model, X, settings) -> (N, 4, L)`` under ``name``;
    ``[evaluation] methods`` can then name it, and results.csv, the statistics and the
    report show its metrics under its own ``method``. ``model`` is what the task
    explains (one output tensor (N, T)); explain task ``settings.target``.
    ``description``: one line for ``regbench methods``; ``scores``: "actual" or
    "hypothetical" (SCORES), which decides how GC reliance reads the bases;
    ``explain_hypothetical``: see ``AttributionMethod``."""
    if scores not in SCORES:
        raise RegbenchError(f"attribution method {name!r}: scores = {scores!r} is not "
                            f"valid; use one of {', '.join(SCORES)}")

    def add(explain_fn):
        METHODS.register(name, AttributionMethod(name, explain_fn, label or name, function,
                                                 description, scores, explain_hypothetical))
        return explain_fn
    return add


def unregister_attribution_method(name: str) -> None:
    METHODS.unregister(name)


def register_with_correction(name: str, *, label: str, function, explain_fn,
                              description: str, scores: str = "actual") -> None:
    """A gradient-based method, and beside it ``NAME_corrected``: the same with
    ``corrected=True`` (``gradient_correction``)."""
    register_attribution_method(name, label=label, function=function,
                                description=description, scores=scores)(explain_fn)
    register_attribution_method(
        f"{name}_corrected", label=f"corrected {label}",
        function=functools.partial(function, corrected=True),
        description=f"{description}; gradient minus its mean over bases "
                    "(Majdandzic & Koo 2023)", scores=scores)(
        functools.partial(explain_fn, corrected=True))


def get_attribution_method(name: str) -> Callable[..., torch.Tensor]:
    """The attribution function called ``name``: ``attribute(model, X, **kw) -> (N, 4, L)``
    (the entry's evaluation call when it registered no function of its own)."""
    entry = METHODS.get(name)
    return entry.function or entry.explain


def explain(name: str, model: torch.nn.Module, X: torch.Tensor,
            settings: ExplainSettings) -> torch.Tensor:
    """Evaluation attributions (N, 4, L) of method ``name`` for X (N, 4, L) one-hot."""
    return METHODS.get(name).explain(model, X, settings)


def list_attribution_methods() -> list[str]:
    """Registered names, in registration order."""
    return METHODS.names()


def describe_attribution_method(name: str) -> AttributionMethod:
    """The registry entry of ``name`` (label, description, ...)."""
    return METHODS.get(name)


def resolve_methods(names: list[str]) -> list[str]:
    """``[evaluation] methods`` -> the registered names it means: "all" is every
    registered method, in registration order; duplicates dropped. An unknown name is
    one RegbenchError line that lists the known ones."""
    unknown = [n for n in dict.fromkeys(names) if n not in METHODS and n != "all"]
    if unknown:
        raise RegbenchError(f"[evaluation] methods: unknown attribution method(s) "
                            f"{', '.join(unknown)}; known: "
                            f"{', '.join(list_attribution_methods())} (or \"all\")")
    return list_attribution_methods() if "all" in names else list(dict.fromkeys(names))

