"""``simulate()``: scenario -> plan (labels, motif instances) -> files, atomically.

Random streams are independent per purpose (and per chunk of background), all derived
from the one seed, so the same seed and scenario give byte-identical files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm.auto import tqdm

import regbench
from regbench.data.split import stratified_split
from regbench.errors import RegbenchError
from regbench.simulate import profile as profile_mod
from regbench.simulate import sequences, writers
from regbench.simulate.motifs import Motif
from regbench.simulate.scenario import load_scenario, resolve_motifs

STREAM_PLAN, STREAM_BACKGROUND, STREAM_PROFILE = 1, 2, 3  # split: its own stream
CHUNK_BASES = 1 << 22          # background is drawn and written in blocks of ~4 Mbp
PROGRESS_MIN_BASES = 5_000_000  # show a progress bar from this many bases on


@dataclass
class Plan:
    """Everything decided before the bases are drawn.

    labels (N, T) uint8; gc (N,) background GC per row; split (N,) str;
    library: motifs indexed by ``instances.motif``; task_lists: per task, library indices.
    """

    scenario: dict
    names: list[str]
    labels: np.ndarray
    gc: np.ndarray
    split: np.ndarray
    library: list[Motif]
    task_lists: list[np.ndarray]
    decoy_ids: np.ndarray
    instances: sequences.Instances

    @property
    def length(self) -> int:
        return self.scenario["length"]


def _library(scenario: dict) -> tuple[list[Motif], list[np.ndarray], np.ndarray]:
    """Unique motifs (task motifs first, then decoys) and each task's / the decoys' indices."""
    library: list[Motif] = []
    index: dict[str, int] = {}

    def add(motifs: list[Motif]) -> np.ndarray:
        for m in motifs:
            index.setdefault(m.id, len(index))
            if index[m.id] == len(library):
                library.append(m)
        return np.array([index[m.id] for m in motifs], dtype=np.int64)

    tasks = [add(resolve_motifs(scenario, t["motifs"])) for t in scenario["tasks"]]
    return library, tasks, add(resolve_motifs(scenario, scenario["decoys"]["motifs"]))


def make_plan(scenario: dict) -> Plan:
    """Labels, split, GC per row and every motif instance for a validated scenario."""
    seed = scenario["seed"]
    rng = np.random.default_rng([seed, STREAM_PLAN])
    library, task_lists, decoy_ids = _library(scenario)
    probs = np.array([t["prob"] for t in scenario["tasks"]])
    labels = sequences.assign_labels(scenario["positives"], scenario["negatives"], probs, rng)
    gc = np.where(labels.any(axis=1), scenario["gc"]["positives"], scenario["gc"]["negatives"])
    inst = sequences.plan_instances(labels, scenario, library, task_lists, decoy_ids, rng)
    split = stratified_split(labels, scenario["split"], seed=seed)
    return Plan(scenario, writers.sequence_names(labels.shape[0]), labels, gc, split,
                library, task_lists, decoy_ids, inst)


def sequence_chunks(plan: Plan) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, codes (n, L) uint8) blocks of background with the motifs embedded."""
    rows = max(1, CHUNK_BASES // plan.length)
    for chunk, first in enumerate(range(0, len(plan.names), rows)):
        rng = np.random.default_rng([plan.scenario["seed"], STREAM_BACKGROUND, chunk])
        codes = sequences.background(plan.gc[first:first + rows], plan.length, rng)
        sequences.embed(codes, first, plan.instances, plan.library)
        yield first, codes


def generate(scenario: dict | str | Path, overrides: dict | None = None) -> tuple[Plan, np.ndarray]:
    """In-memory simulation: the plan and all codes (N, L) uint8, without writing files."""
    plan = make_plan(load_scenario(scenario, overrides))
    return plan, np.concatenate([codes for _, codes in sequence_chunks(plan)])


def simulate(scenario: dict | str | Path, out_dir: str | Path, *, seed: int | None = None,
             overrides: dict | None = None, force: bool = False, progress: bool = True) -> Path:
    """Simulate a scenario (name, .toml path or dict) into ``out_dir``; returns the folder.

    ``seed`` replaces the scenario's seed; ``overrides`` are dotted keys as from --set.
    Refuses a non-empty ``out_dir`` unless ``force``; writes to a temporary folder first.
    """
    overrides = dict(overrides or {})
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise RegbenchError(f"seed must be a non-negative integer, got {seed!r}")
        overrides["seed"] = seed
    scenario = load_scenario(scenario, overrides)
    out = Path(out_dir)
    writers.check_target(out, force)   # fail before the work, not after
    plan = make_plan(scenario)
    with writers.atomic_directory(out, force) as tmp:
        _write(plan, tmp, progress)
    return out


def _write(plan: Plan, folder: Path, progress: bool) -> None:
    total = len(plan.names) * plan.length
    bar = tqdm(total=total, unit="bp", unit_scale=True, desc="simulate",
               disable=not progress or total < PROGRESS_MIN_BASES)
    with bar, open(folder / "sequences.fa", "wb") as fasta:
        for first, codes in sequence_chunks(plan):
            fasta.write(writers.fasta_block(plan.names[first:first + len(codes)], codes))
            bar.update(codes.size)
    writers.write_fai(folder / "sequences.fa.fai", plan.names, plan.length)
    tasks = [t["name"] for t in plan.scenario["tasks"]]
    writers.write_labels(folder / "labels.tsv", plan.names, plan.split, plan.labels, tasks)
    writers.write_motif_bed(folder / "motifs.bed", plan.names, plan.instances, plan.library)
    if plan.scenario["profile"]["enabled"]:
        _write_profile(plan, folder)
    writers.write_manifest(folder / "manifest.json", manifest(plan))


def _write_profile(plan: Plan, folder: Path) -> None:
    rng = np.random.default_rng([plan.scenario["seed"], STREAM_PROFILE])
    bound = plan.instances.take(~plan.instances.decoy)
    signal = profile_mod.simulate_signal(bound, plan.library, len(plan.names), plan.length,
                                         plan.scenario["profile"], rng)
    writers.write_bigwig(folder / "signal.plus.bw", plan.names, signal[:, 0])
    writers.write_bigwig(folder / "signal.minus.bw", plan.names, signal[:, 1])
    peaks = profile_mod.call_peaks(bound, plan.library, signal, plan.scenario["profile"])
    writers.write_peaks(folder / "peaks.bed", plan.names, peaks)


PROFILE_FILES = (".bw", "peaks.bed")
FILES = {
    "sequences.fa": "one record per sequence (name = labels.tsv name)",
    "labels.tsv": "name, split (train/valid/test), one 0/1 column per task",
    "motifs.bed": "BED6 0-based half-open: sequence, start, end, motif id, PFM log-odds "
                  "(log2, uniform background), strand; decoys listed in decoy_motif_ids",
    "manifest.json": "this file",
    "signal.plus.bw": "profile mode: plus-strand read counts, one chromosome per sequence",
    "signal.minus.bw": "profile mode: minus-strand read counts",
    "peaks.bed": "profile mode: narrowPeak, column 10 = summit offset from start",
}


def manifest(plan: Plan) -> dict:
    """Every parameter, the seed, counts and the version; no timestamps (reproducible)."""
    sc, inst, labels = plan.scenario, plan.instances, plan.labels
    tasks = [t["name"] for t in sc["tasks"]]
    roles = {i: "decoy" for i in plan.decoy_ids.tolist()}
    files = [f for f in FILES if sc["profile"]["enabled"] or not f.endswith(PROFILE_FILES)]
    return {
        "regbench_version": regbench.__version__,
        "kind": "simulation",
        "scenario": sc,
        "seed": sc["seed"],
        "length": plan.length,
        "tasks": tasks,
        "counts": {
            "sequences": len(plan.names),
            "positives": int(labels.any(axis=1).sum()),
            "negatives": int((~labels.any(axis=1)).sum()),
            "per_task": {t: int(labels[:, i].sum()) for i, t in enumerate(tasks)},
            "task_instances": int((~inst.decoy).sum()),
            "decoy_instances": int(inst.decoy.sum()),
            "minus_strand_share": float(inst.minus.mean()) if inst.minus.size else 0.0,
            "split": {s: int((plan.split == s).sum()) for s in ("train", "valid", "test")},
        },
        "split": {"fractions": sc["split"], "stratified_by": "label pattern",
                  "seed": sc["seed"]},
        "motifs": [{"id": m.id, "name": m.name, "width": m.width, "source": m.source,
                    "max_score": round(m.max_score, 4), "role": roles.get(i, "task"),
                    "tasks": [t for t, ids in zip(tasks, plan.task_lists) if i in ids]}
                   for i, m in enumerate(plan.library)],
        "decoy_motif_ids": [plan.library[i].id for i in plan.decoy_ids.tolist()],
        "files": {f: FILES[f] for f in files},
    }
