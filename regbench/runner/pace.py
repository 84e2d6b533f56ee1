"""How long a grid has left, counted per regularizer from the models it has finished.

A prior's models can train several times as long as ``none``'s (on spi1_profile_lowsignal
at the quick profile preset: 94 epochs of 48 s against 37 of 24 s), so one pace for
every model says too little while the prior trains and too much after. ``Pace`` counts
each model still to come at its own regularizer's mean training seconds (every
finished model's ``train_seconds``, those of earlier sessions included: a resumed
model's add up), plus the mean seconds a model took around its training in this
process (scoring, storing). A regularizer with no finished model yet is counted at
the mean of all finished models.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from tqdm.auto import tqdm


class Pace:
    """The time left in a grid of ``total`` (a Counter: regularizer -> models)."""

    def __init__(self, total: Counter):
        self.total = Counter(total)
        self.done: Counter = Counter()              # regularizer -> models finished
        self.trained: dict[str, list[float]] = {}   # regularizer -> train_seconds
        self.around: list[float] = []               # seconds beyond training, per model

    def add(self, row: dict, wall: float | None = None) -> None:
        """A finished model: its results row (``regularizer``, ``train_seconds``) and
        ``wall``, the seconds this process spent on it (None: loaded from the store).
        Scored from a stored checkpoint, it spent less than its training: all of
        ``wall`` was scoring."""
        self.done[row["regularizer"]] += 1
        seconds = float(row.get("train_seconds") or "nan")
        if np.isfinite(seconds):
            self.trained.setdefault(row["regularizer"], []).append(seconds)
        if wall is not None:
            self.around.append(wall - seconds if wall >= seconds else wall)

    def left(self) -> float | None:
        """Seconds left for the models not yet finished, or None before any has."""
        known = [s for seconds in self.trained.values() for s in seconds]
        if not known:
            return None
        around = float(np.mean(self.around)) if self.around else 0.0
        return float(sum(n * (self.per_model(r, known) + around) for r, n in self._to_come()))

    def per_model(self, regularizer: str, known: list[float]) -> float:
        return float(np.mean(self.trained.get(regularizer) or known))

    def line(self) -> str:
        """'; about 1:02:03 left (a model: fourier 20:00, none 05:00)', or '' when
        nothing is left or nothing is known yet."""
        left = self.left()
        if left is None or not list(self._to_come()):
            return ""
        known = [s for seconds in self.trained.values() for s in seconds]
        each = ", ".join(f"{r} {tqdm.format_interval(self.per_model(r, known))}"
                         + ("" if r in self.trained else " (as the others)")
                         for r, _ in self._to_come())
        return f"; about {tqdm.format_interval(left)} left (training a model: {each})"

    def _to_come(self):
        return [(r, n - self.done[r]) for r, n in self.total.items() if n > self.done[r]]


__all__ = ["Pace"]
