"""Profile mode: per-strand read counts around motif instances, and the peaks they make.

Each task-motif instance draws Poisson reads with mean ``counts * score / max_score``
(stronger matches bind more), split evenly between strands. Plus-strand read ends pile
up ``shift`` bp upstream of the instance centre and minus-strand ends ``shift`` bp
downstream, each spread by a Gaussian of sd ``width`` (a ChIP-exo / ChIP-nexus-like
footprint). Every base also gets Poisson ``background`` reads per strand.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.simulate.motifs import Motif
from regbench.simulate.sequences import Instances


def expected_reads(inst: Instances, library: list[Motif], counts: float) -> np.ndarray:
    """Expected total reads of each instance (n,): counts scaled by its relative score."""
    best = np.array([m.max_score for m in library])[inst.motif]
    return counts * np.clip(inst.score / best, 0.0, 1.0)


def centres(inst: Instances, library: list[Motif]) -> np.ndarray:
    """Centre of each instance (n,) as a float position."""
    width = np.array([m.width for m in library])[inst.motif]
    return inst.start + (width - 1) / 2


def simulate_signal(inst: Instances, library: list[Motif], n_seqs: int, length: int,
                    profile: dict, rng: np.random.Generator) -> np.ndarray:
    """Read counts of shape (n_seqs, 2, length), float32; axis 1 is (plus, minus).

    inst: task-motif instances only (decoys are not bound).
    """
    reads = rng.poisson(expected_reads(inst, library, profile["counts"]))
    owner = np.repeat(np.arange(reads.size), reads)
    minus = rng.random(owner.size) < 0.5
    pos = (centres(inst, library)[owner] + np.where(minus, profile["shift"], -profile["shift"])
           + rng.normal(0.0, profile["width"], owner.size))
    pos = np.clip(np.rint(pos), 0, length - 1).astype(np.int64)
    noise = rng.poisson(profile["background"] * length, (n_seqs, 2)).ravel()
    noise_row = np.repeat(np.arange(2 * n_seqs), noise)
    flat = np.r_[(2 * inst.seq[owner] + minus) * length + pos,
                 noise_row * length + rng.integers(0, length, noise_row.size)]
    counts = np.bincount(flat, minlength=2 * n_seqs * length)
    return counts.reshape(n_seqs, 2, length).astype(np.float32)


@dataclass
class Peaks:
    """One peak per sequence with a task instance: seq, start, end, summit (absolute
    position in the sequence), score (0-1000) and reads inside; all (n,) arrays."""

    seq: np.ndarray
    start: np.ndarray
    end: np.ndarray
    summit: np.ndarray
    score: np.ndarray
    reads: np.ndarray


def call_peaks(inst: Instances, library: list[Motif], signal: np.ndarray,
               profile: dict) -> Peaks:
    """The true peaks: the instances' extent plus ``peak_flank``, summit at the centre of
    the instance with the most expected reads. signal: (N, 2, L) from simulate_signal."""
    length = signal.shape[2]
    if inst.seq.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Peaks(empty, empty, empty, empty, empty, empty.astype(np.float64))
    width = np.array([m.width for m in library])[inst.motif]
    first = np.flatnonzero(np.r_[True, inst.seq[1:] != inst.seq[:-1]])
    seq = inst.seq[first]
    start = np.maximum(0, np.minimum.reduceat(inst.start, first) - profile["peak_flank"])
    end = np.minimum(length, np.maximum.reduceat(inst.start + width, first)
                     + profile["peak_flank"])
    expected = expected_reads(inst, library, profile["counts"])
    group = np.cumsum(np.r_[True, inst.seq[1:] != inst.seq[:-1]]) - 1
    best = np.lexsort((-expected, group))[first]          # strongest instance per group
    summit = np.rint(centres(inst, library)[best]).astype(np.int64)
    score = np.rint(1000 * expected[best] / max(profile["counts"], 1e-12)).astype(np.int64)
    cover = np.cumsum(np.pad(signal[seq].sum(axis=1), ((0, 0), (1, 0))), axis=1)
    rows = np.arange(seq.size)
    reads = cover[rows, end] - cover[rows, start]
    return Peaks(seq, start, end, summit, np.clip(score, 0, 1000), reads.astype(np.float64))
