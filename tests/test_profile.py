"""The profile task and its BPNet-style model: loss, explained output, learning, the
prior's double backprop, and a run on the spi1_profile simulation."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.cli import main
from regbench.models.profile import ProfileCNN
from regbench.tasks import ProfileTask
from regbench.training.train import Trainer, TrainConfig, one_hot_codes

SMALL = dict(filters=8, n_dilated=2, profile_width=9, first_width=9)


def test_loss_is_multinomial_nll_plus_weighted_counts_mse():
    task = ProfileTask({**SMALL, "counts_weight": 2.0, "output_length": 4}, seq_len=4,
                       n_tasks=1)
    logits = torch.zeros(1, 2, 4)                           # uniform profiles
    log_counts = torch.tensor([[math.log(4.0), 0.0]])
    y = torch.tensor([[[1.0, 0, 2, 0], [0, 0, 0, 1]]])      # 3 and 1 reads
    nll = (3 + 1) * math.log(4) / 2                         # mean over the 2 strands
    mse = ((math.log(4) - math.log(4)) ** 2 + (0 - math.log(2)) ** 2) / 2
    assert task.loss((logits, log_counts), y).item() == pytest.approx(nll + 2 * mse)


@pytest.mark.parametrize("weights", ["softmax", "log_softmax"])
def test_explained_output_sums_centred_logits_times_detached_weights(weights):
    task = ProfileTask({**SMALL, "explain_weights": weights, "output_length": 3}, seq_len=3,
                       n_tasks=1)
    logits = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]]], requires_grad=True)
    out = task.explained_output((logits, torch.zeros(1, 2)))
    w = getattr(torch, weights)(logits.detach(), dim=-1)
    centred = logits.detach() - logits.detach().mean(-1, keepdim=True)
    assert out.shape == (1, 1)
    assert out.item() == pytest.approx((centred * w).sum().item())
    out.sum().backward()  # the weights are constants: the gradient is (1 - 1/L) w - mean
    expected = w - w.sum(-1, keepdim=True) / 3
    torch.testing.assert_close(logits.grad, expected)


def test_the_authors_loss_keeps_the_multinomial_constant():
    """Reads (1, 0, 2, 0) and (0, 0, 0, 1) under uniform profiles: log P = log 3!/(1! 2!)
    + 3 log 1/4 = log 3 - 3 log 4 and log 1/4; the NLL's mean over the strands is
    (4 log 4 - log 3) / 2, log(3)/2 below the constant-free loss."""
    from scipy.stats import multinomial
    task = ProfileTask({**SMALL, "counts_weight": 2.0, "output_length": 4}, seq_len=4,
                       n_tasks=1)
    logits = torch.zeros(1, 2, 4)
    log_counts = torch.tensor([[math.log(4.0), 0.0]])
    y = torch.tensor([[[1.0, 0, 2, 0], [0, 0, 0, 1]]])
    mse = (0 + math.log(2) ** 2) / 2
    authors = task.paper_scale_loss((logits, log_counts), y).item()
    assert authors == pytest.approx((4 * math.log(4) - math.log(3)) / 2 + 2 * mse)
    assert authors == pytest.approx(task.loss((logits, log_counts), y).item()
                                    - math.log(3) / 2)
    by_scipy = -np.mean([multinomial.logpmf(x, x.sum(), [0.25] * 4) for x in y[0].numpy()])
    assert authors == pytest.approx(by_scipy + 2 * mse)


@pytest.mark.parametrize("weights, expected", [
    ("softmax", math.log(3) / 4),            # (ln3/2)(3/4 - 1/4)
    ("log_softmax", math.log(3) ** 2 / 2)])  # (ln3/2)(ln(3/4) - ln(1/4))
def test_explained_outputs_by_hand(weights, expected):
    """Logits (0, ln 3) on one strand, flat on the other: centred ±ln3/2, softmax
    (1/4, 3/4), log_softmax (ln 1/4, ln 3/4); the flat strand adds 0."""
    task = ProfileTask({**SMALL, "explain_weights": weights, "output_length": 2},
                       seq_len=2, n_tasks=1)
    logits = torch.tensor([[[0.0, math.log(3)], [5.0, 5.0]]], dtype=torch.float64)
    out = task.explained_output((logits, torch.zeros(1, 2)))
    assert out.item() == pytest.approx(expected, rel=1e-12)


def test_the_paper_protocol_and_preset_explain_the_authors_output():
    """log_softmax under the paper protocol or preset (what the authors' code computes),
    keyed in the config hash; softmax otherwise; a [model] value always wins."""
    from regbench.options.config import preset_config
    from regbench.options.merge import merge
    quick = preset_config("quick", "profile")
    assert "explain_weights" not in quick.task_model()
    paper = merge(quick, {"tuning": {"protocol": "paper"}}, "test")
    assert paper.task_model()["explain_weights"] == "log_softmax"
    assert paper.hash() != merge(quick, {"tuning": {"protocol": "loss"}}, "test").hash()
    assert preset_config("paper", "profile").task_model()["explain_weights"] == "log_softmax"
    own = merge(paper, {"model": {"explain_weights": "softmax"}}, "test")
    assert own.task_model()["explain_weights"] == "softmax"
    binary = preset_config("quick")
    assert binary.hash() == merge(binary, {"tuning": {"protocol": "paper"}}, "t").hash()
    assert "explain_weights" not in preset_config("paper").task_model()


def _profile_problem(n=16, length=60, seed=0):
    """A peak of reads 5 bp either side of an ACGTTGCA at a random place."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    y = np.zeros((n, 2, length), np.float32)
    for i in range(n):
        at = int(rng.integers(10, length - 18))
        codes[i, at:at + 8] = [0, 1, 2, 3, 3, 2, 1, 0]
        y[i, 0, at - 1] = y[i, 1, at + 9] = 20 + 10 * (i % 3)
    return codes, y


def test_the_profile_model_fits_a_tiny_set():
    torch.manual_seed(0)
    codes, y = _profile_problem()
    task = ProfileTask(dict(filters=16, n_dilated=3, profile_width=15, output_length=60),
                       seq_len=60, n_tasks=1)
    model = task.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    X, Y = one_hot_codes(torch.as_tensor(codes)), torch.as_tensor(y)
    losses = []
    for _ in range(150):
        loss = task.loss(model(X), Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        profile, _ = model(X)
    peak = profile[:, 0].argmax(-1).numpy()
    assert (peak == y[:, 0].argmax(-1)).mean() > 0.8  # the plus-strand peak is found


def test_the_fourier_prior_trains_a_profile_model():
    """Double backprop through the profile model: the penalty alone moves the weights."""
    torch.manual_seed(0)
    codes, y = _profile_problem()
    task = ProfileTask(SMALL, seq_len=60, n_tasks=1)
    y = y[..., task.crop]   # the 32 padding-free output positions
    trainer = Trainer(task, regbench.get_regularizer("fourier", freq_limit=10), 1.0,
                      TrainConfig(device="cpu"))
    model = task.build_model().train()
    X = one_hot_codes(torch.as_tensor(codes))
    outputs, penalty = trainer.penalty(model, X, len(X))
    assert isinstance(outputs, tuple) and 0 < penalty.item() < 1
    penalty.backward()
    assert model.first.weight.grad.abs().sum() > 0
    assert model.dilated[0].weight.grad.abs().sum() > 0
    result = trainer.fit((codes[:12], y[:12], np.ones(12, bool)),
                         (codes[12:], y[12:], np.ones(4, bool)))
    assert result.status == "ok" and result.history[-1]["train_penalty"] > 0


def test_output_length_crops_the_centre():
    model = ProfileCNN(seq_len=100, n_tasks=2, output_length=60, **SMALL)
    profile, counts = model(torch.zeros(3, 4, 100))
    assert profile.shape == (3, 4, 60) and counts.shape == (3, 4)
    with pytest.raises(RegbenchError, match="output_length"):
        ProfileCNN(seq_len=50, output_length=60)


@pytest.mark.parametrize("width, length, seq_len", [
    (75, 30, 120),    # the heads' shape: odd width, output inside the padding-free part
    (8, 50, 60),      # even width
    (15, 60, 60),     # the whole input out: the window reads the zero padding
])
@pytest.mark.parametrize("bias", [True, False])
def test_the_windowed_head_is_the_cropped_convolution(width, length, seq_len, bias):
    """window_conv1d computes only the outputs kept, as one product: the cropped
    convolution's values, gradients and gradients of gradients (the prior's double
    backward), exactly in float64."""
    from regbench.models.profile import window_conv1d
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(5, 3, width, padding=width // 2, bias=bias).double()
    h = torch.randn(4, 5, seq_len, dtype=torch.float64, requires_grad=True)

    def cropped(h):
        full = conv(h)
        start = (full.shape[-1] - length) // 2
        return full[..., start:start + length]
    torch.testing.assert_close(window_conv1d(h, conv, length), cropped(h),
                               rtol=1e-12, atol=1e-12)
    weights = list(conv.parameters())

    def grads(f):
        """The input gradient, and the weights' gradients through it (the prior's
        double backward)."""
        g, = torch.autograd.grad(f(h).square().sum(), h, create_graph=True)
        return [g, *torch.autograd.grad((g * g.detach().sign()).sum(), weights)]
    for a, b in zip(grads(lambda h: window_conv1d(h, conv, length)), grads(cropped)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_default_output_is_the_padding_free_centre():
    """Receptive field 2 × (10 + 2 + 4 + ... + 64 + 37) + 1 = 347 bp, as the authors':
    1346 bp in, 1000 out; the first output position sees input bases 0 .. 346 exactly."""
    assert ProfileTask(None, seq_len=1346, n_tasks=1).params["output_length"] == 1000
    assert ProfileTask(None, seq_len=646, n_tasks=1).crop == slice(173, 473)
    torch.manual_seed(0)
    model = ProfileCNN(seq_len=400, n_tasks=1, filters=4).double()
    X = one_hot_codes(torch.randint(0, 4, (1, 400), dtype=torch.uint8)).double()
    X.requires_grad_()
    profile, _ = model(X)
    assert profile.shape == (1, 2, 54)    # 400 - 346: the "about 54 bases"
    profile[0, :, 0].sum().backward()
    seen = X.grad.abs().sum(1)[0].nonzero().flatten()
    assert seen.min() == 0 and seen.max() == 346
    with pytest.raises(RegbenchError, match="no padding-free output"):
        ProfileTask(None, seq_len=346, n_tasks=1)


def test_counts_pool_only_the_positions_under_the_output():
    """SMALL at 60 bp: body radius 4 + 2 + 4 = 10, profile head radius 4, so 32 output
    positions read the last layer's positions 10 .. 49: the counts head averages those
    (the authors' dil_conv_out_cut); a whole-input output pools all 60."""
    torch.manual_seed(0)
    X = one_hot_codes(torch.randint(0, 4, (3, 60), dtype=torch.uint8)).double()
    for output_length, window in ((None, slice(10, 50)), (60, slice(0, 60))):
        model = ProfileCNN(seq_len=60, n_tasks=1, output_length=output_length,
                           **SMALL).double()
        h = model.first_relu(model.first(X))
        for conv, relu in zip(model.dilated, model.relus):
            h = h + relu(conv(h))
        profile, counts = model(X)
        assert profile.shape[-1] == (32 if output_length is None else 60)
        torch.testing.assert_close(counts, model.counts_head(h[..., window].mean(-1)))
        assert not torch.allclose(counts, model.counts_head(h[..., 5:55].mean(-1)))


def test_the_presets_profile_sizes():
    """quick: the shipped scenario's 646 bp in, 300 out; smoke: 100 in, 54 out;
    paper: the authors' 1346 in, 1000 out."""
    from regbench.options.config import preset_config
    from regbench.simulate import load_scenario
    assert load_scenario("spi1_profile")["length"] == 646
    for preset, length, out in (("quick", 646, 300), ("smoke", 100, 54),
                                ("paper", 1346, 1000)):
        config = preset_config(preset, "profile")
        assert config.simulate.get("length", 646) == length
        task = ProfileTask(dict(config.task_model()), seq_len=length, n_tasks=1)
        assert task.params["output_length"] == out, preset


def _tiny_profile_run(tmp_path, regularizers: str, tables: str):
    """``regbench run`` of a smoke profile model on 90 simulated 100-bp sequences,
    scored with input x gradient, its config ending in the TOML ``tables``; returns
    the results folder."""
    (tmp_path / "c.toml").write_text(
        'preset = "smoke"\ntask = "profile"\nscenario = "spi1_profile"\nseeds = 1\n'
        f'regularizers = "{regularizers}"\n[simulate]\nlength = 100\npositives = 60\n'
        'negatives = 30\n[evaluation]\nmethods = ["input_x_gradient"]\n' + tables)
    out = tmp_path / "run"
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--out", str(out),
                 "--no-progress"]) == 0
    return out


def test_a_profile_run_on_the_simulation(tmp_path):
    out = _tiny_profile_run(tmp_path, "none,fourier", '[model]\nfilters = 8\n'
                            'n_dilated = 2\nprofile_width = 15\n')
    results = pd.read_csv(out / "results.csv")
    assert (results.status == "ok").all()
    for column in ("test_profile_nll", "test_profile_jsd", "test_counts_pearson",
                   "motif_auprc"):
        assert results[column].notna().all(), column
    for r in results.itertuples():
        assert r.test_profile_jsd == pytest.approx(_test_jsd_by_hand(out, r.checkpoint),
                                                   rel=1e-5)
    config = (out / "config.json").read_text()
    assert '"architecture": "bpnet"' in config and '"explain_weights": "softmax"' in config
    report = (out / "report.md").read_text()
    assert ("Explained output (attributions and the prior): Σ over strands and positions "
            "of (ℓ − mean ℓ) × softmax(ℓ), the weights held constant; softmax is the "
            "default") in report
    assert "test_profile_nll" in (out / "report.md").read_text().replace("\\_", "_")
    # one cut-off in training and evaluation: round(200/1346 x 100 bp) = 15
    fourier = results.query("regularizer == 'fourier'")["checkpoint"].iloc[0]
    payload = torch.load(out / fourier, weights_only=False)
    assert payload["regularizer_params"]["freq_limit"] == 15
    recorded = json.loads(config)
    assert recorded["freq_limit"] == 15
    assert recorded["model"]["output_length"] == 54  # 100 - 46: receptive field 47 bp
    assert recorded["freq_limit_rule"].startswith("T = round(200/1346 × L) = 15 for the "
                                                  "100-bp attributed input")
    assert "Frequency cut-off: T = round(200/1346 × L) = 15" in (out / "report.md").read_text()


@pytest.mark.parametrize("length, profile, binary", [(400, 59, 60), (1000, 149, 150),
                                                     (1346, 200, 202)])
def test_the_cut_off_scales_with_the_attributed_input(length, profile, binary):
    """The authors' T: 200 on the 1346-bp profile input, 150 on the 1000-bp binary one,
    scaled to the input's length: 200/1346 x 400 = 59.4, x 1000 = 148.6; 0.15 x 1346 =
    201.9. The profile prior's default is the task's rule, whatever the output length."""
    from regbench.tasks import BinaryTask
    task = ProfileTask({**SMALL, "output_length": 40}, seq_len=length, n_tasks=1)
    assert task.default_freq_limit() == profile
    assert task.prior_defaults() == {"fourier": {"freq_limit": profile}}
    assert BinaryTask(None, seq_len=length, n_tasks=1).default_freq_limit() == binary


def _test_jsd_by_hand(out, checkpoint) -> float:
    """Mean over the test rows' strands with reads of the Jensen-Shannon distance (base
    2) between softmax(predicted profile logits) and the observed reads of the model's
    output window (the centre of the input), written out in NumPy:
    sqrt((KL(p || m) + KL(q || m)) / 2) with m = (p + q) / 2 and 0 log 0 = 0."""
    from regbench.data import load_dataset, one_hot
    from regbench.training.train import load_checkpoint
    model, _ = load_checkpoint(out / checkpoint)
    test = load_dataset(out / "data").subset("test")
    with torch.no_grad():
        logits = model(one_hot(test.codes).float())[0].double().numpy()   # (N, 2, out)
    start = (test.signal.shape[-1] - logits.shape[-1]) // 2
    reads = test.signal[..., start:start + logits.shape[-1]].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p, n = p / p.sum(-1, keepdims=True), reads.sum(-1)
    p, q = p[n > 0], reads[n > 0] / n[n > 0][:, None]
    m = (p + q) / 2

    def kl(a, b):
        return np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / b), 0).sum(-1)
    return float(np.sqrt((kl(p, m) + kl(q, m)) / 2).mean())


def test_profile_task_needs_read_counts(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('preset = "smoke"\ntask = "profile"\nseeds = 1\n'
                                     'regularizers = "none"\n')
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--out",
                 str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "task = profile needs per-strand read counts" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()   # checked before the simulation is written


def test_deep_lift_shap_of_the_profile_output_converges():
    """The weights of an input serve its references too (paired batches), so the
    explained output is linear in the profile logits and DeepLIFT/SHAP sums exactly."""
    import warnings

    from regbench.attributions import ExplainSettings, explain
    torch.manual_seed(0)
    codes, _ = _profile_problem(n=6)
    task = ProfileTask(SMALL, seq_len=60, n_tasks=1)
    model = task.build_model().eval()
    X = one_hot_codes(torch.as_tensor(codes))
    explainer = task.explainer(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # tangermeme's delta warnings
        attr = explain("deep_lift_shap", explainer, X,
                       ExplainSettings(n_shuffles=3, batch_size=6, device="cpu"))
    assert attr.shape == X.shape and torch.all(attr[X == 0] == 0)
    assert explainer.paired is False  # reset after the call
    explainer.paired = False  # unpaired weights: the deltas are what the pairing fixes
    with pytest.warns(RuntimeWarning, match="Convergence deltas"):
        from tangermeme.deep_lift_shap import deep_lift_shap as raw
        raw(explainer, X, n_shuffles=3, batch_size=6, random_state=0, device="cpu")


def test_reverse_complement_augmentation_swaps_strands():
    task = ProfileTask({**SMALL, "reverse_complement": True, "output_length": 4}, seq_len=4,
                       n_tasks=2)
    X = one_hot_codes(torch.tensor([[0, 0, 1, 2], [3, 3, 3, 3]], dtype=torch.uint8))
    y = torch.arange(2 * 4 * 4, dtype=torch.float32).view(2, 4, 4)
    rng = np.random.default_rng(0)
    flip = np.random.default_rng(0).random(2) < 0.5
    X2, y2 = task.augment(X, y, rng)
    for i in range(2):
        if flip[i]:  # CGTT: the reverse complement of AACG
            assert torch.equal(X2[i], X[i].flip(0, 1))
            assert torch.equal(y2[i], y[i][[1, 0, 3, 2]].flip(-1))
        else:
            assert torch.equal(X2[i], X[i]) and torch.equal(y2[i], y[i])
    assert flip.any() and not flip.all()  # this seed tests both branches
    rc = one_hot_codes(torch.tensor([[1, 2, 3, 3]], dtype=torch.uint8))[0]
    assert torch.equal(X[0].flip(0, 1), rc)
    plain = ProfileTask({**SMALL, "output_length": 4}, seq_len=4, n_tasks=2)
    assert plain.augment(X, y, rng)[0] is X


def test_control_tracks_are_a_model_input_carried_in_the_targets():
    """Controls ride in the targets' last rows (so jitter and reverse complement move
    them with the signal), reach the model as an input, and stay out of the loss."""
    torch.manual_seed(0)
    codes, y = _profile_problem(n=8)
    control = np.full_like(y, 0.5)
    task = ProfileTask(SMALL, seq_len=60, n_tasks=1, n_controls=2)
    model = task.build_model()
    assert model.config.n_controls == 2

    class Data:
        signal, length = y, 60
    Data.control = control
    targets = torch.as_tensor(task.targets(Data))
    assert targets.shape == (8, 4, 32) and torch.equal(targets[:, 2:],
                                                       torch.as_tensor(control[..., 14:46]))
    (ctl,) = task.model_args(targets)
    X = one_hot_codes(torch.as_tensor(codes))
    outputs = model(X, ctl)
    assert task.loss(outputs, targets).item() == pytest.approx(
        ProfileTask(SMALL, seq_len=60, n_tasks=1).loss(outputs, targets[:, :2]).item())
    changed = model(X, ctl * 5)
    assert not torch.allclose(changed[0], outputs[0]) and not torch.allclose(changed[1],
                                                                               outputs[1])
    with pytest.raises(RegbenchError, match="takes control tracks"):
        model(X)
    # the prior's double backprop runs through the control-taking model
    from regbench.regularizers import get_spec
    trainer = Trainer(task, get_spec("fourier").create(freq_limit=10), 1.0,
                      TrainConfig(max_epochs=2, batch_size=8))
    result = trainer.fit((codes, targets.numpy(), np.ones(8, bool)),
                         (codes, targets.numpy(), np.ones(8, bool)))
    assert result.status == "ok" and result.history[0]["train_penalty"] > 0


def test_deep_lift_shap_with_controls_converges_and_leaves_them_unattributed():
    import warnings

    from regbench.attributions import ExplainSettings, explain
    torch.manual_seed(0)
    codes, y = _profile_problem(n=4)
    task = ProfileTask(SMALL, seq_len=60, n_tasks=1, n_controls=2)
    model = task.build_model().eval()
    X = one_hot_codes(torch.as_tensor(codes))
    ctl = torch.rand(4, 2, 32) * 3   # over the output
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # tangermeme's delta warnings
        attr = explain("deep_lift_shap", task.explainer(model), X,
                       ExplainSettings(n_shuffles=3, batch_size=6, device="cpu", args=(ctl,)))
    assert attr.shape == X.shape
    ixg = explain("input_x_gradient", task.explainer(model), X,
                  ExplainSettings(device="cpu", args=(ctl,)))
    assert ixg.shape == X.shape and torch.isfinite(ixg).all()


def test_the_paper_protocol_on_a_profile_run(tmp_path, capsys):
    """The λ printed and recorded is ½ × none's validation loss with the multinomial
    constants in, recomputed here with scipy from the reference's checkpoint; the run
    explains the authors' log_softmax output."""
    from scipy.stats import multinomial

    from regbench.data import load_dataset, one_hot
    from regbench.training.train import load_checkpoint
    out = _tiny_profile_run(tmp_path, "fourier", '[train]\nmax_epochs = 1\n[tuning]\n'
                            'protocol = "paper"\ntrial_epochs = 1\n')
    recorded = json.loads((out / "config.json").read_text())
    rule = recorded["lambda_reference"]["paper_rule"]
    assert recorded["model"]["explain_weights"] == "log_softmax"
    checkpoint, = (out / "tuning").rglob("none_seed0_*.pt")
    model, _ = load_checkpoint(checkpoint)
    valid = load_dataset(out / "data").subset("valid")
    with torch.no_grad():
        logits, log_counts = (t.double().numpy() for t in model(one_hot(valid.codes).float()))
    reads = valid.signal[..., 23:77].astype(np.float64)          # the 54 output positions
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.mean([multinomial.logpmf(x, x.sum(), np.exp(lp))
                    for x, lp in zip(reads.reshape(-1, 54), log_p.reshape(-1, 54))])
    mse = np.mean((log_counts - np.log1p(reads.sum(-1))) ** 2)
    assert rule["authors_correctness_loss"] == pytest.approx(nll + 20 * mse, rel=1e-4)
    assert rule["lambda"] == pytest.approx(rule["authors_correctness_loss"] / 2)
    assert rule["none_validation_loss"] > rule["authors_correctness_loss"]
    assert pd.read_csv(out / "results.csv")["lambda"].iloc[0] == pytest.approx(rule["lambda"])
    assert f"λ fourier: {rule['lambda']:.4g} (paper rule" in capsys.readouterr().out
