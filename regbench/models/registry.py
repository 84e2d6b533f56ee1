"""The model registry, in the style of timm's: ``register_model``, ``create_model``,
``list_models``.

A model is a ``torch.nn.Module`` class (or any callable returning one) built from the
``[model]`` table of a run plus ``seq_len`` and ``n_tasks``, which regbench fills in
from the data. ``[model] architecture = "NAME"`` picks the entry (default
``binary_cnn``, the paper's CNN). A new model is one registration:

    @regbench.models.register_model("tiny_cnn")
    class TinyCNN(torch.nn.Module):
        def __init__(self, seq_len, n_tasks, filters=8):    # X (N, 4, L) -> (N, T)
            ...

Plug-ins register through the entry-point group ``regbench.models``
(``regbench.plugins``). This module imports no torch, so options can be checked before
torch loads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from regbench.errors import RegbenchError
from regbench.plugins import GROUPS, Registry

DEFAULT_ARCHITECTURE = "binary_cnn"


@dataclass(frozen=True)
class ModelSpec:
    """builder(**params) -> nn.Module, or builder(config_class(**params)) when the
    entry has a settings dataclass (then its fields are the only valid parameters)."""

    name: str
    builder: Callable
    config_class: type | None = None
    description: str = ""


def register_model(name: str, *, config_class: type | None = None, description: str = ""):
    """Decorator adding a model builder under ``name`` (a new name, or an error)."""
    def add(builder):
        MODELS.register(name, ModelSpec(
            name, builder, config_class,
            description or (builder.__doc__ or "").strip().split("\n")[0]))
        return builder
    return add


def unregister_model(name: str) -> None:
    """Remove an entry (tests and notebooks that re-register)."""
    MODELS.unregister(name)


def get_model_spec(name: str) -> ModelSpec:
    return MODELS.get(name)


def create_model(name: str, **params):
    """A freshly initialised model of entry ``name`` (seed torch first)."""
    spec = get_model_spec(name)
    if spec.config_class is not None:
        from regbench.options.config import build_section
        return spec.builder(build_section(spec.config_class, params, "model"))
    try:
        return spec.builder(**params)
    except TypeError as exc:
        raise RegbenchError(f"model {name!r} cannot be built from [model] "
                            f"{', '.join(sorted(params))}: {exc}") from None


def list_models(include=None, exclude=()) -> list[str]:
    """Registered names, in registration order; fnmatch patterns filter (timm's)."""
    return MODELS.names(include, exclude)


def _load_builtin() -> None:
    """Register the built-in models on first use (they import torch)."""
    from regbench.models.binary import BinaryCNN
    from regbench.models.profile import ProfileCNN, ProfileModelConfig
    from regbench.options.settings import BinaryModelConfig
    register_model(DEFAULT_ARCHITECTURE, config_class=BinaryModelConfig,
                   description="the paper's binary CNN (Tseng et al. 2020)")(BinaryCNN)
    register_model("bpnet", config_class=ProfileModelConfig,
                   description="BPNet-style profile model (dilated residual convolutions, "
                               "profile and counts heads)")(ProfileCNN)


MODELS: Registry[ModelSpec] = Registry(
    "model architecture", GROUPS["models"], builtins=_load_builtin,
    unknown="unknown model architecture {name!r}; known: {known} ([model] architecture)")

__all__ = ["DEFAULT_ARCHITECTURE", "MODELS", "ModelSpec", "create_model", "get_model_spec",
           "list_models", "register_model", "unregister_model"]
