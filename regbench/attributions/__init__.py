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

Modules, by subject:
    training   training-time attributions (what the priors differentiate through)
    methods/   one module per evaluation method: deep_lift_shap, gradients (saliency,
               input x gradient), integrated_gradients, ism
    registry   the registry: ExplainSettings, register_attribution_method, explain
    builtin    the built-in methods' registrations
    common     checks and helpers the methods share
"""
from regbench.attributions.common import full_float32
from regbench.attributions.training import (BatchStatistics, expected_gradients,
                                            logits_and_attributions,
                                            logits_and_expected_gradients,
                                            training_attributions)
from regbench.attributions.methods.deep_lift_shap import deep_lift_shap
from regbench.attributions.methods.gradients import (gradient_correction, input_x_gradient,
                                                     saliency)
from regbench.attributions.methods.integrated_gradients import integrated_gradients
from regbench.attributions.methods.ism import ism
from regbench.attributions.registry import (AttributionMethod, ExplainSettings,
                                            describe_attribution_method, explain,
                                            get_attribution_method, list_attribution_methods,
                                            register_attribution_method, resolve_methods,
                                            unregister_attribution_method)
from regbench.attributions import builtin  # noqa: F401  (registers the built-in methods)

__all__ = ["AttributionMethod", "BatchStatistics", "ExplainSettings", "deep_lift_shap",
           "describe_attribution_method", "expected_gradients", "explain", "full_float32",
           "get_attribution_method", "gradient_correction", "input_x_gradient",
           "integrated_gradients", "ism", "list_attribution_methods",
           "logits_and_attributions", "logits_and_expected_gradients",
           "register_attribution_method", "resolve_methods", "saliency",
           "training_attributions", "unregister_attribution_method"]
