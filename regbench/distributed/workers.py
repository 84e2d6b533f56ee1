"""Workers that share one seed grid: on this machine (``--workers N``) or on many
(the same ``regbench run --storage URL --study-name NAME`` on every machine).

The grid's runs are cells of a ``grid.GridQueue`` in the Optuna storage. A worker
trains the cells it claims into its results folder. Workers on machines without a
shared folder also put each run's files (record, attributions, checkpoint, example
tracks) into an artifact store (``--artifacts DIR`` or ``s3://BUCKET``, Optuna's
``FileSystemArtifactStore`` / ``Boto3ArtifactStore``); once the grid is complete
every worker fetches the runs it lacks from there (``gather``), so each ends with the
whole comparison, as ``regbench report OUT --storage URL`` does later.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

from regbench.errors import RegbenchError
from regbench.distributed.grid import GridQueue, grid_owners, grid_study_name
from regbench.store.runs import atomic_write, folder_file, sync_file, sync_folder

GRID_FILE = "grid.json"   # the grid a worker's folder belongs to: study, cells
FILES = "files"   # user attribute of a grid trial: {path in the results folder: artifact id}
# the artifact ids Optuna's upload_artifact gives (uuid4)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def grid_cells(context, grid, fractions) -> dict[str, tuple]:
    """{cell id: (regularizer, seeds, data fraction)} of every run of the comparison,
    the full-data grid then each fraction's; a cell is the seeds trained together
    (``RunContext.seed_grid_groups``), its id the run's id for a single seed."""
    cells = {}
    for fraction in [1.0, *fractions]:
        for regularizer, seeds in context.seed_grid_groups(grid):
            ids = [context.key(regularizer, s, data_fraction=fraction).id() for s in seeds]
            cell = ids[0] if len(ids) == 1 else (
                f"{regularizer}_seeds{seeds[0]}-{seeds[-1]}_"
                + hashlib.sha256(" ".join(ids).encode()).hexdigest()[:10])
            cells[cell] = (regularizer, tuple(seeds), fraction)
    return cells


def grid_study(context, grid, fractions) -> str:
    """The name of the grid's study (its queue): the same for every worker of it."""
    return grid_study_name(context.config.tuning_config().study_name,
                           grid_cells(context, grid, fractions))


def open_queue(context, cells) -> GridQueue:
    """The grid's queue in the run's Optuna storage (default OUT/optuna.db)."""
    from regbench.tune import default_storage
    tuning = context.config.tuning_config()
    labels = {cell: _label(*run) for cell, run in cells.items()}
    name = grid_study_name(tuning.study_name, cells)
    return GridQueue(tuning.storage or default_storage(context.out), name, labels,
                     heartbeat=tuning.heartbeat, grace=tuning.grace_period)


def _label(regularizer, seeds, fraction) -> str:
    share = "" if fraction >= 1 else f" on {fraction:g} of the data"
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
    return f"{regularizer} {which}{share}"


def work_grid(executor, grid, fractions) -> GridQueue:
    """Claim and train cells until every cell of the grid is complete (waiting for the
    other workers' last ones), each with ``executor.train_seeds`` (a RunExecutor's);
    then fetch the runs other workers trained from the artifact store. Returns the
    queue."""
    context = executor.context
    cells = grid_cells(context, grid, fractions)
    queue = open_queue(context, cells)
    store = artifact_store(context.config.artifacts)
    runs = [[context.key(r, s, data_fraction=f).id(), f]
            for r, seeds, f in cells.values() for s in seeds]
    atomic_write(context.out / GRID_FILE, json.dumps(
        {"study": queue.name, "artifacts": context.config.artifacts,
         "cells": {cell: [r, list(seeds), f] for cell, (r, seeds, f) in cells.items()},
         "runs": runs}, indent=1))
    done, total = queue.progress()
    print(f"seed grid: {total} claims (a run, or seeds trained as one group) in study "
          f"{queue.name!r}, {done} done; this worker claims them until none is left",
          flush=True)
    trained = 0
    with tqdm(total=total, initial=done, desc="seed grid (all workers)", unit="claim",
              disable=not context.config.progress, dynamic_ncols=True) as bar:
        while (claim := queue.claim()) is not None:
            with claim:   # at once: an interrupt from here on hands the claim back
                regularizer, seeds, fraction = cells[claim.cell]
                bar.set_postfix_str(f"training {claim.label}")
                records = executor.train_seeds(regularizer, list(seeds), fraction, bar=bar)
                if store is not None:
                    share_files(claim, store, records, context.out)
            trained += len(seeds)
            bar.n = queue.progress()[0]
            bar.refresh()
            status = ", ".join(sorted({r["row"]["status"] for r in records}))
            tqdm.write(f"trained {claim.label} ({status})")
    n_runs = sum(len(seeds) for _, seeds, _ in cells.values())
    print(f"seed grid complete: this worker trained {trained} of {n_runs} runs", flush=True)
    if store is not None:
        fetched = gather(queue.owners(), store, context.out, cells, runs)
        if fetched:
            print(f"fetched {fetched} files of other workers' runs", flush=True)
    return queue


def gather_folder(out, storage: str, artifacts: str | None = None) -> tuple[int, int]:
    """``regbench report OUT --storage URL``: fetch the runs of OUT's grid (OUT/grid.json,
    written by its worker) that other workers trained, from the artifact store
    (``artifacts``, else the one the workers used), and add them to OUT's tables
    (``RunStore.gather_tables``: the runs the tables hold besides, e.g. those a plain
    ``regbench run`` added, are kept; nothing is written unless every run of the grid
    is here). Returns (runs in OUT, runs in the grid)."""
    import optuna

    from regbench.store.runs import RunStore
    from regbench.tune import open_storage, parse_storage, redact_url
    out = Path(out)
    if not (out / GRID_FILE).is_file():
        raise RegbenchError(f"{out} has no {GRID_FILE}: --storage gathers the runs of a "
                            "folder written by a worker of a shared grid (regbench run "
                            "--storage URL)")
    parsed = parse_storage(storage)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise RegbenchError(f"no Optuna database at {parsed.database}: give the --storage "
                            "the workers used")
    grid = read_grid(out)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=grid["study"], storage=open_storage(storage))
    except KeyError:
        raise RegbenchError(f"no study {grid['study']!r} in {redact_url(storage)}: give the "
                            "--storage the workers used") from None
    location = artifacts or grid.get("artifacts")
    if location and not location.startswith("s3://") and not Path(location).is_dir():
        # reading creates nothing: a store that is not here has nothing to fetch
        print(f"note: no artifact folder {location} here, so no runs are fetched from "
              "it; give --artifacts where it is mounted", file=sys.stderr, flush=True)
    elif location:
        gather(grid_owners(study, grid["cells"]), artifact_store(location), out,
               grid["cells"], grid["runs"])
    missing = RunStore(out).gather_tables(grid["runs"])
    return len(grid["runs"]) - missing, len(grid["runs"])


def read_grid(out: Path) -> dict:
    """OUT/grid.json (``work_grid`` writes it), checked: the study, the cells
    {cell: [regularizer, seeds, data fraction]} and the runs [[run id, data fraction]]
    of a grid. Anything else (truncated, edited, crafted) is a RegbenchError, before
    anything is fetched or written."""
    path = out / GRID_FILE
    try:
        grid = json.loads(path.read_bytes())
        ok = (isinstance(grid, dict) and isinstance(grid.get("study"), str)
              and isinstance(grid.get("artifacts"), (str, type(None)))
              and isinstance(grid.get("cells"), dict) and isinstance(grid.get("runs"), list)
              and all(_grid_run(run) for run in grid["runs"])
              and all(_grid_cell(cell) for cell in grid["cells"].values()))
        why = "not the study, cells and runs of a grid"
    except (OSError, ValueError) as exc:   # unreadable, not JSON, not UTF-8
        ok, why = False, (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if not ok:
        raise RegbenchError(f"{path} cannot be read as a seed grid ({why}); a worker of the "
                            "grid writes it again (regbench run with the grid's options); "
                            "nothing was fetched or written")
    for run, _ in grid["runs"]:   # a run id names a record: runs/ID.json, nothing else
        folder_file(out, f"runs/{run}.json", "runs")
    return grid


def _grid_run(run) -> bool:
    return (isinstance(run, list) and len(run) == 2 and isinstance(run[0], str)
            and isinstance(run[1], (int, float)) and not isinstance(run[1], bool))


def _grid_cell(cell) -> bool:
    return (isinstance(cell, list) and len(cell) == 3 and isinstance(cell[0], str)
            and isinstance(cell[1], list)
            and all(isinstance(s, int) and not isinstance(s, bool) for s in cell[1])
            and isinstance(cell[2], (int, float)) and not isinstance(cell[2], bool))


def run_files(record: dict, out: Path) -> list[str]:
    """Paths (relative to the results folder) of a run's files: its record,
    attributions, checkpoint and, for seed 0 on all the data, the example tracks."""
    row = record["row"]
    from regbench.store.runs import RunKey
    key = RunKey(**record["key"])
    paths = [("runs", f"runs/{key.id()}.json"), ("checkpoints", row.get("checkpoint")),
             ("attributions", row.get("attributions"))]
    if row["seed"] == 0 and row.get("data_fraction", 1.0) >= 1:
        paths.append(("examples", f"examples/{row['regularizer']}.npz"))
    # checked: a record in a shared folder must not name a file elsewhere to upload
    return [p for folder, p in paths
            if isinstance(p, str) and folder_file(out, p, folder).is_file()]


def share_files(claim, store, records: list[dict], out: Path) -> bool:
    """Put the files of the claim's runs into the artifact store, attached to its
    trial. Nothing when the claim lapsed (another worker failed the trial and will
    train the cell again; a finished trial takes no attribute). Returns whether they
    were shared."""
    import optuna
    if not claim.holds():
        return False
    paths = [p for r in records for p in run_files(r, out)]
    try:
        claim.trial.set_user_attr(FILES, upload(store, claim.trial, out, paths))
    except optuna.exceptions.UpdateFinishedTrialError:   # lapsed while uploading
        return False
    return True


def upload(store, trial, out: Path, paths: list[str]) -> dict[str, str]:
    """Each file into the artifact store, attached to the run's trial; returns
    {path: artifact id}."""
    from optuna.artifacts import upload_artifact
    return {path: upload_artifact(artifact_store=store, file_path=str(out / path),
                                  study_or_trial=trial) for path in paths}


def gather(owners: dict, store, out: Path, cells: dict, runs: list) -> int:
    """Fetch the files of every complete run (``owners``: {cell: its COMPLETE trial})
    that the results folder lacks from the artifact store (each written atomically and
    synced: the file, then the folder after the rename).
    ``cells``: {cell: (regularizer, seeds, data fraction)}, ``runs``: [(run id, data
    fraction)] of the grid (``grid.json``). Returns how many were fetched.

    Each trial's list of files comes from the shared database, so it is checked
    first (``trial_files``): a path that is not one of its cell's files refuses the
    whole gather, before anything is written."""
    from optuna.artifacts import download_artifact
    checked = [trial_files(trial, cell, *cells[cell], runs) for cell, trial in owners.items()]
    fetched = 0
    for files in checked:
        for path, artifact in files:
            target = folder_file(out, path, path.split("/")[0])
            if target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            os.close(fd)
            os.unlink(tmp)   # download_artifact refuses to overwrite
            try:
                download_artifact(artifact_store=store, file_path=tmp, artifact_id=artifact)
                sync_file(tmp)   # on disk before the name points to it
                os.replace(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
            sync_folder(target.parent)   # the rename itself survives a power loss
            fetched += 1
    return fetched


def trial_files(trial, cell: str, regularizer: str, seeds, fraction: float,
                runs: list) -> list[tuple[str, str]]:
    """[(path, artifact id)] a grid trial names (its ``files`` attribute, from the
    shared database), each checked to be a file of its own cell's runs, as
    ``run_files`` names them: ``runs/ID.json`` and ``attributions/ID.npz`` of the
    cell's run ids, ``checkpoints/REGULARIZER_seedS_HASH.pt`` of its seeds and
    ``examples/REGULARIZER.npz`` (seed 0 on all the data). Anything else, and an
    artifact id that is not the UUID Optuna gives, is a RegbenchError: no regbench
    worker wrote it."""
    seeds = [int(s) for s in seeds]
    ids = [run for run, f in runs if f == fraction
           and any(run.startswith(f"{regularizer}_seed{s}_") for s in seeds)]
    allowed = {f"runs/{i}.json" for i in ids} | {f"attributions/{i}.npz" for i in ids}
    if 0 in seeds and fraction >= 1:
        allowed.add(f"examples/{regularizer}.npz")
    checkpoint = re.compile(
        rf"checkpoints/{re.escape(regularizer)}_seed(\d+)_[0-9a-f]{{10}}\.pt")
    files = trial.user_attrs.get(FILES, {})
    if not isinstance(files, dict):
        raise RegbenchError(f"refused the files of grid run {cell} in the shared database: "
                            "not a map of paths to artifact ids; nothing was fetched")
    for path, artifact in files.items():
        match = checkpoint.fullmatch(path)
        if not (path in allowed or (match and int(match[1]) in seeds)):
            raise RegbenchError(f"refused {path!r}, a file of grid run {cell} in the shared "
                                "database: not one of that run's files under runs/, "
                                "checkpoints/, attributions/ or examples/; nothing was "
                                "fetched")
        if not (isinstance(artifact, str) and UUID.fullmatch(artifact)):
            raise RegbenchError(f"refused artifact id {artifact!r} of {path} (grid run "
                                f"{cell}) in the shared database: not an Optuna artifact "
                                "id; nothing was fetched")
    return list(files.items())


def artifact_store(location: str | None):
    """Optuna's artifact store for ``--artifacts``: a folder, or s3://BUCKET (boto3;
    an S3-compatible store through AWS_ENDPOINT_URL). None when not given."""
    if not location:
        return None
    if location.startswith("s3://"):
        from optuna.artifacts import Boto3ArtifactStore
        try:
            return Boto3ArtifactStore(location[len("s3://"):].strip("/"))
        except ImportError:
            raise RegbenchError("--artifacts s3://... needs boto3: pip install boto3") from None
    from optuna.artifacts import FileSystemArtifactStore
    Path(location).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(location)


# -- local workers ------------------------------------------------------------------------
def start_local_workers(argv: list[str], extra: int, threads: int, out: Path,
                        storage: str) -> list[tuple[subprocess.Popen, Path]]:
    """``extra`` more processes running this command (``argv``: its arguments after
    ``regbench``) as workers of its grid on ``storage``, each with ``threads`` CPU
    threads, logging to OUT/logs/worker-K.log. Returns [(process, log path)]. The
    storage URL goes through the environment ($REGBENCH_STORAGE) only, never the
    command line, where any user of the machine could read its password (``ps``)."""
    from regbench.options.config import STORAGE_VARIABLE
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, STORAGE_VARIABLE: storage}
    argv = without_storage(argv)
    started = []
    for k in range(1, extra + 1):
        log = logs / f"worker-{k}.log"
        command = [sys.executable, "-m", "regbench.cli", *argv, "--workers", "1",
                   "--threads", str(threads), "--no-progress", "--worker"]
        with open(log, "w") as handle:
            started.append((subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env), log))
    return started


def without_storage(argv: list[str]) -> list[str]:
    """``argv`` without its ``--storage URL`` (or ``--storage=URL``, or an abbreviation
    argparse took for it, ``--sto`` at the shortest): the workers read the URL from
    the environment."""
    kept, skip = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if skip:
            skip = False
        elif len(name) >= len("--sto") and "--storage".startswith(name):
            skip = "=" not in arg   # the URL is the next argument
        else:
            kept.append(arg)
    return kept


def wait_local_workers(workers) -> None:
    """Wait for the workers this process started; a RegbenchError naming the log of
    each that failed."""
    failed = [(p.wait(), log) for p, log in workers]
    bad = [f"{log} (exit {rc})" for rc, log in failed if rc != 0]
    if bad:
        raise RegbenchError(f"{len(bad)} local worker(s) failed; see {', '.join(bad)}")


def stop_local_workers(workers) -> None:
    """Terminate the workers (this process was interrupted or failed): their claimed
    runs go back to the queue for the next run of the command."""
    for process, _ in workers:
        if process.poll() is None:
            process.terminate()
    for process, _ in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


__all__ = ["artifact_store", "gather", "grid_cells", "open_queue", "start_local_workers",
           "stop_local_workers", "wait_local_workers", "work_grid"]
