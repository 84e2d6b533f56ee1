"""One dataset folder (simulated or real, same formats) -> arrays for training.

Files: ``sequences.fa`` and ``labels.tsv`` (required); ``motifs.bed`` (ground-truth motif
instances), ``peaks.bed`` (summits), ``signal.plus.bw`` / ``signal.minus.bw`` and
``manifest.json`` (optional). The BED files are standard BED (BED3 and wider, header
lines skipped; ``tracks.read_bed``). What the formats accept, and what is noted or
stops a run: docs/data.md.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from regbench.data import tracks
from regbench.data.encode import one_hot
from regbench.data.fasta import read_codes
from regbench.data.split import DEFAULT_FRACTIONS, SPLITS, stratified_split
from regbench.errors import RegbenchError

FASTA, LABELS, MOTIFS, PEAKS, MANIFEST = ("sequences.fa", "labels.tsv", "motifs.bed",
                                          "peaks.bed", "manifest.json")
SIGNALS = ("signal.plus.bw", "signal.minus.bw")


@dataclass(frozen=True)
class Flanked:
    """The same windows with ``flank`` more bases each side, for jitter augmentation:
    codes (N, L + 2 flank) uint8; signal and control (N, 2, L + 2 flank) float32 or
    None."""

    flank: int
    codes: np.ndarray
    signal: np.ndarray | None = None
    control: np.ndarray | None = None

    def rows(self, rows) -> "Flanked":
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return Flanked(self.flank, self.codes[rows], pick(self.signal), pick(self.control))


@dataclass
class Dataset:
    """Sequences with labels and ground truth, row-aligned.

    codes (N, L) uint8 A=0 C=1 G=2 T=3 N=4; labels (N, T) float32; split (N,) of
    "train"/"valid"/"test"; motif_mask (N, L) bool, True inside task-motif instances
    (decoys excluded), or None; motifs: BED6 rows plus a bool ``decoy`` column, or None;
    summits (N,) int64; signal (N, 2, L) float32 read counts (plus, minus strand) or None;
    split_source says where the split came from (labels.tsv or drawn automatically);
    peak_mask (N, L) bool, True inside the row's peak interval (genome data), or None;
    flanked: the same windows with flanks for jitter (``Flanked``), or None;
    control (N, 2, L) float32 read counts of a control experiment (plus, minus), or
    None; notes: the data notes said while loading (``data: note: ...`` lines: rows
    left out, letters read as N, sequences a bigWig lacks, no motif truth), recorded
    in config.json as ``data_notes``.
    """

    path: Path
    names: list[str]
    codes: np.ndarray
    labels: np.ndarray
    tasks: list[str]
    split: np.ndarray
    motif_mask: np.ndarray | None
    motifs: pd.DataFrame | None
    summits: np.ndarray
    manifest: dict
    fingerprint: str
    signal: np.ndarray | None = field(default=None)
    split_source: str = "the split column of labels.tsv"
    peak_mask: np.ndarray | None = field(default=None)
    flanked: Flanked | None = field(default=None)
    control: np.ndarray | None = field(default=None)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def length(self) -> int:
        return int(self.codes.shape[1])

    @classmethod
    def from_arrays(cls, names, codes: np.ndarray, labels: np.ndarray, split,
                    tasks=None, motif_mask: np.ndarray | None = None, summits=None,
                    source: str = "arrays", signal: np.ndarray | None = None,
                    peak_mask: np.ndarray | None = None) -> "Dataset":
        """A Dataset from arrays in memory (a data source's output): codes (N, L) uint8,
        labels (N, T), split (N,) of train/valid/test, motif_mask (N, L) bool or None,
        summits (N,) (default: the centre), signal (N, 2, L) per-strand counts or None,
        peak_mask (N, L) bool or None. The fingerprint hashes the arrays."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        labels = np.asarray(labels, dtype=np.float32).reshape(len(codes), -1)
        split = np.asarray(split, dtype="<U5")
        if not len(names) == len(codes) == len(split):
            raise RegbenchError(f"names, codes and split must have the same length, got "
                                f"{len(names)}, {len(codes)} and {len(split)}")
        if not np.isin(split, SPLITS).all():
            raise RegbenchError(f"split must hold only {', '.join(SPLITS)}")
        tasks = list(tasks) if tasks is not None else [f"task{i}" for i in range(labels.shape[1])]
        summits = (np.full(len(codes), codes.shape[1] // 2, np.int64) if summits is None
                   else np.asarray(summits, np.int64))
        digest = hashlib.sha256()
        for part in (codes, labels, split, motif_mask, summits, signal, peak_mask):
            if part is not None:
                digest.update(np.ascontiguousarray(part).tobytes())
        digest.update("\0".join(list(names) + tasks).encode())
        return cls(Path(source), list(names), codes, labels, tasks, split, motif_mask, None,
                   summits, {}, digest.hexdigest()[:16],
                   None if signal is None else np.asarray(signal, np.float32),
                   peak_mask=None if peak_mask is None else np.asarray(peak_mask, bool))

    def one_hot(self) -> torch.Tensor:
        """All sequences one-hot, (N, 4, L) float32."""
        return one_hot(self.codes)

    def subset(self, which) -> "Dataset":
        """Rows of one split ("train", "valid", "test"), a bool mask (N,) or indices.

        The fingerprint stays the parent's: it names the files, not the rows.
        """
        if isinstance(which, str):
            if which not in SPLITS:
                raise RegbenchError(f"unknown split {which!r}; use one of {', '.join(SPLITS)}")
            which = self.split == which
        rows = np.arange(len(self))[np.asarray(which)]
        names = [self.names[i] for i in rows]
        motifs = None
        if self.motifs is not None:
            motifs = self.motifs[self.motifs["chrom"].isin(set(names))].reset_index(drop=True)
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return dataclasses.replace(
            self, names=names, codes=self.codes[rows], labels=self.labels[rows],
            split=self.split[rows], motif_mask=pick(self.motif_mask), motifs=motifs,
            summits=self.summits[rows], signal=pick(self.signal),
            peak_mask=pick(self.peak_mask),
            flanked=None if self.flanked is None else self.flanked.rows(rows),
            control=pick(self.control))

    def share(self, seed: int, fraction: float) -> "Dataset":
        """These rows, or a share of them: per class, the first ``fraction`` of the rows
        (at least 2) in an order drawn with ``seed``. Every regularizer of a seed sees the
        same rows, and the shares are nested: a smaller share's rows are inside every
        larger one's."""
        if fraction >= 1:
            return self
        rng = np.random.default_rng([seed, 11])
        positive = self.labels.max(axis=1) > 0
        keep = []
        for rows in (np.flatnonzero(positive), np.flatnonzero(~positive)):
            n = min(len(rows), max(2, round(fraction * len(rows))))
            keep.append(rng.permutation(rows)[:n])
        return self.subset(np.sort(np.concatenate(keep)))

    def with_flanks(self) -> "Dataset":
        """The rows with their flanked windows as codes and signal (L + 2 flank wide),
        for training with jitter; itself when there are no flanks. Ground truth
        (motif and peak masks) is dropped: it is in the centred coordinates."""
        if self.flanked is None:
            return self
        return dataclasses.replace(self, codes=self.flanked.codes, signal=self.flanked.signal,
                                   control=self.flanked.control, motif_mask=None,
                                   motifs=None, peak_mask=None, flanked=None)


# Files up to this size are hashed as they are read; larger ones (a genome, bigWigs) are
# hashed whole once, and the hash is cached (``_whole_file_hash``).
WHOLE_FILE_BYTES = 64 << 20


def fingerprint(folder: Path) -> str:
    """Short sha256 of the folder's data files: each file's name, size and bytes (a
    file above WHOLE_FILE_BYTES through its cached whole-file hash, so a genome is
    not read whole at every run). Content only, no mtimes: a copied folder keeps its
    fingerprint. Indexes and dotfiles are skipped."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix != ".fai":
            _digest_file(digest, path)
    return digest.hexdigest()[:16]


def fingerprint_file(path) -> str:
    """The same fingerprint for one file (name, size, bytes)."""
    digest = hashlib.sha256()
    _digest_file(digest, Path(path))
    return digest.hexdigest()[:16]


def _digest_file(digest, path: Path) -> None:
    size = path.stat().st_size
    digest.update(f"{path.name}\0{size}\0".encode())
    if size > WHOLE_FILE_BYTES:
        digest.update(_whole_file_hash(path).encode())
        return
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def _whole_file_hash(path: Path) -> str:
    """sha256 of all of a large file's bytes, cached by (resolved path, size, mtime_ns)
    in the user's regbench cache (``fasta.cache_dir``'s parent, fingerprints/): an
    edit, even one that keeps the size, changes the mtime and so is hashed again. The
    cache is the user's, not the results folder's: inputs such as a genome serve many
    results folders and may be read-only. Without a writable cache it hashes every time."""
    from regbench.data.fasta import file_key, cache_dir
    from regbench.store.runs import atomic_write
    key = file_key(path)
    try:
        cached = cache_dir().parent / "fingerprints" / f"{key}.sha256"
        known = cached.read_text().strip() if cached.is_file() else ""
    except (OSError, RegbenchError):   # no cache folder (``writing_cache``)
        cached, known = None, ""
    if len(known) == 64 and all(c in "0123456789abcdef" for c in known):
        return known
    print(f"data: hashing {path} ({path.stat().st_size / 2 ** 30:.1f} GiB) once, to "
          "notice any later edit", flush=True)
    with open(path, "rb") as handle:
        whole = hashlib.file_digest(handle, "sha256").hexdigest()
    if cached is not None and file_key(path) == key:   # not changed while it was read
        try:
            atomic_write(cached, whole + "\n")
        except OSError:
            pass
    return whole


def _read_labels(path: Path) -> tuple[list[str], np.ndarray, list[str], np.ndarray | None]:
    """names, labels (N, T) float32, tasks, split (N,) or None from labels.tsv."""
    try:
        table = pd.read_csv(path, sep="\t", dtype={"name": str, "split": str})
    except pd.errors.EmptyDataError:
        raise RegbenchError(f"{path} is empty; write a header (name, split, one 0/1 column "
                            "per task) and a row per sequence") from None
    except (OSError, ValueError) as exc:   # unreadable, not UTF-8 text, not a table
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RegbenchError(f"{path} cannot be read ({why}); it must be a tab-separated UTF-8 "
                            "text file you can read: name, split, one 0/1 column per "
                            "task") from None
    if table.columns[0] != "name" or table["name"].duplicated().any():
        raise RegbenchError(f"{path} must start with a 'name' column of unique sequence "
                            "names; fix its header or remove duplicated rows")
    tasks = [c for c in table.columns if c not in ("name", "split")]
    if not tasks:
        raise RegbenchError(f"{path} has no task columns; add one 0/1 column per task")
    if table.empty:
        raise RegbenchError(f"{path} has a header but no rows; add a row per sequence")
    try:
        labels = table[tasks].to_numpy(np.float32)
    except ValueError:
        raise RegbenchError(f"{path}: task columns must hold numbers (0/1)") from None
    if np.isnan(labels).any():
        raise RegbenchError(f"{path} has empty label cells; fill every task column")
    _check_binary(labels, tasks, table["name"], path)
    split = table["split"].to_numpy(dtype="<U5") if "split" in table else None
    if split is not None and not np.isin(split, SPLITS).all():
        raise RegbenchError(f"{path}: split must be one of {', '.join(SPLITS)}")
    return table["name"].tolist(), labels, tasks, split


def _check_binary(labels: np.ndarray, tasks: list[str], names: pd.Series,
                  path: Path) -> None:
    """Labels (N, T) must be 0 or 1: the loss, class weights and auROC assume it."""
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        col = int(np.argmax(bad[row]))
        raise RegbenchError(f"{path}: column {tasks[col]!r} holds {labels[row, col]:g} in "
                            f"row {row + 1} (sequence {names.iloc[row]!r}); labels must be "
                            "0 or 1")


def _read_motifs(folder: Path, names: list[str], length: int, manifest: dict,
                 notes: list) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """motifs.bed as a table (BED6 and ``decoy``) and the (N, L) mask of its task motifs
    (decoys, named by manifest.json's ``decoy_motif_ids``, left out). Without the file,
    or when it lists no task motif (empty, header lines only, decoys only), there is no
    motif truth: (None, None), with a note in the latter case, so the motif metrics are
    NaN rather than 0.0."""
    path = folder / MOTIFS
    if not path.is_file():
        return None, None
    table = tracks.read_bed(path)
    index = pd.Index(names)
    on_a_sequence = index.get_indexer(table["chrom"]) >= 0
    tracks.note_unmatched(path, table["chrom"].to_numpy(), on_a_sequence, "rows", notes)
    table = table[on_a_sequence].reset_index(drop=True)
    tracks.check_intervals(table, length, path)
    decoys = set(manifest.get("decoy_motif_ids", []))
    table["decoy"] = table["name"].isin(decoys)
    task = table[~table["decoy"]]
    if task.empty:
        why = ("lists only decoy motifs (manifest.json's decoy_motif_ids)" if len(table)
               else "lists no motif instance")
        tracks.note(f"data: note: {path} {why}, so the motif metrics (motif fraction, "
                    "motif auPRC) are not scored (NaN) and GC reliance counts every base "
                    "as background; list the task's motif instances in it to score them",
                    notes)
        return None, None
    mask = tracks.interval_mask(index.get_indexer(task["chrom"]), task["start"].to_numpy(),
                                task["end"].to_numpy(), len(names), length)
    return table, mask


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset folder (the output of ``regbench simulate`` or real data alike)."""
    folder = Path(path)
    if folder.is_file():
        raise RegbenchError(f"{folder} is a file; give the dataset folder (sequences.fa and "
                            "labels.tsv, as `regbench simulate` writes)")
    for required in (FASTA, LABELS):
        if not (folder / required).is_file():
            raise RegbenchError(f"{folder / required} is missing; point to a folder made by "
                                "`regbench simulate` or holding sequences.fa and labels.tsv")
    manifest = (json.loads((folder / MANIFEST).read_text())
                if (folder / MANIFEST).is_file() else {})
    names, labels, tasks, split = _read_labels(folder / LABELS)
    split_source = Dataset.split_source
    if split is None:   # real data without a recorded split: a seeded, stratified one
        split = stratified_split(labels > 0.5, seed=0)
        shares = "/".join(f"{DEFAULT_FRACTIONS[s]:.0%}" for s in SPLITS)
        split_source = (f"automatic: {LABELS} has no split column, so a split stratified by "
                        f"label was drawn with seed 0 (train/valid/test {shares})")
    notes: list[str] = []
    codes = read_codes(folder / FASTA, names, notes)
    length = codes.shape[1]
    motifs, mask = _read_motifs(folder, names, length, manifest, notes)
    summits = (tracks.read_summits(folder / PEAKS, pd.Index(names), length, notes)
               if (folder / PEAKS).is_file() else np.full(len(names), length // 2, np.int64))
    signal = None
    if all((folder / s).is_file() for s in SIGNALS):
        strands = [(s, tracks.read_bigwig(folder / s, names, length, notes))
                   for s in SIGNALS]
        note = tracks.fill_uncovered(strands)
        # regbench's simulator leaves out the bases without reads by design: no news
        if note and manifest.get("kind") != "simulation":
            tracks.note(note, notes)
        signal = np.stack([values for _, values in strands], axis=1)
    return Dataset(folder, names, codes, labels, tasks, split, mask, motifs, summits,
                   manifest, fingerprint(folder), signal, split_source, notes=notes)
