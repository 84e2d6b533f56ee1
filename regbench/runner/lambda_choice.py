"""The λ of each regularizer and what chose it, as one frozen value.

A ``LambdaChoice`` starts from the user's and the registry's λ (``RunContext``) and is
replaced, never changed, by the λ search (``LambdaSearch.tune_lambdas`` returns the
new one): the executor and the manifest read λ from the choice the context was given.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class LambdaChoice:
    """protocol: the λ protocol that chose (config.LAMBDA_PROTOCOLS); lambdas, sources
    and selection_seeds: per regularizer, its λ, where that λ came from ("registry",
    "--lambda", "selected (constrained)", ...) and the seeds that selected it
    ("1000-1002", constrained protocol only); reference: what the rules rest on, for
    config.json's lambda_reference; results: the TuneResult of each searched
    regularizer."""

    protocol: str
    lambdas: Mapping[str, float]
    sources: Mapping[str, str]
    selection_seeds: Mapping[str, str] = field(default_factory=dict)
    reference: Mapping = field(default_factory=dict)
    results: Mapping = field(default_factory=dict)

    def __post_init__(self):
        for name in ("lambdas", "sources", "selection_seeds", "reference", "results"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def chose(self, name: str, lam: float, source: str, seeds: str = "") -> "LambdaChoice":
        """This choice with ``name`` at ``lam`` from ``source`` (selected on ``seeds``)."""
        picked = {**self.selection_seeds, name: seeds} if seeds else self.selection_seeds
        return replace(self, lambdas={**self.lambdas, name: lam},
                       sources={**self.sources, name: source}, selection_seeds=picked)

    def row_fields(self, regularizer: str) -> dict:
        """A results row's λ provenance: lambda_source, lambda_protocol, selection_seeds."""
        return {"lambda_source": self.sources.get(regularizer, "tuned"),
                "lambda_protocol": self.protocol,
                "selection_seeds": self.selection_seeds.get(regularizer, "")}

    def stamp(self, record: dict) -> dict:
        """The record with this choice's λ protocol, λ source and selection seeds in its
        row, right after λ: a stored run (same key: same λ) may have been trained under
        another protocol."""
        row, reg = record["row"], record["row"]["regularizer"]
        if reg not in self.sources:
            return record
        provenance, stamped = self.row_fields(reg), {}
        for key, value in row.items():
            if key not in provenance:
                stamped[key] = value
            if key == "lambda":
                stamped.update(provenance)
        return {**record, "row": stamped}


__all__ = ["LambdaChoice"]
