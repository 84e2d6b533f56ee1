"""A side-by-side port of the paper authors' profile training step (issue 32).

The port follows `amtseng/fourier_attribution_priors`: `src/model/profile_models.py`
(`multinomial_log_probs`, `ProfilePredictor.correctness_loss`,
`ProfilePredictor.fourier_att_prior_loss`), `src/model/util.py` (`smooth_tensor_1d`)
and `src/model/train_profile_model.py` (`run_epoch`'s explained output and input
gradients, `model_loss`'s `corr_loss + weight * att_prior_loss`), written here from
their math in their tensor layouts (profiles B x T x O x S, inputs B x I x D). Both
sides use the same model and weights on the same batch; regbench's side is the
trainer's own step (``Trainer.penalty``, ``Task.loss``) under the paper protocol's
settings (log_softmax weights, T = 200 on 1346 bp, λ = ½ × the authors' loss).

What differs, named and measured here:
- the correctness loss's value: regbench trains on the multinomial NLL without its
  constant log(n! / Π x!) (``ProfileTask.loss``); the authors' keeps it. The
  difference is exactly that constant's mean, so the gradients agree; the value the
  λ rule reads is the authors' (``ProfileTask.paper_scale_loss``, equal to theirs).
- `torch.rfft(x, 1)` with `torch.norm(..., dim=2)` (the authors' torch 1.x) is
  ``torch.fft.rfft(x).abs()`` here (the old call is gone from torch).
"""
import math

import numpy as np
import pytest
import scipy.ndimage
import torch

import regbench
from regbench.tasks import ProfileTask
from regbench.training.train import Trainer, TrainConfig, one_hot_codes

N_TASKS, STRANDS, BATCH = 2, 2, 4
STATUS = [1, 2, 0, 0]      # the authors' statuses: peaks (non-zero) first, negatives 0


# -- the port ----------------------------------------------------------------------------
def authors_multinomial_log_probs(category_log_probs, trials, query_counts):
    log_n_fact = torch.lgamma(trials + 1)
    log_counts_fact_sum = torch.sum(torch.lgamma(query_counts + 1), dim=-1)
    log_prob_pows_sum = torch.sum(category_log_probs * query_counts, dim=-1)
    return log_n_fact - log_counts_fact_sum + log_prob_pows_sum


def authors_correctness_loss(true_profs, logit_pred_profs, log_pred_counts,
                             count_loss_weight):
    """true_profs, logit_pred_profs: B x T x O x S; log_pred_counts: B x T x S."""
    batch_size, num_tasks, _, num_strands = true_profs.shape
    true_counts = torch.sum(true_profs, dim=2)
    true_profs = true_profs.transpose(2, 3).reshape(batch_size, num_tasks * num_strands, -1)
    logit_pred_profs = logit_pred_profs.transpose(2, 3).reshape(
        batch_size, num_tasks * num_strands, -1)
    true_counts = true_counts.view(batch_size, num_tasks * num_strands)
    log_pred_counts = log_pred_counts.view(batch_size, num_tasks * num_strands)
    log_pred_profs = torch.log_softmax(logit_pred_profs, dim=2)
    neg_log_likelihood = -authors_multinomial_log_probs(log_pred_profs, true_counts,
                                                        true_profs)
    prof_loss = torch.mean(torch.mean(neg_log_likelihood, dim=1))
    mse = (log_pred_counts - torch.log(true_counts + 1)) ** 2
    count_loss = torch.mean(torch.mean(mse, dim=1))
    return prof_loss + count_loss_weight * count_loss


def authors_smooth_tensor_1d(input_tensor, smooth_sigma):
    sigma, truncate = (1, 0) if smooth_sigma == 0 else (smooth_sigma, 1)
    base = np.zeros(1 + 2 * sigma)
    base[sigma] = 1
    kernel = scipy.ndimage.gaussian_filter(base, sigma=sigma, truncate=truncate)
    kernel = torch.tensor(kernel)[None, None].to(input_tensor.dtype)
    return torch.nn.functional.conv1d(input_tensor[:, None], kernel, padding=sigma)[:, 0]


def authors_fourier_att_prior_loss(status, input_grads, freq_limit, limit_softness,
                                   att_prior_grad_smooth_sigma):
    """input_grads: B x L x D, gradient times input."""
    abs_grads = torch.sum(torch.abs(input_grads), dim=2)
    grads_smooth = authors_smooth_tensor_1d(abs_grads, att_prior_grad_smooth_sigma)
    pos_grads = grads_smooth[status == 1]
    pos_mags = torch.fft.rfft(pos_grads, dim=1).abs()   # torch.norm(torch.rfft(x, 1), dim=2)
    pos_mag_sum = torch.sum(pos_mags, dim=1, keepdim=True)
    pos_mag_sum[pos_mag_sum == 0] = 1
    pos_mags = (pos_mags / pos_mag_sum)[:, 1:]
    weights = torch.ones_like(pos_mags)
    x = torch.arange(1, pos_mags.size(1) - freq_limit + 1).to(pos_mags.dtype)
    weights[:, freq_limit:] = 1 / (1 + torch.pow(x, limit_softness))
    return torch.mean(1 - torch.sum(pos_mags * weights, dim=1))


def authors_layout(outputs):
    """regbench's (profile (B, 2T, O), counts (B, 2T)), tracks task-major then strand,
    as the authors' model returns them: B x T x O x S and B x T x S."""
    profile, counts = outputs
    return (profile.view(len(profile), N_TASKS, STRANDS, -1).transpose(2, 3),
            counts.view(len(counts), N_TASKS, STRANDS))


def authors_step(model, X, true_profs, lam):
    """``run_epoch`` + ``model_loss`` of train_profile_model.py for one batch: returns
    (correctness loss, prior loss, input gradient x input B x I x D, total loss)."""
    input_seqs = X.transpose(1, 2).clone().requires_grad_(True)      # B x I x D
    logit_pred_profs, log_pred_counts = authors_layout(model(input_seqs.transpose(1, 2)))
    norm_logit_pred_profs = logit_pred_profs - torch.mean(logit_pred_profs, dim=2,
                                                          keepdim=True)
    pred_prof_probs = torch.log_softmax(logit_pred_profs, dim=2).detach()
    weighted_norm_logits = norm_logit_pred_profs * pred_prof_probs
    input_grads, = torch.autograd.grad(
        weighted_norm_logits, input_seqs, grad_outputs=torch.ones_like(weighted_norm_logits),
        retain_graph=True, create_graph=True)
    input_grads = input_grads * input_seqs
    status = torch.tensor(STATUS)
    status[status != 0] = 1
    corr_loss = authors_correctness_loss(true_profs, logit_pred_profs, log_pred_counts, 20)
    att_prior_loss = authors_fourier_att_prior_loss(status, input_grads, 200, 0.2, 3)
    return corr_loss, att_prior_loss, input_grads, corr_loss + lam * att_prior_loss


# -- the batch -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch():
    """The authors' sizes (1346 bp in, 1000 out, T = 200), 8 filters: a model trained
    a few steps so its attributions are not those of an initialisation; reads with
    peaks on the first rows, background elsewhere, one row without any read."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    task = ProfileTask({"filters": 8, "explain_weights": "log_softmax"}, seq_len=1346,
                       n_tasks=N_TASKS)
    assert task.params["output_length"] == 1000
    assert task.prior_defaults() == {"fourier": {"freq_limit": 200}}
    codes = rng.integers(0, 4, (BATCH, 1346)).astype(np.uint8)
    y = rng.poisson(0.05, (BATCH, 2 * N_TASKS, 1000)).astype(np.float32)
    y[:2, :, 480:520] += rng.poisson(3.0, (2, 2 * N_TASKS, 40))
    y[3] = 0
    X, y = one_hot_codes(torch.as_tensor(codes)), torch.as_tensor(y)
    model = task.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        optimizer.zero_grad()
        task.loss(model(X), y).backward()
        optimizer.step()
    return task, model, X, y


def regbench_step(task, model, X, y, lam):
    """The trainer's step: (correctness loss, penalty, training attributions of the
    prior rows (n, 4, L), total loss)."""
    reg = regbench.get_regularizer("fourier", **task.prior_defaults()["fourier"])
    trainer = Trainer(task, reg, lam, TrainConfig(device="cpu"))
    outputs, penalty = trainer.penalty(model, X, sum(s != 0 for s in STATUS))
    correctness = task.loss(outputs, y)
    return correctness, penalty, outputs, correctness + lam * penalty


def test_the_authors_training_step_side_by_side(batch):
    task, model, X, y = batch
    params = [p for p in model.parameters()]
    true_profs = y.view(BATCH, N_TASKS, STRANDS, -1).transpose(2, 3)
    with torch.no_grad():
        lam = 0.5 * task.paper_scale_loss(model(X), y).item()   # the paper's λ rule

    corr_a, prior_a, grads_a, loss_a = authors_step(model, X, true_profs, lam)
    corr_r, prior_r, outputs, loss_r = regbench_step(task, model, X, y, lam)

    # the loss the λ rule reads: the authors' value
    assert lam == pytest.approx(0.5 * corr_a.item(), rel=1e-6)
    assert task.paper_scale_loss(outputs, y).item() == pytest.approx(corr_a.item(), rel=1e-6)
    # regbench's training loss: the authors' less the multinomial constant's mean
    reads = y.double()
    constant = (torch.lgamma(reads.sum(-1) + 1) - torch.lgamma(reads + 1).sum(-1)).mean()
    assert constant.item() > 10    # what the constant-free loss leaves out, here
    assert corr_r.item() - corr_a.item() == pytest.approx(constant.item(), rel=1e-5)
    # the prior's value, on the peaks' rows
    assert prior_r.item() == pytest.approx(prior_a.item(), rel=1e-5, abs=1e-7)
    assert 0.01 < prior_a.item() < 0.99
    # the attribution the prior reads (rows 0, 1) and its Fourier cut-off
    from regbench.attributions import logits_and_attributions
    _, attr = logits_and_attributions(model, X, 2, output=task.explained_output)
    # atol 1e-5 of the largest: float32 sums taken in another order (2 threads instead
    # of 1) move single elements by ~1e-6 of it; another explained output or cut-off
    # moves them by far more (below)
    torch.testing.assert_close(attr, grads_a[:2].transpose(1, 2).detach(),
                               rtol=1e-4, atol=1e-5 * grads_a.abs().max().item())
    # the gradient into every weight
    g_a = torch.autograd.grad(loss_a, params)
    g_r = torch.autograd.grad(loss_r, params)
    for p, a, r in zip(params, g_a, g_r):
        torch.testing.assert_close(r, a, rtol=1e-4, atol=1e-5 * a.abs().max().item())
    worst = max(((r - a).abs().max() / a.abs().max()).item() for a, r in zip(g_a, g_r))
    assert worst < 1e-4


def test_the_default_softmax_output_is_not_the_authors(batch):
    """Measured beside the port: regbench's default explained output (softmax weights)
    gives another prior value and attribution; the paper protocol's (log_softmax) is
    the authors'."""
    task, model, X, y = batch
    softmax = ProfileTask({"filters": 8}, seq_len=1346, n_tasks=N_TASKS)
    true_profs = y.view(BATCH, N_TASKS, STRANDS, -1).transpose(2, 3)
    _, prior_a, _, _ = authors_step(model, X, true_profs, 1.0)
    _, prior_s, _, _ = regbench_step(softmax, model, X, y, 1.0)
    assert not math.isclose(prior_s.item(), prior_a.item(), rel_tol=1e-3)
