"""The one trainer: determinism, learning, checkpoints, failure handling."""
import numpy as np
import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.models import BinaryModelConfig
from regbench.tasks import BinaryTask
from regbench.training.train import (Trainer, TrainConfig, batch_order, load_checkpoint, one_hot_codes,
                            save_checkpoint)

def test_one_hot_codes_maps_n_to_zero_column():
    X = one_hot_codes(torch.tensor([[0, 1, 2, 3, 4]], dtype=torch.uint8))
    assert X.shape == (1, 4, 5)
    assert X[0].T.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]


def test_batches_put_positives_first_and_cover_everything(small_task):
    labels = np.array([[0], [1], [0], [1], [1], [0], [0]], np.float32)
    seen = []
    prior = small_task.prior_rows(labels, "positives")
    assert prior.tolist() == [False, True, False, True, True, False, False]
    assert small_task.prior_rows(labels, "all").all()
    for idx, n_pos in batch_order(prior, 3, np.random.default_rng(0)):
        assert (labels[idx[:n_pos], 0] == 1).all() and (labels[idx[n_pos:], 0] == 0).all()
        seen.extend(idx)
    assert sorted(seen) == list(range(7))


@pytest.mark.parametrize("name,lam", [("fourier", 1.0), ("l2", 1e-3), ("none", 0.0)])
def test_same_seed_gives_identical_losses(name, lam, fit):
    a, b = fit(name, lam), fit(name, lam)
    assert a.history == b.history
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_different_seeds_differ(fit):
    assert fit("none", 0.0, seed=0).history != fit("none", 0.0, seed=1).history


def test_penalty_is_logged_and_changes_training(fit):
    plain, prior = fit("none", 0.0), fit("sparsity", 1.0)
    assert all(r["train_penalty"] == 0 for r in plain.history)
    assert all(-2 <= r["train_penalty"] < 0 for r in prior.history)  # -2 Gini
    assert plain.history[-1]["train_loss"] != prior.history[-1]["train_loss"]


def test_learns_a_motif_task(fit, motif_problem):
    result = fit("fourier", 1.0, epochs=12, learning_rate=1e-2)
    codes, labels = motif_problem(n=400, seed=1)
    with torch.no_grad():
        pred = result.model(one_hot_codes(torch.as_tensor(codes)))[:, 0] > 0
    accuracy = (pred.numpy() == labels[:, 0].astype(bool)).mean()
    assert accuracy > 0.95, accuracy


def test_checkpoint_round_trip(tmp_path, small_task, motif_split):
    train, valid = motif_split
    trainer = Trainer(small_task, regbench.get_regularizer("fourier", freq_limit=5), 0.5,
                      TrainConfig(max_epochs=2, seed=3, device="cpu"))
    result = trainer.fit(train, valid, checkpoint=tmp_path / "m.pt")
    model, payload = load_checkpoint(tmp_path / "m.pt")
    X = one_hot_codes(torch.as_tensor(valid[0]))
    with torch.no_grad():
        assert torch.equal(model(X), result.model(X))
    assert payload["regularizer"] == "fourier" and payload["lambda"] == 0.5
    assert payload["regularizer_params"]["freq_limit"] == 5
    assert payload["best_epoch"] == result.best_epoch >= 1



class _WritesAFile:
    """Unpickled, it opens ``marker`` for writing: a stand-in for any code a planted
    checkpoint could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_checkpoint_that_would_run_code_is_refused_unrun(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "planted.pt"
    torch.save({"state_dict": {}, "model_config": {}, "x": _WritesAFile(marker)}, path)
    with pytest.raises(RegbenchError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert "\n" not in message and f"refused checkpoint {path}:" in message
    assert not marker.exists()


def test_random_bytes_are_an_unreadable_checkpoint_not_one_that_could_run_code(tmp_path):
    """Issue 42: weights_only's UnpicklingError of bytes that are no pickle was taken
    for a forbidden global ("could run code"). Random bytes are unreadable: a run scored
    again from them is trained again (``UnreadableCheckpoint``)."""
    import numpy as np

    from regbench.training.checkpoint import UnreadableCheckpoint
    path = tmp_path / "noise.pt"
    for seed in range(20):
        path.write_bytes(np.random.default_rng(seed).bytes(4096))
        with pytest.raises(UnreadableCheckpoint) as error:
            load_checkpoint(path)
        message = str(error.value)
        assert "could run code" not in message and "\n" not in message
        assert message.startswith(f"cannot read checkpoint {path} (corrupt")


def test_numpy_numbers_are_saved_plain_and_old_checkpoints_with_them_load(
        tmp_path, small_task, motif_split):
    train, valid = motif_split
    trainer = Trainer(small_task, regbench.get_regularizer("none"), 0.0,
                      TrainConfig(max_epochs=1, seed=3, device="cpu"))
    result = trainer.fit(train, valid, checkpoint=tmp_path / "m.pt")
    result.history[0]["val_loss"] = np.float32(0.25)
    result.best_epoch = np.int64(1)
    save_checkpoint(tmp_path / "new.pt", trainer, result)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "new.pt") == []
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    assert type(payload["best_epoch"]) is int and payload["history"][0]["val_loss"] == 0.25
    # a checkpoint written before numbers were made plain still loads
    old = {**payload, "best_epoch": np.int64(1), "best_val_loss": np.float64(0.25)}
    torch.save(old, tmp_path / "old.pt")
    _, loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded["best_epoch"] == 1 and loaded["best_val_loss"] == 0.25

def test_best_epoch_is_the_lowest_validation_loss(fit):
    result = fit("none", 0.0, epochs=6)
    losses = [r["val_loss"] for r in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert result.best_val_loss == min(losses)


def test_non_finite_loss_is_a_failed_run_not_a_crash(fit):
    result = fit("smoothness", 1e300)
    assert result.status.startswith("failed: non-finite")


@pytest.mark.parametrize("kwargs,match", [
    ({"lam": -1.0}, "λ"), ({"lam": float("nan")}, "λ")])
def test_bad_lambda(kwargs, match, small_task):
    with pytest.raises(RegbenchError, match=match):
        Trainer(small_task, regbench.get_regularizer("none"), kwargs["lam"])


def test_bad_train_config_and_device(small_task):
    with pytest.raises(RegbenchError, match="learning_rate"):
        TrainConfig(learning_rate=0).validate()
    if not torch.cuda.is_available():
        with pytest.raises(RegbenchError, match="CUDA is not available"):
            Trainer(small_task, regbench.get_regularizer("none"), 0, TrainConfig(device="cuda"))
    with pytest.raises(RegbenchError, match="needs a task"):
        Trainer(BinaryModelConfig(), regbench.get_regularizer("none"), 0)


@pytest.mark.filterwarnings("ignore:mixed_precision:RuntimeWarning")
@pytest.mark.parametrize("name", ["fourier", "smoothness", "sparsity"])
def test_mixed_precision_gives_the_same_penalty_within_tolerance(name):
    """bfloat16 autocast (the optional fast mode) must not change what the prior sees."""
    torch.manual_seed(0)
    config = BinaryModelConfig(seq_len=200, conv_filters=[16, 16], conv_widths=[15, 13],
                               pool_size=20, pool_stride=20)
    reg = regbench.get_regularizer(name)
    X = one_hot_codes(torch.randint(0, 4, (32, 200), dtype=torch.uint8))
    penalties = []
    for amp in (False, True):
        task = BinaryTask(dict(conv_filters=[16, 16], conv_widths=[15, 13], pool_size=20,
                               pool_stride=20), seq_len=200, n_tasks=1)
        trainer = Trainer(task, reg, 1.0, TrainConfig(device="cpu", mixed_precision=amp))
        model = regbench.models.BinaryCNN(config)
        torch.manual_seed(0)
        model.load_state_dict(regbench.models.BinaryCNN(config).state_dict())
        logits, penalty = trainer.penalty(model, X, len(X))
        assert logits.dtype == torch.float32
        penalties.append(penalty.item())
    assert penalties[1] == pytest.approx(penalties[0], rel=0.05)
    assert penalties[1] != penalties[0]  # autocast really ran in bfloat16


def test_data_kept_in_host_memory_trains_identically(fit):
    """The path for data too large for the device gives the same model as resident data."""
    resident = fit("fourier", 1.0, resident_data=True)
    streamed = fit("fourier", 1.0, resident_data=False)
    assert resident.history == streamed.history


def test_binary_cnn_blocks_follow_the_papers_order():
    """The authors' BinaryPredictor: conv -> ReLU -> batch norm, dense -> ReLU -> batch
    norm; batch norm before the ReLU is an option."""
    from torch import nn
    config = dict(seq_len=60, conv_filters=[4, 4], conv_widths=[5, 5], pool_size=10,
                  pool_stride=10, dense_sizes=[6])
    kinds = [type(m).__name__ for m in regbench.models.BinaryCNN(**config).layers]
    assert kinds == ["Conv1d", "ReLU", "BatchNorm1d", "Conv1d", "ReLU", "BatchNorm1d",
                     "MaxPool1d", "Flatten", "Linear", "ReLU", "BatchNorm1d", "Linear"]
    other = regbench.models.BinaryCNN(**config, batch_norm_position="before_relu").layers
    assert [type(m).__name__ for m in other][:3] == ["Conv1d", "BatchNorm1d", "ReLU"]
    relus = [m for m in other if isinstance(m, nn.ReLU)]
    assert len({id(m) for m in relus}) == len(relus) == 3  # each non-linearity used once
    with pytest.raises(RegbenchError, match="batch_norm_position"):
        BinaryModelConfig(batch_norm_position="after_bn").validate()


def test_mixed_precision_warns_where_bfloat16_is_emulated(monkeypatch, small_task):
    import warnings

    import regbench.training.train as train
    reg = regbench.get_regularizer("fourier")
    monkeypatch.setattr(train, "native_bfloat16", lambda device: False)
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        Trainer(small_task, reg, 1.0, TrainConfig(device="cpu", mixed_precision=True))
    monkeypatch.setattr(train, "native_bfloat16", lambda device: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(small_task, reg, 1.0, TrainConfig(device="cpu", mixed_precision=True))
        Trainer(small_task, reg, 1.0, TrainConfig(device="cpu"))  # float32: no check at all


def test_fit_records_what_a_step_costs(small_task, motif_split):
    """Steps counted, seconds per training step, the first step's peak memory."""
    from regbench.runner.executor import extra_backward_passes
    peaks = {}
    for name in ("none", "fourier"):
        trainer = Trainer(small_task, regbench.get_regularizer(name), 1.0,
                          TrainConfig(max_epochs=2, patience=5, batch_size=32, device="cpu"))
        result = trainer.fit(*motif_split)
        n = len(motif_split[0][0])           # 600 rows: 19 batches of 32 (the last 24)
        assert result.steps == -(-n // 32) * len(result.history) == 38
        assert 0 < result.train_step_seconds < result.seconds / result.steps * 2
        assert result.peak_step_bytes > 0
        peaks[name] = result.peak_step_bytes
        assert extra_backward_passes(trainer.regularizer, trainer.lam) == (name == "fourier")
    assert peaks["fourier"] > peaks["none"]       # double backprop keeps a graph


NOISY_STEP = """
import sys, torch
from regbench.training.train import with_peak_memory
box = [torch.randn(1000, 1000)]
def step():
    box.pop()   # frees a block allocated before profiling: torch warns about it
    print("a line of the step's own", file=sys.stderr)
    return torch.ones(10).sum()
print(float(with_peak_memory(step, torch.device("cpu"))[0]))
"""


def test_peak_memory_on_the_cpu_hides_only_the_profilers_warning():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", NOISY_STEP], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "10.0"
    assert "a line of the step's own" in done.stderr
    assert "allocated before the profiling started" not in done.stderr


def test_binary_reverse_complement_augmentation(small_task, motif_split):
    """[model] reverse_complement: half the batch (drawn from the epoch's generator)
    becomes its reverse complement, labels kept; off (the default) nothing is drawn."""
    sizes = {k: v for k, v in small_task.params.items() if k not in ("seq_len", "n_tasks")}
    task = BinaryTask({**sizes, "reverse_complement": True}, seq_len=small_task.seq_len,
                      n_tasks=1)
    codes, labels = motif_split[0]
    X, y = one_hot_codes(torch.as_tensor(codes[:16])), torch.as_tensor(labels[:16])
    flip = np.random.default_rng(4).random(16) < 0.5
    X2, y2 = task.augment(X, y, np.random.default_rng(4))
    assert flip.any() and not flip.all() and y2 is y
    for i in range(16):   # ACGT reversed is TGCA: the complement; positions reversed
        assert torch.equal(X2[i], X[i].flip(0, 1) if flip[i] else X[i])
    assert task.model_record()["reverse_complement"] is True
    rng = np.random.default_rng(4)
    assert small_task.augment(X, y, rng)[0] is X
    assert rng.random() == np.random.default_rng(4).random()   # nothing drawn
    assert "reverse_complement" not in small_task.model_record()  # records unchanged
    trainer = Trainer(task, regbench.get_regularizer("fourier", freq_limit=5), 0.5,
                      TrainConfig(max_epochs=1, seed=0, device="cpu"))
    assert trainer.fit(*motif_split).status == "ok"
    with pytest.raises(RegbenchError, match=r"\[model\] reverse_complement = 'yes'"):
        BinaryTask({"reverse_complement": "yes"}, seq_len=small_task.seq_len, n_tasks=1)


def test_reverse_complement_is_on_in_the_paper_preset_only():
    from regbench.options.config import preset_config
    assert preset_config("paper").model["reverse_complement"] is True
    for name in ("smoke", "quick"):
        assert "reverse_complement" not in preset_config(name).model
    config = preset_config("smoke")
    config.model = {**config.model, "reverse_complement": 1}
    with pytest.raises(RegbenchError, match=r"\[model\] reverse_complement = 1 is not valid"):
        config.validate()
