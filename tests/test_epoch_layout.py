"""What a training epoch holds ([train] epoch) and the authors' reverse-complement
doubling ([model] reverse_complement = "both"): every peak once with as many
negatives, the prior's rows first in every batch, the plan's step count, the options'
checks and keys, and the quick profile preset that trains as the authors train."""
import numpy as np
import pytest
import torch

from regbench import RegbenchError
from regbench.options.config import preset_config
from regbench.options.settings import TrainConfig
from regbench.tasks import ProfileTask
from regbench.training.train import (Trainer, batch_order, epoch_batches, epoch_steps, one_hot_codes,
                                     peak_batches)

SMALL = dict(filters=8, n_dilated=2, profile_width=9, first_width=9)


def test_peak_epoch_holds_every_peak_once_with_as_many_negatives():
    prior = np.zeros(50, bool)
    prior[[1, 4, 5, 9, 12, 20, 21, 22, 30, 31, 40, 41, 42, 43, 44, 45, 46]] = True  # 17
    batches = list(peak_batches(prior, 8, np.random.default_rng(0)))
    # 17 peaks, 4 a batch: 5 batches, the last with the 1 left
    assert [n for _, n in batches] == [4, 4, 4, 4, 1]
    assert [len(idx) for idx, _ in batches] == [8, 8, 8, 8, 2]
    peaks = np.concatenate([idx[:n] for idx, n in batches])
    negatives = np.concatenate([idx[n:] for idx, n in batches])
    assert sorted(peaks) == list(np.flatnonzero(prior))     # each peak exactly once
    assert prior[peaks].all() and not prior[negatives].any()
    assert len(set(negatives)) == len(negatives) == 17      # 33 negatives: no repeat


def test_few_negatives_are_drawn_in_passes_each_about_equally_often():
    prior = np.array([True] * 30 + [False] * 7)
    batches = list(peak_batches(prior, 10, np.random.default_rng(1)))
    negatives = np.concatenate([idx[n:] for idx, n in batches])
    counts = np.bincount(negatives, minlength=37)[30:]
    assert len(negatives) == 30 and counts.min() >= 4 and counts.max() <= 5
    # no negatives at all: batches of peaks alone
    only = list(peak_batches(np.ones(5, bool), 4, np.random.default_rng(0)))
    assert [(len(i), n) for i, n in only] == [(2, 2), (2, 2), (1, 1)]


def test_the_plan_counts_the_steps_each_epoch_layout_makes():
    prior = np.array([True] * 41 + [False] * 23)
    for layout, make, batch in [("shuffled", batch_order, 16), ("peaks", peak_batches, 16),
                                ("peaks", peak_batches, 7), ("shuffled", batch_order, 5)]:
        made = list(make(prior, batch, np.random.default_rng(0)))
        assert epoch_steps(64, 41, TrainConfig(epoch=layout, batch_size=batch)) == len(made)
    assert epoch_steps(64, 41, TrainConfig(epoch="peaks", batch_size=16)) == 6   # 41 / 8
    # epoch_batches leaves out a batch of one row (batch norm)
    assert len(epoch_batches(prior[:17], TrainConfig(batch_size=16),
                             np.random.default_rng(0))) == 1


def test_both_puts_each_rows_reverse_complement_right_after_it():
    task = ProfileTask({**SMALL, "reverse_complement": "both", "output_length": 4},
                       seq_len=4, n_tasks=2)
    X = one_hot_codes(torch.tensor([[0, 0, 1, 2], [3, 3, 3, 3]], dtype=torch.uint8))
    y = torch.arange(2 * 4 * 4, dtype=torch.float32).view(2, 4, 4)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    X2, y2 = task.augment(X, y, rng)
    assert rng.bit_generator.state == state                 # no draw
    assert X2.shape == (4, 4, 4) and y2.shape == (4, 4, 4)
    # CGTT is the reverse complement of AACG; strands swap and reverse
    rc = one_hot_codes(torch.tensor([[1, 2, 3, 3]], dtype=torch.uint8))[0]
    assert torch.equal(X2[0], X[0]) and torch.equal(X2[1], rc)
    assert torch.equal(X2[2], X[1]) and torch.equal(X2[3], X[1].flip(0, 1))
    assert torch.equal(y2[1], y[0][[1, 0, 3, 2]].flip(-1))
    assert torch.equal(y2[2], y[1])


def test_training_gives_the_prior_each_peak_and_its_reverse_complement(monkeypatch):
    """With both, a batch of k peaks and k negatives trains on 4k rows and the prior
    sees the first 2k: the peaks and their reverse complements."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (12, 60)).astype(np.uint8)
    y = np.zeros((12, 2, 60), np.float32)
    y[:5, 0, 30] = 10.0                                     # 5 peaks, 7 negatives
    task = ProfileTask({**SMALL, "reverse_complement": "both", "output_length": 60},
                       seq_len=60, n_tasks=1)
    from regbench.regularizers import get_regularizer
    trainer = Trainer(task, get_regularizer("fourier", freq_limit=5), 1.0,
                      TrainConfig(max_epochs=1, batch_size=4, epoch="peaks", seed=0,
                                  device="cpu"))
    seen = []
    real = Trainer.train_step

    def spy(self, model, optimizer, params, X, y_batch, n_prior):
        seen.append((X.clone(), y_batch.clone(), n_prior))
        return real(self, model, optimizer, params, X, y_batch, n_prior)
    monkeypatch.setattr(Trainer, "train_step", spy)
    peaks = y.sum(axis=(1, 2)) > 0
    trainer.fit((codes, task.targets(_Data(y)), peaks),
                (codes[:4], task.targets(_Data(y[:4])), peaks[:4]))
    assert [(len(X), n) for X, _, n in seen] == [(8, 4), (8, 4), (4, 2)]
    for X, targets, n in seen:
        assert (targets[:n].sum(dim=(1, 2)) > 0).all()      # the prior's rows: peaks
        assert (targets[n:].sum(dim=(1, 2)) == 0).all()
        assert torch.equal(X[1::2], X[0::2].flip(1, 2))


class _Data:
    def __init__(self, signal):
        self.signal, self.length, self.control = signal, signal.shape[-1], None


def test_epoch_and_reverse_complement_options_are_checked():
    with pytest.raises(RegbenchError, match=r"\[train\] epoch = 'all' is not valid"):
        TrainConfig(epoch="all").validate()
    with pytest.raises(RegbenchError, match="needs prior_on"):
        TrainConfig(epoch="peaks", prior_on="all").validate()
    with pytest.raises(RegbenchError, match="reverse_complement = 'twice'"):
        ProfileTask({**SMALL, "reverse_complement": "twice"}, seq_len=60, n_tasks=1)
    binary = preset_config("smoke")
    binary.model = {**binary.model, "reverse_complement": "both"}
    with pytest.raises(RegbenchError, match="expected true or false$"):
        binary.validate()


def test_the_default_epoch_leaves_run_keys_as_they_were():
    config = preset_config("quick")
    before = config.hash()
    config.train = {**config.train, "epoch": "shuffled"}
    assert config.hash() == before
    config.train = {**config.train, "epoch": "peaks"}
    assert config.hash() != before


def test_the_quick_profile_preset_trains_as_the_authors():
    """train_profile_model.py: num_epochs 20, learning_rate 0.001, their early stopping;
    make_profile_dataset.py: batch_size 64 (doubled by revcomp), negative_ratio 1."""
    for preset, cap in (("quick", 200), ("paper", 20)):   # quick: their rule ends it
        config = preset_config(preset, "profile")
        train = config.sections().train
        assert (train.epoch, train.batch_size, train.learning_rate, train.max_epochs,
                train.stopping) == ("peaks", 64, 0.001, cap, "authors")
        assert config.model["reverse_complement"] == "both"
    smoke = preset_config("smoke", "profile").sections().train
    assert (smoke.epoch, smoke.stopping) == ("shuffled", "patience")
    assert preset_config("quick").sections().train.epoch == "shuffled"   # binary
