"""BED (motif instances, peaks) and bigWig (per-strand signal) readers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

from regbench.errors import RegbenchError

BED6 = ["chrom", "start", "end", "name", "score", "strand"]
BED_HEADERS = ("#", "track", "browser")
BED_FORMAT = ("write BED (chrom, start, end, then optionally name, score, strand), "
              "tab-separated")


def note(line: str, notes: list | None = None) -> None:
    """Print a data note (``data: note: ...``) and keep it in ``notes`` (the Dataset's
    ``notes``, recorded in config.json as ``data_notes``) when one is given."""
    print(line, flush=True)
    if notes is not None:
        notes.append(line)


def bed_lines(path: Path) -> tuple[list[list[str]], list[int]]:
    """The tab-separated fields of each data line of a BED-like file and its line number
    (1-based). Blank lines and header lines ('#', 'track', 'browser') are skipped, as
    genome browsers and bedtools skip them; a line of fewer than 3 fields (chrom,
    start, end) is a RegbenchError naming the file and line."""
    rows, numbers = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(BED_HEADERS):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 3:
                raise RegbenchError(f"{path} line {number}: expected at least chrom, start, "
                                    f"end; {BED_FORMAT}")
            rows.append(fields)
            numbers.append(number)
    return rows, numbers


def _column(rows, numbers, col: int, path: Path, default, parse, problem: str) -> list:
    """Field ``col`` of each row parsed by ``parse``; ``default`` where a row is shorter
    or the field is '.'; an unparseable field is a RegbenchError naming its line."""
    values = []
    for fields, number in zip(rows, numbers):
        text = fields[col].strip() if len(fields) > col else "."
        try:
            values.append(default if text == "." and default is not None else parse(text))
        except ValueError:
            raise RegbenchError(f"{path} line {number}: {problem}; {BED_FORMAT}") from None
    return values


def _strand(text: str) -> str:
    if text not in ("+", "-", "."):
        raise ValueError(text)
    return text


def read_bed(path: Path) -> pd.DataFrame:
    """A BED file as BED6 columns (chrom, start, end, name, score, strand), whatever its
    width: BED3, BED4, BED5, BED6 and wider (BED12, narrowPeak: extra columns ignored),
    as genomics tools read it. Missing columns get defaults: name "chrom:start-end",
    score 0.0, strand "." (no strand); a '.' score is 0.0. Header lines ('#', 'track',
    'browser') and blank lines are skipped; an empty file gives an empty table. A bad
    line (fewer than 3 fields, a start or end that is not a whole number, a score that
    is not a number, a strand other than +, - or .) is a RegbenchError naming the file
    and line; coordinates are checked against the sequences by ``check_intervals``."""
    return _bed6(*bed_lines(path), path)


def _bed6(rows, numbers, path: Path) -> pd.DataFrame:
    """``read_bed``'s table of the rows of ``bed_lines``."""
    chrom = [fields[0] for fields in rows]
    start, end = (np.array(_column(rows, numbers, col, path, None, int,
                                   "start and end must be whole numbers"), dtype=np.int64)
                  for col in (1, 2))
    name = [fields[3] if len(fields) > 3 and fields[3] not in ("", ".")
            else f"{c}:{s}-{e}" for fields, c, s, e in zip(rows, chrom, start, end)]
    score = _column(rows, numbers, 4, path, 0.0, float, "score must be a number or '.'")
    strand = _column(rows, numbers, 5, path, ".", _strand, "strand must be +, - or .")
    return pd.DataFrame({"chrom": pd.Series(chrom, dtype=object), "start": start,
                         "end": end, "name": pd.Series(name, dtype=object),
                         "score": np.array(score, dtype=np.float64),
                         "strand": pd.Series(strand, dtype=object)})


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


def read_summits(path: Path, index: pd.Index, length: int,
                 notes: list | None = None) -> np.ndarray:
    """Summit per sequence (N,) int64 from a narrowPeak (column 10 = offset from start)
    or a plain BED3 or wider (midpoint; header lines skipped, as ``read_bed``); the
    strongest peak (column 5, score; none or '.': 0) wins; no peak -> centre
    length // 2. Peaks on no sequence of ``index`` are left out with a note
    (``note_unmatched``)."""
    summits = np.full(len(index), length // 2, dtype=np.int64)
    rows, numbers = bed_lines(path)
    table = _bed6(rows, numbers, path)
    if table.empty:
        return summits
    start, end = table["start"].to_numpy(), table["end"].to_numpy()
    offset = np.array(_column(rows, numbers, 9, path, -1, int,
                              "column 10 (narrowPeak summit) must be a whole number"),
                      dtype=np.int64)
    summit = np.where(offset >= 0, start + offset, (start + end) // 2)
    score = table["score"].to_numpy(np.float64)
    row = index.get_indexer(table["chrom"])
    note_unmatched(path, table["chrom"].to_numpy(), row >= 0, "peaks", notes)
    keep = np.flatnonzero(row >= 0)
    keep = keep[np.lexsort((-score[keep], row[keep]))]   # best peak first per row
    summits[row[keep][::-1]] = summit[keep][::-1]       # later writes win: the best one
    return np.clip(summits, 0, max(length - 1, 0))


def read_bigwig(path: Path, names: list[str], length: int,
                notes: list | None = None) -> np.ndarray:
    """Values (N, length) float32 of each named chromosome's [0, length): NaN where the
    bigWig has no value (``fill_uncovered``), 0 for a sequence it lacks, with a note
    saying how many (none of them in it: a RegbenchError). Its chromosomes that name no
    sequence are left out with a note (``note_unmatched``); inf or negative counts are
    a RegbenchError (``check_counts``)."""
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        raise RegbenchError(f"cannot open {path} as a bigWig; regenerate it") from None
    out = np.zeros((len(names), length), dtype=np.float32)
    chroms = bw.chroms()
    listed = list(chroms)
    note_unmatched(path, listed, np.isin(listed, names), "chromosomes", notes)
    absent = [name for name in names if name not in chroms]
    if absent and len(absent) == len(names):
        raise RegbenchError(f"{path} has none of the {len(names)} sequences of labels.tsv "
                            f"(e.g. {absent[0]!r}); write one chromosome per sequence, "
                            "named as in sequences.fa")
    if absent:
        note(f"data: note: {len(absent)} of the {len(names)} sequences of labels.tsv are "
             f"not in {path} (e.g. {absent[0]!r}), so their counts are read as 0", notes)
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


def note_unmatched(path: Path, chroms, matched: np.ndarray, what: str,
                   notes: list | None = None) -> None:
    """Entries of ``path`` (BED rows, peaks, bigWig chromosomes; chroms (k,) their
    chromosome names) that name no sequence are left out by the caller: one note line
    (``note``, kept in ``notes``) says how many; when none names a sequence, a
    RegbenchError. matched (k,) bool."""
    missed = np.flatnonzero(~np.asarray(matched, bool))
    if not len(missed):
        return
    example, total = chroms[missed[0]], len(matched)
    if len(missed) == total:
        raise RegbenchError(f"{path}: none of its {total} {what} names a sequence of "
                            f"labels.tsv (e.g. {example!r}); name the sequences of "
                            "sequences.fa in its chromosome column")
    note(f"data: note: {len(missed)} of the {total} {what} in {path} name no sequence of "
         f"labels.tsv (e.g. {example!r}) and are left out", notes)


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
