"""Regularizers: pure penalty functions and the registry that names them."""
from regbench.regularizers.erion import smoothness_penalty, sparsity_penalty
from regbench.regularizers.fourier import default_freq_limit, fourier_penalty
from regbench.regularizers.registry import (
    Regularizer,
    RegularizerSpec,
    get_regularizer,
    get_spec,
    list_regularizers,
    register_regularizer,
    reload_plugins,
)
from regbench.regularizers.weight import l2_penalty
from regbench.regularizers import builtin as _builtin  # noqa: F401  (registers the five)
from regbench.regularizers import baselines as _baselines  # noqa: F401  (and the rest)

__all__ = [
    "Regularizer", "RegularizerSpec", "default_freq_limit", "fourier_penalty",
    "get_regularizer", "get_spec", "l2_penalty", "list_regularizers",
    "register_regularizer", "reload_plugins", "smoothness_penalty", "sparsity_penalty",
]
