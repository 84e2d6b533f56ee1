"""The manifest writer: a results folder's config.json (what ran, on what data, with
which λ and why, in what software), written once the grid is done."""
from __future__ import annotations

import datetime as dt
import json

import torch

from regbench import __version__
from regbench.options.config import PRESETS, paper_differences
from regbench.runner.context import RunContext
from regbench.data import SimulatedSource
from regbench.endpoints import for_data
from regbench.store.labels import registry_labels
from regbench.store.runs import atomic_write
from regbench.store.trained_with import invocation_settings, rows_settings
from regbench.options.settings import STOPPING_RULES
from regbench.training.stopping import convergence_rule


def _tuning_info(context: RunContext) -> dict | None:
    if not context.config.tune:
        return None
    from regbench.tune import redact_url
    info = dict(context.config.tuning_config().__dict__)
    info["storage"] = redact_url(info["storage"]) if info["storage"] else None
    return info


def _paper_differences(context: RunContext) -> str:
    """The preset's differences from the paper; its simulated data sizes apply only
    when the data are simulated."""
    text = paper_differences(context.config.preset, context.config.task)
    preset_seeds = PRESETS.get(context.config.preset, {}).get("seeds")
    if text and preset_seeds is not None and context.config.seeds != preset_seeds:
        # the preset's text names its own seed count; say when this run's differs
        seeds = context.config.seeds
        text += f" (this run: {seeds} seed{'' if seeds == 1 else 's'})"
    if text and not isinstance(context.source, SimulatedSource):
        ds = context.dataset
        text += (f" (its simulated data sizes do not apply: these data are "
                 f"{len(ds.names)} sequences x {ds.length} bp from {context.source.name})")
    return text


def _model_info(context: RunContext) -> dict:
    """The model's settings for config.json; the architecture named unless it is the
    default binary CNN (config.json of earlier runs had no such key)."""
    record = dict(context.task().model_record())
    architecture, params = record.pop("architecture"), record.pop("params")
    if architecture == "binary_cnn" and not record:
        return params
    return {"architecture": architecture, **params, **record}


def _endpoint(context: RunContext) -> dict | None:
    """The run's primary endpoint and performance margin (``endpoints.declare``)."""
    endpoint = for_data(context.config.task, context.dataset)
    return None if endpoint is None else endpoint.as_dict()


def _stopping_rule(context: RunContext) -> dict:
    """The run's early-stopping rule ([train] stopping), what it does, and the
    convergence check results.csv's ``converged`` applies."""
    train = context.config.train_config(0)
    return {"name": train.stopping, "rule": STOPPING_RULES[train.stopping],
            "converged": convergence_rule(train)}


def write_config(context: RunContext, started, wall_seconds: float,
                 interim: str | None = None) -> None:
    """OUT/config.json of ``context``'s run, which started at ``started`` (an aware
    datetime) and took ``wall_seconds``. ``interim``: what an interim report covers
    ("2 of 11 regularizers: none, dropout"), while the run goes on."""
    ds = context.dataset
    config = context.config
    info = {
        **config.to_dict(),
        "tuning": _tuning_info(context),
        "regularizers": context.regularizers,
        "lambdas": dict(context.choice.lambdas),
        "lambda_source": dict(context.choice.sources),
        "lambda_protocol": context.choice.protocol,
        "lambda_reference": dict(context.choice.reference) or None,
        # declared before training, from the task and the data's ground truth
        "endpoint": _endpoint(context),
        "data": context.source.describe(ds),
        "dataset_fingerprint": ds.fingerprint,
        "split": ds.split_source,
        **({"data_notes": list(ds.notes)} if ds.notes else {}),
        "split_sizes": {split: {"sequences": int((ds.split == split).sum()),
                                "positives": int((ds.labels[ds.split == split].max(axis=1)
                                                  > 0).sum())}
                        for split in ("train", "valid", "test")},
        # what the rows were trained with, not this invocation's settings (trained_with)
        **rows_settings(context.out),
        "this_invocation": invocation_settings(context),
        "task": config.task,
        "model": _model_info(context),
        "train": config.train_config(0).__dict__,
        "stopping_rule": _stopping_rule(context),
        "evaluation": config.evaluation_config().__dict__,
        **({"interim": interim} if interim else {}),
        **({"explained_output": context.task().explained_output_rule()}
           if context.task().explained_output_rule() else {}),
        "freq_limit": context.freq_limit(),
        "freq_limit_rule": context.task().freq_limit_rule(ds.codes.shape[1]) + (
            "; [evaluation] freq_limit sets the metric's T" if
            config.evaluation_config().freq_limit else ""),
        "paper_differences": _paper_differences(context),
        "labels": registry_labels(),   # the report's, without the plug-ins
        "config_hash": config.hash(),
        "regbench_version": __version__,
        "torch_version": torch.__version__,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 1),
    }
    atomic_write(context.out / "config.json", json.dumps(info, indent=2, default=str))


__all__ = ["write_config"]
