"""A training stopped mid-way goes on from its last snapshot and trains exactly what
the uninterrupted run trains: the same history, best epoch and weights, bit for bit
(regbench.training.resume)."""
import numpy as np
import pandas as pd
import pytest
import torch

import regbench
from regbench.options.settings import TrainConfig
from regbench.tasks import ProfileTask
from regbench.training import resume
from regbench.training.checkpoint import load_result
from regbench.training.train import Trainer

SMALL = dict(filters=8, n_dilated=2, profile_width=9, first_width=9)


class Stop(Exception):
    """Stands for the session ending: raised from the progress callback."""


def _profile_problem():
    """(task, train, valid) of a tiny profile problem with peaks and negatives, the
    reverse complements alongside, as the quick profile preset trains."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, (40, 60)).astype(np.uint8)
    signal = rng.poisson(0.3, (40, 2, 60)).astype(np.float32)
    signal[:16, :, 25:35] += 6.0                          # 16 peaks
    task = ProfileTask({**SMALL, "reverse_complement": "both", "output_length": 60},
                       seq_len=60, n_tasks=1)

    class Data:
        def __init__(self, s):
            self.signal, self.length, self.control = s, 60, None
    peaks = np.arange(40) < 16
    train = (codes[:30], task.targets(Data(signal[:30])), peaks[:30])
    valid = (codes[30:], task.targets(Data(signal[30:])), peaks[30:])
    return task, train, valid


def _trainer(task, name, lam, **config):
    reg = regbench.get_regularizer(name, **({"freq_limit": 5} if name == "fourier" else {}))
    return Trainer(task, reg, lam, TrainConfig(device="cpu", seed=4, **config))


def _interrupted(make, train, valid, path, stop_after):
    """Fit with ``make()``'s trainer, stopped after epoch ``stop_after``, then fit again
    with a new trainer on the same checkpoint path. Returns the second fit's result."""
    def stop(epoch, record):
        if epoch == stop_after:
            raise Stop
    with pytest.raises(Stop):
        make().fit(train, valid, checkpoint=path, progress=stop)
    assert resume.snapshot_path(path).is_file()
    return make().fit(train, valid, checkpoint=path)


def _same(a, b):
    assert a.history == b.history
    assert (a.best_epoch, a.best_val_loss, a.steps, a.converged) == \
        (b.best_epoch, b.best_val_loss, b.steps, b.converged)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name,lam,config", [
    # the quick profile preset's training: their epoch, their rule, Fourier's prior
    ("fourier", 0.5, dict(epoch="peaks", stopping="authors", batch_size=8, max_epochs=6)),
    ("none", 0.0, dict(stopping="patience", patience=2, batch_size=8, max_epochs=6)),
])
def test_a_stopped_profile_run_resumes_to_the_uninterrupted_result(
        tmp_path, monkeypatch, name, lam, config):
    monkeypatch.setattr(resume, "SNAPSHOT_SECONDS", 0.0)   # a snapshot every epoch
    task, train, valid = _profile_problem()
    make = lambda: _trainer(task, name, lam, **config)     # noqa: E731
    whole = make().fit(train, valid, checkpoint=tmp_path / "whole.pt")
    assert len(whole.history) >= 4                          # stopped at 3: a real resume
    path = tmp_path / "run.pt"
    resumed = _interrupted(make, train, valid, path, stop_after=3)
    _same(whole, resumed)
    assert not resume.snapshot_path(path).exists()          # the checkpoint holds it now
    _same(whole, load_result(path))


def test_a_binary_run_with_a_random_batch_transform_resumes_exactly(
        tmp_path, monkeypatch, small_task, motif_split):
    """EvoAug draws from the trainer's generator, batches from the NumPy one."""
    monkeypatch.setattr(resume, "SNAPSHOT_SECONDS", 0.0)
    make = lambda: Trainer(small_task, regbench.get_regularizer("evoaug"), 1.0,  # noqa: E731
                           TrainConfig(device="cpu", seed=2, max_epochs=4, patience=9,
                                       batch_size=64))
    whole = make().fit(*motif_split)
    _same(whole, _interrupted(make, *motif_split, tmp_path / "run.pt", stop_after=2))


def test_snapshots_wait_their_interval(tmp_path, small_task, motif_split):
    """At the default interval a run of seconds writes none (nor leaves one)."""
    path = tmp_path / "run.pt"

    def look(epoch, record):
        assert not resume.snapshot_path(path).exists()
    Trainer(small_task, regbench.get_regularizer("none"), 0.0,
            TrainConfig(device="cpu", max_epochs=3, batch_size=64)).fit(
        *motif_split, checkpoint=path, progress=look)
    assert path.is_file()


def test_another_trainings_or_a_broken_snapshot_is_set_aside(
        tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(resume, "SNAPSHOT_SECONDS", 0.0)
    task, train, valid = _profile_problem()
    path = tmp_path / "run.pt"
    make = lambda lam: _trainer(task, "fourier", lam, batch_size=8, max_epochs=4)  # noqa: E731

    def stop(epoch, record):
        if epoch == 2:
            raise Stop
    with pytest.raises(Stop):
        make(0.5).fit(train, valid, checkpoint=path, progress=stop)
    capfd.readouterr()
    other = make(0.25).fit(train, valid, checkpoint=path)     # another λ: from epoch 1
    assert "(it was written by another training); training from epoch 1" in capfd.readouterr().err
    _same(other, make(0.25).fit(train, valid))

    resume.snapshot_path(path).write_bytes(b"not a snapshot")
    again = make(0.25).fit(train, valid, checkpoint=path)
    err = capfd.readouterr().err
    assert "ignoring the snapshot" in err and "corrupt" in err
    _same(other, again)
    assert not resume.snapshot_path(path).exists()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("data"))


def test_a_run_stopped_mid_model_resumes_to_the_same_record(data_dir, tmp_path, tune_kit,
                                                            monkeypatch):
    """The executor trains a run on its store's checkpoint path, so a run stopped in
    its second epoch and started again stores the record the whole run stores."""
    monkeypatch.setattr(resume, "SNAPSHOT_SECONDS", 0.0)

    def executor(out):
        bench = tune_kit.make_bench(data_dir, out, ["fourier"])
        bench.context.check_data()
        return bench

    whole = executor(tmp_path / "whole")
    expected = whole.executor.train_one("fourier", 0)

    def stop(epoch, record):
        if epoch == 2:
            raise Stop
    stopped = executor(tmp_path / "stopped")
    with pytest.raises(Stop):
        stopped.executor.train_one("fourier", 0, epoch_callback=stop)
    key = stopped.context.key("fourier", 0)
    assert resume.snapshot_path(stopped.context.store.checkpoint_path(key)).is_file()
    got = executor(tmp_path / "stopped").executor.train_one("fourier", 0)
    assert got["history"] == expected["history"]
    timing = ("train_seconds", "step_seconds", "peak_mib")
    assert {k: v for k, v in got["row"].items() if k not in timing} == \
        {k: v for k, v in expected["row"].items() if k not in timing}
    pd.testing.assert_frame_equal(pd.DataFrame(got["per_sequence"]),   # NaN equals NaN
                                  pd.DataFrame(expected["per_sequence"]))
