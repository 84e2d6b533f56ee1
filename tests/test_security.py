"""What a shared database, a shared folder or a crafted table names is checked before
regbench writes or reads there: file paths stay inside the results folder."""
import io
import json
import re
import types
import uuid

import numpy as np
import pandas as pd
import pytest
from optuna.artifacts import FileSystemArtifactStore

from regbench.errors import RegbenchError
from regbench.store.runs import folder_file
from regbench.distributed.workers import gather, run_files

RUN = "none_seed0_0123456789"   # a run id (RunKey.id) of the grid below
CELLS = {RUN: ("none", (0,), 1.0)}
RUNS = [[RUN, 1.0]]


@pytest.fixture
def shared(tmp_path):
    """(artifact store, artifact id of a file holding b"payload", results folder)."""
    store = FileSystemArtifactStore(tmp_path / "artifacts")
    (tmp_path / "artifacts").mkdir()
    artifact = str(uuid.uuid4())
    store.write(artifact, io.BytesIO(b"payload"))
    return store, artifact, tmp_path / "out"


def _owners(files: dict) -> dict:
    """{cell: a COMPLETE grid trial} whose ``files`` attribute the database holds."""
    return {RUN: types.SimpleNamespace(user_attrs={"files": files})}


def test_gather_fetches_the_files_of_a_cells_runs(shared):
    store, artifact, out = shared
    files = {f"runs/{RUN}.json": artifact, f"attributions/{RUN}.npz": artifact,
             "checkpoints/none_seed0_abcdef0123.pt": artifact,
             "examples/none.npz": artifact}
    assert gather(_owners(files), store, out, CELLS, RUNS) == 4
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == \
        sorted(files)
    assert all((out / path).read_bytes() == b"payload" for path in files)


@pytest.mark.parametrize("path", [
    "ABSOLUTE/evil.pth",                       # an absolute path (site-packages, ~/.bashrc)
    "../evil.pth", "runs/../../evil.pth",      # out of the folder by ..
    "checkpoints/../../evil.pth",
    f"runs/{RUN}.json/../../../evil.pth",
    "runs/other_seed0_0123456789.json",       # another run's record
    "checkpoints/none_seed1_abcdef0123.pt",   # a seed the cell does not hold
    "examples/fourier.npz", "config.json", "runs/.hidden.json"])
def test_gather_refuses_a_path_that_is_not_a_file_of_the_run(shared, tmp_path, path):
    store, artifact, out = shared
    path = path.replace("ABSOLUTE", str(tmp_path))
    files = {f"runs/{RUN}.json": artifact, path: artifact}   # one good file, one bad
    with pytest.raises(RegbenchError) as error:
        gather(_owners(files), store, out, CELLS, RUNS)
    message = str(error.value)
    assert "\n" not in message and f"refused {path!r}" in message
    assert "nothing was fetched" in message
    assert not out.exists() and not (tmp_path / "evil.pth").exists()


def test_gather_refuses_an_artifact_id_that_is_not_optunas(shared):
    store, _, out = shared
    (out.parent / "secret").write_text("not yours")
    with pytest.raises(RegbenchError, match="refused artifact id '../secret'"):
        gather(_owners({f"runs/{RUN}.json": "../secret"}), store, out, CELLS, RUNS)
    assert not out.exists()


def test_a_record_cannot_name_a_checkpoint_outside_the_folder(tmp_path):
    """A record in a shared folder (or fetched from a store) names its checkpoint: a
    worker must not upload, nor load, a file elsewhere because of it."""
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / f"{RUN}.json").write_text("{}")
    secret = tmp_path / "secret.pt"
    secret.write_text("x")
    key = {"dataset": "d", "regularizer": "none", "lam": 0.0, "seed": 0,
           "data_fraction": 1.0, "config_hash": "h", "evaluation_hash": ""}
    for crafted in (str(secret), "../secret.pt", "checkpoints/../../secret.pt"):
        record = {"key": key, "row": {"seed": 0, "data_fraction": 0.5,
                                      "checkpoint": crafted}}
        with pytest.raises(RegbenchError, match="refused path"):
            run_files(record, out)
    assert folder_file(out, "checkpoints/none_seed0_abcdef0123.pt", "checkpoints") == \
        out / "checkpoints" / "none_seed0_abcdef0123.pt"


def test_results_csv_cannot_name_a_checkpoint_outside_the_folder(tmp_path):
    """The suite loads the checkpoints results.csv names."""
    from regbench.suites.extras import _checkpoints
    pd.DataFrame({"regularizer": ["none"], "seed": [0], "status": ["ok"],
                  "checkpoint": ["/etc/passwd"]}).to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(RegbenchError, match="refused path '/etc/passwd'"):
        _checkpoints(types.SimpleNamespace(out=tmp_path))


def test_report_skips_attributions_outside_the_folder(tmp_path):
    from regbench.report.stability import load_attributions
    folder = tmp_path / "out"
    (folder / "attributions").mkdir(parents=True)
    for name in ("good.npz", "../outside.npz"):
        np.savez(folder / "attributions" / name, attr=np.ones((1, 3), np.float32),
                 names=np.array(["s"]))
    results = pd.DataFrame({"regularizer": ["none", "none"], "seed": [0, 1],
                            "status": ["ok", "ok"],
                            "attributions": ["attributions/good.npz",
                                             "attributions/../outside.npz"]})
    folder_view = types.SimpleNamespace(path=folder, results=results, notes=[])
    runs = load_attributions(folder_view)
    assert list(runs) == [("none", 0)]
    assert folder_view.notes == [
        "skipped none seed 1: refused path 'attributions/../outside.npz': a results folder "
        f"names its files attributions/NAME; this one could lead outside {folder}"]


def test_grid_json_cells_survive_a_round_trip(tmp_path):
    """gather_folder hands grid.json's cells (lists after JSON) to the same check."""
    from regbench.distributed.workers import trial_files
    cells = json.loads(json.dumps({c: [r, list(s), f] for c, (r, s, f) in CELLS.items()}))
    artifact = str(uuid.uuid4())
    trial = types.SimpleNamespace(user_attrs={"files": {f"runs/{RUN}.json": artifact}})
    assert trial_files(trial, RUN, *cells[RUN], RUNS) == [(f"runs/{RUN}.json", artifact)]


def test_local_workers_never_see_the_storage_on_their_command_line(tmp_path, monkeypatch):
    """However --storage was given, the URL (and its password) reaches the workers
    through the environment only: a command line is visible to every user (ps)."""
    from regbench.distributed import workers
    started = []
    monkeypatch.setattr(workers.subprocess, "Popen",
                        lambda command, **kw: started.append((command, kw["env"])))
    url = "postgresql://user:s3cret@db/regbench"
    for given in (["--storage", url], [f"--storage={url}"], ["--stor", url]):
        started.clear()
        argv = ["run", "--preset", "smoke", *given, "--study-name", "s", "--workers", "2"]
        workers.start_local_workers(argv, 1, 1, tmp_path, url)
        [(command, env)] = started
        assert command[3:] == ["run", "--preset", "smoke", "--study-name", "s", "--workers",
                               "2", "--workers", "1", "--threads", "1", "--no-progress",
                               "--worker"]
        assert env["REGBENCH_STORAGE"] == url


def test_report_names_its_storage_and_creates_no_artifact_folder(tmp_path, monkeypatch,
                                                                 capsys):
    """$REGBENCH_STORAGE makes `regbench report` of a grid's folder read the shared
    database: it says so, and reading creates nothing (the artifact folder grid.json
    names is not made when it is not here)."""
    import optuna

    from regbench import tune
    from regbench.cli import main
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    optuna.create_study(study_name="t-grid", storage=tune.open_storage(url))
    folder, artifacts = tmp_path / "out", tmp_path / "mounted-elsewhere"
    folder.mkdir()
    (folder / "grid.json").write_text(json.dumps(
        {"study": "t-grid", "artifacts": str(artifacts), "cells": {}, "runs": []}))
    monkeypatch.setenv("REGBENCH_STORAGE", url)
    main(["report", str(folder)])
    out, err = capsys.readouterr()
    assert f"runs of the shared grid from the Optuna storage {url} ($REGBENCH_STORAGE)" \
        in out.splitlines()
    assert f"note: no artifact folder {artifacts} here" in err
    assert not artifacts.exists()


@pytest.mark.parametrize("grid, problem", [
    ({"runs": [[RUN, 1.0], ["l2_seed0_0123456789", 1.0]]}, "2 runs of the grid are neither"),
    ({"runs": "x"}, "cannot be read as a seed grid"),
    ({"runs": [[RUN]]}, "cannot be read as a seed grid"),
    ({"cells": {RUN: ["none", "0", 1.0]}}, "cannot be read as a seed grid"),
    ({"runs": [["../../elsewhere", 1.0]]}, "refused path 'runs/../../elsewhere.json'"),
    (None, "cannot be read as a seed grid"),   # truncated
])
def test_a_partial_or_crafted_grid_leaves_the_tables_as_they_are(tmp_path, monkeypatch,
                                                                 capsys, grid, problem):
    """Before: results.csv was emptied (18 KB -> 1 byte) before the error, or a
    traceback."""
    import optuna

    from regbench import tune
    from regbench.cli import main
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    optuna.create_study(study_name="t-grid", storage=tune.open_storage(url))
    folder = tmp_path / "out"
    folder.mkdir()
    text = json.dumps({"study": "t-grid", "artifacts": None,
                       "cells": {c: [r, list(s), f] for c, (r, s, f) in CELLS.items()},
                       "runs": RUNS, **(grid or {})})
    (folder / "grid.json").write_text(text if grid else text[:40])
    tables = {"results.csv": "regularizer,lambda,seed,data_fraction\nl2,0.01,0,1.0\n",
              "per_sequence.csv": "regularizer,seed,sequence\nl2,0,s1\n"}
    for name, table in tables.items():
        (folder / name).write_text(table)
    assert main(["report", str(folder), "--storage", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err
    assert {name: (folder / name).read_text() for name in tables} == tables
    assert not (folder / "report.html").exists()


def test_gathered_files_are_on_disk_before_they_are_renamed_into_place(shared,
                                                                        monkeypatch):
    """The file, then (renamed) its folder: a power loss leaves no empty record."""
    import os
    store, artifact, out = shared
    synced, real_fsync = [], os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (
        synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    assert gather(_owners({f"runs/{RUN}.json": artifact}), store, out, CELLS, RUNS) == 1
    temporary, folder = synced
    assert os.path.dirname(temporary) == str(out / "runs")
    assert os.path.basename(temporary).startswith(f".{RUN}.json.")
    assert folder == str(out / "runs")
    assert (out / "runs" / f"{RUN}.json").read_bytes() == b"payload"


def test_a_lambda_trials_record_cannot_name_a_checkpoint_outside_the_folder(tmp_path):
    """The λ search scores a trial's model from the checkpoint its record names; the
    record may be another worker's, in a shared folder."""
    import torch

    from regbench.runner.lambda_search import validation_motif_auprc
    outside = tmp_path / "elsewhere.pt"
    torch.save({"state_dict": {}, "model_config": {}}, outside)   # data only: loadable
    scoring = types.SimpleNamespace(
        device="cpu", settings=types.SimpleNamespace(max_sequences=2),
        rows=types.SimpleNamespace(labels=np.ones((2, 1)), motif_mask=np.zeros((2, 5), bool)),
        task=types.SimpleNamespace(attributed_rows=lambda labels, n: ([0, 1], 0)))
    for crafted in (str(outside), "../elsewhere.pt", "checkpoints/../../elsewhere.pt"):
        with pytest.raises(RegbenchError, match="refused path"):
            validation_motif_auprc(scoring, tmp_path / "out", {"row": {"checkpoint": crafted}})


def test_a_grid_cannot_name_a_run_record_outside_the_folder(tmp_path):
    """Issue 42 item 4: grid.json (a worker's, in a shared folder) lists the grid's run
    ids, and the tables read runs/ID.json of each: an id is checked as gather checks
    paths, so a crafted one cannot put a record from elsewhere into results.csv."""
    from regbench.store.runs import RunStore
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    (tmp_path / "secret.json").write_text(json.dumps({"row": {"regularizer": "none"}}))
    store = RunStore(out)
    for crafted in ("../../secret", f"../../{tmp_path.name}/secret", "x/../../../secret"):
        with pytest.raises(RegbenchError) as error:
            store.load_id(crafted)
        assert str(error.value) == (
            f"refused path 'runs/{crafted}.json': a results folder names its files "
            f"runs/NAME; this one could lead outside {out}")
        with pytest.raises(RegbenchError, match="refused path"):
            store.write_grid_tables([(crafted, 1.0)])
    assert not (out / "results.csv").exists()
    assert store.load_id(RUN) is None   # a plain id of a run not stored


def test_a_suite_json_cannot_name_a_point_folder_outside_the_suite(tmp_path):
    """Issue 42 item 4: suite.json names each point's folder; the suite report reads
    its config.json and results from there, so the folder is checked as gather checks
    paths (points/NAME): a crafted one cannot bring another folder's λ or runs in."""
    from regbench.suites.report import _lambda_sources
    from regbench.suites.sections import _load_point_folder
    out, elsewhere = tmp_path / "suite", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text(json.dumps(
        {"lambda_source": {"l2": "crafted"}, "lambdas": {"l2": 99.0}}))
    for crafted in ("../elsewhere", str(elsewhere), "points/../../elsewhere"):
        manifest = {"points": [{"experiment": "e", "point": "p", "folder": crafted}]}
        refused = re.escape(f"refused path {crafted!r}: a results folder names its files "
                            "points/NAME")
        with pytest.raises(RegbenchError, match=f"^{refused}"):
            _lambda_sources(out, manifest)
        with pytest.raises(RegbenchError, match=f"^{refused}"):
            _load_point_folder(out, manifest, "e", "p", pd.DataFrame(), None)
    (out / "points" / "p").mkdir(parents=True)   # a point's own folder is read
    (out / "points" / "p" / "config.json").write_text(json.dumps(
        {"lambda_source": {"l2": "tuned"}, "lambdas": {"l2": 0.5}}))
    manifest = {"points": [{"experiment": "e", "point": "p", "folder": "points/p"}]}
    assert _lambda_sources(out, manifest) == {"l2": "tuned (0.5)"}
