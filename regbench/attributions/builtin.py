"""The built-in evaluation methods, registered in the order "all" runs them: each
method's call adapted to ``explain(model, X, settings)``."""
from __future__ import annotations

import contextlib
import functools

import torch

from regbench.attributions.methods.deep_lift_shap import deep_lift_shap
from regbench.attributions.methods.gradients import input_x_gradient, saliency
from regbench.attributions.methods.integrated_gradients import integrated_gradients
from regbench.attributions.methods.ism import ism
from regbench.attributions.registry import (ExplainSettings, register_with_correction,
                                            register_attribution_method)


def _explain_deep_lift_shap(model, X, settings: ExplainSettings,
                            hypothetical: bool = False) -> torch.Tensor:
    with _paired(model):
        return deep_lift_shap(model, X, n_shuffles=settings.n_shuffles,
                              batch_size=settings.batch_size,
                              random_state=settings.reference_seed, device=settings.device,
                              target=settings.target, allow_N=bool((X.sum(dim=1) == 0).any()),
                              args=settings.args, hypothetical=hypothetical)


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


# The labels are also in regbench.store.labels.BUILTIN_METHOD_LABELS, for readers that load
# no torch.
register_attribution_method(
    "deep_lift_shap", label="DeepLIFT/SHAP", function=deep_lift_shap,
    description="DeepLIFT/SHAP against n_shuffles dinucleotide-shuffled references "
                "(tangermeme); observed base only",
    explain_hypothetical=functools.partial(_explain_deep_lift_shap, hypothetical=True))(
    _explain_deep_lift_shap)
register_with_correction(
    "input_x_gradient", label="input×gradient", function=input_x_gradient,
    explain_fn=_explain_input_x_gradient,
    description="gradient of the explained output times the one-hot input; observed "
                "base only")
register_with_correction(
    "saliency", label="saliency", function=saliency, explain_fn=_explain_saliency,
    description="input gradient of the explained output, all four bases (Simonyan et "
                "al. 2014)", scores="hypothetical")
register_with_correction(
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
                "four bases, 0 at the observed base (tangermeme)",
    scores="hypothetical")(_explain_ism)
