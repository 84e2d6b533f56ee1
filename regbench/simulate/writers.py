"""Writers for a simulation folder, in the formats real data uses, and atomic output.

Files: sequences.fa (+ .fai), labels.tsv, motifs.bed, manifest.json, and in profile mode
signal.plus.bw, signal.minus.bw, peaks.bed (narrowPeak).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

from regbench.data.encode import LETTERS
from regbench.options.checks import check_output_folder
from regbench.errors import RegbenchError
from regbench.simulate.motifs import Motif
from regbench.simulate.profile import Peaks
from regbench.simulate.sequences import Instances


def sequence_names(n: int) -> list[str]:
    """Unique fixed-width names seq000000, seq000001, ..."""
    width = max(6, len(str(max(n - 1, 0))))
    return [f"seq{i:0{width}d}" for i in range(n)]


def fasta_block(names: list[str], codes: np.ndarray) -> bytes:
    """FASTA text of one record per line pair, built as one byte matrix (no base loop).

    names: n equal-length names; codes: (n, L) uint8.
    """
    headers = np.frombuffer("".join(f">{n}\n" for n in names).encode(), dtype=np.uint8)
    block = np.empty((codes.shape[0], headers.size // max(len(names), 1) + codes.shape[1] + 1),
                     dtype=np.uint8)
    block[:, :-codes.shape[1] - 1] = headers.reshape(codes.shape[0], -1)
    block[:, -codes.shape[1] - 1:-1] = LETTERS[codes]
    block[:, -1] = ord("\n")
    return block.tobytes()


def write_fai(path: Path, names: list[str], length: int) -> None:
    """The samtools/pyfaidx index of a FASTA written by fasta_block (one line per record)."""
    record = len(names[0]) + 2 + length + 1
    offsets = np.arange(len(names), dtype=np.int64) * record + len(names[0]) + 2
    path.write_text("".join(f"{n}\t{length}\t{o}\t{length}\t{length + 1}\n"
                            for n, o in zip(names, offsets.tolist())))


def write_labels(path: Path, names: list[str], split: np.ndarray, labels: np.ndarray,
                 tasks: list[str]) -> None:
    """labels.tsv: name, split, one 0/1 column per task. labels: (N, T)."""
    table = pd.DataFrame(labels.astype(np.int64), columns=tasks)
    table.insert(0, "split", split)
    table.insert(0, "name", names)
    table.to_csv(path, sep="\t", index=False, lineterminator="\n")


def write_motif_bed(path: Path, names: list[str], inst: Instances,
                    library: list[Motif]) -> None:
    """motifs.bed (BED6, 0-based half-open): seq, start, end, motif id, log-odds, strand."""
    width = np.array([m.width for m in library], dtype=np.int64)[inst.motif]
    table = pd.DataFrame({
        "chrom": np.asarray(names, dtype=object)[inst.seq], "start": inst.start,
        "end": inst.start + width, "name": np.array([m.id for m in library])[inst.motif],
        "score": np.round(inst.score, 3), "strand": np.where(inst.minus, "-", "+")})
    table.to_csv(path, sep="\t", header=False, index=False, lineterminator="\n")


def write_peaks(path: Path, names: list[str], peaks: Peaks) -> None:
    """peaks.bed as narrowPeak: column 10 is the summit offset from the peak start."""
    table = pd.DataFrame({
        "chrom": np.asarray(names, dtype=object)[peaks.seq], "start": peaks.start,
        "end": peaks.end, "name": [f"peak{i}" for i in range(peaks.seq.size)],
        "score": peaks.score, "strand": ".", "signalValue": np.round(peaks.reads, 3),
        "pValue": -1, "qValue": -1, "peak": peaks.summit - peaks.start})
    table.to_csv(path, sep="\t", header=False, index=False, lineterminator="\n")


def write_bigwig(path: Path, names: list[str], values: np.ndarray) -> None:
    """One bigWig, one chromosome per sequence; values (N, L), only non-zero bases stored."""
    bw = pyBigWig.open(str(path), "w")
    # No zoom levels: each "chromosome" is one short sequence, and zooms cost ~1 s per
    # 10 Mbp to build; readers fall back to the raw values.
    bw.addHeader([(n, int(values.shape[1])) for n in names], maxZooms=0)
    for i in np.flatnonzero(values.any(axis=1)):   # one call per sequence
        cols = np.flatnonzero(values[i])
        bw.addEntries(names[i], cols.astype(np.int64), values=values[i, cols].astype(np.float64),
                      span=1)
    bw.close()


def write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def check_target(out: Path, force: bool) -> None:
    """Refuse a non-empty output folder unless ``force``; refuse a file in the way."""
    check_output_folder(out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise RegbenchError(f"{out} is not empty; choose another --out or pass --force "
                            "to replace it")


@contextlib.contextmanager
def atomic_directory(out: Path, force: bool):
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` by rename,
    on any error (or Ctrl-C) it is deleted, so ``out`` is never half-written. Its files
    are synced to disk before the rename, and the rename after it: a power loss leaves
    the old folder or the whole new one."""
    from regbench.store.runs import sync_folder, sync_tree
    check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        sync_tree(tmp)
        _swap_in(tmp, out)
        sync_folder(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first, then deleted."""
    if not out.exists():
        tmp.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    out.rename(old / out.name)
    try:
        tmp.rename(out)
    except BaseException:
        (old / out.name).rename(out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
