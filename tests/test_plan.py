"""The plan's lines on what the chosen seeds can show (no training: a stand-in bench)."""
from types import SimpleNamespace

import numpy as np

from regbench.plan import family_sizes, seed_power, seeds_needed


def _bench(regularizers, seeds, motifs=True):
    test = SimpleNamespace(motif_mask=np.zeros((2, 3), bool) if motifs else None,
                           summits=None, peak_mask=None)
    return SimpleNamespace(regularizers=regularizers, split=lambda name: test,
                           config=SimpleNamespace(seeds=seeds, task="binary"))


def test_smallest_p_line_and_no_warning_when_a_verdict_can_be_significant():
    lines = seed_power(_bench(["none", "fourier"], 8))
    # 1 regularizer vs none: 4 performance metrics; 5 attribution metrics with motifs
    # (high-frequency fraction, entropy, motif fraction, motif auPRC, GC reliance).
    assert lines == ["paired seeds: 8 seeds give the exact paired test (Wilcoxon "
                     "signed-rank vs none) a smallest two-sided p of 2 / 2^8 = 0.00781; "
                     "Holm's correction needs p < 0.0125 in each regularizer's performance "
                     "family (4 tests), 0.01 in each regularizer's family per attribution "
                     "method (5 tests)"]


def test_warns_when_no_difference_can_be_significant():
    lines = seed_power(_bench(["none", "fourier"], 4))
    assert "2 / 2^4 = 0.125" in lines[0]
    assert lines[1] == ("warning: with 4 seeds no difference from none can be significant "
                        "at 0.05 after Holm's correction; 8 seeds would allow it in every "
                        "family (--seeds)")
    # Families are per regularizer: all eleven at 8 seeds ask what one does, so adding
    # regularizers never takes a verdict out of reach.
    regs = ["none"] + [f"r{i}" for i in range(10)]
    assert family_sizes(_bench(regs, 8)) == family_sizes(_bench(["none", "r0"], 8)) == {
        "each regularizer's performance family": 4,
        "each regularizer's family per attribution method": 5}
    assert len(seed_power(_bench(regs, 8))) == 1


def test_warns_about_the_families_that_cannot_reach_significance():
    # 7 seeds without motifs: 3 attribution metrics, 2 / 128 x 3 < 0.05 <= 2 / 128 x 4.
    lines = seed_power(_bench(["none", "a", "b"], 7, motifs=False))
    assert lines[1] == ("warning: with 7 seeds no difference from none can be significant "
                        "in each regularizer's performance family; 8 seeds would allow it "
                        "(--seeds)")
    # With motifs 5 attribution metrics are scored: no family can reach it at 7 seeds.
    assert "in every family" in seed_power(_bench(["none", "a"], 7))[1]


def test_seeds_needed_and_no_baseline():
    assert [seeds_needed(m) for m in (1, 4, 5, 50)] == [6, 8, 8, 11]
    assert seed_power(_bench(["fourier"], 8))[1] == (
        "no 'none' among the regularizers: nothing is tested against it")
    assert seed_power(_bench(["none"], 8))[1] == (
        "only 'none' is run: no regularizer is tested against it")


def _profile_context(tmp_path):
    """A smoke profile run whose training rows are 2/3 peaks (the prior's rows)."""
    from regbench.config import preset_config
    from regbench.context import RunContext
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
    prior's validation pass also takes input gradients of the split's peaks. It now
    times the step on the training data's share of prior rows (first, as training lays
    them out) and the validation pass itself, as the trainer runs them."""
    import torch

    from regbench import plan
    from regbench.train import Trainer, one_hot_codes
    context = _profile_context(tmp_path)
    codes, _, prior = context.training_data(context.split("train"))
    steps, passes = [], []
    train_step, evaluate = Trainer.train_step, Trainer.evaluate

    def record_step(self, model, optimizer, params, X, y, n_prior):
        steps.append((X, n_prior))
        return train_step(self, model, optimizer, params, X, y, n_prior)

    def record_pass(self, model, codes, labels, prior):
        out = evaluate(self, model, codes, labels, prior)
        passes.append((len(codes), int(prior.sum()), out[1]))
        return out

    monkeypatch.setattr(Trainer, "train_step", record_step)
    monkeypatch.setattr(Trainer, "evaluate", record_pass)
    assert plan.step_seconds(context, "fourier") > 0
    share = prior.mean()
    assert 0.6 < share < 0.7                       # 32 rows: 21 get the prior, not 16
    X, n_prior = steps[0]
    assert len(X) == 32 and n_prior == round(32 * share) == 21
    rows, _ = plan.timed_batch(prior, 32)
    assert prior[rows[:21]].all() and not prior[rows[21:]].any()
    torch.testing.assert_close(X, one_hot_codes(torch.as_tensor(codes[rows])))

    valid = context.split("valid")
    assert plan.validation_seconds(context, "fourier") > 0
    n_valid, n_peaks, penalty = passes[0]
    assert n_valid == len(valid.codes) and n_peaks == context.training_data(valid)[2].sum()
    assert penalty > 0                             # the prior's validation penalty ran


def test_the_estimate_adds_each_kinds_validation_pass_to_its_epochs(monkeypatch):
    from regbench import plan
    from regbench.config import preset_config
    step = {"none": 1.0, "fourier": 2.0}
    passes = {"none": 10.0, "fourier": 30.0}
    monkeypatch.setattr(plan, "timed_steps", lambda context, names: step)
    monkeypatch.setattr(plan, "timed_validations", lambda context, names: passes)
    config = preset_config("smoke")
    config.seeds, config.tune = 2, False
    context = SimpleNamespace(
        config=config, regularizers=["none", "fourier"], lambda_protocol="fixed",
        split=lambda name: SimpleNamespace(codes=np.zeros((100, 4)), motif_mask=None,
                                           summits=None, peak_mask=None),
        device="cpu")
    lines, total = plan.estimate(context)
    steps = 4   # ceil(100 / 32)
    assert total == 2 * 3 * ((steps * 1.0 + 10.0) + (steps * 2.0 + 30.0))
    assert "a validation pass none 10.000 s; fourier 30.000 s" in lines[-1]


def test_one_seed_reads_in_the_singular():
    assert seed_power(_bench(["none", "fourier"], 1))[0].startswith(
        "paired seeds: 1 seed gives the exact paired test")
