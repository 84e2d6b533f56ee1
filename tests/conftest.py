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
    from regbench.train import Trainer, TrainConfig

    def run(name, lam, seed=0, epochs=2, device="cpu", **kw):
        config = TrainConfig(max_epochs=epochs, patience=5, batch_size=32, seed=seed,
                             device=device, **kw)
        return Trainer(small_task, regbench.get_regularizer(name), lam, config).fit(
            *motif_split)
    return run
