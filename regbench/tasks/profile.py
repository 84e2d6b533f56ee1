"""The profile task: base-resolution read counts per strand (BPNet-style models).

Targets are the data's per-strand counts (N, 2T, L), cropped to the model's central
output. Loss = multinomial NLL of each strand's profile + ``counts_weight`` × MSE of
log(1 + total counts) (the paper's weight: 20). Attributions and the prior explain,
per task, Σ over strands and positions of (ℓ − mean ℓ) · stopgrad(w), ℓ the profile
logits: w = softmax(ℓ) by default (bpnet-lite, chrombpnet and the authors' comments);
``explain_weights = "log_softmax"`` is what the authors' code computes, and what the
paper protocol and preset use (``presets.PROFILE_SETTINGS``, docs/profile.md).
"""
from __future__ import annotations

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.metrics import get_metric, list_metrics
from regbench.models import create_model
from regbench.options.presets import PROFILE_SETTINGS
from regbench.spectra import PROFILE_FREQ_RATIO
from regbench.tasks.base import Task, resolve_model

WEIGHTS = ("softmax", "log_softmax")
# [model] reverse_complement: off, half of each batch flipped, or each row and its
# reverse complement side by side (the authors' revcomp: a batch of 64 trains on 128)
RC_MODES = (False, True, "both")


class ProfileTask(Task):
    """[model] keys of the task itself: counts_weight (default 20), explain_weights
    (softmax | log_softmax), reverse_complement (augmentation, default false); the
    rest go to the model (default architecture bpnet)."""

    name = "profile"
    settings = PROFILE_SETTINGS

    def __init__(self, model: dict | None = None, *, seq_len: int, n_tasks: int,
                 n_controls: int = 0):
        params = dict(model or {})
        self.n_tracks, self.n_controls = 2 * int(n_tasks), int(n_controls)
        if self.n_controls:
            params["n_controls"] = self.n_controls
        self.counts_weight = float(params.pop("counts_weight", 20.0))
        self.explain_weights = str(params.pop("explain_weights", "softmax"))
        self.reverse_complement = params.pop("reverse_complement", False)
        if self.reverse_complement not in RC_MODES:
            raise RegbenchError(f"[model] reverse_complement = {self.reverse_complement!r} is "
                                "not valid: expected true (half of each batch flipped), "
                                "false, or \"both\" (each row and its reverse complement, "
                                "the authors')")
        if self.explain_weights not in WEIGHTS:
            raise RegbenchError(f"[model] explain_weights = {self.explain_weights!r} is not "
                                f"valid: expected one of {', '.join(WEIGHTS)}")
        if not self.counts_weight >= 0:
            raise RegbenchError(f"[model] counts_weight must be >= 0, got {self.counts_weight}")
        self.seq_len = int(seq_len)
        self.architecture, self.params = resolve_model(params, self.settings.architecture,
                                                       seq_len, n_tasks)
        length = self.params.get("output_length") or seq_len
        self.crop = slice((seq_len - length) // 2, (seq_len - length) // 2 + length)

    def build_model(self, **options) -> torch.nn.Module:
        return create_model(self.architecture, **{**self.params, **options})

    def model_record(self) -> dict:
        return {"architecture": self.architecture, "params": dict(self.params),
                "counts_weight": self.counts_weight, "explain_weights": self.explain_weights,
                "reverse_complement": self.reverse_complement,
                "prior_defaults": self.prior_defaults()}

    def augment(self, X: torch.Tensor, y, rng: np.random.Generator):
        """Flanked windows (``jitter``) are cropped at random offsets, profiles with
        them (``crop_jitter``). With ``reverse_complement``, half the batch (drawn from
        ``rng``) is then replaced by its reverse complement: bases A<->T, C<->G (the
        ACGT channels reversed), positions reversed, and the strands of each task
        swapped and reversed. With ``"both"`` (the authors'), each row is followed by
        its reverse complement: X (B, 4, L) → (2B, 4, L), rows 2i and 2i + 1 from row
        i, no draw."""
        X, y = self.crop_jitter(X, y, rng, crop_targets=True)
        if not self.reverse_complement:
            return X, y
        strands = torch.arange(y.shape[1], device=y.device).view(-1, 2).flip(1).reshape(-1)
        X_rc, y_rc = X.flip(1, 2), y[:, strands].flip(-1)
        if self.reverse_complement == "both":
            return (torch.stack([X, X_rc], 1).flatten(0, 1),
                    torch.stack([y, y_rc], 1).flatten(0, 1))
        flip = torch.as_tensor(rng.random(len(X)) < 0.5).to(X.device)
        X = torch.where(flip[:, None, None], X_rc, X)
        y = torch.where(flip[:, None, None], y_rc, y)
        return X, y

    # The authors' T on their 1346-bp profile input: 200 (``freq_ratio`` of Task).
    freq_ratio, freq_ratio_text = PROFILE_FREQ_RATIO, "200/1346"

    def prior_defaults(self) -> dict:
        """The Fourier prior's frequency limit for profile models: the authors' 200 on
        the 1346-bp input they attribute, scaled to this model's input length
        (``default_freq_limit``; evaluation's high-frequency fraction uses the same)."""
        return {"fourier": {"freq_limit": self.default_freq_limit()}}

    def targets(self, data) -> np.ndarray:
        """(N, 2T, out): the counts of the model's output window; for windows wider
        than the model's input (flanked, for jitter) the output window widened by as
        much, so ``crop_jitter`` can crop both alike."""
        if data.signal is None:
            raise RegbenchError(f"task = profile needs per-strand read counts "
                                f"(signal.plus.bw and signal.minus.bw in {data.path}); "
                                "simulate a scenario with [profile] enabled, e.g. spi1_profile")
        extra = max(0, data.signal.shape[-1] - self.seq_len)
        crop = slice(self.crop.start, self.crop.stop + extra)
        tracks = [data.signal[..., crop]]
        if self.n_controls:   # carried as further rows: they crop and flip alike
            tracks.append(data.control[..., crop])
        return np.ascontiguousarray(np.concatenate(tracks, axis=1), dtype=np.float32)

    def model_args(self, targets: torch.Tensor) -> tuple:
        """(control tracks (B, C, out),) when the model takes controls, else ()."""
        return (targets[:, self.n_tracks:],) if self.n_controls else ()

    def loss(self, outputs, targets: torch.Tensor) -> torch.Tensor:
        logits, log_counts = outputs
        targets = targets[:, :self.n_tracks]
        nll = -(targets * torch.log_softmax(logits, dim=-1)).sum(-1).mean()
        mse = (log_counts - torch.log1p(targets.sum(-1))).pow(2).mean()
        return nll + self.counts_weight * mse

    def paper_scale_loss(self, outputs, targets: torch.Tensor) -> torch.Tensor:
        """``loss`` with the multinomial's constant in: the authors' ``correctness_loss``
        (profile_models.py), whose validation value their λ rule halves. Per track
        -log P(x | n, p) = -log n! + Σ log x_i! - Σ x_i log p_i, averaged over strands
        and rows, + counts_weight × the same MSE. It differs from ``loss`` by the mean
        of log(n! / Π x_i!), which no weight changes: the gradients are the same."""
        logits, log_counts = outputs
        targets = targets[:, :self.n_tracks]
        reads = targets.sum(-1)
        log_coefficient = torch.lgamma(reads + 1) - torch.lgamma(targets + 1).sum(-1)
        nll = -(log_coefficient + (targets * torch.log_softmax(logits, dim=-1)).sum(-1))
        mse = (log_counts - torch.log1p(reads)).pow(2).mean()
        return nll.mean() + self.counts_weight * mse

    def prior_rows(self, labels: np.ndarray, prior_on: str) -> np.ndarray:
        if prior_on == "all":
            return np.ones(len(labels), bool)
        return labels.max(axis=1) > 0  # the peaks

    def explained_output(self, outputs, paired: bool = False) -> torch.Tensor:
        """(N, T). ``paired``: rows are inputs then their references (DeepLIFT/SHAP);
        the weights of both halves are the inputs' (see ``ExplainedOutput``)."""
        logits = outputs[0]
        centred = logits - logits.mean(dim=-1, keepdim=True)
        if paired and len(logits) % 2 == 0:
            source = logits[:len(logits) // 2].repeat(2, 1, 1)
        else:
            source = logits
        weights = (torch.softmax if self.explain_weights == "softmax"
                   else torch.log_softmax)(source, dim=-1).detach()
        per_track = (centred * weights).sum(-1)                 # (N, 2T)
        return per_track.view(len(per_track), -1, 2).sum(-1)   # (N, T): strands summed

    def explained_output_rule(self) -> str:
        rule = ("Σ over strands and positions of (ℓ − mean ℓ) × "
                f"{self.explain_weights}(ℓ), the weights held constant; ")
        if self.explain_weights == "softmax":
            return rule + ("softmax is the default: the weights are the predicted read "
                           "shares, so the positions the model puts reads at count most "
                           "(what the authors' code comments describe, and bpnet-lite's and "
                           "chrombpnet's form); the authors' code computes log_softmax, "
                           "which the paper protocol and preset use")
        return rule + ("log_softmax is what the authors' train_profile_model.py computes "
                       "(the paper protocol's and preset's choice); regbench's default is "
                       "softmax")

    def performance(self, targets: np.ndarray, predictions) -> dict:
        targets = targets[:, :self.n_tracks]
        return {name: get_metric(name).compute(targets, predictions)
                for name in list_metrics("performance") if get_metric(name).needs == "profile"}


__all__ = ["ProfileTask", "WEIGHTS"]
