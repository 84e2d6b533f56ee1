"""Attribution methods: exact answers on linear models, summation to delta, seeding."""
import copy
import warnings

import pytest
import torch
from tangermeme.ersatz import dinucleotide_shuffle
from torch import nn

from regbench.attributions import (
    deep_lift_shap, get_attribution_method, input_x_gradient, logits_and_attributions,
    training_attributions,
)
from regbench.errors import RegbenchError
from regbench.models.binary import BinaryCNN

L = 60


def random_one_hot(n, length=L, seed=0):
    codes = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(seed))
    return nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()


def linear_model(n_tasks=2, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4 * L, n_tasks))


def relu_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(4, 6, 5), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * (L - 4), 8), nn.ReLU(), nn.Linear(8, 2))


def small_binary_cnn(seed=0, batch_norm_position="after_relu"):
    """An untrained BinaryCNN with non-trivial batchnorm statistics."""
    torch.manual_seed(seed)
    model = BinaryCNN(seq_len=L, n_tasks=2, conv_filters=[8, 8], conv_widths=[5, 5],
                      pool_size=8, pool_stride=8, dense_sizes=[10],
                      batch_norm_position=batch_norm_position)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model


def references(X, n_shuffles, random_state):
    """The references deep_lift_shap uses: shuffle k of each example has seed rs + k."""
    return torch.stack([dinucleotide_shuffle(X, n=1, random_state=[random_state + k] * len(X))[:, 0]
                        for k in range(n_shuffles)], dim=1)


def expected_difference(model, X, target, n_shuffles, random_state):
    """model(X)[:, target] minus the mean over references. Returns (N,)."""
    refs = references(X, n_shuffles, random_state)
    model.eval()
    with torch.no_grad():
        y_ref = model(refs.flatten(0, 1))[:, target].view(len(X), n_shuffles)
        return model(X)[:, target] - y_ref.mean(dim=1)


# -- input x gradient ---------------------------------------------------------

def test_input_x_gradient_on_linear_model_is_w_times_x():
    model, X = linear_model(), random_one_hot(10)
    weights = model[1].weight.detach().view(2, 4, L)
    attr = input_x_gradient(model, X, batch_size=3)
    torch.testing.assert_close(attr, weights.sum(dim=0) * X)
    torch.testing.assert_close(input_x_gradient(model, X, target=1), weights[1] * X)
    Xg = X.clone().requires_grad_()
    grad, = torch.autograd.grad(model(Xg).sum(), Xg)
    torch.testing.assert_close(attr, grad * X)


def test_input_x_gradient_create_graph_allows_double_backprop():
    model, X = relu_model(), random_one_hot(4)
    attr = input_x_gradient(model, X, create_graph=True)
    assert attr.shape == X.shape and attr.requires_grad
    attr.abs().sum().backward()
    # Weights get a gradient through the attributions (biases only shift the output).
    assert model[0].weight.grad.abs().sum() > 0 and model[3].weight.grad.abs().sum() > 0


def test_training_attributions_one_forward_gives_logits_and_attr():
    model, X = small_binary_cnn(), random_one_hot(5)
    model.train()
    logits, attr = training_attributions(model, X)
    assert logits.shape == (5, 2) and attr.shape == X.shape and attr.requires_grad
    assert model.training  # the trainer's mode is left alone
    torch.testing.assert_close(logits, model(X))
    lin = linear_model()
    logits, attr = training_attributions(lin, X)
    torch.testing.assert_close(logits, lin(X))
    torch.testing.assert_close(attr.detach(), input_x_gradient(lin, X))


def batch_stats_reference(model, X, n):
    """Input x gradient of rows :n of a copy of ``model`` whose batch norms run in eval
    mode on the batch statistics of X, set by PyTorch's own running-statistics update
    (momentum 1) and un-biased back to the variance training mode normalises with."""
    ref = copy.deepcopy(model).train()
    counts = {}
    for m in ref.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.momentum = 1.0
            m.register_forward_pre_hook(
                lambda mod, inp: counts.__setitem__(mod, inp[0].numel() // inp[0].shape[1]))
    with torch.no_grad():
        ref(X)
    for m, count in counts.items():
        m.running_var.mul_((count - 1) / count)
    ref.eval()
    Xn = X[:n].clone().requires_grad_()
    grad, = torch.autograd.grad(ref(Xn).sum(), Xn)
    return grad * Xn


@pytest.mark.parametrize("position", ["after_relu", "before_relu"])
def test_training_time_attributions_hold_the_batch_statistics(position):
    model, X = small_binary_cnn(batch_norm_position=position), random_one_hot(12)
    model.train()
    before = copy.deepcopy(model)
    expected_logits = before(X)  # train mode: also updates before's running statistics
    buffers = [m.running_mean for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    logits, attr = logits_and_attributions(model, X, 5)
    assert attr.shape == (5, 4, L) and attr.requires_grad
    torch.testing.assert_close(logits, expected_logits)
    torch.testing.assert_close(attr, batch_stats_reference(before, X, 5))
    # Running statistics were updated by the one training pass, and nothing else.
    for mine, theirs in zip(model.state_dict().values(), before.state_dict().values()):
        torch.testing.assert_close(mine, theirs)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert all(m.training for m in norms)
    assert all(m.running_mean is b for m, b in zip(norms, buffers))
    attr.abs().sum().backward()  # double backprop reaches the first convolution
    assert model.layers[0].weight.grad.abs().sum() > 0


def test_a_float64_training_step_with_an_attribution_prior():
    """The batch statistics are held in the model's own dtype: a float64 model trains
    with a prior (held in float32 they failed with "expected scalar type Double")."""
    model, X = small_binary_cnn().double().train(), random_one_hot(12).double()
    before = copy.deepcopy(model)
    logits, attr = logits_and_attributions(model, X, 5)
    assert logits.dtype == attr.dtype == torch.float64
    torch.testing.assert_close(attr, batch_stats_reference(before, X, 5), rtol=1e-12,
                               atol=1e-12)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    (logits.square().mean() + attr.abs().sum(dim=(1, 2)).mean()).backward()
    optimizer.step()
    assert not torch.equal(model.layers[0].weight, before.layers[0].weight)


def test_summed_logits_give_no_gradient_with_batch_norm_before_the_output():
    """Why the trainer holds batch statistics: with the paper's dense -> ReLU -> batch
    norm -> linear, the batch's summed logits are N (w . beta + b) whatever the input,
    so their gradient is zero up to rounding in training mode."""
    model, X = small_binary_cnn(), random_one_hot(16)
    model.train()
    _, summed = training_attributions(model, X)
    _, held = logits_and_attributions(model, X, len(X))
    assert summed.abs().max() < 1e-4 * held.abs().max()
    assert held.abs().sum(dim=(1, 2)).min() > 0


def test_input_x_gradient_evaluation_uses_eval_mode_and_restores_it():
    model, X = small_binary_cnn(), random_one_hot(6)
    model.eval()
    expected = input_x_gradient(model, X)
    model.train()
    torch.testing.assert_close(input_x_gradient(model, X.to(torch.int8), batch_size=2), expected)
    assert model.training


# -- DeepLIFT/SHAP ------------------------------------------------------------

def bn_before_relu_cnn():
    return small_binary_cnn(batch_norm_position="before_relu")


@pytest.mark.parametrize("make_model", [linear_model, relu_model, small_binary_cnn,
                                        bn_before_relu_cnn])
@pytest.mark.parametrize("target", [0, 1])
def test_deep_lift_shap_sums_to_output_minus_mean_reference(make_model, target):
    model, X = make_model(), random_one_hot(6)
    model.train()  # must be switched to eval for the pass and back afterwards
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # tangermeme's delta warnings
        attr = deep_lift_shap(model, X, n_shuffles=5, random_state=3, target=target,
                              batch_size=7)
    assert model.training
    assert attr.shape == X.shape
    assert torch.all(attr[X == 0] == 0)  # only the observed base is attributed
    expected = expected_difference(model, X, target, n_shuffles=5, random_state=3)
    torch.testing.assert_close(attr.sum(dim=(1, 2)), expected, atol=1e-5, rtol=1e-4)


def test_deep_lift_shap_linear_model_has_closed_form():
    model, X = linear_model(), random_one_hot(3)
    w = model[1].weight.detach().view(2, 4, L)[0]
    refs = references(X, 4, 0)
    expected = (X * w - X * (refs * w).sum(dim=2, keepdim=True).mean(dim=1)).sum(dim=1,
                                                                                   keepdim=True)
    attr = deep_lift_shap(model, X, n_shuffles=4, random_state=0)
    torch.testing.assert_close(attr.sum(dim=1, keepdim=True), expected)


def test_deep_lift_shap_is_deterministic_given_random_state():
    model, X = small_binary_cnn(), random_one_hot(4)
    a = deep_lift_shap(model, X, n_shuffles=4, random_state=7)
    torch.testing.assert_close(a, deep_lift_shap(model, X, n_shuffles=4, random_state=7,
                                                 batch_size=3), rtol=0, atol=1e-7)
    assert not torch.allclose(a, deep_lift_shap(model, X, n_shuffles=4, random_state=8))


def test_deep_lift_shap_n_positions():
    model, X = relu_model(), random_one_hot(3)
    X[:, :, 20:25] = 0
    with pytest.raises(RegbenchError, match="allow_N"):
        deep_lift_shap(model, X, n_shuffles=3)
    attr = deep_lift_shap(model, X.to(torch.int8), n_shuffles=3, allow_N=True)
    assert torch.isfinite(attr).all() and torch.all(attr[:, :, 20:25] == 0)
    assert attr.abs().sum() > 0


def test_deep_lift_shap_rejects_bad_input_and_target():
    model, X = relu_model(), random_one_hot(2)
    with pytest.raises(RegbenchError, match="one-hot"):
        deep_lift_shap(model, X * 0.5, n_shuffles=2)
    with pytest.raises(RegbenchError, match="shape"):
        deep_lift_shap(model, X[:, :3], n_shuffles=2)
    with pytest.raises(RegbenchError, match="target"):
        deep_lift_shap(model, X, n_shuffles=2, target=2)


class Square(nn.Module):
    """x², a non-linearity tangermeme does not know, declaring its DeepLIFT rule."""

    deep_lift_rule = "rescale"

    def forward(self, x):
        return x * x


class UndeclaredSquare(Square):
    deep_lift_rule = None


@pytest.mark.parametrize("activation, sums", [(Square, True), (UndeclaredSquare, False)])
def test_a_modules_declared_deep_lift_rule_is_used(activation, sums):
    """DeepLIFT/SHAP reads the rule from the model's own module (no method names a
    model's modules): declared, the attributions sum to delta; undeclared, the module
    counts as linear and tangermeme warns that they do not."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 3, 5), activation(), nn.Flatten(),
                          nn.Linear(3 * (L - 4), 1))
    X = random_one_hot(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        attr = deep_lift_shap(model, X, n_shuffles=3, random_state=1)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)] == sums
    expected = expected_difference(model, X, 0, n_shuffles=3, random_state=1)
    assert torch.allclose(attr.sum(dim=(1, 2)), expected, atol=1e-5, rtol=1e-4) == sums


def test_an_unknown_deep_lift_rule_is_one_line():
    class Odd(Square):
        deep_lift_rule = "wiggle"
    with pytest.raises(RegbenchError, match="Odd.deep_lift_rule = 'wiggle' is not a "
                                            "DeepLIFT rule; use one of rescale"):
        deep_lift_shap(nn.Sequential(nn.Flatten(), nn.Linear(4 * L, 1), Odd()),
                       random_one_hot(2), n_shuffles=2)


# -- lookup -------------------------------------------------------------------

def test_get_attribution_method():
    assert get_attribution_method("deep_lift_shap") is deep_lift_shap
    assert get_attribution_method("input_x_gradient") is input_x_gradient
    with pytest.raises(RegbenchError, match="deep_lift_shap, input_x_gradient"):
        get_attribution_method("saliency_maps")


@pytest.mark.parametrize("activation, warns", [(nn.ReLU, False), (UndeclaredSquare, True)])
def test_the_delta_warning_is_relative_to_the_size_of_the_output(activation, warns):
    """A model whose output is in the tens of thousands (a profile model's explained
    output is in the hundreds) misses summation-to-delta by more than tangermeme's
    absolute 1e-3 in float32 rounding alone: no warning when every rule is right; a
    wrong rule (an undeclared square counted as linear) still warns."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 16, 5), activation(), nn.Flatten(),
                          nn.Linear(16 * (L - 4), 1))
    with torch.no_grad():
        model[-1].weight.mul_(3e4)
    X = random_one_hot(8)
    from regbench.attributions.methods.deep_lift_shap import delta_threshold
    threshold = delta_threshold(model, X, 0, (), torch.device("cpu"), 128)
    assert threshold == 1e-3 * model(X)[:, 0].abs().max().item()
    assert threshold > 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        attr = deep_lift_shap(model, X, n_shuffles=4, random_state=2)
    assert bool([w for w in caught if issubclass(w.category, RuntimeWarning)]) == warns
    expected = expected_difference(model, X, 0, n_shuffles=4, random_state=2)
    # within float32's reach of an output this size, and only with the right rules
    assert torch.allclose(attr.sum(dim=(1, 2)), expected, rtol=1e-4, atol=threshold) != warns


def test_the_delta_threshold_is_tangermemes_for_outputs_below_one():
    from regbench.attributions.methods.deep_lift_shap import delta_threshold
    model = linear_model(n_tasks=1)
    with torch.no_grad():
        model[-1].weight.mul_(1e-3)
    assert delta_threshold(model, random_one_hot(3), 0, (), torch.device("cpu"), 2) == 1e-3
