"""BED (motif instances, peaks) and bigWig (per-strand signal) readers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

from regbench.errors import RegbenchError

BED6 = ["chrom", "start", "end", "name", "score", "strand"]


def read_bed6(path: Path) -> pd.DataFrame:
    """The first six columns of a BED file (extra columns ignored)."""
    if path.stat().st_size == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.int64 if c in ("start", "end") else object)
                             for c in BED6})
    try:
        table = pd.read_csv(path, sep="\t", header=None, comment="#", usecols=range(6),
                            names=BED6, dtype={"chrom": str, "start": np.int64,
                                               "end": np.int64, "name": str, "strand": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise RegbenchError(f"{path} is not a 6-column BED file ({exc}); write chrom, start, "
                            "end, name, score, strand separated by tabs") from None
    return table


def interval_mask(rows: np.ndarray, start: np.ndarray, end: np.ndarray, n: int,
                  length: int) -> np.ndarray:
    """Boolean (n, length) mask, True inside each [start, end) of row ``rows`` (all (k,))."""
    widest = int((end - start).max()) if len(start) else 0
    if len(start) * widest <= n * length:   # short intervals: set their bases directly
        cols = np.arange(widest)
        flat = (rows * length + start)[:, None] + cols
        mask = np.zeros(n * length, dtype=bool)
        mask[flat[cols < (end - start)[:, None]]] = True
        return mask.reshape(n, length)
    delta = np.zeros((n, length + 1), dtype=np.int32)
    np.add.at(delta, (rows, start), 1)
    np.add.at(delta, (rows, end), -1)
    return np.cumsum(delta[:, :length], axis=1) > 0


def check_intervals(table: pd.DataFrame, length: int, path: Path) -> None:
    bad = (table["start"] < 0) | (table["end"] > length) | (table["start"] >= table["end"])
    if bad.any():
        row = table[bad].iloc[0]
        raise RegbenchError(f"{path}: interval {row['chrom']}:{row['start']}-{row['end']} is "
                            f"empty or outside 0-{length}; fix the BED coordinates")


def read_summits(path: Path, index: pd.Index, length: int) -> np.ndarray:
    """Summit per sequence (N,) int64 from a narrowPeak (column 10 = offset from start)
    or a plain BED (midpoint); the strongest peak wins; no peak -> centre length // 2."""
    summits = np.full(len(index), length // 2, dtype=np.int64)
    if path.stat().st_size == 0:
        return summits
    table = pd.read_csv(path, sep="\t", header=None, comment="#", dtype={0: str})
    if table.shape[1] < 3:
        raise RegbenchError(f"{path} needs at least chrom, start, end columns")
    start, end = table[1].to_numpy(np.int64), table[2].to_numpy(np.int64)
    offset = table[9].to_numpy(np.int64) if table.shape[1] >= 10 else np.full(len(table), -1)
    summit = np.where(offset >= 0, start + offset, (start + end) // 2)
    score = table[4].to_numpy(np.float64) if table.shape[1] >= 5 else np.zeros(len(table))
    row = index.get_indexer(table[0])
    keep = np.flatnonzero(row >= 0)
    keep = keep[np.lexsort((-score[keep], row[keep]))]   # best peak first per row
    summits[row[keep][::-1]] = summit[keep][::-1]       # later writes win: the best one
    return np.clip(summits, 0, max(length - 1, 0))


def read_bigwig(path: Path, names: list[str], length: int) -> np.ndarray:
    """Values (N, length) float32 of each named chromosome's [0, length); missing = 0."""
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        raise RegbenchError(f"cannot open {path} as a bigWig; regenerate it") from None
    out = np.zeros((len(names), length), dtype=np.float32)
    chroms = bw.chroms()
    for i, name in enumerate(names):   # one call per sequence, vectorised inside pyBigWig
        if name in chroms:
            n = min(length, chroms[name])
            out[i, :n] = bw.values(name, 0, n, numpy=True)
    bw.close()
    return np.nan_to_num(out, copy=False)


def _open_bigwig(path: Path):
    """An open pyBigWig reader; a file that is not a bigWig is a RegbenchError."""
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        bw = None
    if bw is None or not bw.isBigWig():
        raise RegbenchError(f"{path} is not a readable bigWig file")
    return bw


def bigwig_chroms(path: Path) -> dict[str, int]:
    """Chromosome sizes of a bigWig; a file that is not one is a RegbenchError."""
    bw = _open_bigwig(path)
    try:
        return dict(bw.chroms())
    finally:
        bw.close()


def read_bigwig_windows(path: Path, chroms, starts, length: int) -> np.ndarray:
    """Values (N, length) float32 of windows [start, start + length) of a bigWig; NaN and
    positions past a chromosome's end are 0. A chromosome the bigWig lacks, or a file
    that is not a bigWig, is a RegbenchError naming the file."""
    bw = _open_bigwig(path)
    sizes = bw.chroms()
    out = np.zeros((len(starts), length), dtype=np.float32)
    try:
        for i, (chrom, start) in enumerate(zip(chroms, starts)):
            if chrom not in sizes:
                raise RegbenchError(f"{path} has no chromosome {chrom}; check it was made on "
                                    "the same genome as the FASTA")
            lo, hi = max(int(start), 0), min(int(start) + length, sizes[chrom])
            if hi > lo:
                out[i, lo - int(start):hi - int(start)] = bw.values(chrom, lo, hi, numpy=True)
    finally:
        bw.close()
    return np.nan_to_num(out, copy=False)
