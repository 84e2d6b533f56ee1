"""Score one trained model; writes no files.

``evaluate(model, test, task, config, device=..., freq_limit=...)``: test performance
from the task's performance metrics, then the attributions of the rows the task
explains (binary: positive test sequences) under each method of ``config.methods``
(looked up by name in the attribution registry) applied to the task's explained
output, scored by every registered attribution metric their ground truth allows. Every method explains the same sequences against the same references
(``config.reference_seed``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from regbench.attributions import ExplainSettings, describe_attribution_method, explain
from regbench.data import Dataset, one_hot
from regbench.metrics import GroundTruth, score_attributions
from regbench.store.record import TEST_PREFIX
from regbench.tasks.base import Task
from regbench.training.train import concat_outputs


@dataclass
class Evaluation:
    """performance: {metric: value} on all test sequences. summary: long table
    (method, metric, value), one value per model. per_sequence: (method, sequence,
    one column per per-sequence metric). attributions: {method: (N, 4, L) on the CPU}
    of the N attributed sequences ``names`` (one-hot ``X``, ``motif_mask`` (N, L) or
    None); hypothetical: {method: (N, 4, L) on the CPU} of the methods that have
    hypothetical scores (DeepLIFT/SHAP), from the same call."""

    performance: dict
    summary: pd.DataFrame
    per_sequence: pd.DataFrame
    attributions: dict
    X: torch.Tensor
    names: list
    motif_mask: np.ndarray | None
    hypothetical: dict = field(default_factory=dict)

    def record_parts(self) -> tuple[dict, dict, list[dict], torch.Tensor | None,
                                    torch.Tensor | None]:
        """What a run's record keeps: (performance {test_<metric>: value}, {method:
        {metric: value}}, per-sequence rows, DeepLIFT/SHAP attributions (N, 4, L) on
        the CPU, or None when it is not among the methods, and its hypothetical scores
        (N, 4, L) on the CPU, or None)."""
        performance = {TEST_PREFIX + name: value for name, value in self.performance.items()}
        methods = {method: dict(zip(rows["metric"], rows["value"]))
                   for method, rows in self.summary.groupby("method", sort=False)}
        return (performance, methods, self.per_sequence.to_dict("records"),
                self.attributions.get("deep_lift_shap"),
                self.hypothetical.get("deep_lift_shap"))


def evaluate(model: torch.nn.Module, test: Dataset, task: Task, config, *, device,
             freq_limit: int | None = None, metrics=None) -> Evaluation:
    """Score ``model`` on the ``test`` rows; ``config`` is an EvaluationConfig (methods,
    n_shuffles, max_sequences, batch_size, reference_seed); ``metrics``: the attribution
    metrics to compute (names in the metric registry; default all)."""
    X_test = one_hot(test.codes)
    targets = task.targets(test)
    args = task.model_args(torch.as_tensor(targets))   # e.g. control tracks
    performance = task.performance(targets, predict(model, X_test, device,
                                                    config.batch_size, args))
    positive, target = task.attributed_rows(test.labels, config.max_sequences)
    X = X_test[positive]
    mask = test.motif_mask[positive] if test.motif_mask is not None else None
    summits = test.summits[positive] if test.summits is not None else None
    peaks = test.peak_mask[positive] if test.peak_mask is not None else None
    names = [test.names[i] for i in positive]
    truth = GroundTruth(X.numpy(), mask, summits, freq_limit, peaks)
    summary, tables, hypothetical = [], [], {}
    attributions = explain_rows(model, test, positive, target, task, config, device=device,
                                hypothetical=hypothetical)
    for method, attr in attributions.items():
        scores = describe_attribution_method(method).scores   # how GC reliance reads it
        table, values = score_attributions(attr.numpy(), replace(truth, scores=scores),
                                           metrics)
        summary += [{"method": method, "metric": k, "value": v} for k, v in values.items()]
        table.insert(0, "sequence", names)
        table.insert(0, "method", method)
        tables.append(table)
    return Evaluation(performance, pd.DataFrame(summary, columns=["method", "metric", "value"]),
                      pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(),
                      attributions, X, names, mask,
                      {m: h for m, h in hypothetical.items() if h is not None})


def _attribute(method: str, model, X: torch.Tensor, settings: ExplainSettings):
    """(attributions, hypothetical scores or None), each (N, 4, L) on the CPU; a
    method with hypothetical scores H gives H * X, what its own call returns."""
    entry = describe_attribution_method(method)
    if entry.explain_hypothetical is None:
        return explain(method, model, X, settings).detach().cpu(), None
    hypothetical = entry.explain_hypothetical(model, X, settings).detach().cpu()
    return hypothetical * X, hypothetical


def explain_rows(model: torch.nn.Module, data: Dataset, rows, target: int, task: Task,
                 config, *, device, methods=None,
                 hypothetical: dict | None = None) -> dict[str, torch.Tensor]:
    """{method: attributions (n, 4, L) on the CPU} of ``task``'s explained output
    ``target`` of ``model`` for ``rows`` (n indices into ``data``), under each of
    ``methods`` (default ``config.methods``, an EvaluationConfig's), with the model's
    further inputs of those rows; every method against the same references. The one
    way evaluation, the λ search's validation score and the suites explain rows.
    ``hypothetical``: a dict that receives {method: hypothetical scores (n, 4, L)} of
    the methods that have them."""
    X = one_hot(data.codes[rows])
    args = tuple(a[rows] for a in task.model_args(torch.as_tensor(task.targets(data))))
    settings = explain_settings(config, target, device, args)
    explained = task.explainer(model)
    attributions = {}
    for method in (config.methods if methods is None else methods):
        attributions[method], scores = _attribute(method, explained, X, settings)
        if hypothetical is not None and scores is not None:
            hypothetical[method] = scores
    return attributions


def explain_settings(config, target: int, device, args: tuple = ()) -> ExplainSettings:
    """The attribution methods' settings from an EvaluationConfig; ``args``: the
    model's further inputs for the explained rows."""
    return ExplainSettings(target=target, device=device, batch_size=config.batch_size,
                           n_shuffles=config.n_shuffles, reference_seed=config.reference_seed,
                           ig_steps=config.ig_steps, args=args)


def predict(model: torch.nn.Module, X: torch.Tensor, device, batch_size: int,
            args: tuple = ()):
    """Outputs of a model in eval mode (binary: logits (N, T)) as NumPy arrays (a tuple
    for models with several outputs). X: (N, 4, L) one-hot on the CPU; ``args``: the
    model's further inputs (N, ...)."""
    model = model.to(device).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            rows = slice(start, start + batch_size)
            out.append(_cpu(model(X[rows].to(device), *(a[rows].to(device) for a in args))))
    joined = concat_outputs(out)
    return joined.numpy() if isinstance(joined, torch.Tensor) else tuple(
        o.numpy() for o in joined)


def _cpu(outputs):
    if isinstance(outputs, torch.Tensor):
        return outputs.cpu()
    return type(outputs)(o.cpu() for o in outputs)


__all__ = ["Evaluation", "evaluate", "explain_rows", "explain_settings", "predict"]
