"""The one fit loop (regbench.training.fit) driving a scripted stepper: per-member early stopping,
failure, members leaving, history, costs and checkpoints, with no model at all."""
import math

import pytest

from regbench.training.fit import fit


class ScriptedStepper:
    """Members whose validation losses follow a script: losses[m][epoch - 1]. A member's
    "state" is the epoch it was taken at; its released model is that state."""

    def __init__(self, losses, patience=2, max_epochs=5, steps=3):
        self.losses, self.n_members, self.lam = losses, len(losses), 0.5
        self.patience, self.max_epochs, self.steps = patience, max_epochs, steps
        self.stopping = "patience"
        self.calls = []

    def start(self):
        self.active, self.epoch = list(range(self.n_members)), 0
        self.calls.append("start")

    def train_epoch(self, measure):
        self.epoch += 1
        self.calls.append(("train", self.epoch, tuple(self.active), measure))
        return [[0.1 * m, 0.0] for m in self.active], self.steps, 800.0 if measure else 9.0

    def evaluate(self):
        return [(self.losses[m][self.epoch - 1], 0.25) for m in self.active]

    def member_state(self, j):
        return {"member": self.active[j], "epoch": self.epoch}

    def release(self, j, state):
        self.calls.append(("release", self.active[j], self.epoch))
        return state or {"member": self.active[j], "last": self.epoch}

    def drop(self, keep):
        self.calls.append(("drop", keep))
        self.active = [self.active[j] for j in keep]

    def checkpoint(self, m, path, result):
        self.calls.append(("checkpoint", m, path, result.best_epoch))


def test_each_member_stops_on_its_own_and_leaves_the_group():
    stepper = ScriptedStepper([
        [1.0, 0.9, 0.95, 0.96, 0.97],          # best at 2, patience 2: stops after 4
        [1.0, 0.8, 0.7, 0.6, 0.5],             # improves: runs to max_epochs
        [1.0, float("nan"), 0.1, 0.1, 0.1]])   # non-finite at epoch 2: fails, stops
    records = []
    results = fit(stepper, checkpoints=["a", "b", "c"],
                  progress=lambda m, e, r: records.append((m, e, r["val_loss"])))
    first, second, failed = results
    assert (first.best_epoch, first.best_val_loss, len(first.history)) == (2, 0.9, 4)
    assert first.model == {"member": 0, "epoch": 2} and first.status == "ok"
    assert (second.best_epoch, second.best_val_loss, len(second.history)) == (5, 0.5, 5)
    assert second.model == {"member": 1, "epoch": 5}
    assert failed.status == "failed: non-finite loss at epoch 2 (λ=0.5)"
    assert (failed.best_epoch, failed.best_val_loss, len(failed.history)) == (1, 1.0, 2)
    assert failed.model == {"member": 2, "epoch": 1}   # its best epoch's state
    # members leave as they stop: 2 at epoch 2, 0 at epoch 4
    assert ("drop", [0, 1]) in stepper.calls and ("drop", [1]) in stepper.calls
    assert [c[1:3] for c in stepper.calls if c[0] == "train"] == [
        (1, (0, 1, 2)), (2, (0, 1, 2)), (3, (0, 1)), (4, (0, 1)), (5, (1,))]
    assert [c[3] for c in stepper.calls if c[0] == "train"] == [True] + [False] * 4
    assert [c for c in stepper.calls if c[0] == "release"] == [
        ("release", 2, 2), ("release", 0, 4), ("release", 1, 5)]
    assert [c for c in stepper.calls if c[0] == "checkpoint"] == [
        ("checkpoint", 0, "a", 2), ("checkpoint", 1, "b", 5), ("checkpoint", 2, "c", 1)]
    assert records[:3] == [(0, 1, 1.0), (1, 1, 1.0), (2, 1, 1.0)]
    assert first.history[0] == {"epoch": 1, "train_loss": 0.0, "train_penalty": 0.0,
                                "val_loss": 1.0, "val_penalty": 0.25}
    assert [r.steps for r in results] == [12, 15, 6]
    # costs shared by the G = 3 members: the first step's peak / G
    assert all(r.peak_step_bytes == pytest.approx(800.0 / 3) for r in results)
    assert all(r.seconds == results[0].seconds > 0 for r in results)


def test_a_member_that_fails_at_once_returns_its_last_weights():
    stepper = ScriptedStepper([[float("inf"), 1.0]])
    result, = fit(stepper)
    assert result.status.startswith("failed: non-finite loss at epoch 1")
    assert result.model == {"member": 0, "last": 1}   # no best state: its weights now
    assert math.isnan(result.best_val_loss) and result.best_epoch == 0


def test_training_time_per_step_leaves_out_the_first_epoch_unless_alone(monkeypatch):
    import regbench.training.fit as fit_module
    clock = iter(range(0, 1000, 1))   # each perf_counter call one second later
    monkeypatch.setattr(fit_module.time, "perf_counter", lambda: float(next(clock)))
    one, = fit(ScriptedStepper([[1.0]], max_epochs=1, steps=4))
    # started 0, tick 1, after the epoch 2 -> 1 s for 4 steps; end 3
    assert one.train_step_seconds == 0.25 and one.seconds == 3.0
    clock = iter(range(0, 1000, 1))
    two, = fit(ScriptedStepper([[1.0, 0.9]], max_epochs=2, steps=4))
    # epoch 2 alone counts: tick 3, after 4 -> 1 s for 4 steps
    assert two.train_step_seconds == 0.25 and two.steps == 8
