"""Vectorised sequence generation: GC-biased background, motif instances, labels.

Codes are uint8 with A=0, C=1, G=2, T=3 (N=4 only as padding). Nothing here loops over
bases in Python; loops run over a handful of GC levels or motifs at most.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.simulate.motifs import Motif

_U16 = np.arange(65536, dtype=np.int64)
PAD = 4  # letter code used to pad motif letters past a motif's width


def background(gc: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Independent bases with P(C) = P(G) = gc/2 and P(A) = P(T) = (1 - gc)/2.

    gc: (n,) GC fraction per row. Returns codes of shape (n, length), uint8.
    """
    # One 16-bit draw per base: below the threshold is G/C, the low bit picks which.
    draws = np.frombuffer(rng.bytes(2 * gc.size * length), dtype=np.uint16)
    draws = draws.reshape(gc.size, length)
    codes = np.empty(draws.shape, dtype=np.uint8)
    for level in np.unique(gc):
        rows = np.flatnonzero(gc == level)
        codes[rows] = _gc_table(float(level))[draws[rows]]
    return codes


def _gc_table(gc: float) -> np.ndarray:
    """Lookup from a 16-bit draw to a base code; threshold even so C and G stay equal."""
    threshold = 2 * int(round(gc * 32768))
    low_bit = (_U16 & 1).astype(np.uint8)
    return np.where(_U16 < threshold, 1 + low_bit, 3 * low_bit).astype(np.uint8)


def assign_labels(n_pos: int, n_neg: int, task_probs: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Shuffled 0/1 labels of shape (n_pos + n_neg, T); each positive has >= 1 task.

    task_probs: (T,) chance that a positive is positive for each task.
    """
    n_tasks = task_probs.size
    is_pos = np.zeros(n_pos + n_neg, dtype=bool)
    is_pos[rng.permutation(n_pos + n_neg)[:n_pos]] = True
    active = rng.random((n_pos, n_tasks)) < task_probs
    empty = ~active.any(axis=1)
    active[np.flatnonzero(empty), rng.integers(0, n_tasks, empty.sum())] = True
    labels = np.zeros((is_pos.size, n_tasks), dtype=np.uint8)
    labels[is_pos] = active
    return labels


@dataclass
class Instances:
    """Motif instances, one row each, sorted by (seq, start).

    seq (n,) row of the sequence; motif (n,) index into the motif library; decoy (n,)
    bool; start (n,) 0-based; minus (n,) bool strand; letters (n, W_max) uint8 codes
    read on the instance's own strand, padded with 4; score (n,) PFM log-odds.
    """

    seq: np.ndarray
    motif: np.ndarray
    decoy: np.ndarray
    start: np.ndarray
    minus: np.ndarray
    letters: np.ndarray
    score: np.ndarray

    def take(self, index) -> "Instances":
        return Instances(**{k: v[index] for k, v in vars(self).items()})


def instance_counts(n: int, inst: dict, rng: np.random.Generator) -> np.ndarray:
    """Task instances for each of ``n`` positives, fixed or Poisson clipped to [min, max]."""
    if inst["distribution"] == "fixed":
        return np.full(n, inst["count"], dtype=np.int64)
    return np.clip(rng.poisson(inst["mean"], n), inst["min"], inst["max"]).astype(np.int64)


def task_instances(labels: np.ndarray, task_lists: list[np.ndarray], inst: dict,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(seq, motif) of every task instance. Every active task of a positive gets one
    instance first (when instances.min >= 1), extra ones go to random active tasks.

    labels: (N, T) 0/1. task_lists: per task, library indices of its motifs.
    """
    pos = np.flatnonzero(labels.any(axis=1))
    active = labels[pos].astype(bool)
    n_active = active.sum(axis=1)
    counts = instance_counts(pos.size, inst, rng)
    if inst["min"] >= 1:
        counts = np.maximum(counts, n_active)
    # Active tasks of each positive in random order, inactive ones pushed last.
    order = np.argsort(np.where(active, rng.random(active.shape), 2.0), axis=1)
    owner = np.repeat(np.arange(pos.size), counts)
    rank = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    extra = (rng.random(owner.size) * n_active[owner]).astype(np.int64)
    task = order[owner, np.where(rank < n_active[owner], rank, extra)]
    return pos[owner], _pick(task_lists, task, rng)


def _pick(lists: list[np.ndarray], group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly chosen member of ``lists[g]`` for each g in ``group`` (n,)."""
    sizes = np.array([len(x) for x in lists])
    flat = np.concatenate(lists).astype(np.int64)
    offsets = np.cumsum(sizes) - sizes
    return flat[offsets[group] + (rng.random(group.size) * sizes[group]).astype(np.int64)]


def decoy_instances(labels: np.ndarray, decoys: dict, decoy_ids: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(seq, motif) of decoy instances: ``decoys.count`` in a random share of rows."""
    is_pos = labels.any(axis=1)
    share = np.where(is_pos, decoys["positives"], decoys["negatives"])
    chosen = np.flatnonzero(rng.random(is_pos.size) < share)
    if decoy_ids.size == 0 or decoys["count"] == 0:
        chosen = chosen[:0]
    seq = np.repeat(chosen, decoys["count"])
    return seq, _pick([decoy_ids], np.zeros(seq.size, dtype=np.int64), rng)


def place(seq: np.ndarray, width: np.ndarray, length: int, placement: dict,
          rng: np.random.Generator) -> np.ndarray:
    """Non-overlapping starts, at least ``min_spacing`` apart, for instances grouped by seq.

    seq, width: (n,) with rows of one sequence contiguous, in the order they will lie.
    Centre mode draws inside a window of the instances' span plus ``jitter`` each side,
    centred on the sequence; uniform mode anywhere. Returns starts (n,) int64.
    """
    if seq.size == 0:
        return np.zeros(0, dtype=np.int64)
    spacing = placement["min_spacing"]
    first = np.r_[True, seq[1:] != seq[:-1]]
    group = np.cumsum(first) - 1
    group_start = np.flatnonzero(first)
    rank = np.arange(seq.size) - group_start[group]
    cum = np.cumsum(width) - width
    before = cum - cum[group_start][group]               # widths of earlier instances
    span = np.add.reduceat(width, group_start) + spacing * (np.bincount(group) - 1)
    if placement["mode"] == "center":
        window = np.minimum(length, span + 2 * placement["jitter"])
    else:
        window = np.full(span.shape, length)
    low = (length - window) // 2
    slack = window - span                                 # >= 0, checked by the scenario
    # Sorted uniform offsets in [0, slack] spread the instances without overlap.
    offset = rng.integers(0, slack[group] + 1)
    offset = offset[np.lexsort((offset, group))]
    return (low[group] + offset + before + rank * spacing).astype(np.int64)


def sample_letters(motif: np.ndarray, library: list[Motif],
                   rng: np.random.Generator) -> np.ndarray:
    """Letters drawn column by column from each instance's PFM.

    motif: (n,) library indices. Returns (n, W_max) uint8, padded with 4 past the width.
    """
    w_max = max(m.width for m in library)
    cum = np.ones((len(library), w_max, 4))
    for i, m in enumerate(library):
        cum[i, :m.width] = np.cumsum(m.pfm.T, axis=1)
    cum[..., 3] = 1.0                                     # no rounding past the last base
    draws = rng.random((motif.size, w_max, 1))
    letters = (draws >= cum[motif]).sum(axis=2).astype(np.uint8)
    widths = np.array([m.width for m in library])
    letters[np.arange(w_max) >= widths[motif][:, None]] = PAD
    return letters


def reverse_complement(letters: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Reverse complement of padded letters (n, W_max) within each row's width (n,)."""
    cols = np.arange(letters.shape[1])
    src = np.where(cols < width[:, None], width[:, None] - 1 - cols, cols)
    flipped = np.take_along_axis(letters, src, axis=1)
    return np.where(flipped < 4, 3 - flipped, flipped).astype(np.uint8)


def score_letters(motif: np.ndarray, letters: np.ndarray, library: list[Motif]) -> np.ndarray:
    """PFM log-odds of each instance's on-strand letters (n, W_max) -> (n,)."""
    w_max = letters.shape[1]
    table = np.zeros((len(library), 5, w_max))
    for i, m in enumerate(library):
        table[i, :, :m.width] = m.log_odds
    return table[motif[:, None], letters, np.arange(w_max)].sum(axis=1)


def plan_instances(labels: np.ndarray, scenario: dict, library: list[Motif],
                   task_lists: list[np.ndarray], decoy_ids: np.ndarray,
                   rng: np.random.Generator) -> Instances:
    """Every motif instance of the dataset: which sequence, motif, place, strand, letters."""
    t_seq, t_motif = task_instances(labels, task_lists, scenario["instances"], rng)
    d_seq, d_motif = decoy_instances(labels, scenario["decoys"], decoy_ids, rng)
    seq, motif = np.r_[t_seq, d_seq], np.r_[t_motif, d_motif]
    decoy = np.r_[np.zeros(t_seq.size, bool), np.ones(d_seq.size, bool)]
    order = np.lexsort((rng.random(seq.size), seq))       # random order within a sequence
    seq, motif, decoy = seq[order], motif[order], decoy[order]
    width = np.array([m.width for m in library], dtype=np.int64)[motif]
    start = place(seq, width, scenario["length"], scenario["placement"], rng)
    minus = rng.random(seq.size) < scenario["placement"]["rc_prob"]
    letters = sample_letters(motif, library, rng)
    score = score_letters(motif, letters, library)
    return Instances(seq, motif, decoy, start, minus, letters, score)


def embed(codes: np.ndarray, first_row: int, inst: Instances, library: list[Motif]) -> None:
    """Write instances whose seq lies in [first_row, first_row + len(codes)) into codes.

    codes: (n, L) uint8, modified in place.
    """
    rows = (inst.seq >= first_row) & (inst.seq < first_row + codes.shape[0])
    part = inst.take(rows)
    width = np.array([m.width for m in library], dtype=np.int64)[part.motif]
    written = np.where(part.minus[:, None], reverse_complement(part.letters, width),
                       part.letters)
    cols = np.arange(written.shape[1])
    inside = cols < width[:, None]
    flat = (part.seq - first_row)[:, None] * codes.shape[1] + part.start[:, None] + cols
    codes.reshape(-1)[flat[inside]] = written[inside]
