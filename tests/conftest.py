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
