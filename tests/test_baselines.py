"""The priors on input gradients and the non-penalty baselines (issue 18, item 3)."""
import math
import warnings

import numpy as np
import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.regularizers.baselines import (evoaug_transform, l1_gradient_penalty,
                                             off_simplex_angles, off_simplex_penalty)
from regbench.training.train import Trainer, TrainConfig, load_checkpoint, one_hot_codes


def test_l1_gradient_by_hand():
    grad = torch.zeros(2, 4, 5)
    grad[0, 0, 0], grad[0, 2, 3] = 3.0, -1.0       # example 0: sum |g| = 4
    grad[1, 1, 4] = 6.0                             # example 1: 6
    assert l1_gradient_penalty(grad).item() == pytest.approx((4 / 5 + 6 / 5) / 2)


def test_off_simplex_angles_by_hand():
    grad = torch.tensor([[[1.0, 1.0, 1.0, 0.0],
                          [1.0, -1.0, 0.0, 0.0],
                          [1.0, 0.0, 0.0, 0.0],
                          [1.0, 0.0, 0.0, 0.0]]])   # (1, 4, 4): columns are positions
    theta = off_simplex_angles(grad)[0]
    # (1,1,1,1): on the normal, 90°; (1,-1,0,0): in the plane, 0; (1,0,0,0): sin = 1/2
    assert theta[0].item() == pytest.approx(math.pi / 2, abs=2e-3)
    assert theta[1].item() == pytest.approx(0.0, abs=1e-7)
    assert theta[2].item() == pytest.approx(math.pi / 6, abs=1e-6)
    assert theta[3].item() == 0.0                  # a zero gradient has no angle
    rms = math.sqrt((theta ** 2).mean().item())
    assert off_simplex_penalty(grad).item() == pytest.approx(rms, rel=1e-5)
    # a gradient shifted by a constant over bases leaves the simplex: the angle grows
    shifted = grad[:, :, 1:2] + 0.5
    assert off_simplex_angles(shifted)[0, 0] > 0


@pytest.mark.parametrize("name", ["l1_gradient", "off_simplex"])
def test_gradient_priors_train_the_weights(name, small_task, motif_problem):
    torch.manual_seed(0)
    _assert_penalty_trains_first_conv(regbench.get_regularizer(name), small_task,
                                      motif_problem)


def _assert_penalty_trains_first_conv(reg, task, motif_problem):
    """The penalty of a training step on 16 motif sequences (8 with the prior) is > 0
    and its gradient reaches the first convolution's weights."""
    trainer = Trainer(task, reg, 1.0, TrainConfig(device="cpu"))
    model = trainer.build_model().train()
    X = one_hot_codes(torch.as_tensor(motif_problem(n=16)[0]))
    _, penalty = trainer.penalty(model, X, 8)
    assert penalty.item() > 0
    penalty.backward()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv1d))
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0


def _batch(n=8, length=40, seed=0):
    codes = torch.as_tensor(np.random.default_rng(seed).integers(0, 4, (n, length)),
                            dtype=torch.uint8)
    return one_hot_codes(codes), torch.ones(n, 1)


def test_evoaug_keeps_shape_and_one_hot_and_is_seeded():
    X, y = _batch()
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    A, yA = evoaug_transform(X, y, gen(), mutation_rate=0.1, indel_prob=1.0)
    B, _ = evoaug_transform(X, y, gen(), mutation_rate=0.1, indel_prob=1.0)
    assert A.shape == X.shape and torch.equal(A, B) and torch.equal(yA, y)
    assert torch.all(A.sum(dim=1) == 1) and not torch.equal(A, X)
    rc, _ = evoaug_transform(X, y, gen(), mutation_rate=0.0, rc_prob=1.0, indel_prob=0.0)
    assert torch.equal(rc, X.flip(1, 2))           # reverse complement: ACGT reversed
    same, _ = evoaug_transform(X, y, gen(), mutation_rate=0.0, rc_prob=0.0, indel_prob=0.0)
    assert torch.equal(same, X)
    with pytest.raises(RegbenchError, match="binary tasks"):
        evoaug_transform(X, torch.ones(8, 2, 40), gen())


def test_an_indel_shifts_one_side_of_the_sequence():
    """Each row is X with a stretch inserted (the end falls off) or deleted (the end
    filled): the bases before the indel are kept, those after move by its size."""
    X, y = _batch(n=32, length=60, seed=3)
    out, _ = evoaug_transform(X, y, torch.Generator().manual_seed(5), mutation_rate=0.0,
                              rc_prob=0.0, indel_prob=1.0, max_indel=6)
    a, b = X.argmax(1), out.argmax(1)
    for row in range(32):
        diff = torch.nonzero(a[row] != b[row])
        at = int(diff[0]) if len(diff) else 60
        shifted = [k for k in range(1, 7)
                   if torch.equal(b[row, at + k:], a[row, at:60 - k])      # insertion
                   or torch.equal(b[row, at:60 - k], a[row, at + k:])]     # deletion
        assert at == 60 or shifted, row


def test_model_options_build_dropout_and_an_exponential_first_layer(tmp_path, small_task,
                                                                     motif_split):
    from regbench.models.binary import Exp
    dropout = Trainer(small_task, regbench.get_regularizer("dropout", rate=0.3), 0.0,
                      TrainConfig(device="cpu"))
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.3
               for m in dropout.build_model().modules())
    trainer = Trainer(small_task, regbench.get_regularizer("exp_activation"), 0.0,
                      TrainConfig(device="cpu", max_epochs=1))
    result = trainer.fit(*motif_split, checkpoint=tmp_path / "m.pt")
    model, payload = load_checkpoint(tmp_path / "m.pt")
    assert payload["model_config"]["first_activation"] == "exp"
    assert isinstance(model.layers[1], Exp)
    X = one_hot_codes(torch.as_tensor(motif_split[1][0][:4]))
    with torch.no_grad():
        assert torch.equal(model(X), result.model.eval()(X))
    from regbench.attributions import deep_lift_shap
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # convergence deltas
        attr = deep_lift_shap(model.double(), X.double(), n_shuffles=3)
    assert attr.shape == X.shape


def test_all_leaves_binary_only_baselines_out_of_profile_runs():
    from regbench.runner.checks import resolve_regularizers
    binary, profile = resolve_regularizers(["all"]), resolve_regularizers(["all"], "profile")
    assert {"evoaug", "dropout", "exp_activation", "l1_gradient", "off_simplex",
            "saliency_guided"} <= set(binary)
    assert not {"evoaug", "dropout", "exp_activation", "saliency_guided"} & set(profile)
    assert "off_simplex" in profile
    with pytest.raises(RegbenchError, match="applies to binary"):
        resolve_regularizers(["evoaug"], "profile")
    assert not regbench.get_regularizer("evoaug").spec.searchable


class _Linear(torch.nn.Module):
    """f(x) = Σ w ⊙ x + b, one output: every attribution method is exact on it."""

    def __init__(self, length=12):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(4, length, dtype=torch.float64))

    def forward(self, X):
        return (X * self.w).sum(dim=(1, 2))[:, None] + 0.5


def test_expected_gradients_on_a_linear_model():
    from regbench.attributions import expected_gradients
    torch.manual_seed(0)
    model = _Linear()
    X = _batch(n=6, length=12)[0].double()
    attr = expected_gradients(model, X, references=1, source="batch",
                              generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)             # the same draws, by hand
    ref = X[torch.randperm(6, generator=gen)]
    torch.testing.assert_close(attr, (X - ref) * model.w, rtol=0, atol=1e-12)
    # completeness: each example's attributions sum to f(x) - f(x')
    torch.testing.assert_close(attr.sum(dim=(1, 2)), (model(X) - model(ref))[:, 0])
    two = expected_gradients(model, X, references=2, source="shuffle",
                             generator=torch.Generator().manual_seed(1))
    assert two.shape == X.shape and two.requires_grad   # graph kept for training
    two.sum().backward()
    assert model.w.grad is not None


def test_a_prior_on_expected_gradients_trains(small_task, motif_problem):
    from regbench.runner.executor import extra_backward_passes
    from regbench.regularizers import get_spec
    spec = get_spec("fourier@eg")
    assert spec.attribution == "eg" and spec.params["eg_references"] == 1
    assert get_spec("fourier@ixg") is get_spec("fourier")
    reg = regbench.get_regularizer("fourier@eg", eg_references=3, freq_limit=5)
    _assert_penalty_trains_first_conv(reg, small_task, motif_problem)
    assert extra_backward_passes(reg, 1.0) == 3
    for bad, message in (("none@eg", "does not take attributions"),
                         ("fourier@shap", "unknown training-time attribution")):
        with pytest.raises(RegbenchError, match=message):
            get_spec(bad)


def test_saliency_guided_masks_the_least_salient_positions():
    from regbench.regularizers.baselines import saliency_guided_penalty
    from regbench.regularizers.registry import StepContext
    torch.manual_seed(0)
    model = _Linear(length=12)
    with torch.no_grad():
        model.w[:, 6:] = 0.0            # the right half carries no saliency at all
    X = _batch(n=5, length=12)[0].double()
    step = lambda m: StepContext(m, X, 5, m(X), m,  # noqa: E731
                                 torch.Generator().manual_seed(0))
    # masking the 6 least salient positions changes nothing: KL exactly 0
    assert saliency_guided_penalty(step(model), mask_fraction=0.5).item() == pytest.approx(
        0.0, abs=1e-12)
    # masking 9 reaches salient positions: the outputs move, KL > 0, and it trains
    value = saliency_guided_penalty(step(model), mask_fraction=0.75)
    assert value.item() > 0
    value.backward()
    assert model.w.grad is not None and model.w.grad[:, :6].abs().sum() > 0


def test_saliency_guided_in_a_training_step(small_task, motif_problem):
    from regbench.runner.executor import extra_backward_passes
    reg = regbench.get_regularizer("saliency_guided")
    trainer = Trainer(small_task, reg, 1.0, TrainConfig(device="cpu"))
    model = trainer.build_model().train()
    X = one_hot_codes(torch.as_tensor(motif_problem(n=16)[0]))
    outputs, penalty = trainer.penalty(model, X, 8)
    assert outputs.shape == (16, 1) and penalty.item() >= 0
    (outputs.sum() + penalty).backward()
    assert extra_backward_passes(reg, 1.0) == 1
