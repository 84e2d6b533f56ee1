"""Atomic writes: whole files only, with the permissions a plain open() would give."""
import os
import stat

import numpy as np
import pandas as pd
import pytest

from regbench.store import atomic_write, atomic_write_csv, atomic_write_npz


@pytest.fixture
def umask():
    def set_umask(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_umask_permissions(tmp_path, umask, mask, mode):
    umask(mask)
    paths = [atomic_write(tmp_path / "a" / "x.txt", "text"),
             atomic_write_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.csv"),
             atomic_write_npz(tmp_path / "z.npz", x=np.arange(3))]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == mode
    assert (tmp_path / "t.csv").read_text() == "a\n1\n2\n"
    with np.load(tmp_path / "z.npz") as npz:
        np.testing.assert_array_equal(npz["x"], [0, 1, 2])


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = atomic_write(tmp_path / "x.txt", "old")

    class Boom(str):
        def encode(self, *args):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, Boom("new"))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_run_store_round_trips_records_and_arrays(tmp_path):
    from regbench.store import RunKey, RunStore
    store = RunStore(tmp_path)
    key = RunKey("data1", "fourier", 0.5, 3, 1.0, "cfg", "ev")
    assert store.load(key) is None
    record = {"row": {"val_loss": np.float32(0.25), "epochs": np.int64(4)},
              "history": [{"epoch": 1}]}
    store.save(key, record)
    assert store.load(key) == {"row": {"val_loss": 0.25, "epochs": 4},
                               "history": [{"epoch": 1}]}
    # Keys differ in any field, e.g. the evaluation settings.
    assert RunKey("data1", "fourier", 0.5, 3, 1.0, "cfg", "other").id() != key.id()
    attr = np.zeros((2, 4, 5))
    attr[0, 1] = [1, -2, 3, 0, 0.5]
    path = store.save_attributions(key, attr, ["a", "b"])
    with np.load(tmp_path / path) as npz:
        np.testing.assert_array_equal(npz["attr"], attr.sum(axis=1).astype(np.float16))
        assert list(npz["names"]) == ["a", "b"] and npz["attr"].dtype == np.float16
    X = np.eye(4)[[0, 1, 2, 3, 0]].T[None]
    store.save_examples("fourier", X, X * 2, None, ["a"])
    with np.load(tmp_path / "examples" / "fourier.npz") as npz:
        np.testing.assert_array_equal(npz["attr"], X * 2)
        assert npz["motif_mask"].shape == (1, 5) and not npz["motif_mask"].any()
