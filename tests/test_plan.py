"""The plan's lines on what the chosen seeds can show (no training: a stand-in bench)."""
from types import SimpleNamespace

import numpy as np

from regbench.endpoints import power_line, seeds_for_effect
from regbench.runner.plan import seed_power


def _bench(regularizers, seeds, motifs=True):
    """(the facts seed_power reads, the verdict's endpoint of a binary run's test rows
    with or without motifs)."""
    from regbench.endpoints import for_data
    test = SimpleNamespace(motif_mask=np.zeros((2, 3), bool) if motifs else None,
                           summits=None, peak_mask=None)
    return (SimpleNamespace(regularizers=regularizers, seeds=seeds, task="binary"),
            for_data("binary", test))


def test_the_verdict_line_declares_the_endpoint_its_test_and_error_rate():
    lines = seed_power(*_bench(["none", "fourier", "l2"], 8))
    assert len(lines) == 1
    assert lines[0].startswith("verdict: primary endpoint: DeepLIFT/SHAP motif_fraction")
    assert ("paired t-test of each regularizer against none over 8 seeds, Benjamini-Hochberg "
            "at a false discovery rate of 0.05 across the 2 regularizers") in lines[0]
    assert "auroc may fall by at most 0.01" in lines[0]


def test_one_seed_warns_and_no_ground_truth_declares_no_endpoint():
    assert seed_power(*_bench(["none", "fourier"], 1))[1] == (
        "warning: with 1 seed nothing can be tested (the paired t-test needs at least 2 "
        "seeds; --seeds)")
    assert seed_power(*_bench(["none", "a"], 8, motifs=False))[0].startswith(
        "no ground truth (motifs.bed or peak intervals): no primary endpoint")


def test_seeds_for_an_effect_match_the_paired_t_test_tables():
    # effect size d = effect / (√2 sd) = 1 and 0.5 at alpha 0.05, power 0.8: the paired
    # t-test's textbook 10 and 34 pairs (G*Power gives the same)
    assert seeds_for_effect(1.0, 2 ** -0.5) == 10
    assert seeds_for_effect(0.5, 2 ** -0.5) == 34
    assert seeds_for_effect(0.5, 2 ** -0.5, tests=10) > 34      # BH's bar for 1 of 10
    assert seeds_for_effect(0.1, float("nan")) is None


def test_the_power_line_reads_nones_selection_seeds():
    from regbench.endpoints import declare
    line = power_line(declare("binary", {"motif_mask"}), [0.30, 0.35, 0.40], 8, 1)
    assert line.startswith("power: none's validation motif_fraction has sd 0.05 across "
                           "the 3 selection seeds; to detect a difference of 0.1")
    assert line.endswith(f"{seeds_for_effect(0.1, 0.05)} seeds are needed (this run: 8)")


def test_no_baseline():
    assert seed_power(*_bench(["fourier"], 8)) == [
        "no 'none' among the regularizers: nothing is tested against it"]
    assert seed_power(*_bench(["none"], 8)) == [
        "only 'none' is run: no regularizer is tested against it"]


def _profile_context(tmp_path):
    """A smoke profile run whose training rows are 2/3 peaks (the prior's rows)."""
    from regbench.options.config import preset_config
    from regbench.runner.context import RunContext
    config = preset_config("smoke", "profile")
    config.scenario, config.regularizers = "spi1_profile", ["fourier"]
    config.simulate = {**config.simulate, "positives": 160, "negatives": 80}
    config.out, config.progress, config.device = str(tmp_path), False, "cpu"
    context = RunContext(config)
    context.check_data()
    context.prepare_data()
    return context


def test_the_plan_times_the_prior_on_its_share_and_the_validation_pass(tmp_path, monkeypatch):
    """Issue 32: the plan timed a Fourier step with the prior on half the batch and
    counted validation as 15% more steps, where a profile batch is 2/3 peaks and a
    prior's validation pass also takes input gradients of the split's peaks. Issue 40:
    a few steps of one fixed batch timed priors 1.3 times faster than they train. It
    now times real training (two epochs of TIMED_BATCHES batches, the prior's rows at
    their share of the data, the second epoch's steps) and the validation pass itself."""
    from regbench.runner import plan
    from regbench.training.train import Trainer
    context = _profile_context(tmp_path)
    data = context.training_values()
    _, _, prior = data.train
    steps, passes, fits = [], [], []
    train_step, evaluate, fit = Trainer.train_step, Trainer.evaluate, Trainer.fit

    def record_step(self, model, optimizer, params, X, y, n_prior):
        steps.append((len(X), n_prior))
        return train_step(self, model, optimizer, params, X, y, n_prior)

    def record_pass(self, model, codes, labels, prior):
        out = evaluate(self, model, codes, labels, prior)
        passes.append((len(codes), int(prior.sum()), out[1]))
        return out

    def record_fit(self, train, valid, **kwargs):
        result = fit(self, train, valid, **kwargs)
        fits.append((self.config.max_epochs, len(train[0]), result))
        return result

    monkeypatch.setattr(Trainer, "train_step", record_step)
    monkeypatch.setattr(Trainer, "evaluate", record_pass)
    monkeypatch.setattr(Trainer, "fit", record_fit)
    seconds = plan.step_seconds(data, "fourier")
    (epochs, rows, result), = fits
    batches = -(-rows // 32)
    assert epochs == 2 and len(result.history) == 2 and len(steps) == 2 * batches
    assert rows == min(len(prior), plan.TIMED_BATCHES * 32)
    assert seconds == result.train_step_seconds > 0        # fit's own timing
    share = prior.mean()
    assert 0.6 < share < 0.7                       # 2/3 of the rows get the prior
    assert sum(n for _, n in steps) == 2 * round(rows * share)

    passes.clear()
    valid = context.split("valid")
    assert plan.validation_seconds(data, "fourier") > 0
    n_valid, n_peaks, penalty = passes[0]
    assert n_valid == len(valid.codes) and n_peaks == context.training_data(valid)[2].sum()
    assert penalty > 0                             # the prior's validation penalty ran


def _timed_stand_in(monkeypatch):
    """A smoke run of none and fourier (2 seeds, fixed λ, 100 training rows: 4 steps of
    32) whose steps take 1 and 2 s and validation passes 10 and 30 s."""
    from regbench.runner import plan
    from regbench.options.config import preset_config
    monkeypatch.setattr(plan, "timed_steps", lambda c, names: {"none": 1.0, "fourier": 2.0})
    monkeypatch.setattr(plan, "timed_validations",
                        lambda c, names: {"none": 10.0, "fourier": 30.0})
    config = preset_config("smoke")
    facts = SimpleNamespace(
        device="cpu", task="binary", regularizers=("none", "fourier"), searched=(), seeds=2,
        data_fractions=(), train=config.train_config(0), tuning=config.tuning_config(),
        evaluation=config.evaluation_config(), choice=SimpleNamespace(protocol="fixed"))
    rows = SimpleNamespace(codes=np.zeros((100, 4)), motif_mask=None, summits=None,
                           peak_mask=None)
    return SimpleNamespace(facts=lambda: facts, split=lambda name: rows, dataset=rows,
                           training_values=lambda: SimpleNamespace(
                               train=(rows.codes, None, np.zeros(len(rows.codes), bool))))


def test_the_estimate_adds_each_kinds_validation_pass_to_its_epochs(monkeypatch):
    from regbench.runner import plan
    context = _timed_stand_in(monkeypatch)
    lines, total = plan.estimate(context)
    steps = 4   # ceil(100 / 32)
    assert total == 2 * 3 * ((steps * 1.0 + 10.0) + (steps * 2.0 + 30.0))
    assert "a validation pass none 10.000 s; fourier 30.000 s" in lines[-1]


def test_the_expected_time_counts_each_model_at_nones_measured_epochs_and_scoring(
        monkeypatch):
    """Issue 40: the bound (every epoch) was 5-8 times the real time; the expected time
    counts each model at the epochs and scoring seconds none's first models measured,
    never more epochs than its cap."""
    from regbench.runner import plan
    context = _timed_stand_in(monkeypatch)
    estimate = plan.plan_run(context)
    none_epoch, fourier_epoch = 4 * 1.0 + 10.0, 4 * 2.0 + 30.0   # 4 steps + validation
    assert estimate.models == ((2, none_epoch, 3), (2, fourier_epoch, 3))
    assert estimate.upper == 2 * 3 * (none_epoch + fourier_epoch)
    assert estimate.expected(2, 5.0) == 2 * (2 * none_epoch + 5) + 2 * (2 * fourier_epoch + 5)
    assert estimate.expected(50, 0.0) == estimate.upper          # capped at 3 epochs
    assert estimate.none_epoch == none_epoch
    # none's models: 2 epochs on average, each 1.5 times the timed 14 s
    none = {"epochs": [1, 3], "train_seconds": [21.0, 63.0], "score_seconds": [4.0, 6.0]}
    assert estimate.expected(2, 5.0, 1.5) == 2 * (2 * 1.5 * none_epoch + 5) + 2 * (
        2 * 1.5 * fourier_epoch + 5)
    line = estimate.expected_line(none)
    assert line.startswith(f"time: about {plan.duration(estimate.expected(2, 5.0, 1.5))} "
                           "in all")
    assert ("none's 2 models trained 2.0 epochs of 21.00 s and scored in 5.0 s on average; "
            "every model is counted alike, its epochs 1.50 times the timed ones") in line
    # the paper rule's none is trained, not scored: training alone is counted
    line = estimate.expected_line({"epochs": [2], "train_seconds": [42.0]})
    assert line.startswith(f"time: about {plan.duration(estimate.expected(2, 0.0, 1.5))} "
                           "in all for training (none's 1 model trained 2.0 epochs of "
                           "21.00 s on average; scoring not counted, not yet measured; ")
