"""Shared test settings."""
import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_index_cache(tmp_path_factory):
    """FASTA indexes regbench builds go to a folder of this test session, not the
    user's ~/.cache (subprocesses inherit it through the environment)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("REGBENCH_CACHE", str(tmp_path_factory.mktemp("regbench_cache")))
    yield
    mp.undo()


# -- a small binary problem shared by the trainer tests (CPU and CUDA) -----------------

# One conv layer and a global max pool: enough for a single 8-mer, and fast.
SMALL_MODEL = dict(conv_filters=[16], conv_widths=[9], pool_size=52, pool_stride=52,
                   dense_sizes=[8])
SMALL_LENGTH = 60


def _motif_problem(n=800, length=SMALL_LENGTH, seed=0):
    """Positives carry TGACGTCA at a random place; negatives are random background.
    Returns codes (n, length) uint8 and labels (n, 1) float32, alternating 0/1."""
    import numpy as np
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    labels = (np.arange(n) % 2).astype(np.float32)[:, None]
    motif = np.array([3, 2, 0, 1, 2, 3, 1, 0], np.uint8)
    for i in np.flatnonzero(labels[:, 0]):
        start = rng.integers(0, length - len(motif))
        codes[i, start:start + len(motif)] = motif
    return codes, labels


@pytest.fixture(scope="session")
def make_motif_problem():
    """The motif problem's maker, ``(n, length, seed) -> (codes, labels)``, for
    module-scoped fixtures."""
    return _motif_problem


@pytest.fixture
def motif_problem():
    """The factory ``motif_problem(n=800, length=60, seed=0) -> (codes, labels)``."""
    return _motif_problem


@pytest.fixture
def motif_split():
    """((train codes, labels), (valid codes, labels)): 600 and 200 rows."""
    codes, labels = _motif_problem()
    return (codes[:600], labels[:600]), (codes[600:], labels[600:])


@pytest.fixture
def small_task():
    """The binary task of the small one-conv model on 60 bp, one output."""
    from regbench.tasks import BinaryTask
    return BinaryTask(SMALL_MODEL, seq_len=SMALL_LENGTH, n_tasks=1)


@pytest.fixture
def fit(small_task, motif_split):
    """``fit(regularizer, λ, seed=0, epochs=2, device="cpu", **TrainConfig) ->
    TrainResult`` on the motif problem."""
    import regbench
    from regbench.training.train import Trainer, TrainConfig

    def run(name, lam, seed=0, epochs=2, device="cpu", **kw):
        config = TrainConfig(max_epochs=epochs, patience=5, batch_size=32, seed=seed,
                             device=device, **kw)
        return Trainer(small_task, regbench.get_regularizer(name), lam, config).fit(
            *motif_split)
    return run


# -- λ-search helpers shared by test_tune and test_tune_postgres (fixture tune_kit) -------

import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

MOTIF = "TGACTCAGCA"


def make_dataset(folder, n=120, length=100, seed=0) -> Path:
    """A tiny dataset folder: half the sequences carry MOTIF (listed in motifs.bed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    splits = ["train"] * 8 + ["valid"] * 2 + ["test"] * 2
    fasta, labels, bed = [], ["name\tbound\tsplit"], []
    for i in range(n):
        seq = "".join(np.array(list("ACGT"))[rng.integers(0, 4, length)])
        positive = i % 2
        if positive:
            start = int(rng.integers(0, length - len(MOTIF)))
            seq = seq[:start] + MOTIF + seq[start + len(MOTIF):]
            bed.append(f"seq{i}\t{start}\t{start + len(MOTIF)}\tAP1\t0\t+")
        fasta.append(f">seq{i}\n{seq}")
        labels.append(f"seq{i}\t{positive}\t{splits[(i // 2) % len(splits)]}")
    (folder / "sequences.fa").write_text("\n".join(fasta) + "\n")
    (folder / "labels.tsv").write_text("\n".join(labels) + "\n")
    (folder / "motifs.bed").write_text("\n".join(bed) + "\n")
    from regbench.data import load_dataset
    load_dataset(folder)  # builds the FASTA index now, not in racing workers
    return folder


def make_bench(data_dir, out, regularizers=("l2",)):
    """A smoke-preset Benchmark on data_dir, for the given regularizers, on the CPU."""
    from regbench.bench import Benchmark
    from regbench.options.config import preset_config
    config = preset_config("smoke")
    config.data, config.scenario = str(data_dir), None
    config.out, config.regularizers = str(out), list(regularizers)
    config.progress, config.device = False, "cpu"
    return Benchmark(config)


def check_dead_worker_is_retried(data_dir, out, url, name, monkeypatch):
    """A worker starts a trial, beats once and dies; the next worker fails its trial
    after the grace period and runs it again, with the same λ."""
    import optuna

    import regbench.tune as tune
    from regbench.regularizers import get_spec
    import regbench.tune.storage
    monkeypatch.setattr(tune.storage, "HEARTBEAT_INTERVAL", 1)
    monkeypatch.setattr(tune.storage, "GRACE_PERIOD", 1)
    study = tune.open_study(url, name, "loss", seed=0)
    dead = study.ask()
    lam = dead.suggest_float("lambda", *get_spec("l2").lambda_range, log=True)
    study._storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)
    result = make_bench(data_dir, out).search.search_lambda(
        "l2", n_trials=1, trial_epochs=1, storage=url, study_name=name, progress=False)
    states = result.trials.set_index("trial")["state"].to_dict()
    assert states == {0: "failed", 1: "complete"} and result.best_lambda == lam
    retry = optuna.load_study(study_name=name, storage=tune.open_storage(url)).trials[1]
    assert retry.system_attrs["failed_trial"] == 0


def start_worker(data_dir, out, *extra) -> subprocess.Popen:
    """A `regbench tune` process for l2 (one log line per finished trial on stderr)."""
    cmd = [sys.executable, "-m", "regbench.cli", "tune", "--data", str(data_dir),
           "--preset", "smoke", "--regularizers", "l2", "--trial-epochs", "2",
           "--out", str(out), "--no-progress", *extra]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def finish(workers) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of each worker; both workers must have run trials."""
    outputs = []
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=300)
        outputs.append((worker.returncode, stdout, stderr))
    for code, stdout, stderr in outputs:
        assert code == 0, stderr
        assert "next: regbench run --lambda l2=" in stdout
    return outputs


def finished_trials(log: str) -> int:
    """Trials a worker finished, from Optuna's log lines (surplus trials don't count)."""
    return len(re.findall(r"\] Trial \d+ (?:finished|pruned)", log))


def check_shared_study(study, n_trials) -> None:
    """Exactly n finished trials, none left running or waiting, no λ trained twice."""
    from optuna.trial import TrialState
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == n_trials
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    assert len({t.params["lambda"] for t in finished}) == n_trials
    assert len({t.number for t in study.trials}) == len(study.trials)


def same_results(got, expected) -> None:
    """Two results tables equal in every column but the timings (train_seconds,
    step_seconds, peak_mib), the only ones that differ between equal runs."""
    import pandas as pd
    timing = ["train_seconds", "step_seconds", "peak_mib"]
    pd.testing.assert_frame_equal(got.drop(columns=timing), expected.drop(columns=timing))


@pytest.fixture(scope="session")
def tune_kit():
    """The λ-search and run helpers: make_dataset, make_bench, start_worker, finish,
    finished_trials, check_shared_study, check_dead_worker_is_retried, same_results."""
    return SimpleNamespace(**{f.__name__: f for f in (
        make_dataset, make_bench, start_worker, finish, finished_trials, check_shared_study,
        check_dead_worker_is_retried, same_results)})


@pytest.fixture(autouse=True)
def _alone_on_the_machine(monkeypatch):
    """Tests see no other regbench process: the oversubscription warning
    (regbench.runtime.threads) must not depend on what else runs on the test machine."""
    monkeypatch.setattr("regbench.runtime.threads.other_regbench_processes", lambda *a, **k: [])


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test that runs a Benchmark with ``threads`` set changes torch's threads for
    the whole process; the thread count changes float32 summation order, so later
    tests' numbers would depend on the order tests ran in."""
    import torch
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _random_genome(rng, chroms, motif="GAGGAAGTG"):
    """30 kb per chromosome in 3-kb blocks of GC 0.35-0.65, 8 peaks each with ``motif``
    (SPI1-like) planted at the summit. Returns ({chrom: sequence}, peaks as (chrom,
    start, end, summit offset))."""
    sequences, peaks = {}, []
    for chrom in chroms:
        blocks = []
        for _ in range(10):
            gc = rng.uniform(0.35, 0.65)
            blocks.append(rng.choice(list("ACGT"), 3000, p=[(1 - gc) / 2, gc / 2, gc / 2,
                                                             (1 - gc) / 2]))
        seq = np.concatenate(blocks)
        for k in range(8):
            start = 1000 + 3500 * k + int(rng.integers(0, 500))
            offset = int(rng.integers(40, 160))
            seq[start + offset - 4:start + offset + 5] = list(motif)
            peaks.append((chrom, start, start + 200, offset))
        sequences[chrom] = "".join(seq)
    return sequences, peaks


@pytest.fixture(scope="session")
def random_genome():
    """The synthetic genome builder the genome and fetch tests share."""
    return _random_genome



@pytest.fixture
def read_only(monkeypatch):
    """read_only(folder): an existing ``folder`` becomes read-only for this process, as
    on a read-only mount: for a user, its modes lose their write bits (given back at the
    end); for root, whom modes do not stop, every open for writing, mkdir, rename and
    unlink under it fails with EROFS."""
    import builtins
    import errno
    import io
    import os
    from pathlib import Path
    changed = []

    def make(folder):
        folder = os.path.abspath(folder)
        if os.geteuid() != 0:
            for path in [Path(folder), *Path(folder).rglob("*")]:
                mode = path.stat().st_mode
                changed.append((path, mode))
                path.chmod(mode & ~0o222)
            return

        def inside(path) -> bool:
            if isinstance(path, int):
                return False
            path = os.path.abspath(os.fsdecode(path))
            return path == folder or path.startswith(folder + os.sep)

        def refuse(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

        real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir
        real_rename, real_replace, real_unlink = os.rename, os.replace, os.unlink

        def fake_open(file, mode="r", *args, **kwargs):
            if any(c in mode for c in "wax+") and inside(file):
                refuse(file)
            return real_open(file, mode, *args, **kwargs)

        def fake_os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
                refuse(path)
            return real_os_open(path, flags, *args, **kwargs)

        def fake_mkdir(path, *args, **kwargs):
            if inside(path):
                if os.path.lexists(path):
                    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
                refuse(path)
            return real_mkdir(path, *args, **kwargs)

        def guard(real):
            def fake(*paths, **kwargs):
                for path in paths:
                    if inside(path):
                        refuse(path)
                return real(*paths, **kwargs)
            return fake
        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)
        monkeypatch.setattr(os, "open", fake_os_open)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)
        monkeypatch.setattr(os, "rename", guard(real_rename))
        monkeypatch.setattr(os, "replace", guard(real_replace))
        monkeypatch.setattr(os, "unlink", guard(real_unlink))
    yield make
    for path, mode in reversed(changed):
        path.chmod(mode)
