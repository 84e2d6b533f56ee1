"""Atomic writes: whole files only, with the permissions a plain open() would give."""
import errno
import os
import stat

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regbench.store.runs import atomic_write, atomic_write_csv, atomic_write_npz


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
    from regbench.store.runs import RunKey, RunStore
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
        assert "hypothetical" not in npz
    hypothetical = np.arange(40.0).reshape(2, 4, 5) / 7
    path = store.save_attributions(key, attr, ["a", "b"], hypothetical=hypothetical)
    with np.load(tmp_path / path) as npz:
        np.testing.assert_array_equal(npz["hypothetical"], hypothetical.astype(np.float16))
        np.testing.assert_array_equal(npz["attr"], attr.sum(axis=1).astype(np.float16))
    X = np.eye(4)[[0, 1, 2, 3, 0]].T[None]
    store.save_examples("fourier", X, X * 2, None, ["a"])
    with np.load(tmp_path / "examples" / "fourier.npz") as npz:
        np.testing.assert_array_equal(npz["attr"], X * 2)
        assert npz["motif_mask"].shape == (1, 5) and not npz["motif_mask"].any()


def test_writers_with_one_pid_never_share_a_temporary(tmp_path, monkeypatch):
    """Workers in containers on one shared folder often have the same PID; a temporary
    named by the PID was truncated by the other writer, whose rename then took it."""
    import regbench.store.runs as store
    monkeypatch.setattr(os, "getpid", lambda: 7)
    target = tmp_path / "results.csv"
    real_replace = os.replace
    renamed = []

    def replace(src, dst):   # the other container writes the same file meanwhile
        renamed.append(Path(src).name)
        if len(renamed) == 1:
            atomic_write(target, "other\n")
        real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", replace)
    atomic_write(target, "mine\n")
    assert renamed[0] != renamed[1]
    assert target.read_text() == "mine\n"   # the later rename wins, a whole file
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_a_write_is_on_disk_before_its_rename_and_the_rename_after(tmp_path, monkeypatch):
    import regbench.store.runs as store
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(store.os, "fsync", lambda fd: (
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file"),
        real_fsync(fd)))
    monkeypatch.setattr(store.os, "replace", lambda a, b: (events.append("rename"),
                                                           real_replace(a, b)))
    atomic_write(tmp_path / "x.json", "{}")
    assert events == ["fsync file", "rename", "fsync folder"]


def test_an_unreadable_record_counts_as_missing_with_a_note(tmp_path, capsys):
    from regbench.store.runs import RunKey, RunStore
    store = RunStore(tmp_path)
    key = RunKey("data1", "fourier", 0.5, 3, 1.0, "cfg", "ev")
    path = store.save(key, {"row": {"val_loss": 0.25}})
    path.write_text(path.read_text()[:9])   # truncated: a power loss on a disk that lied
    assert store.load(key) is None and store.load_id(key.id()) is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith(f"note: {path} cannot be read (")
    assert err[0].endswith("its run counts as missing and is trained again")
    assert RunStore(tmp_path).write_grid_tables([[key.id(), 1.0]]) == 1   # missing


def test_a_run_whose_record_and_checkpoint_are_unreadable_is_trained_again(
        tmp_path, tune_kit, capsys):
    bench = tune_kit.make_bench(tune_kit.make_dataset(tmp_path / "data", n=48),
                                tmp_path / "out", ["none"])
    bench.context.check_data()
    first = bench.executor.train_one("none", 0, evaluate=False)
    key = bench.context.key("none", 0)
    store = bench.context.store
    record, checkpoint = store.record_path(key), store.checkpoint_path(key)
    record.write_text(record.read_text()[:30])
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    again = bench.executor.train_one("none", 0, evaluate=False)
    err = capsys.readouterr().err
    # one note, the record's: the run is trained again, its checkpoint not even read
    assert err.count("cannot be read") == 1 and f"note: {record} cannot be read" in err
    assert again["row"]["epochs"] == first["row"]["epochs"]
    assert again["history"] == first["history"]   # trained again, the same way
    assert bench.context.store.load(key) == again   # stored whole again
    from regbench.training.train import load_result
    assert load_result(checkpoint).best_epoch == first["row"]["best_epoch"]


def test_a_second_run_on_a_locked_folder_gets_one_line(tmp_path, tune_kit, capsys):
    from regbench.cli import main
    data, out = tune_kit.make_dataset(tmp_path / "data", n=48), tmp_path / "out"
    args = ["run", "--data", str(data), "--out", str(out), "--preset", "smoke",
            "--regularizers", "none", "--seeds", "1", "--no-tune", "--device", "cpu",
            "--no-progress"]
    import fcntl
    out.mkdir()
    with open(out / ".lock", "w") as other:   # another regbench run, writing this folder
        other.write("node7:4242\n")
        other.flush()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"regbench run: error: {out} is in use by another regbench run "
                       "(node7:4242): wait for it to finish, give another --out, or let "
                       "several processes share the work with --storage URL (or "
                       "--workers N)"]
        assert not (out / "results.csv").exists() and not (out / "runs").exists()
    from regbench.store.runs import lock_folder
    with lock_folder(out) as path:   # released when its holder ended
        assert path.read_text().endswith(f":{os.getpid()}\n")


def test_a_simulated_folder_is_on_disk_before_it_is_renamed_into_place(tmp_path,
                                                                       monkeypatch):
    from regbench.simulate import writers
    synced, real_fsync = [], os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (
        synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    with writers.atomic_directory(tmp_path / "data", force=False) as tmp:
        (tmp / "labels.tsv").write_text("x\n")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.bed").write_text("a\n")
    assert synced == [str(tmp / "labels.tsv"), str(tmp), str(tmp / "sub" / "a.bed"),
                      str(tmp / "sub"), str(tmp_path)]
    assert (tmp_path / "data" / "sub" / "a.bed").read_text() == "a\n"


def test_a_full_disk_keeps_the_old_file_and_is_one_line(tmp_path, monkeypatch, capsys):
    import errno

    import regbench.commands.regularizers as command
    from regbench.cli import main
    target = atomic_write(tmp_path / "results.csv", "old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    monkeypatch.setattr(command, "main", lambda args: atomic_write(target, "new\n"))
    assert main(["regularizers"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "regbench regularizers: error: No space left on device; free some space (or raise "
        "the quota) and rerun the same command: finished results are kept, and no file "
        "was left half-written"]
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == [
        "results.csv"]


def test_two_runs_on_one_folder_give_one_complete_results_table(tmp_path, tune_kit):
    """Before the lock both trained every run, and the later one wrote a results.csv
    of its own runs only."""
    import subprocess
    import sys
    import time
    data, out = tune_kit.make_dataset(tmp_path / "data", n=48), tmp_path / "out"
    config = tmp_path / "slow.toml"   # runs of a few seconds: the second starts meanwhile
    config.write_text("[train]\nmax_epochs = 30\npatience = 30\n")
    command = [sys.executable, "-m", "regbench.cli", "run", "--data", str(data), "--out",
               str(out), "--preset", "smoke", "--regularizers", "none,l2", "--seeds", "2",
               "--no-tune", "--threads", "1", "--no-progress", "--device", "cpu",
               "--config", str(config)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    lock = out / ".lock"
    deadline = time.time() + 120
    while not (lock.is_file() and lock.read_text().endswith(f":{first.pid}\n")):
        assert time.time() < deadline and first.poll() is None, "the first run never started"
        time.sleep(0.1)
    holder = lock.read_text().strip()   # HOST:PID of the first
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.poll() is None, "the first run ended before the second was refused"
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"regbench run: error: {out} is in use by another regbench run ({holder}): wait "
        "for it to finish, give another --out, or let several processes share the work "
        "with --storage URL (or --workers N)"]
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    results = pd.read_csv(out / "results.csv")
    assert sorted(set(zip(results["regularizer"], results["seed"]))) == [
        ("l2", 0), ("l2", 1), ("none", 0), ("none", 1)]


def _small_run(tune_kit, tmp_path, *extra) -> list[str]:
    """`regbench run` arguments of one short smoke run (none, seed 0) into tmp/out."""
    data = tune_kit.make_dataset(tmp_path / "data", n=48)
    return ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--preset", "smoke",
            "--regularizers", "none", "--seeds", "1", "--no-tune", "--device", "cpu",
            "--no-progress", *extra]


def _hold(path, mode, text=None):
    """Another process's lock on ``path`` (flock: another open file conflicts as
    another process would)."""
    import fcntl
    handle = open(path, "a+")
    if text is not None:
        handle.write(text)
        handle.flush()
    fcntl.flock(handle, mode | fcntl.LOCK_NB)
    return handle


def test_a_run_with_a_storage_is_kept_off_a_folder_a_plain_run_writes(tmp_path, tune_kit,
                                                                     capsys):
    """Before: with a storage the folder lock was skipped, so it trained into the folder
    and wrote results.csv over the plain run's."""
    import fcntl

    from regbench.cli import main
    out = tmp_path / "out"
    args = _small_run(tune_kit, tmp_path, "--storage", f"sqlite:///{tmp_path / 's.db'}")
    out.mkdir()
    with _hold(out / ".lock", fcntl.LOCK_EX, "node7:4242\n"):
        assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"regbench run: error: {out} is in use by another regbench run (node7:4242): wait "
        "for it to finish, give another --out, or let several processes share the work "
        "with --storage URL (or --workers N)"]
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_workers_of_another_grid_are_kept_off_the_folder_and_one_grid_shares_it(
        tmp_path, tune_kit, capsys):
    """Two processes with one storage and one --out: the workers of one grid share the
    folder (as on NFS); a grid of other options would write results.csv, grid.json and
    config.json of its own over theirs."""
    import fcntl

    from regbench.cli import main
    out = tmp_path / "out"
    args = _small_run(tune_kit, tmp_path, "--storage", f"sqlite:///{tmp_path / 's.db'}",
                      "--study-name", "t")
    out.mkdir()
    with _hold(out / ".lock", fcntl.LOCK_SH, "node7:4242\n"), \
            _hold(out / ".grid.lock", fcntl.LOCK_SH, "node7:4242 other-grid\n"):
        assert main(args) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"regbench run: error: {out} is in use by the workers of another seed grid "
            "(study 'other-grid', node7:4242): give this run another --out, or run it with "
            "the same options as theirs to join that grid"]
        assert not (out / "grid.json").exists() and not (out / "runs").exists()
    (out / ".grid.lock").unlink()
    with _hold(out / ".lock", fcntl.LOCK_SH, "node7:4242\n"), \
            _hold(out / ".grid.lock", fcntl.LOCK_SH, "node7:4242 t-grid\n"):
        assert main(args) == 0   # a worker of the same grid joins it
    results = pd.read_csv(out / "results.csv")
    assert list(results.drop_duplicates(["regularizer", "seed"])["regularizer"]) == ["none"]
    from regbench.errors import RegbenchError
    from regbench.store.locks import lock_grid
    with lock_grid(out, "my study-grid"), lock_grid(out, "my study-grid"):   # a space too
        with pytest.raises(RegbenchError, match="another seed grid \\(study 'my study-grid'"):
            with lock_grid(out, "b-grid"):
                pass


def test_an_out_in_a_read_only_folder_is_one_line_and_exit_2(tmp_path, tune_kit, capsys,
                                                             read_only):
    """Before: a traceback (OSError from mkdir)."""
    from regbench.cli import main
    parent = tmp_path / "shared"
    parent.mkdir()
    args = _small_run(tune_kit, tmp_path)
    out = parent / "out"
    args[args.index("--out") + 1] = str(out)
    read_only(parent)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"regbench run: error: cannot write in the results folder {out} (")
    assert err.count("\n") == 1 and "nothing was written" in err
    assert not out.exists()


def test_a_rerun_or_a_report_in_a_read_only_folder_is_one_line_and_exit_2(
        tmp_path, tune_kit, capsys, read_only):
    """The lock file cannot be created (or written): one line, nothing changed. Before:
    a traceback."""
    from regbench.cli import main
    args = _small_run(tune_kit, tmp_path)
    out = tmp_path / "out"
    assert main(args) == 0
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    read_only(out)
    for command in (args, ["report", str(out)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"regbench {command[0]}: error: cannot write in the results "
                              f"folder {out} (")
        assert err.count("\n") == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files


def _full_study(path):
    """An Optuna study in a SQLite file that cannot grow past its present pages, so the
    next commit fails as on a full disk (Optuna's own exception chain)."""
    import sqlite3

    import optuna
    optuna.create_study(storage=f"sqlite:///{path}", study_name="s")
    pages = sqlite3.connect(path).execute("pragma page_count").fetchone()[0]

    def pinned():
        connection = sqlite3.connect(path)
        connection.execute(f"pragma max_page_count={pages}")
        return connection
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}",
                                         engine_kwargs={"creator": pinned})
    return optuna.load_study(storage=storage, study_name="s")


def test_a_full_study_database_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    import optuna

    import regbench.commands.regularizers as command
    from regbench.cli import main
    study = _full_study(tmp_path / "grid.db")

    def fill(args):
        for _ in range(1000):
            trial = study.ask()
            trial.set_user_attr("note", "x" * 1000)
            study.tell(trial, 1.0)
    with pytest.raises(optuna.exceptions.StorageInternalError):   # what Optuna raises
        fill(None)
    monkeypatch.setattr(command, "main", fill)
    capsys.readouterr()                       # Optuna's own log lines
    assert main(["regularizers"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "regbench regularizers: error: the SQLite database or its disk is full; free some "
        "space (or raise the quota) and rerun the same command: finished results are "
        "kept, and no file was left half-written"]


def test_disk_full_reads_the_chain_and_nothing_else():
    from regbench.errors import disk_full

    class DiskFull(Exception):        # psycopg's class for SQLSTATE 53100
        pgcode = "53100"
    try:
        try:
            raise DiskFull("could not extend file")
        except DiskFull as inner:
            raise RuntimeError("commit failed") from inner
    except RuntimeError as outer:
        assert disk_full(outer) == "the database server's disk is full"
    assert disk_full(OSError(errno.EDQUOT, "Disk quota exceeded", "x.csv")) == (
        "Disk quota exceeded writing x.csv")
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None
    assert disk_full(ValueError("database is locked")) is None


@pytest.mark.parametrize("links", [True, False])
def test_an_adopted_checkpoint_is_linked_or_copied_whole_and_never_replaces_one(
        tmp_path, monkeypatch, links):
    from regbench.store.runs import RunKey, RunStore
    key = RunKey("sim", "none", 0.0, 0, 1.0, "cfg", "ev")
    source = tmp_path / "other.pt"
    source.write_bytes(b"weights")
    if not links:   # another file system: os.link fails, the bytes are copied
        monkeypatch.setattr(os, "link", lambda *a: (_ for _ in ()).throw(OSError(18, "x")))
    store = RunStore(tmp_path / "out")
    store.adopt_checkpoint(key, source)
    target = store.trained(key)
    assert target.read_bytes() == b"weights"
    assert os.path.samefile(source, target) == links
    assert os.listdir(target.parent) == [target.name]      # no temporary left
    store.adopt_checkpoint(key, tmp_path / "missing.pt")     # has one: left alone
    assert target.read_bytes() == b"weights"
