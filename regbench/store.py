"""Files of a results folder: run keys, run records and arrays, written atomically.

``RunStore(out)`` keeps one JSON record per finished run under ``runs/<key id>.json``,
its DeepLIFT/SHAP attributions under ``attributions/`` and example tracks under
``examples/``; a key that has a record is never trained again.

Every file regbench writes goes through ``atomic_write``: a temporary file beside the
target, opened with a plain ``open()`` (so it gets the permissions the user's umask
gives, e.g. 0644 under umask 022, where ``tempfile`` would make it 0600), then renamed
over the target. A reader never sees half a file, and an interrupted write leaves
the old file (or none), never a broken one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


def atomic_write(path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; parents are created.
    Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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

    def load(self, key: RunKey) -> dict | None:
        """The stored record of ``key``, or None when it has not finished."""
        path = self.record_path(key)
        return json.loads(path.read_text()) if path.exists() else None

    def load_id(self, run_id: str) -> dict | None:
        """The stored record of the run with this id (``RunKey.id``), or None."""
        path = self.out / "runs" / f"{run_id}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def save(self, key: RunKey, record: dict) -> Path:
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

    def save_attributions(self, key: RunKey, attr: np.ndarray, names) -> str:
        """A run's attributions summed over bases, (N, L) float16: DeepLIFT/SHAP is
        non-zero only at the observed base, so nothing is lost but precision (~1e-3
        relative), at a quarter of the float32 (N, 4, L) size. attr: (N, 4, L).
        Returns the path relative to the results folder."""
        path = atomic_write_npz(self.out / "attributions" / f"{key.id()}.npz",
                                attr=attr.sum(axis=1).astype(np.float16),
                                names=np.array(names))
        return str(path.relative_to(self.out))

    def save_examples(self, regularizer: str, X: np.ndarray, attr: np.ndarray,
                      mask: np.ndarray | None, names) -> Path:
        """Example tracks for the report: X, attr (k, 4, L), motif_mask (k, L)."""
        if mask is None:
            mask = np.zeros((len(X), X.shape[-1]), bool)
        return atomic_write_npz(self.out / "examples" / f"{regularizer}.npz",
                                X=X.astype(np.float32), attr=attr.astype(np.float32),
                                motif_mask=mask, names=np.array(names))


def results_frame(records: list[dict]) -> pd.DataFrame:
    """results.csv: one row per run and attribution method (long format: a ``method``
    column, the method's metrics under their own names); a run's training facts and
    performance repeat on each of its rows. A run not evaluated (failed, or a λ-search
    trial) has one row with an empty method."""
    rows = []
    for record in records:
        row = record["row"]
        at = list(row).index("seed") + 1  # method right after the run's identity
        head, tail = dict(list(row.items())[:at]), dict(list(row.items())[at:])
        for method, metrics in (record.get("methods") or {"": {}}).items():
            rows.append({**head, "method": method, **tail, **metrics})
    return pd.DataFrame(rows)


# results.csv is long (a method column). The report reads it as one wide row per run:
# DeepLIFT/SHAP's metrics named plainly (the headline), the others' with a prefix. The
# one place that knows the mapping.
METHOD_PREFIXES = {"deep_lift_shap": "", "input_x_gradient": "ixg_",
                   "input_x_gradient_corrected": "ixg_corrected_", "saliency": "saliency_",
                   "saliency_corrected": "saliency_corrected_", "integrated_gradients": "ig_",
                   "integrated_gradients_corrected": "ig_corrected_",
                   "integrated_gradients_zero": "ig_zero_", "ism": "ism_"}
# The report's name of each method, in the report's order: the built-in methods (as
# regbench.attributions registers them; torch-free here), and registered methods add
# theirs.
METHOD_LABELS = {"deep_lift_shap": "DeepLIFT/SHAP", "input_x_gradient": "input×gradient",
                 "input_x_gradient_corrected": "corrected input×gradient",
                 "saliency": "saliency", "saliency_corrected": "corrected saliency",
                 "integrated_gradients": "integrated gradients vs shuffled refs",
                 "integrated_gradients_corrected":
                     "corrected integrated gradients vs shuffled refs",
                 "integrated_gradients_zero": "integrated gradients vs zero baseline",
                 "ism": "ISM"}
# Columns of results.csv that describe a run, the same on each of its method rows.
RUN_COLUMNS = ("regularizer", "lambda", "lambda_source", "lambda_protocol", "seed",
               "data_fraction", "train_rows", "status", "epochs", "best_epoch",
               "train_seconds", "steps", "step_seconds", "peak_mib", "extra_backward",
               "val_loss", "checkpoint", "attributions")


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
    run_columns = [c for c in results if c in RUN_COLUMNS or str(c).startswith("test_")]
    keys = [c for c in ("regularizer", "lambda", "seed", "data_fraction") if c in results]
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


__all__ = ["METHOD_LABELS", "METHOD_PREFIXES", "RUN_COLUMNS", "RunKey", "RunStore", "atomic_write", "atomic_write_csv",
           "atomic_write_npz", "method_prefix", "results_frame", "split_column",
           "wide_results"]
