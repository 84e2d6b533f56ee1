"""Grouped training (regbench.training.group): a group of G members computes and trains what G
solo models do.

Measured on a 2-core AVX2 CPU (torch 2.13; an AVX-512 one differs where said), 3
epochs of 128 sequences x 100 bp (12 Adam steps), 3 seeds, grouped vs solo, max abs
difference over members and epochs:
- no batch norm, float32: histories <= 6e-8 (none, fourier, smoothness), 1.9e-6 (l2's
  penalty, a sum of squares ~10), 4.8e-6 (sparsity's val penalty); final weights
  <= 1.2e-7 (sparsity 8.3e-6).
- the default model (batch norm), float64, none and l2: histories <= 1.1e-13, weights
  <= 6.8e-11.
- the default model, float32: every tensor <= ~1e-7 but the dense layer's bias (up to
  4.3e-3) and the running mean of the batch norm behind it (2e-3); histories <= 7.7e-5
  (val loss, none), 1.7e-3 (sparsity's val penalty). That bias feeds ReLU -> batch
  norm with every unit active, so its gradient is zero up to rounding, and Adam (eps
  1e-8) turns float32 rounding noise into steps of about ±lr: solo runs are no more
  reproducible than that under another summation order.
Never bit-identical: grouped convolutions and the grouped linear einsum sum in another
order than the solo layers.
"""
import numpy as np
import pytest
import torch

import regbench
import regbench.training.group
import regbench.training.train
from regbench import RegbenchError
from regbench.training.group import GroupTrainer, can_group, stack_models, why_not_grouped
from regbench.regularizers import get_spec, l2_penalty
from regbench.tasks import BinaryTask, ProfileTask
from regbench.training.train import (Trainer, TrainConfig, load_checkpoint, one_hot_codes,
                            set_seed)

LENGTH = 100
MODEL = dict(conv_filters=[8, 8], conv_widths=[7, 7], pool_size=10, pool_stride=10,
             dense_sizes=[16])


def task(**model):
    return BinaryTask({**MODEL, **model}, seq_len=LENGTH, n_tasks=1)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Models this small run fastest on one torch thread (and spare a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(make_motif_problem):
    """(train, valid): 128 and 64 rows of the motif problem at 100 bp."""
    codes, labels = make_motif_problem(n=192, length=LENGTH, seed=0)
    return (codes[:128], labels[:128]), (codes[128:], labels[128:])


def configs(seeds, **kw):
    kw = {"max_epochs": 3, "patience": 5, "batch_size": 32, "device": "cpu", **kw}
    return [TrainConfig(seed=s, **kw) for s in seeds]


def solo_and_group(the_task, name, lam, cfgs, trains, valid):
    reg = regbench.get_regularizer(name)
    solo = [Trainer(the_task, reg, lam, c).fit(t, valid) for c, t in zip(cfgs, trains)]
    return solo, GroupTrainer(the_task, reg, lam, cfgs).fit(trains, valid)


def assert_same_runs(solo, group, loss_tol, weight_tol=None):
    """Same epochs, best epoch, status and steps; histories within loss_tol; weights
    within weight_tol (None: not compared)."""
    for s, g in zip(solo, group):
        assert (len(g.history), g.best_epoch, g.status, g.steps) == \
            (len(s.history), s.best_epoch, s.status, s.steps)
        for a, b in zip(s.history, g.history):
            assert a.keys() == b.keys()
            np.testing.assert_allclose([b[k] for k in b], [a[k] for k in a], rtol=0,
                                       atol=loss_tol)
        if weight_tol is not None:
            for (key, p), q in zip(s.model.state_dict().items(),
                                   g.model.state_dict().values()):
                torch.testing.assert_close(q, p, rtol=0, atol=weight_tol, msg=key)
        assert not g.model.training and type(g.model) is type(s.model)


# -- the grouped model -------------------------------------------------------------------

def solo_models(the_task, seeds=(0, 1, 2)):
    models = []
    for seed in seeds:
        set_seed(seed)
        models.append(the_task.build_model())
    return models


@pytest.mark.parametrize("position", ["after_relu", "before_relu"])
def test_stacked_forward_equals_each_solo_forward(position):
    models = solo_models(task(batch_norm_position=position, first_activation="exp"))
    group = stack_models(models)
    codes = torch.randint(0, 4, (16 * 3, LENGTH), generator=torch.Generator().manual_seed(0),
                          dtype=torch.uint8)
    X = one_hot_codes(codes).view(16, 3, 4, LENGTH)   # member m's batch in X[:, m]
    for training in (False, True):   # running statistics, then batch statistics
        group.train(training)
        out = group(X)
        assert out.shape == (16, 3, 1)
        for m, model in enumerate(models):
            torch.testing.assert_close(out[:, m], model.train(training)(X[:, m]),
                                       rtol=0, atol=1e-5)
    # the running statistics the training-mode pass updated, per member
    for m, model in enumerate(models):
        for key, value in group.member(m).state_dict().items():
            torch.testing.assert_close(value, model.state_dict()[key], rtol=0, atol=1e-6)


def test_member_round_trips_weights_and_buffers_exactly():
    models = solo_models(task())
    models[1].layers[2].running_mean += 0.5       # buffers too, not only weights
    group = stack_models(models)
    assert group.layers[0].weight.shape == (3 * 8, 4, 7) and group.layers[0].groups == 3
    assert group.layers[-1].weight.shape == (3, 1, 16)
    for m, model in enumerate(models):
        member = group.member(m)
        assert type(member) is type(model) and member.config == model.config
        assert member.state_dict().keys() == model.state_dict().keys()
        for key, value in model.state_dict().items():
            assert torch.equal(member.state_dict()[key], value), key
    # member(m) is a copy: training it leaves the group alone
    member = group.member(0)
    with torch.no_grad():
        member.layers[0].weight += 1
    assert torch.equal(group.member(0).layers[0].weight, models[0].layers[0].weight)


def test_one_batch_for_every_member_and_batch_statistics():
    from regbench.attributions import BatchStatistics
    models = solo_models(task())
    group = stack_models(models).train()
    X = one_hot_codes(torch.randint(0, 4, (8, LENGTH), dtype=torch.uint8))
    with BatchStatistics(group) as stats:
        out = group(X)                       # (B, 4, L): the same batch for all
    # every batch norm found, with the statistics of all 3 members' channels
    assert [len(mean) for mean, _ in stats.stats.values()] == [3 * 8, 3 * 8, 3 * 16]
    for m, model in enumerate(models):
        torch.testing.assert_close(out[:, m], model.train()(X), rtol=0, atol=1e-5)


def test_member_square_norms_are_each_members_l2_penalty():
    models = solo_models(task())
    norms = stack_models(models).member_square_norms()
    torch.testing.assert_close(norms, torch.stack([l2_penalty(m) for m in models]),
                               rtol=1e-6, atol=0)


def test_stack_models_refuses_what_it_cannot_group():
    with pytest.raises(RegbenchError, match="Dropout"):
        stack_models(solo_models(task(dropout=0.2), seeds=(0, 1)))
    with pytest.raises(RegbenchError, match="same configuration"):
        stack_models(solo_models(task()) + solo_models(task(dense_sizes=[8]), seeds=(0,)))


# -- training: the group reproduces solo runs -----------------------------------------------

@pytest.mark.parametrize("name", ["none", "fourier", "l2", "smoothness"])
def test_group_reproduces_solo_runs(name, data):
    """No batch norm: no gradient is zero up to rounding, so the runs agree tightly
    (measured <= 2e-6 on losses, <= 1.2e-7 on weights)."""
    train, valid = data
    solo, group = solo_and_group(task(batch_norm=False), name, get_spec(name).default_lambda,
                                 configs((0, 1, 2)), [train] * 3, valid)
    assert_same_runs(solo, group, loss_tol=1e-5, weight_tol=1e-5)
    if name != "none":
        assert all(r["train_penalty"] != 0 for g in group for r in g.history)


@pytest.fixture
def in_float64(monkeypatch):
    """Models and one-hot inputs in float64 for the test, float32 again after it."""
    encode = regbench.training.train.one_hot_codes
    double = lambda codes: encode(codes).double()   # noqa: E731
    monkeypatch.setattr(regbench.training.train, "one_hot_codes", double)
    monkeypatch.setattr(regbench.training.group, "one_hot_codes", double)
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("name", ["none", "l2"])
def test_group_reproduces_solo_runs_with_batch_norm_in_float64(name, data, in_float64):
    """The default model (batch norm) in float64, where rounding noise stays far below
    Adam's eps (measured <= 1e-10)."""
    train, valid = data
    solo, group = solo_and_group(task(), name, get_spec(name).default_lambda,
                                 configs((0, 1, 2)), [train] * 3, valid)
    assert group[0].model.layers[0].weight.dtype == torch.float64
    assert_same_runs(solo, group, loss_tol=1e-9, weight_tol=1e-8)


def test_group_with_batch_norm_in_float32_agrees_within_rounding(data):
    """The default model and a prior in float32. The dense layer's bias feeds ReLU ->
    batch norm with every unit active, so its gradient is zero up to rounding and Adam
    turns the noise into steps of about ±lr (measured: that bias 4e-3 apart after 12
    steps, the running statistics of the batch norm behind it 2e-3 (mean) and 1.7e-5
    (variance, on an AVX-512 CPU; under 1e-5 on AVX2), the histories 3.1e-5);
    everything else agrees within 1e-5 (measured 2.3e-7)."""
    train, valid = data
    solo, group = solo_and_group(task(), "fourier", 1.0, configs((0, 1, 2)), [train] * 3,
                                 valid)
    assert_same_runs(solo, group, loss_tol=1e-3)
    noisy = {"layers.8.bias", "layers.10.running_mean", "layers.10.running_var"}
    for s, g in zip(solo, group):
        for key, value in s.model.state_dict().items():
            atol = 2e-2 if key in noisy else 1e-5
            torch.testing.assert_close(g.model.state_dict()[key], value, rtol=0, atol=atol,
                                       msg=key)


def test_members_stop_early_on_their_own(data, make_motif_problem, in_float64):
    """Patience 1: the solo runs stop after 4, 6 and 2 epochs (best 3, 5, 1); so do the
    members, the group shrinking as they leave; each member its own rows. In float64:
    at this learning rate float32 rounding grew over 32 Adam steps to 6.7e-5 in the
    first layer's weights on an AVX-512 CPU (under 1e-5 on AVX2), so a float32 bound
    would test the CPU's summation order."""
    train, valid = data
    codes, labels = make_motif_problem(n=128, length=LENGTH, seed=5)
    trains = [train, train, (codes, labels)]
    seen = []
    cfgs = configs((0, 3, 4), max_epochs=8, patience=1, learning_rate=3e-2)
    reg = regbench.get_regularizer("none")
    solo = [Trainer(task(batch_norm=False), reg, 0, c).fit(t, valid)
            for c, t in zip(cfgs, trains)]
    group = GroupTrainer(task(batch_norm=False), reg, 0, cfgs).fit(
        trains, valid, progress=lambda m, epoch, record: seen.append((m, epoch)))
    assert [(len(s.history), s.best_epoch) for s in solo] == [(4, 3), (6, 5), (2, 1)]
    assert_same_runs(solo, group, loss_tol=1e-9, weight_tol=1e-8)
    assert sorted(seen) == sorted((m, r["epoch"]) for m, g in enumerate(group)
                                  for r in g.history)
    g = group[0]
    assert g.seconds > 0 and 0 < g.train_step_seconds < g.seconds and g.peak_step_bytes > 0


def test_a_failing_member_fails_alone(data):
    """A member whose loss is not finite fails as its solo run does; the others train
    on as if it were not there."""
    train, valid = data
    broken = (train[0], train[1].copy())
    broken[1][5] = np.nan
    solo, group = solo_and_group(task(batch_norm=False), "none", 0, configs((0, 1, 2)),
                                 [train, broken, train], valid)
    assert group[1].status == solo[1].status == "failed: non-finite loss at epoch 1 (λ=0)"
    assert len(group[1].history) == 1 and np.isnan(group[1].best_val_loss)
    assert_same_runs([solo[0], solo[2]], [group[0], group[2]], loss_tol=1e-5,
                     weight_tol=1e-5)


def test_checkpoints_are_those_of_solo_runs(data, tmp_path):
    train, valid = data
    the_task, reg = task(), regbench.get_regularizer("fourier")
    cfgs = configs((0, 1), max_epochs=1)
    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]
    group = GroupTrainer(the_task, reg, 0.5, cfgs).fit([train] * 2, valid, checkpoints=paths)
    Trainer(the_task, reg, 0.5, cfgs[1]).fit(train, valid, checkpoint=tmp_path / "solo.pt")
    _, solo_payload = load_checkpoint(tmp_path / "solo.pt")
    X = one_hot_codes(torch.as_tensor(valid[0]))
    for path, result, seed in zip(paths, group, (0, 1)):
        model, payload = load_checkpoint(path)
        with torch.no_grad():
            assert torch.equal(model(X), result.model(X))
        assert payload.keys() == solo_payload.keys()
        assert payload["train_config"]["seed"] == seed and payload["lambda"] == 0.5
        assert payload["history"] == result.history


def test_bad_groups_are_refused(data):
    train, valid = data
    reg = regbench.get_regularizer("none")
    with pytest.raises(RegbenchError, match="same number of training rows"):
        GroupTrainer(task(), reg, 0, configs((0, 1))).fit([train, (train[0][:64],
                                                                   train[1][:64])], valid)
    with pytest.raises(RegbenchError, match="differ only in the seed"):
        GroupTrainer(task(), reg, 0, configs((0,)) + configs((1,), batch_size=16))
    with pytest.raises(RegbenchError, match="expected-gradients"):
        GroupTrainer(task(), regbench.get_regularizer("fourier@eg"), 1, configs((0, 1)))


# -- which runs may train in groups ------------------------------------------------------

@pytest.mark.parametrize("name,grouped", [
    ("none", True), ("fourier", True), ("l2", True), ("smoothness", True),
    ("sparsity", True), ("l1_gradient", True), ("fourier@eg", False),
    ("saliency_guided", False), ("evoaug", False), ("dropout", False),
    ("exp_activation", False)])
def test_can_group_by_regularizer(name, grouped):
    assert can_group(task(), regbench.get_regularizer(name), TrainConfig()) is grouped


def test_can_group_by_task_and_settings():
    none = regbench.get_regularizer("none")
    assert not can_group(task(), none, TrainConfig(mixed_precision=True))
    assert "dropout" in why_not_grouped(task(dropout=0.1), none, TrainConfig())
    profile = ProfileTask(None, seq_len=1000, n_tasks=1)
    assert not can_group(profile, none, TrainConfig())
    # the refusal names the model it cannot group
    assert why_not_grouped(profile, none, TrainConfig()) == (
        f"the {profile.architecture} model of the profile task trains solo: only "
        "binary_cnn on the binary task has grouped layers")
