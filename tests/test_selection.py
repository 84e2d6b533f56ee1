"""The constrained protocol's λ selection rule (regbench.tune.selection), on
hand-computed cases."""
import math

import numpy as np
import pytest

from regbench.tune.selection import Candidate, choose_lambda, lambda_grid


def test_grid_is_decades_anchored_at_the_registry_lambda_within_the_range():
    assert lambda_grid(1.0, (0.01, 100.0), 5) == [0.01, 0.1, 1.0, 10.0, 100.0]
    assert lambda_grid(1.0, (0.01, 100.0), 3) == [0.1, 1.0, 10.0]
    assert lambda_grid(1.0, (0.01, 100.0), 2) == [0.1, 1.0]        # ties: the smaller
    assert lambda_grid(0.001, (1e-6, 0.1), 5) == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert lambda_grid(0.1, (0.001, 10.0), 9) == [0.001, 0.01, 0.1, 1.0, 10.0]


NONE = (0.90, 0.90, 0.90)


def test_the_best_feasible_lambda_when_nothing_is_within_one_se():
    choice = choose_lambda([Candidate(0.1, (0.30, 0.31, 0.32), (0.90,) * 3),
                            Candidate(1.0, (0.50, 0.51, 0.52), (0.895,) * 3),
                            Candidate(10.0, (0.70, 0.70, 0.70), (0.85,) * 3)],   # infeasible
                           NONE, margin=0.01)
    assert choice.lam == 1.0 and choice.feasible_found
    assert choice.best == pytest.approx(0.51)
    # seed variance pooled over the feasible λ: (0.01² + 0.01²) / 2; SE of a 3-seed mean
    assert choice.se == pytest.approx(math.sqrt(1e-4 / 3))
    assert [r["feasible"] for r in choice.table] == [True, True, False]
    assert choice.table[1]["performance_difference"] == pytest.approx(-0.005)


def test_one_se_rule_takes_the_smallest_lambda_within_one_se_of_the_best():
    # best: λ=1, mean 0.50; pooled variance (0 + 0 + 0.01) / 3 → SE √(0.01/9) = 0.0333:
    # λ=0.1 (0.47) is within, λ=0.01 (0.40) not
    choice = choose_lambda([Candidate(0.01, (0.40, 0.40, 0.40), NONE),
                            Candidate(0.1, (0.47, 0.47, 0.47), NONE),
                            Candidate(1.0, (0.40, 0.50, 0.60), NONE)], NONE, margin=0.01)
    assert choice.lam == 0.1 and choice.se == pytest.approx(1 / 30)
    assert [r["within_one_se"] for r in choice.table] == [False, True, True]
    assert [r["chosen"] for r in choice.table] == [False, True, False]


def test_scores_closer_than_their_noise_choose_alike_whichever_way_rounding_goes():
    def pick(shift):
        return choose_lambda([Candidate(0.145, (0.80 + shift, 0.70, 0.90), NONE),
                              Candidate(1.0, (0.82 - shift, 0.72, 0.92), NONE)],
                             NONE, margin=0.01).lam
    assert pick(0.0) == pick(0.03) == 0.145   # argmax flips; the choice does not


def test_lower_is_better_endpoints_and_performance_are_oriented():
    # endpoint: entropy-like (lower better); performance: JSD-like (lower better)
    none = (0.50, 0.50)
    choice = choose_lambda([Candidate(0.1, (5.0, 5.0), (0.505, 0.505)),
                            Candidate(1.0, (4.0, 4.0), (0.52, 0.52))],   # JSD +0.02: too much
                           none, direction="lower", performance_direction="lower",
                           margin=0.01)
    assert choice.lam == 0.1
    assert choice.table[1]["performance_difference"] == pytest.approx(-0.02)
    assert choice.table[0]["endpoint_mean"] == pytest.approx(5.0)


def test_no_feasible_lambda_takes_the_smallest_of_the_grid():
    choice = choose_lambda([Candidate(1.0, (0.5,), (0.5,)), Candidate(0.1, (0.4,), (0.6,))],
                           (0.9,), margin=0.01)
    assert (choice.lam, choice.feasible_found) == (0.1, False)
    assert not any(r["within_one_se"] for r in choice.table)


def test_a_non_finite_score_makes_a_lambda_infeasible():
    choice = choose_lambda([Candidate(0.1, (0.4, math.nan), NONE[:2]),
                            Candidate(1.0, (0.3, 0.3), NONE[:2])], NONE[:2], margin=0.01)
    assert choice.lam == 1.0 and not choice.table[0]["feasible"]


def test_pooled_se_is_not_fooled_by_one_lambdas_chance_agreement():
    # λ=1's seeds agree by chance (sd 0.001); the other λ show the real noise (sd 0.02)
    choice = choose_lambda([Candidate(0.1, (0.485, 0.505, 0.525), NONE),
                            Candidate(1.0, (0.509, 0.510, 0.511), NONE),
                            Candidate(10.0, (0.30, 0.32, 0.34), NONE)], NONE, margin=0.01)
    assert choice.lam == 0.1     # 0.505 is within the pooled SE (0.0094) of 0.51


def test_a_broken_infeasible_lambda_does_not_widen_the_se():
    # λ=10: one seed collapsed (endpoint 0.03, auROC 0.56): infeasible, and its spread
    # is not the noise between the feasible models; measured on the quick preset
    none = (0.93, 0.92, 0.92)
    choice = choose_lambda([Candidate(0.1, (0.406, 0.398, 0.451), (0.940, 0.936, 0.951)),
                            Candidate(1.0, (0.480, 0.496, 0.545), (0.939, 0.962, 0.967)),
                            Candidate(10.0, (0.028, 0.495, 0.580), (0.561, 0.940, 0.944))],
                           none, margin=0.01)
    assert choice.lam == 1.0
    pooled = math.sqrt((np.var([0.406, 0.398, 0.451], ddof=1)
                        + np.var([0.480, 0.496, 0.545], ddof=1)) / 2 / 3)
    assert choice.se == pytest.approx(pooled)
