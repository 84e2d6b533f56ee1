"""What a results folder records of its metrics and attribution methods, so that its
report needs none of the plug-ins that computed them.

``registry_labels()`` is config.json's ``labels``: every registered metric's label,
direction and report roles, and every attribution method's label. The report calls
``remember_labels(config)`` when it reads a folder: metrics and methods the registries
here do not know (a plug-in not installed) then keep their recorded label and
direction, so statistics.csv and the report still test and name them.

``METHOD_LABELS`` is the report's name of each attribution method, read-only: the
built-in methods' (torch-free, so configs and the report need not load the registry),
those registered in this process, then those the folder recorded.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from types import MappingProxyType

# The built-in methods' labels, in the registry's order (regbench.attributions.builtin
# registers them with these; test_methods checks they agree).
BUILTIN_METHOD_LABELS = MappingProxyType({
    "deep_lift_shap": "DeepLIFT/SHAP", "input_x_gradient": "input×gradient",
    "input_x_gradient_corrected": "corrected input×gradient",
    "saliency": "saliency", "saliency_corrected": "corrected saliency",
    "integrated_gradients": "integrated gradients vs shuffled refs",
    "integrated_gradients_corrected": "corrected integrated gradients vs shuffled refs",
    "integrated_gradients_zero": "integrated gradients vs zero baseline",
    "ism": "ISM"})
_RECORDED_METHODS: dict[str, str] = {}   # name -> label, from a folder's config.json


def _registered_methods() -> dict[str, str]:
    """name -> label of the methods registered in this process. The registry is looked
    at only once imported: no method can have registered before (and torch stays
    unloaded for readers that need only the built-ins)."""
    registry = sys.modules.get("regbench.attributions.registry")
    if registry is None:
        return {}
    return {entry.name: entry.label for entry in registry.METHODS.entries()}


class MethodLabels(Mapping):
    """Read-only name -> label: built-in, registered here, recorded by the folder."""

    def _table(self) -> dict[str, str]:
        return {**_RECORDED_METHODS, **BUILTIN_METHOD_LABELS, **_registered_methods()}

    def _order(self) -> list[str]:
        return list(dict.fromkeys([*BUILTIN_METHOD_LABELS, *_registered_methods(),
                                   *_RECORDED_METHODS]))

    def __getitem__(self, name: str) -> str:
        return self._table()[name]

    def __iter__(self):
        return iter(self._order())

    def __reversed__(self):
        return reversed(self._order())

    def __len__(self) -> int:
        return len(self._order())


METHOD_LABELS = MethodLabels()


def registry_labels() -> dict:
    """config.json's ``labels``: {"metrics": {name: label, direction, ...},
    "attribution_methods": {name: {"label": ...}}}, every registered entry."""
    from regbench.attributions import describe_attribution_method, list_attribution_methods
    from regbench.metrics.registry import list_metrics, metric_record
    return {"metrics": {name: metric_record(name) for name in list_metrics()},
            "attribution_methods": {name: {"label": describe_attribution_method(name).label}
                                    for name in list_attribution_methods()}}


def remember_labels(config: dict) -> None:
    """Take a folder's recorded labels (config.json, ``registry_labels``) for the
    metrics and methods not registered here; a folder without them (written before
    they were recorded) clears what an earlier folder left."""
    from regbench.metrics.registry import remember_recorded
    recorded = config.get("labels") if isinstance(config, dict) else None
    recorded = recorded if isinstance(recorded, dict) else {}
    metrics = recorded.get("metrics")
    remember_recorded(metrics if isinstance(metrics, dict) else {})
    methods = recorded.get("attribution_methods")
    _RECORDED_METHODS.clear()
    for name, fields in (methods if isinstance(methods, dict) else {}).items():
        if isinstance(fields, dict) and isinstance(fields.get("label"), str):
            _RECORDED_METHODS[str(name)] = fields["label"]


__all__ = ["BUILTIN_METHOD_LABELS", "METHOD_LABELS", "MethodLabels", "registry_labels",
           "remember_labels"]
