"""The constrained protocol's λ selection rule, pure: the candidate grid and the choice.

Each candidate λ is trained exactly as the verdict's models are, on selection seeds the
verdict never sees, and scored on validation data by the primary endpoint and the
performance metric (``regbench.endpoints``). The choice, stated before the data:

1. Feasible: the mean paired performance difference from ``none`` (same selection
   seed) is no worse than the declared margin.
2. Best: the feasible λ with the best mean endpoint. SE: the standard error of one λ's
   mean over the n selection seeds, from the seed sd pooled over the feasible λ
   (√(mean of their variances, ddof 1) / √n): one λ's three seeds give an sd with 2
   degrees of freedom, which can come out near 0 by chance; pooled over k candidates it
   has k(n-1). Only the feasible λ, the ones chosen among: an infeasible λ is often one
   whose training broke down on some seed (measured: Fourier λ = 10 on the quick preset,
   one seed at auROC 0.56 and motif fraction 0.03, the others 0.94 and 0.5), and its
   spread says nothing of the noise between the models the rule compares.
3. One-standard-error rule (Breiman et al. 1984; Hastie, Tibshirani & Friedman, §7.10):
   of the feasible λ whose mean endpoint is within one SE of the best, the smallest:
   the least departure from the unregularized model that the selection seeds cannot
   tell apart from the best. λ closer than their noise no longer decide the verdict by
   which of them rounding favours.
4. No feasible λ: the smallest λ of the grid (the least regularization tried), said so.

The grid is fixed before any training (decades anchored at the registry's λ), so the
candidates themselves do not depend on scores, thread counts or the CPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RULE = ("of the λ whose mean validation performance over the selection seeds is within "
        "the margin of none's (paired by seed), those whose mean primary endpoint is within "
        "one standard error (seed sd pooled over the feasible λ) of the best; of these the smallest "
        "λ (one-standard-error rule)")


def lambda_grid(default: float, lambda_range: tuple[float, float], n: int) -> list[float]:
    """Up to ``n`` candidate λ, ascending: default × 10^k for integer k within
    ``lambda_range`` (inclusive), the ``n`` nearest the registry's ``default`` (ties: the
    smaller). A default outside the range anchors at the range's lower end."""
    low, high = lambda_range
    anchor = default if low <= default <= high and default > 0 else low
    ks = range(math.floor(math.log10(low / anchor) - 1e-9),
               math.ceil(math.log10(high / anchor) + 1e-9) + 1)
    grid = [float(f"{anchor * 10.0 ** k:.12g}") for k in ks]
    grid = [lam for lam in grid if low * (1 - 1e-9) <= lam <= high * (1 + 1e-9)]
    nearest = sorted(grid, key=lambda lam: (abs(math.log10(lam / anchor)), lam))[:max(n, 1)]
    return sorted(nearest)


@dataclass(frozen=True)
class Candidate:
    """One λ over the selection seeds: endpoint and performance per seed (validation),
    in the order of the seeds."""

    lam: float
    endpoint: tuple[float, ...]
    performance: tuple[float, ...]


@dataclass(frozen=True)
class Choice:
    """The rule's outcome. lam: the chosen λ; feasible_found: whether any λ met the
    margin; best, se: the best feasible λ's mean endpoint and its standard error (oriented
    so that higher is better); table: one row per candidate (lambda, endpoint_mean,
    endpoint_se, performance_difference, feasible, within_one_se, chosen)."""

    lam: float
    feasible_found: bool
    best: float
    se: float
    table: tuple[dict, ...]


def _se(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def pooled_se(endpoints: list[np.ndarray]) -> float:
    """Standard error of one λ's mean endpoint, the seed variance pooled over
    ``endpoints`` (one array per λ, the same n seeds each): √(mean variance) / √n."""
    usable = [e for e in endpoints if len(e) > 1 and np.isfinite(e).all()]
    if not usable:
        return 0.0
    variance = float(np.mean([np.var(e, ddof=1) for e in usable]))
    return math.sqrt(variance / len(usable[0]))


def choose_lambda(candidates: list[Candidate], none_performance: tuple[float, ...], *,
                  direction: str = "higher", performance_direction: str = "higher",
                  margin: float) -> Choice:
    """The λ the rule above chooses among ``candidates`` (at least one). none_performance:
    none's validation performance on the same selection seeds, same order; direction,
    performance_direction: "higher" or "lower" is better; margin: the largest tolerated
    mean performance loss (>= 0)."""
    if not candidates:
        raise ValueError("choose_lambda needs at least one candidate λ")
    sign = 1.0 if direction == "higher" else -1.0
    psign = 1.0 if performance_direction == "higher" else -1.0
    reference = np.asarray(none_performance, float)
    rows = []
    for c in sorted(candidates, key=lambda c: c.lam):
        endpoint = sign * np.asarray(c.endpoint, float)
        difference = psign * (np.asarray(c.performance, float) - reference)
        usable = bool(np.isfinite(endpoint).all() and np.isfinite(difference).all())
        rows.append({"lambda": c.lam, "_values": endpoint, "endpoint_mean": sign * float(np.mean(endpoint)),
                     "endpoint_se": _se(endpoint),
                     "performance_difference": float(np.mean(difference)),
                     "feasible": usable and float(np.mean(difference)) >= -margin,
                     "oriented_values": float(np.mean(endpoint))})
    feasible = [r for r in rows if r["feasible"]]
    if feasible:
        top = max(feasible, key=lambda r: r["oriented_values"])
        best, se = top["oriented_values"], pooled_se([r["_values"] for r in feasible])
        eligible = [r for r in feasible if r["oriented_values"] >= best - se]
        lam = min(r["lambda"] for r in eligible)
    else:
        best, se, eligible, lam = math.nan, math.nan, [], rows[0]["lambda"]
    table = tuple({**{k: v for k, v in r.items() if not k.startswith("_")},
                   "within_one_se": any(r is e for e in eligible), "chosen": r["lambda"] == lam}
                  for r in rows)
    return Choice(lam, bool(feasible), best, se, table)


__all__ = ["Candidate", "Choice", "RULE", "choose_lambda", "lambda_grid", "pooled_se"]
