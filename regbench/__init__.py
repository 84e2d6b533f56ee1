"""regbench: a benchmark of regularizers and attribution priors for genomics models.

Public entry points::

    import regbench
    regbench.list_regularizers()
    reg = regbench.get_regularizer("fourier", freq_limit=150)

    @regbench.register_regularizer("my_prior", needs="attributions",
                                   lambda_range=(1e-3, 10.0))
    def my_prior(attr):          # attr: (N, 4, L)
        return attr.abs().sum(dim=(1, 2)).mean()
"""
__version__ = "0.1.0"

from regbench.errors import RegbenchError

# The registry imports torch; loaded on first use, so that the command line can check
# its options and answer --help before torch loads.
_FROM_REGULARIZERS = ("Regularizer", "RegularizerSpec", "get_regularizer",
                      "list_regularizers", "register_regularizer")


def __getattr__(name: str):
    if name in _FROM_REGULARIZERS:
        from regbench import regularizers
        return getattr(regularizers, name)
    raise AttributeError(f"module 'regbench' has no attribute {name!r}")


__all__ = [
    "RegbenchError",
    "Regularizer",
    "RegularizerSpec",
    "get_regularizer",
    "list_regularizers",
    "register_regularizer",
    "__version__",
]
