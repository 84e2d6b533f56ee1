"""Files of a results folder: run keys, run records and arrays, written atomically.

``RunStore(out)`` keeps one JSON record per finished run under ``runs/<key id>.json``,
its DeepLIFT/SHAP attributions under ``attributions/`` and example tracks under
``examples/``; a key that has a record is never trained again.

Every file regbench writes goes through ``atomic_write``: a temporary file beside the
target with a name no other process can pick (``tempfile.mkstemp``: workers in
containers on one shared folder often have the same PID), given the permissions a
plain ``open()`` would (the user's umask, e.g. 0644 under umask 022, where ``mkstemp``
makes 0600), synced to disk, renamed over the target, and the folder synced. A reader
never sees half a file, and an interrupted write or a power loss leaves the old file
(or none), never a broken one. A record that cannot be read all the same (a disk that
lied, an older regbench) counts as missing: its run is trained again.

Who may write a folder at a time: ``regbench.store.locks`` (``lock_folder``, re-exported).
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.errors import RegbenchError
from regbench.store.labels import METHOD_LABELS  # the report's method names (re-exported)
from regbench.store.locks import lock_folder  # re-exported
from regbench.store.record import RUN_RECORD
from regbench.store.tables import added_rows


def atomic_write(path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically and durably; parents are
    created. Returns the path."""
    path = Path(path)
    data = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())   # the data on disk before the name points to it
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)   # the rename itself survives a power loss
    return path


def sync_folder(folder) -> None:
    """fsync a folder, so the names created or renamed in it are on disk. Nothing on
    file systems that cannot sync a folder."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def sync_file(path) -> None:
    """fsync a file written by another's code (e.g. a download), before it is renamed
    into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(root) -> None:
    """fsync every file and folder under ``root`` (a folder written in full, then
    renamed into place: its files on disk before the rename that publishes them)."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                sync_file(path)
        sync_folder(folder)


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (setting it
    to read it back would race with other threads creating files)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_csv(frame, path) -> Path:
    """A pandas DataFrame as CSV, without its index."""
    return atomic_write(path, frame.to_csv(index=False))


def atomic_write_npz(path, **arrays) -> Path:
    """Arrays as one compressed ``.npz`` (``np.savez_compressed``)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write(path, buffer.getvalue())


@dataclass(frozen=True)
class RunKey:
    """Identity of one training run; equal keys mean the same model, scored the same way."""

    dataset: str
    regularizer: str
    lam: float
    seed: int
    data_fraction: float
    config_hash: str
    evaluation_hash: str = ""

    def training(self) -> "RunKey":
        """The key of the trained model alone: runs that differ only in how they are
        scored (``evaluation_hash``) share it, and its checkpoint."""
        return dataclasses.replace(self, evaluation_hash="")

    def id(self) -> str:
        blob = json.dumps(self.__dict__, sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:10]
        return f"{self.regularizer}_seed{self.seed}_{digest}"


class RunStore:
    """The runs of one results folder."""

    def __init__(self, out):
        self.out = Path(out)

    def record_path(self, key: RunKey) -> Path:
        return self.out / "runs" / f"{key.id()}.json"

    def checkpoint_path(self, key: RunKey) -> Path:
        """The trained model's file, shared by every scoring of it (``RunKey.training``):
        a changed [evaluation] scores the stored model again instead of retraining."""
        return self.out / "checkpoints" / f"{key.training().id()}.pt"

    def trained(self, key: RunKey) -> Path | None:
        """The checkpoint of ``key``'s finished training, or None (written once, at the
        end of training, so one that exists is complete)."""
        path = self.checkpoint_path(key)
        return path if path.is_file() else None

    def adopt_checkpoint(self, key: RunKey, source) -> None:
        """Make ``source`` (another store's checkpoint of the same training) ``key``'s
        checkpoint here, unless it has one: hard-linked, or copied where links cannot
        be made, under a temporary name first, so that a checkpoint that exists is
        complete (``trained``)."""
        target = self.checkpoint_path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                       suffix=".tmp")
        os.close(fd)
        os.unlink(partial)
        try:
            try:
                os.link(source, partial)
            except OSError:   # another file system, or no hard links: a copy
                shutil.copyfile(source, partial)
                sync_file(partial)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        sync_folder(target.parent)

    def load(self, key: RunKey) -> dict | None:
        """The stored record of ``key``, or None when it has not finished (or its
        record cannot be read: ``read_record``)."""
        return read_record(self.record_path(key))

    def load_id(self, run_id: str) -> dict | None:
        """The stored record of the run with this id (``RunKey.id``), or None. The id
        may come from a shared file (grid.json), so it is checked (``folder_file``)."""
        return read_record(folder_file(self.out, f"runs/{run_id}.json", "runs"))

    def save(self, key: RunKey, record: dict) -> Path:
        """Store ``record`` under ``key``, its row in the run record's column order
        (``RunRecord.row``)."""
        if "row" in record:
            record = {**record, "row": RUN_RECORD.row(record["row"])}
        return atomic_write(self.record_path(key), json.dumps(record, default=_json_default))

    def write_tables(self, records: list[dict]) -> None:
        """results.csv (``results_frame``), per_sequence.csv and history.csv from the
        records of finished runs."""
        atomic_write_csv(results_frame(records), self.out / "results.csv")
        for name, part in (("per_sequence.csv", "per_sequence"), ("history.csv", "history")):
            rows = [dict(regularizer=r["row"]["regularizer"], seed=r["row"]["seed"], **item)
                    for r in records for item in r[part]]
            if rows:
                atomic_write_csv(pd.DataFrame(rows), self.out / name)

    def write_grid_tables(self, runs, stamp=None) -> int:
        """results.csv (and the tables of ``write_tables``) from the stored records of
        the full-data runs, results_fraction.csv from those on a share of the data, in
        the order of ``runs`` [(run id, data fraction)]; stamp(record) -> the record as
        tabled (e.g. this run's λ protocol), when given. Returns how many records are
        missing."""
        missing = 0
        for full in (True, False):
            records = [self.load_id(run) for run, fraction in runs if (fraction >= 1) == full]
            missing += sum(r is None for r in records)
            records = [stamp(r) if stamp else r for r in records if r is not None]
            if full:
                self.write_tables(records)
            elif records:
                atomic_write_csv(results_frame(records), self.out / "results_fraction.csv")
        return missing

    def gather_tables(self, runs) -> int:
        """The grid's runs [(run id, data fraction)] added to the tables (``regbench
        report --storage``): a grid run's rows replace those of the same run (its id
        columns; in per_sequence.csv and history.csv its regularizer and seed), every
        other row is kept (runs a plain ``regbench run`` added). Every table is built
        whole, then each written atomically; nothing is written when a record is
        missing. Returns how many are missing."""
        records = [(self.load_id(run), fraction) for run, fraction in runs]
        missing = sum(r is None for r, _ in records)
        if missing:
            return missing
        full = [r for r, fraction in records if fraction >= 1]
        share = [r for r, fraction in records if fraction < 1]
        ids, pair = RUN_RECORD.run_keys(), ["regularizer", "seed"]
        tables = {"results.csv": (results_frame(full), ids),
                  "results_fraction.csv": (results_frame(share), ids)}
        for name, part in (("per_sequence.csv", "per_sequence"), ("history.csv", "history")):
            tables[name] = (pd.DataFrame([dict(regularizer=r["row"]["regularizer"],
                                               seed=r["row"]["seed"], **item)
                                          for r in full for item in r[part]]), pair)
        merged = {name: added_rows(new, self.out / name, keys)
                  for name, (new, keys) in tables.items() if not new.empty}
        for name, frame in merged.items():
            atomic_write_csv(frame, self.out / name)
        return 0

    def trained_settings(self, key: RunKey) -> dict | None:
        """The training settings (``RunRecord.settings``) of ``key``'s trained model,
        from a stored record of it scored another way (one that shares its checkpoint),
        or None when none has them."""
        import glob
        checkpoint = str(self.checkpoint_path(key).relative_to(self.out))
        pattern = glob.escape(f"{key.regularizer}_seed{key.seed}_") + "*.json"
        for path in sorted((self.out / "runs").glob(pattern)):
            try:
                row = json.loads(path.read_text())["row"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            settings = RUN_RECORD.settings()
            if row.get("checkpoint") == checkpoint and any(
                    row.get(c) is not None for c in settings):
                return {c: row.get(c) for c in settings}   # None: not recorded then
        return None

    def settings_warnings(self) -> list[str]:
        """``mixed_settings`` of results.csv and of results_fraction.csv, each a line
        naming its table."""
        lines = []
        for name in ("results.csv", "results_fraction.csv"):
            path = self.out / name
            line = mixed_settings(pd.read_csv(path)) if path.is_file() else None
            if line:
                lines.append(f"warning: {name}: {line}")
        return lines

    def save_attributions(self, key: RunKey, attr: np.ndarray, names,
                          hypothetical: np.ndarray | None = None) -> str:
        """A run's attributions summed over bases, (N, L) float16: DeepLIFT/SHAP is
        non-zero only at the observed base, so nothing is lost but precision (~1e-3
        relative), at a quarter of the float32 (N, 4, L) size. attr: (N, 4, L).
        ``hypothetical``: its hypothetical scores (N, 4, L), kept as float16 for the
        paper's stability measure (``metrics.jaccard_positional``).
        Returns the path relative to the results folder."""
        extra = {} if hypothetical is None else {"hypothetical": hypothetical.astype(np.float16)}
        path = atomic_write_npz(self.out / "attributions" / f"{key.id()}.npz",
                                attr=attr.sum(axis=1).astype(np.float16),
                                names=np.array(names), **extra)
        return str(path.relative_to(self.out))

    def save_examples(self, regularizer: str, X: np.ndarray, attr: np.ndarray,
                      mask: np.ndarray | None, names) -> Path:
        """Example tracks for the report: X, attr (k, 4, L), motif_mask (k, L)."""
        if mask is None:
            mask = np.zeros((len(X), X.shape[-1]), bool)
        return atomic_write_npz(self.out / "examples" / f"{regularizer}.npz",
                                X=X.astype(np.float32), attr=attr.astype(np.float32),
                                motif_mask=mask, names=np.array(names))


def folder_file(out, relative, folder: str) -> Path:
    """``out / relative`` for a path read from a record, a table or the shared database
    (so not trusted), when it is ``FOLDER/NAME``: one plain file name directly in that
    subfolder of the results folder. Anything else (absolute, ``..``, deeper, hidden,
    another subfolder) could lead outside the folder, and is a RegbenchError."""
    text = str(relative)
    parts = text.split("/")
    if (len(parts) != 2 or parts[0] != folder or not parts[1] or parts[1].startswith(".")
            or "\\" in text or "\0" in text):
        raise RegbenchError(f"refused path {text!r}: a results folder names its files "
                            f"{folder}/NAME; this one could lead outside {out}")
    return Path(out) / folder / parts[1]


def read_record(path: Path) -> dict | None:
    """The JSON record at ``path``; None when there is none, or when it cannot be read
    (truncated, corrupt: a note says so, and the run counts as missing)."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except ValueError as exc:   # JSONDecodeError, UnicodeDecodeError
        note_unreadable(path, exc)
        return None
    if not isinstance(record, dict):
        note_unreadable(path, "not a JSON object")
        return None
    return record


def note_unreadable(path, why) -> None:
    """One line: a stored file cannot be read, and is treated as missing."""
    why = (str(why).strip().splitlines() or [type(why).__name__])[0]
    print(f"note: {path} cannot be read ({why}); its run counts as missing and is "
          "trained again", file=sys.stderr, flush=True)


def results_frame(records: list[dict]) -> pd.DataFrame:
    """results.csv: one row per run and attribution method (long format: a ``method``
    column, the method's metrics under their own names); a run's training facts and
    performance repeat on each of its rows (``RunRecord.table_rows``)."""
    return pd.DataFrame([row for record in records
                         for row in RUN_RECORD.table_rows(record["row"], record.get("methods"))])


# results.csv is long (a method column). The report reads it as one wide row per run:
# DeepLIFT/SHAP's metrics named plainly (the headline), the others' with a prefix. The
# one place that knows the mapping.
METHOD_PREFIXES = {"deep_lift_shap": "", "input_x_gradient": "ixg_",
                   "input_x_gradient_corrected": "ixg_corrected_", "saliency": "saliency_",
                   "saliency_corrected": "saliency_corrected_", "integrated_gradients": "ig_",
                   "integrated_gradients_corrected": "ig_corrected_",
                   "integrated_gradients_zero": "ig_zero_", "ism": "ism_"}


def mixed_settings(results: pd.DataFrame) -> str | None:
    """One line naming the training settings (``RunRecord.settings``) whose values
    differ between the rows of one comparison (results.csv, long or wide), or None when
    they agree. Rows without a value (runs stored before the columns existed, models
    scored again) are not counted."""
    mixed = []
    for column in RUN_RECORD.settings():
        if column in results:
            values = sorted({_plain(v) for v in results[column].dropna()})
            if len(values) > 1:
                mixed.append(f"{column} {' / '.join(values)}")
    if not mixed:
        return None
    return (f"the runs compared were trained with different {', '.join(mixed)}, which "
            "the run keys leave out but which move the numbers (README: test auROC by "
            "up to 0.13); retrain them in one setting to compare them fairly")


def _plain(value) -> str:
    """A CSV value as written: 2.0 read back from a column with gaps is 2."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def method_prefix(method: str) -> str:
    """Column prefix of a method's metrics in the wide table (NAME_ for other methods,
    which are then known to ``split_column``)."""
    return METHOD_PREFIXES.setdefault(method, f"{method}_")


def wide_results(results):
    """results.csv (long: one row per run and method) -> one row per run, the metrics of
    method M as ``method_prefix(M) + metric``. A table without a method column (written
    before it existed) is returned as it is."""
    if "method" not in results:
        return results
    methods = results["method"].fillna("").astype(str)
    run_columns = [c for c in results if RUN_RECORD.per_run(c)]
    keys = [c for c in RUN_RECORD.run_keys() if c in results]
    per_method = [c for c in results if c not in run_columns and c != "method"]
    wide = results[run_columns].loc[~results[keys].duplicated()].reset_index(drop=True)
    for method in dict.fromkeys(methods):
        if not method:
            continue
        part = results.loc[methods == method, keys + per_method].dropna(axis=1, how="all")
        part = part.rename(columns={c: method_prefix(method) + c for c in per_method})
        wide = wide.merge(part, on=keys, how="left")
    return wide


def split_column(column: str) -> tuple[str, str]:
    """Wide column -> (metric, attribution method); an un-prefixed column is
    DeepLIFT/SHAP's (the caller knows which columns are not attribution metrics)."""
    for method, prefix in sorted(METHOD_PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if prefix and column.startswith(prefix):
            return column[len(prefix):], method
    return column, "deep_lift_shap"


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


__all__ = ["METHOD_LABELS", "METHOD_PREFIXES", "RunKey",
           "RunStore", "atomic_write", "atomic_write_csv", "atomic_write_npz",
           "folder_file", "lock_folder", "method_prefix", "mixed_settings",
           "note_unreadable", "read_record", "results_frame", "split_column",
           "sync_file", "sync_folder", "sync_tree", "wide_results"]
