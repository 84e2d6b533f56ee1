"""The regularizer registry, in the style of timm's model registry.

``register_regularizer`` adds an entry, ``get_regularizer`` binds one to parameters,
``list_regularizers`` names them all. Third-party packages add entries through the
entry-point group ``regbench.regularizers``: loading the entry point must register
(``regbench.plugins``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.plugins import GROUPS, Registry
from regbench.regularizers.kinds import KINDS, Kind, StepContext, kind_of  # noqa: F401

NEEDS = ("attributions", "gradients", "parameters", "nothing", "batch", "model", "step")
# What a regularizer that is not a penalty supplies instead (the function registered):
#   batch: transform(X, y, generator, **params) -> (X, y), applied to every training
#          batch after the task's augmentation (X (B, 4, L) one-hot stays one-hot and L);
#   model: options(**params) -> dict of [model] keys the model is built with.
# Neither adds a penalty; lambda means nothing for them. A "step" penalty gets the whole
# training step (``StepContext``: model, batch, outputs, the explained output, the
# trainer's generator) and returns a 0-dim tensor, e.g. saliency-guided training.
ENTRY_POINT_GROUP = GROUPS["regularizers"]

REGULARIZERS: Registry["RegularizerSpec"] = Registry(
    "regularizer", ENTRY_POINT_GROUP,
    unknown="unknown regularizer {name!r}; known regularizers: {known}")
_REGISTRY = REGULARIZERS._entries   # name -> spec (tests pop what they register)


@dataclass(frozen=True)
class RegularizerSpec:
    """What the registry knows about one regularizer.

    penalty: ``penalty(target, **params) -> 0-dim tensor``; ``target`` is the
        attributions ``(N, 4, L)`` (input x gradient) of the examples the prior applies
        to when ``needs == "attributions"``, their input gradients ``(N, 4, L)`` (all
        four bases) when ``needs == "gradients"``, the model when ``needs ==
        "parameters"``, and ``None`` when ``needs == "nothing"``. For ``needs ==
        "batch"`` and ``"model"`` it is the batch transform or the model options
        (see NEEDS).
    params: parameter names and their defaults (from the penalty's signature).
    lambda_range: (low, high) for a log-uniform λ search; None when λ is meaningless.
    default_lambda: λ used when none is given and no search is run.
    """

    name: str
    penalty: Callable[..., torch.Tensor]
    needs: str
    params: Mapping[str, Any] = field(default_factory=dict)
    lambda_range: tuple[float, float] | None = None
    default_lambda: float = 0.0
    description: str = ""
    tasks: tuple[str, ...] | None = None   # the tasks it applies to; None: every task
    # The training-time attribution an attribution prior is given: "ixg" (input x
    # gradient, the paper's) or "eg" (expected gradients, Erion et al.); NAME@eg.
    attribution: str = "ixg"

    @property
    def takes_lambda(self) -> bool:
        """Whether λ means anything: a penalty on something (not ``none``, a batch
        transform or model options)."""
        return KINDS[self.needs].takes_lambda

    @property
    def searchable(self) -> bool:
        """Whether a λ search means anything: the penalty uses λ and has a range."""
        return self.takes_lambda and self.lambda_range is not None

    @property
    def is_penalty(self) -> bool:
        """False for a batch transform or model option (``needs`` batch or model)."""
        return KINDS[self.needs].is_penalty

    def create(self, **params) -> "Regularizer":
        unknown = set(params) - set(self.params)
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise RegbenchError(
                f"regularizer {self.name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                f"its parameters are: {known}")
        hints = _type_hints(self.penalty)
        for name, value in params.items():
            expected = _expected_type(hints.get(name), self.params[name])
            if expected is not None and not _is_a(value, expected):
                raise RegbenchError(
                    f"regularizer {self.name!r}: {name} = {value!r} is not valid: expected "
                    f"{_type_words(expected)}, or leave it out for its default "
                    f"({self.params[name]!r})")
        return Regularizer(self, {**self.params, **params})


@dataclass(frozen=True)
class Regularizer:
    """A registry entry bound to parameter values; call it to get the penalty.
    ``kind`` (``regbench.regularizers.kinds``), chosen here once from ``needs``, is what
    the trainers and the plan call."""

    spec: RegularizerSpec
    params: Mapping[str, Any]
    kind: Kind = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "kind", kind_of(self))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def needs(self) -> str:
        return self.spec.needs

    def __call__(self, target=None) -> torch.Tensor:
        if not self.spec.is_penalty:
            raise RegbenchError(f"regularizer {self.name!r} is a {self.needs} regularizer, "
                                "not a penalty")
        return self.spec.penalty(target, **{k: v for k, v in self.params.items()
                                             if k not in EG_PARAMS})

    @property
    def attribution(self) -> str:
        return self.spec.attribution

    def transform(self, X: torch.Tensor, y, generator: torch.Generator):
        """A training batch as a ``needs="batch"`` regularizer changes it; else as is."""
        return self.kind.transform(X, y, generator)

    def model_options(self) -> dict:
        """[model] keys a ``needs="model"`` regularizer builds the model with; else {}."""
        return self.kind.model_options()


def _type_hints(penalty) -> dict:
    """The penalty's annotations, resolved; {} where they cannot be (a plug-in's names
    not importable here)."""
    import typing
    try:
        return typing.get_type_hints(penalty)
    except Exception:   # noqa: BLE001: any failure means "not known"
        return {}


_SIMPLE = (bool, int, float, str)


def _expected_type(hint, default) -> tuple | None:
    """The plain types (bool, int, float, str, None) a parameter takes, from its
    annotation (``int | None``), else from its default's type (a default of None says
    nothing); None when they cannot be told (any value goes, as before)."""
    import types
    import typing
    if hint is not None:
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            parts = typing.get_args(hint)
        else:
            parts = (hint,)
        parts = tuple(None if p is type(None) else p for p in parts)
        if all(p is None or p in _SIMPLE for p in parts):
            return parts
        return None
    if default is None or type(default) not in _SIMPLE:
        return None
    return (type(default),)


def _is_a(value, expected: tuple) -> bool:
    """Whether ``value`` fits ``expected``: a bool only where bool is; an integer where
    a float is; a whole float where an integer is (TOML's 10.0)."""
    import numbers
    if value is None or isinstance(value, (bool, np.bool_)):
        return (bool if value is not None else None) in expected
    if isinstance(value, numbers.Integral):
        return int in expected or float in expected
    if isinstance(value, numbers.Real):
        return float in expected or (int in expected and float(value).is_integer())
    return isinstance(value, str) and str in expected


def _type_words(expected: tuple) -> str:
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if float in expected:   # an integer is a number too
        expected = tuple(t for t in expected if t is not int)
    return " or ".join(dict.fromkeys(words[t] for t in expected if t is not None))


def register_regularizer(name: str, *, needs: str, lambda_range=None,
                         default_lambda: float | None = None, description: str | None = None,
                         overwrite: bool = False, tasks=None):
    """Decorator registering ``penalty(target, **params)`` under ``name``.

    Keyword parameters of the penalty (with defaults) become the entry's parameters.
    ``default_lambda`` defaults to the geometric mean of ``lambda_range``. ``tasks``:
    the tasks (``regbench.tasks``) it applies to, e.g. ("binary",); None: every task
    ("all" leaves it out of other tasks' runs).
    """
    if needs not in NEEDS:
        raise RegbenchError(f"needs must be one of {', '.join(NEEDS)}, got {needs!r}")
    if lambda_range is not None:
        low, high = (float(v) for v in lambda_range)
        if not 0 < low < high:
            raise RegbenchError(f"lambda_range must satisfy 0 < low < high, got {lambda_range}")
        lambda_range = (low, high)

    def decorate(penalty: Callable) -> Callable:
        # the same function again (its module imported twice) is no duplicate
        again = name in _REGISTRY and _REGISTRY[name].penalty is penalty
        # the arguments regbench passes come first: a penalty's target; a batch
        # transform's X, y, generator; none for model options
        skip = KINDS[needs].leading_args
        params = {
            p.name: p.default for p in list(inspect.signature(penalty).parameters.values())[skip:]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
        }
        lam = default_lambda
        if lam is None:
            lam = (lambda_range[0] * lambda_range[1]) ** 0.5 if lambda_range else 0.0
        doc = description or (inspect.getdoc(penalty) or "").split("\n")[0]
        REGULARIZERS.register(name, RegularizerSpec(name, penalty, needs, params, lambda_range,
                                                    float(lam), doc,
                                                    None if tasks is None else tuple(tasks)),
                              overwrite=overwrite or again)
        return penalty

    return decorate


def reload_plugins() -> None:
    """Look for entry points again (after installing a plugin in a running process)."""
    REGULARIZERS.load_entry_points(again=True)


def list_regularizers() -> list[str]:
    """Names of all registered regularizers, sorted."""
    return REGULARIZERS.names(sort=True)


TRAINING_ATTRIBUTIONS = ("ixg", "eg")
# Expected gradients' own parameters, added to an attribution prior's as NAME@eg.
EG_PARAMS = {"eg_references": 1, "eg_source": "batch"}


def get_spec(name: str) -> RegularizerSpec:
    """The registry entry for ``name``; a clear error lists the known names.
    ``NAME@eg`` is attribution prior NAME trained on expected-gradients attributions
    (``NAME@ixg`` is NAME itself)."""
    if name not in REGULARIZERS and "@" in name:
        return _variant(name)
    return REGULARIZERS.get(name)


def _variant(name: str) -> RegularizerSpec:
    base, _, attribution = name.partition("@")
    spec = get_spec(base)
    if attribution not in TRAINING_ATTRIBUTIONS:
        raise RegbenchError(f"regularizer {name!r}: unknown training-time attribution "
                            f"{attribution!r}; use {base}@eg (expected gradients) or {base}")
    if not KINDS[spec.needs].training_attribution:
        raise RegbenchError(f"regularizer {name!r}: {base} does not take attributions, so "
                            "it has no training-time attribution to choose")
    if attribution == "ixg":
        return spec
    from dataclasses import replace
    return replace(spec, name=name, attribution="eg", params={**spec.params, **EG_PARAMS},
                   description=f"{spec.description} (expected gradients)")


def get_regularizer(name: str, **params) -> Regularizer:
    """Bind the regularizer ``name`` to ``params`` (defaults for the rest)."""
    return get_spec(name).create(**params)
