"""Early stopping ([train] stopping): the paper authors' rule against a re-statement of
their loop on recorded and hand-made validation curves, the total loss it reads, the
convergence check of every run, and the option's config, plan and results."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from regbench import RegbenchError
from regbench.cli import main
from regbench.options.config import preset_config
from regbench.training.fit import fit
from regbench.options.settings import TrainConfig
from regbench.training.stopping import (authors_stops, budget_warning, converged, run_converged,
                               selection_warning, window)


def authors_loop(totals, hist_len=3, min_delta=0.001):
    """The oracle: (the epoch the authors' training loop breaks at, 1-based, or None when
    it runs every epoch of ``totals``; the epoch it keeps). Restated from their
    ``train_model`` (amtseng/fourier_attribution_priors, src/model/train_profile_model.py
    and train_binary_model.py, after commit d160e01), in its own order: each epoch the
    best total validation loss so far is kept when strictly lower; while the newest-
    first list holds fewer than hist_len + 1 losses the new one is put in front; once it
    holds that many, the new one goes in front, the oldest drops out, and the loop stops
    when the largest of np.diff(list) (older minus newer: each epoch's improvement) is
    below min_delta."""
    recent, best, kept = [], math.inf, None
    for epoch, loss in enumerate(totals, start=1):
        if loss < best:
            best, kept = loss, epoch
        if len(recent) < hist_len + 1:
            recent = [loss] + recent
            continue
        recent = [loss] + recent[:-1]
        if np.max(np.diff(recent)) < min_delta:
            return epoch, kept
    return None, kept


# Recorded: the validation correctness loss and Fourier penalty (λ = 1) per epoch of two
# smoke profile models (spi1_profile, 100 bp, seeds 0 and 1, 40 epochs, patience 40), to
# 4 and 5 decimals: a fall, a plateau near 172 that rises, then a second fall.
FOURIER_SEED0 = (
    [260.5007, 253.1292, 246.8085, 239.6831, 231.1325, 221.3428, 210.6708, 199.7947,
     189.7851, 181.61, 175.9706, 173.0149, 172.157, 172.0402, 172.2024, 172.4244, 172.6002,
     172.858, 173.2112, 173.2653, 173.3944, 173.44, 173.7091, 173.7208, 173.7478, 173.6566,
     173.4459, 173.3554, 173.2902, 173.0916, 173.0832, 172.514, 171.6545, 171.2409,
     170.8463, 170.2632, 169.1285, 168.5172, 168.0519, 167.4942],
    [0.48322, 0.47554, 0.46857, 0.45578, 0.44804, 0.44692, 0.44689, 0.44109, 0.43603,
     0.43285, 0.42721, 0.42253, 0.42512, 0.43025, 0.43509, 0.4385, 0.4413, 0.443, 0.44454,
     0.44639, 0.44868, 0.45114, 0.45176, 0.45299, 0.45353, 0.45651, 0.45881, 0.45936,
     0.46073, 0.46002, 0.45645, 0.45471, 0.45441, 0.45059, 0.44514, 0.44153, 0.43549,
     0.43553, 0.43754, 0.43521])
FOURIER_SEED1 = (
    [266.0292, 256.2657, 245.9654, 234.903, 223.0426, 210.5802, 197.9633, 186.1143,
     176.663, 172.7559, 172.2968, 172.2609, 172.6634, 173.5701, 173.3399, 172.7603,
     171.6887, 170.712, 170.1956, 169.4336, 168.2959, 167.209, 165.4839, 163.3542,
     162.6305, 161.1841, 159.8145, 158.864, 158.4753, 157.0511, 156.8922, 156.235,
     156.0902, 155.4419, 154.9603, 154.555, 154.0783, 153.8378, 153.622, 153.5766],
    [0.45849, 0.45228, 0.44675, 0.43123, 0.41918, 0.42552, 0.43121, 0.43791, 0.43369,
     0.43524, 0.43803, 0.44383, 0.44676, 0.44631, 0.4461, 0.44314, 0.43997, 0.43483,
     0.43744, 0.43398, 0.43205, 0.43318, 0.43867, 0.43921, 0.43366, 0.427, 0.42668,
     0.42998, 0.43246, 0.43204, 0.4331, 0.43575, 0.43582, 0.43327, 0.43152, 0.42978,
     0.42953, 0.42661, 0.42597, 0.42427])


def _flat(losses):
    return list(losses), [0.0] * len(losses)


CURVES = {
    "recorded fourier seed 0": (*FOURIER_SEED0, 1.0),
    "recorded fourier seed 1": (*FOURIER_SEED1, 1.0),
    "recorded, from its plateau on": (FOURIER_SEED0[0][13:], FOURIER_SEED0[1][13:], 1.0),
    "steady fall of 0.01": (*_flat([10 - 0.01 * e for e in range(12)]), 0.0),
    "steady fall of 0.0009": (*_flat([10 - 0.0009 * e for e in range(12)]), 0.0),
    # in floats some of these differences come out just below 0.001, some not
    "steps of 0.001": (*_flat([10 - 0.001 * e for e in range(12)]), 0.0),
    "noisy plateau, one jump in each window": (
        *_flat([5, 4, 3, 3.0004, 2.99, 2.9905, 2.9904, 2.98, 2.9801, 2.9803, 2.9802,
                2.9804]), 0.0),
    "falls then rises": (*_flat([5, 4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0]), 0.0),
    "too short to check": (*_flat([5, 5, 5, 5]), 0.0),
    "flat from the start": (*_flat([5.0] * 8), 0.0),
}


class Replay:
    """A stepper whose members replay (validation loss, penalty) curves at λ ``lam``:
    curves[m] = (losses, penalties). A member's state is the epoch it was taken at."""

    def __init__(self, curves, lam, stopping="authors", patience=3, max_epochs=None):
        self.curves, self.lam, self.stopping = curves, lam, stopping
        self.patience = patience
        self.n_members = len(curves)
        self.max_epochs = max_epochs or max(len(c[0]) for c in curves)

    def start(self):
        self.active, self.epoch = list(range(self.n_members)), 0

    def train_epoch(self, measure):
        self.epoch += 1
        return [[1.0, 0.0] for _ in self.active], 2, float("nan")

    def evaluate(self):
        return [(self.curves[m][0][self.epoch - 1], self.curves[m][1][self.epoch - 1])
                for m in self.active]

    def member_state(self, j):
        return {"epoch": self.epoch}

    def release(self, j, state):
        return state

    def drop(self, keep):
        self.active = [self.active[j] for j in keep]

    def checkpoint(self, m, path, result):
        pass


def _totals(losses, penalties, lam):
    return [loss + lam * penalty for loss, penalty in zip(losses, penalties)]


@pytest.mark.parametrize("name", CURVES)
def test_the_authors_rule_stops_where_their_loop_stops(name):
    """Each curve alone and all of them as one group: every member stops at the epoch
    their loop breaks at (or runs every epoch) and keeps the epoch their loop keeps;
    the rule, epoch by epoch, says stop at that epoch and at no earlier one."""
    losses, penalties, lam = CURVES[name]
    totals = _totals(losses, penalties, lam)
    stop, kept = authors_loop(totals)
    result, = fit(Replay([(losses, penalties)], lam))
    assert len(result.history) == (stop or len(losses))
    assert result.best_epoch == kept and result.model == {"epoch": kept}
    assert result.best_val_loss == losses[kept - 1]   # its correctness loss
    last = stop or len(totals)
    assert [authors_stops(totals[:e]) for e in range(1, last + 1)] == [
        e == stop for e in range(1, last + 1)]


def test_the_recorded_curves_stop_where_expected():
    """The stop epochs of their loop, by hand: seed 0's total rises in the three epochs
    after epoch 14; seed 1's rises after epoch 12 but falls by 0.23 at epoch 15, so it
    trains all 40 epochs (to 153.6), where patience 3 on the correctness loss stops at
    epoch 15; a steady fall of 0.01 never stops, of 0.0009 at the first check (5)."""
    expected = {"recorded fourier seed 0": 17, "recorded fourier seed 1": None,
                "steady fall of 0.01": None, "steady fall of 0.0009": 5,
                "too short to check": None, "flat from the start": 5}
    for name, epoch in expected.items():
        assert authors_loop(_totals(*CURVES[name]))[0] == epoch, name
    patience, = fit(Replay([FOURIER_SEED1], 1.0, stopping="patience", patience=3))
    assert (len(patience.history), patience.best_epoch) == (15, 12)


def test_group_members_each_stop_by_the_rule():
    """One group of every curve, each padded with its last epoch to 40: each member
    leaves at its own oracle epoch."""
    curves = [tuple(list(part) + [part[-1]] * (40 - len(part)) for part in CURVES[n][:2])
              for n in CURVES]
    results = fit(Replay(curves, 1.0))
    for (losses, penalties), result in zip(curves, results):
        stop, kept = authors_loop(_totals(losses, penalties, 1.0))
        assert (len(result.history), result.best_epoch) == (stop or 40, kept)


def test_the_rule_reads_the_total_loss_penalty_included():
    """The correctness loss falls by 0.01 an epoch, but λ × penalty rises faster from
    epoch 4: the total's last improvement is into epoch 3, so the rule stops three
    changes later (epoch 6) and keeps epoch 3, the lowest total; on the correctness loss
    it (and patience) would run on and keep the last epoch."""
    losses = [10 - 0.01 * e for e in range(10)]
    penalties = [0.0, 0.0, 0.0] + [0.003 * e for e in range(1, 8)]
    lam = 10.0
    totals = _totals(losses, penalties, lam)
    assert authors_loop(totals) == (6, 3) and authors_loop(losses) == (None, 10)
    result, = fit(Replay([(losses, penalties)], lam))
    assert (len(result.history), result.best_epoch) == (6, 3)
    assert result.best_val_loss == losses[2]
    patience, = fit(Replay([(losses, penalties)], lam, stopping="patience"))
    assert (len(patience.history), patience.best_epoch) == (10, 10)


def test_a_nan_total_never_stops_the_rule_as_in_their_code():
    totals = [5, 4, 3, 2, float("nan"), 1, 1, 1, 1]
    assert [authors_stops(totals[:e]) for e in range(1, 10)] == [
        authors_loop(totals[:e])[0] == e for e in range(1, 10)]
    assert authors_loop(totals)[0] == 9 and authors_stops(totals)


# -- the convergence check --------------------------------------------------------------

@pytest.mark.parametrize("losses, best, cap, rule, expected", [
    # patience 3: stopped 3 epochs after its best, far from the cap
    ([5, 4, 3, 3.1, 3.2, 3.3], 3, 20, "patience", True),
    # ran to the cap, still improving: best epoch 20 > 20 - 3
    ([20 - e for e in range(20)], 20, 20, "patience", False),
    # best at epoch 18 of 20, then two worse epochs: within the window of the cap
    ([10] * 17 + [9, 9.5, 9.6], 18, 20, "patience", False),
    # best at epoch 17 = 20 - 3: room for a whole window after it
    ([10] * 16 + [9, 9.5, 9.6, 9.7], 17, 20, "patience", True),
    # authors: stopped on a flat window
    ([5, 4, 3, 3, 3, 3], 3, 20, "authors", True),
    # authors: stopped by three changes of 0.0009 each, 0.0027 in all: still falling
    ([10 - 0.0009 * e for e in range(5)], 5, 20, "authors", False),
    # authors: best epoch 18 > 20 - 3
    ([10] * 17 + [9, 9.5, 9.6], 18, 20, "authors", False),
    # authors: the cap cut a run whose loss rose again but fell back over the window
    ([10] * 5 + [8] + [9] * 11 + [9.5, 9.2, 8.9], 6, 20, "authors", False),
])
def test_converged_on_known_histories(losses, best, cap, rule, expected):
    assert converged(losses, best, cap, *window(rule, patience=3)) is expected


def test_a_failed_run_has_not_converged_and_the_authors_check_reads_the_total():
    history = [{"val_loss": v, "val_penalty": p} for v, p in
               zip([5, 4, 3, 3, 3, 3], [0, 0, 0, 0.1, 0.2, 0.3])]
    assert run_converged(history, 3, "ok", "authors", 3, 20, lam=0.0)
    assert not run_converged(history, 3, "failed: non-finite loss at epoch 6 (λ=0)",
                             "authors", 3, 20, lam=0.0)
    # the total 3 + 10 × penalty rises: still converged; a falling one is not
    falling = [{**r, "val_penalty": -r["val_penalty"]} for r in history]
    assert run_converged(history, 3, "ok", "authors", 3, 20, lam=10.0)
    assert not run_converged(falling, 3, "ok", "authors", 3, 20, lam=10.0)


def test_fit_records_whether_each_member_converged():
    curves = [_flat([5, 4, 3, 3.1, 3.2, 3.3, 3.4, 3.5]), _flat([8 - e for e in range(8)])]
    first, second = fit(Replay(curves, 0.0, stopping="patience", patience=3,
                               max_epochs=8))
    assert (len(first.history), first.best_epoch, first.converged) == (6, 3, True)
    assert (len(second.history), second.best_epoch, second.converged) == (8, 8, False)


# -- the option: config, plan -------------------------------------------------------------

def test_an_unknown_rule_is_one_line():
    config = preset_config("smoke")
    config.train = {**config.train, "stopping": "eventually"}
    with pytest.raises(RegbenchError, match=r"^\[train\] stopping = 'eventually' is not "
                                            r"valid: expected one of patience, authors$"):
        config.validate()


def test_the_paper_preset_and_protocol_stop_as_the_authors_on_profile_models():
    assert preset_config("paper", "profile").train_config(0).stopping == "authors"
    assert preset_config("paper", "binary").train_config(0).stopping == "patience"
    for task, expected in (("profile", "authors"), ("binary", "patience")):
        config = preset_config("quick", task)
        config.tuning = {**config.tuning, "protocol": "paper"}
        assert config.train_config(0).stopping == expected, task
        config.train = {**config.train, "stopping": "patience"}   # [train] overrides it
        assert config.train_config(0).stopping == "patience"
    # the quick profile preset trains as the authors train (issue 41 item 3)
    assert preset_config("quick", "profile").train_config(0).stopping == "authors"
    assert preset_config("smoke", "profile").train_config(0).stopping == "patience"


def test_the_default_rule_leaves_every_run_key_as_it_was():
    """The presets' keys as regbench computed them before the option existed (commit
    de96c3c), the paper protocol's on binary models and under an explicit patience too;
    another rule keys anew. The profile paper preset and protocol change key: their
    models now train to the authors' rule; so does the quick profile preset, which
    trains as the authors train (their epoch, reverse complements, rule)."""
    before = {("binary", "smoke", None): "02691204edae",
              ("binary", "quick", None): "6c70f025c082",
              ("binary", "paper", None): "94f2031beb0a",
              ("binary", "quick", "paper"): "6c70f025c082",
              ("profile", "smoke", None): "096c7cea6b34"}
    for (task, preset, protocol), key in before.items():
        config = preset_config(preset, task)
        if protocol:
            config.tuning = {**config.tuning, "protocol": protocol}
        explicit = config.train_config(0).stopping != "patience"
        if not explicit:
            assert config.hash() == key, (task, preset, protocol)
        config.train = {**config.train, "stopping": "patience"}
        assert config.hash() == key, (task, preset, protocol)
        config.train = {**config.train, "stopping": "authors"}
        assert config.hash() != key
    assert preset_config("paper", "profile").hash() != "67a5f8feea48"
    assert preset_config("quick", "profile").hash() != "4bf8e29d9d82"


def test_the_plan_warns_when_the_cap_holds_few_stopping_windows():
    assert budget_warning(TrainConfig(max_epochs=20, patience=3)) is None
    line = budget_warning(TrainConfig(max_epochs=12, patience=3))
    assert line.startswith("warning: max_epochs 12 is at most 4 stopping windows "
                           "(patience: 3 epochs each")
    assert budget_warning(TrainConfig(max_epochs=12, patience=5, stopping="authors"))
    assert budget_warning(TrainConfig(max_epochs=13, patience=5,
                                      stopping="authors")) is None
    assert selection_warning({"converged": [True, None, True]}) is None
    assert selection_warning({"converged": [True, False, False]}).startswith(
        "warning: 2 of 3 models of none on the selection seeds did not converge")


# -- a run --------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", ["patience", "authors"])
def test_a_smoke_profile_run_records_convergence_and_its_rule(tmp_path, rule):
    """``regbench run --preset smoke`` of a profile model (60 + 30 sequences of 100 bp,
    input × gradient only): results.csv has converged, config.json the rule."""
    (tmp_path / "c.toml").write_text(
        'preset = "smoke"\ntask = "profile"\nscenario = "spi1_profile"\n'
        'regularizers = "fourier,none"\n[simulate]\nlength = 100\npositives = 60\n'
        'negatives = 30\n[evaluation]\nmethods = ["input_x_gradient"]\n'
        f'[train]\nstopping = "{rule}"\n')
    out = tmp_path / "run"
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--out", str(out),
                 "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv")
    columns = list(results.columns)
    assert columns.index("converged") == columns.index("best_epoch") + 1
    assert results["converged"].dtype == bool
    # smoke: 3 epochs, shorter than either window's room: the best epoch is near the cap
    cut = results["best_epoch"] > 3 - window(rule, 2)[0]
    assert (results.loc[cut, "converged"] == False).all()   # noqa: E712
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["stopping"] == rule
    assert config["stopping_rule"]["name"] == rule
    assert config["stopping_rule"]["rule"].startswith(
        "stop after" if rule == "patience" else "the paper authors' rule")
    assert config["stopping_rule"]["converged"].startswith(
        "converged unless the best epoch")
