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
    or a plain BED (midpoint); the strongest peak wins; no peak -> centre length // 2.
    Peaks on no sequence of ``index`` are left out with a note (``note_unmatched``)."""
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
    note_unmatched(path, table[0].to_numpy(), row >= 0, "peaks")
    keep = np.flatnonzero(row >= 0)
    keep = keep[np.lexsort((-score[keep], row[keep]))]   # best peak first per row
    summits[row[keep][::-1]] = summit[keep][::-1]       # later writes win: the best one
    return np.clip(summits, 0, max(length - 1, 0))


def read_bigwig(path: Path, names: list[str], length: int) -> np.ndarray:
    """Values (N, length) float32 of each named chromosome's [0, length): NaN where the
    bigWig has no value (``fill_uncovered``), 0 for a sequence it lacks. Its
    chromosomes that name no sequence are left out with a note (``note_unmatched``);
    inf or negative counts are a RegbenchError (``check_counts``)."""
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        raise RegbenchError(f"cannot open {path} as a bigWig; regenerate it") from None
    out = np.zeros((len(names), length), dtype=np.float32)
    chroms = bw.chroms()
    listed = list(chroms)
    note_unmatched(path, listed, np.isin(listed, names), "chromosomes")
    for i, name in enumerate(names):   # one call per sequence, vectorised inside pyBigWig
        if name in chroms:
            n = min(length, chroms[name])
            out[i, :n] = _values(bw, name, 0, n)
    bw.close()
    check_counts(out, path, names, np.zeros(len(names), np.int64))
    return out


def _values(bw, chrom: str, lo: int, hi: int):
    """The bigWig's values on [lo, hi), NaN where not covered: (hi - lo,) float, or NaN
    for a bigWig without any value (pyBigWig then returns an empty array)."""
    values = bw.values(chrom, lo, hi, numpy=True)
    return values if len(values) == hi - lo else np.nan


def note_unmatched(path: Path, chroms, matched: np.ndarray, what: str) -> None:
    """Entries of ``path`` (BED rows, peaks, bigWig chromosomes; chroms (k,) their
    chromosome names) that name no sequence are left out by the caller: one note line
    says how many; when none names a sequence, a RegbenchError. matched (k,) bool."""
    missed = np.flatnonzero(~np.asarray(matched, bool))
    if not len(missed):
        return
    example, total = chroms[missed[0]], len(matched)
    if len(missed) == total:
        raise RegbenchError(f"{path}: none of its {total} {what} names a sequence of "
                            f"labels.tsv (e.g. {example!r}); name the sequences of "
                            "sequences.fa in its chromosome column")
    print(f"data: note: {len(missed)} of the {total} {what} in {path} name no sequence of "
          f"labels.tsv (e.g. {example!r}) and are left out", flush=True)


def check_counts(values: np.ndarray, path: Path, chroms, starts) -> None:
    """Read counts must be finite and >= 0 (NaN: not covered, see ``fill_uncovered``):
    the first other value is a RegbenchError naming the file, chromosome and base.
    values (N, W) of windows starting at starts (N,) on chroms (N,)."""
    bad = np.isinf(values) | (values < 0)
    if not bad.any():
        return
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    col = int(np.argmax(bad[row]))
    raise RegbenchError(f"{path}: chromosome {chroms[row]} has the value "
                        f"{values[row, col]:g} at base {int(starts[row]) + col}; read counts "
                        "must be finite and >= 0, so regenerate the bigWig")


def fill_uncovered(tracks: list[tuple[str, np.ndarray]]) -> str | None:
    """NaN -> 0 in place in each (name, values) pair; the note line saying so, or None.

    pyBigWig returns NaN for the bases a bigWig has no value for, and count bigWigs
    leave out bases without reads (bedGraphToBigWig, regbench's simulator), so NaN
    reads as zero reads."""
    counts = []
    for name, values in tracks:
        uncovered = np.isnan(values)
        if uncovered.any():
            values[uncovered] = 0
            counts.append(f"{name} {int(uncovered.sum()):,} of {values.size:,}")
    if not counts:
        return None
    return ("data: note: bases without a value in the bigWigs (NaN: not covered) are read "
            f"as 0 counts: {'; '.join(counts)}")


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
    """Values (N, length) float32 of windows [start, start + length) of a bigWig: NaN
    where it has no value (``fill_uncovered``), 0 past a chromosome's end. A chromosome
    the bigWig lacks, a file that is not a bigWig, or inf or negative counts
    (``check_counts``), is a RegbenchError naming the file."""
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
                out[i, lo - int(start):hi - int(start)] = _values(bw, chrom, lo, hi)
    finally:
        bw.close()
    check_counts(out, path, chroms, starts)
    return out
