"""The extra per-run columns of suite kinds, scored from a point's stored checkpoints
with the one evaluation path (``evaluate.predict``, ``evaluate.explain_rows``):
gc_sweep's auROC on GC-balanced data, multi_motif's per-task auROC, motif fraction
and motif auPRC. Each takes (Point, RunContext) and returns one row per run."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.store.runs import folder_file


def _checkpoints(context) -> list[tuple[str, int, Path]]:
    results = pd.read_csv(context.out / "results.csv")
    ok = results[results["status"] == "ok"].drop_duplicates(["regularizer", "seed"])
    return [(r.regularizer, int(r.seed), folder_file(context.out, r.checkpoint, "checkpoints"))
            for r in ok.itertuples()]


def _predict(context, checkpoint: Path, codes):
    from regbench.data import one_hot
    from regbench.evaluate import predict
    from regbench.training.train import load_checkpoint
    model, _ = load_checkpoint(checkpoint, device=str(context.device))
    return predict(model, one_hot(codes), context.device, 256)


def balanced_auroc(point, context) -> pd.DataFrame:
    """Test auROC of each model of a GC-sweep point on GC-balanced data: the same
    scenario with the swept key at ``balanced`` (default: the negatives' GC, no gap)
    and another seed, so no model saw these sequences; all of its rows are scored."""
    from regbench.metrics.performance import auroc
    from regbench.simulate import load_scenario
    scenario = load_scenario(point.config.scenario, overrides=point.config.simulate)
    level = point.experiment.balanced
    if level is None:
        level = scenario["gc"]["negatives"]
    overrides = {**point.config.simulate, point.experiment.sweep: level,
                 "seed": int(scenario["seed"]) + 1}
    folder = Path(point.config.out).parent.parent / "balanced" / hashlib.sha256(json.dumps(
        [point.config.scenario, overrides], sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    from regbench.data.sources import SimulatedSource
    data = SimulatedSource(point.config.scenario, overrides).load(folder)
    rows = [{"regularizer": reg, "seed": seed,
             "balanced_auroc": auroc(data.labels, _predict(context, path, data.codes))}
            for reg, seed, path in _checkpoints(context)]
    return pd.DataFrame(rows, columns=["regularizer", "seed", "balanced_auroc"])


def task_results(point, context) -> pd.DataFrame:
    """Per task t, for each model: test auROC on t (``auroc_<t>``), and the motif
    fraction and pooled motif auPRC (``motif_fraction_<t>``, ``motif_auprc_<t>``) of
    the first evaluation method's attributions of output t on test sequences positive
    for t, against the instances of t's own motifs (the manifest's motif -> tasks)."""
    from regbench.evaluate import explain_rows
    from regbench.metrics import motif_auprc, motif_fraction
    from regbench.metrics.performance import auroc
    from regbench.training.train import load_checkpoint
    test, ev, task = context.split("test"), context.config.evaluation_config(), context.task()
    masks = _task_motif_masks(context.dataset, test)
    rows = []
    for reg, seed, path in _checkpoints(context):
        logits = _predict(context, path, test.codes)
        model, _ = load_checkpoint(path, device=str(context.device))
        row = {"regularizer": reg, "seed": seed}
        for i, name in enumerate(context.dataset.tasks):
            row[f"auroc_{name}"] = auroc(test.labels[:, [i]], logits[:, [i]])
            positive = np.flatnonzero(test.labels[:, i] > 0)[:ev.max_sequences]
            if name not in masks or not len(positive):
                continue
            attr = explain_rows(model, test, positive, i, task, ev, device=context.device,
                                methods=ev.methods[:1])[ev.methods[0]]
            attr, mask = attr.numpy(), masks[name][positive]
            row[f"motif_fraction_{name}"] = float(np.nanmean(motif_fraction(attr, mask)))
            row[f"motif_auprc_{name}"] = motif_auprc(attr, mask)
        rows.append(row)
    return pd.DataFrame(rows)


def _task_motif_masks(dataset, rows) -> dict:
    """{task: (N, L) bool}: positions of the instances of each task's own motifs in
    ``rows`` (a Dataset), from the manifest's motif list; empty without motif truth."""
    from regbench.data import tracks
    motifs = rows.motifs
    listed = dataset.manifest.get("motifs") or []
    if motifs is None or not listed:
        return {}
    index = pd.Index(rows.names)
    masks = {}
    for name in dataset.tasks:
        ids = {m["id"] for m in listed if name in (m.get("tasks") or [])}
        mine = motifs[motifs["name"].isin(ids) & ~motifs["decoy"]]
        masks[name] = tracks.interval_mask(index.get_indexer(mine["chrom"]),
                                           mine["start"].to_numpy(), mine["end"].to_numpy(),
                                           len(rows.names), rows.length)
    return masks


__all__ = ["balanced_auroc", "task_results"]
