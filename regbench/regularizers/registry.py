"""The regularizer registry, in the style of timm's model registry.

``register_regularizer`` adds an entry, ``get_regularizer`` binds one to parameters,
``list_regularizers`` names them all. Third-party packages add entries through the
entry-point group ``regbench.regularizers``: loading the entry point must register.
"""
from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

import torch

from regbench.errors import RegbenchError

NEEDS = ("attributions", "parameters", "nothing")
ENTRY_POINT_GROUP = "regbench.regularizers"

_REGISTRY: dict[str, "RegularizerSpec"] = {}
_PLUGINS_LOADED = False


@dataclass(frozen=True)
class RegularizerSpec:
    """What the registry knows about one regularizer.

    penalty: ``penalty(target, **params) -> 0-dim tensor``; ``target`` is the
        attributions ``(N, 4, L)`` of the examples the prior applies to when
        ``needs == "attributions"``, the model when ``needs == "parameters"``, and
        ``None`` when ``needs == "nothing"``.
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

    @property
    def searchable(self) -> bool:
        """Whether a λ search means anything: the penalty uses λ and has a range."""
        return self.needs != "nothing" and self.lambda_range is not None

    def create(self, **params) -> "Regularizer":
        unknown = set(params) - set(self.params)
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise RegbenchError(
                f"regularizer {self.name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                f"its parameters are: {known}")
        return Regularizer(self, {**self.params, **params})


@dataclass(frozen=True)
class Regularizer:
    """A registry entry bound to parameter values; call it to get the penalty."""

    spec: RegularizerSpec
    params: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def needs(self) -> str:
        return self.spec.needs

    def __call__(self, target=None) -> torch.Tensor:
        return self.spec.penalty(target, **self.params)


def register_regularizer(name: str, *, needs: str, lambda_range=None,
                         default_lambda: float | None = None, description: str | None = None,
                         overwrite: bool = False):
    """Decorator registering ``penalty(target, **params)`` under ``name``.

    Keyword parameters of the penalty (with defaults) become the entry's parameters.
    ``default_lambda`` defaults to the geometric mean of ``lambda_range``.
    """
    if needs not in NEEDS:
        raise RegbenchError(f"needs must be one of {', '.join(NEEDS)}, got {needs!r}")
    if lambda_range is not None:
        low, high = (float(v) for v in lambda_range)
        if not 0 < low < high:
            raise RegbenchError(f"lambda_range must satisfy 0 < low < high, got {lambda_range}")
        lambda_range = (low, high)

    def decorate(penalty: Callable) -> Callable:
        if name in _REGISTRY and not overwrite and _REGISTRY[name].penalty is not penalty:
            raise RegbenchError(f"a regularizer named {name!r} is already registered; "
                                "pass overwrite=True to replace it")
        params = {
            p.name: p.default for p in list(inspect.signature(penalty).parameters.values())[1:]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
        }
        lam = default_lambda
        if lam is None:
            lam = (lambda_range[0] * lambda_range[1]) ** 0.5 if lambda_range else 0.0
        doc = description or (inspect.getdoc(penalty) or "").split("\n")[0]
        _REGISTRY[name] = RegularizerSpec(name, penalty, needs, params, lambda_range,
                                          float(lam), doc)
        return penalty

    return decorate


def _load_plugins() -> None:
    """Import every ``regbench.regularizers`` entry point once (they register)."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break the built-ins
            warnings.warn(f"regbench: could not load regularizer plugin {ep.name!r} "
                          f"({ep.value}): {exc}", stacklevel=2)


def reload_plugins() -> None:
    """Look for entry points again (after installing a plugin in a running process)."""
    global _PLUGINS_LOADED
    _PLUGINS_LOADED = False
    _load_plugins()


def list_regularizers() -> list[str]:
    """Names of all registered regularizers, sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


def get_spec(name: str) -> RegularizerSpec:
    """The registry entry for ``name``; a clear error lists the known names."""
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RegbenchError(f"unknown regularizer {name!r}; known regularizers: "
                            f"{', '.join(sorted(_REGISTRY))}") from None


def get_regularizer(name: str, **params) -> Regularizer:
    """Bind the regularizer ``name`` to ``params`` (defaults for the rest)."""
    return get_spec(name).create(**params)
