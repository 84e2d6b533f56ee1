"""FASTA -> uint8 codes of equal-length sequences, through pyfaidx's index.

A, C, G, T in either case are the bases (lower case, soft-masked repeats, is read as
upper case without a word), N is unknown. Any other letter (IUPAC ambiguity codes,
protein letters, gaps) is read as N too, and counted: one note says how many of which
kind in how many sequences. A sequence more than half unknown (``MOSTLY_UNKNOWN``)
stops the run: it would be scored as real DNA."""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided
import pyfaidx

from regbench.data.encode import CODE_OF_BYTE
from regbench.errors import FULL_ERRNOS, RegbenchError
from regbench.store.runs import atomic_write

_CHUNK_BASES = 1 << 23  # gather this many bases at a time to bound memory
# A sequence with more than this share of N (or letters read as N) stops the run.
MOSTLY_UNKNOWN = 0.5
IUPAC_CODES = b"BDHKMRSUVWY"   # nucleotide ambiguity codes (and U, uracil) besides N


def open_fasta(path: Path) -> pyfaidx.Faidx:
    """pyfaidx index of ``path``, never written beside it: an up-to-date ``.fai`` next to
    the FASTA is used as it is; otherwise one is built once in the cache folder
    (``cache_dir()``), keyed by the FASTA's absolute path, size and mtime. Input folders
    may be read-only or shared."""
    path = Path(path)
    beside = Path(f"{path}.fai")
    try:
        if beside.is_file() and beside.stat().st_mtime >= path.stat().st_mtime and \
                (not str(path).endswith(".gz") or Path(f"{path}.gzi").is_file()):
            return pyfaidx.Faidx(str(path), rebuild=False, build_index=False)
        index = cache_dir() / f"{file_key(path)}.fai"
        if not index.is_file():
            _build_index(path, index)
        return pyfaidx.Faidx(str(path), indexname=str(index), rebuild=False,
                             build_index=False, gzi_indexname=f"{index}.gzi")
    except RegbenchError:   # the cache, not the FASTA (``writing_cache``)
        raise
    except (pyfaidx.FastaIndexingError, ValueError, OSError) as exc:
        raise RegbenchError(f"cannot index {path} ({exc}); check it is a FASTA file "
                            "(plain or bgzip-compressed)") from None


def cache_dir() -> Path:
    """Where regbench keeps the indexes it builds: $REGBENCH_CACHE, else
    $XDG_CACHE_HOME/regbench, else ~/.cache/regbench; subfolder fasta_index (created:
    a RegbenchError when it cannot be, ``writing_cache``)."""
    root = os.environ.get("REGBENCH_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "regbench"
    folder = Path(root) / "fasta_index"
    with writing_cache(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def writing_cache(folder):
    """Around a write into regbench's cache ``folder`` (FASTA indexes, extracted
    windows, file hashes): an OSError (a read-only folder, one that cannot be made, a
    path beneath a file) becomes one RegbenchError line naming the folder and how to
    pick another. A full disk stays itself: the command line says so."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise
        raise RegbenchError(f"the regbench cache folder {folder} is not writable "
                            f"({exc.strerror or exc}); set $REGBENCH_CACHE to a folder you "
                            "can write (it keeps FASTA indexes, extracted windows and file "
                            "hashes between runs)") from None


def file_key(path: Path) -> str:
    stat = path.stat()
    blob = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _build_index(path: Path, index: Path) -> None:
    """Build in a private folder, then rename: a worker never reads half an index, and
    workers with the same PID (containers on one shared cache) never write one file."""
    with writing_cache(index.parent):
        work = Path(tempfile.mkdtemp(prefix=f".{index.name}.", dir=index.parent))
    try:
        tmp = work / index.name
        pyfaidx.Faidx(str(path), indexname=str(tmp), gzi_indexname=f"{tmp}.gzi")
        with writing_cache(index.parent):
            if Path(f"{tmp}.gzi").is_file():
                os.replace(f"{tmp}.gzi", f"{index}.gzi")
            os.replace(tmp, index)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_codes(path: Path, names: list[str], notes: list | None = None) -> np.ndarray:
    """Codes (N, L) uint8 of the records ``names``, in that order; all must be length L.

    Letters other than A, C, G, T, N (either case) are read as N with one note
    (``tracks.note``, kept in ``notes``); a sequence more than ``MOSTLY_UNKNOWN`` N is a
    RegbenchError naming it."""
    fa = open_fasta(path)
    missing = [n for n in names if n not in fa.index]
    if missing:
        raise RegbenchError(f"{len(missing)} name(s) are not in {path}, e.g. {missing[0]!r}; "
                            "make labels.tsv and the FASTA name the same sequences")
    records = [fa.index[n] for n in names]
    lengths = np.array([r.rlen for r in records], dtype=np.int64)
    if lengths.size and (lengths != lengths[0]).any():
        raise RegbenchError(f"sequences in {path} have unequal lengths ({lengths.min()} to "
                            f"{lengths.max()} bp); trim or pad them to one length")
    length = int(lengths[0]) if lengths.size else 0
    tally = _Tally(len(names))
    if str(path).endswith(".gz"):
        codes = _read_compressed(fa, names, length, tally)
    else:
        codes = _gather(path, records, length, tally)
    _check_unknown(codes, path, names)
    tally.say(path, notes)
    return codes


class _Tally:
    """Letters read as N that are not N: counts per byte (256,), rows (N,) holding any."""

    def __init__(self, n: int):
        self.counts = np.zeros(256, dtype=np.int64)
        self.rows = np.zeros(n, dtype=bool)

    def add(self, letters: np.ndarray, codes: np.ndarray, rows: slice) -> None:
        """letters, codes (k, L) of the rows ``rows``: the bytes and their codes."""
        unknown = codes == 4
        if not unknown.any():
            return
        odd = unknown & (letters != ord("N")) & (letters != ord("n"))
        if odd.any():
            self.counts += np.bincount(letters[odd], minlength=256)
            self.rows[rows] |= odd.any(axis=1)

    def say(self, path: Path, notes: list | None) -> None:
        """One note: how many of which letters in how many sequences (none: silent)."""
        if not self.counts.any():
            return
        from regbench.data.tracks import note
        upper = self.counts.copy()
        upper[ord("A"):ord("Z") + 1] += upper[ord("a"):ord("z") + 1]
        upper[ord("a"):ord("z") + 1] = 0
        kinds = {"IUPAC codes": [], "other letters": [], "other characters": []}
        for byte in map(int, np.flatnonzero(upper)):
            letter = chr(byte)
            kind = ("IUPAC codes" if byte in IUPAC_CODES else "other letters"
                    if letter.isascii() and letter.isalpha() else "other characters")
            shown = (letter if kind != "other characters" else repr(letter)
                     if byte < 128 else f"byte 0x{byte:02x}")
            kinds[kind].append(f"{shown} {upper[byte]:,}")
        listed = "; ".join(f"{kind} {', '.join(found)}" for kind, found in kinds.items()
                           if found)
        note(f"data: note: {self.counts.sum():,} letters other than A, C, G, T, N in "
             f"{self.rows.sum():,} of the {self.rows.size:,} sequences of {path} are read "
             f"as N (unknown): {listed}", notes)


def _check_unknown(codes: np.ndarray, path: Path, names: list[str]) -> None:
    """A sequence more than MOSTLY_UNKNOWN N (codes (N, L), 4 = N) is a RegbenchError."""
    if not codes.size:
        return
    unknown = (codes == 4).sum(axis=1)
    mostly = np.flatnonzero(unknown > MOSTLY_UNKNOWN * codes.shape[1])
    if not len(mostly):
        return
    first = int(mostly[0])
    more = f"; so are {len(mostly) - 1:,} more" if len(mostly) > 1 else ""
    raise RegbenchError(f"{path}: sequence {names[first]!r} is mostly unknown "
                        f"({unknown[first]} of its {codes.shape[1]} bases are N or letters "
                        f"other than A, C, G, T; the limit is half{more}); a protein or "
                        "masked sequence cannot be scored as DNA: remove it from labels.tsv "
                        "or give its bases")


def _gather(path: Path, records, length: int, tally: _Tally) -> np.ndarray:
    """Vectorised read: byte of base j = offset + (j // bases_per_line) * bytes_per_line
    + j % bases_per_line, for every record at once."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    offset = np.array([r.offset for r in records], dtype=np.int64)[:, None]
    stride = np.diff(offset[:, 0])
    one_line = all(r.lenc >= length for r in records)
    if one_line and offset.size and (stride.size == 0 or (stride == stride[0]).all()):
        # Evenly spaced one-line records (what simulate writes): a strided view, no index.
        step = int(stride[0]) if stride.size else length
        if step >= length:
            view = as_strided(raw[offset[0, 0]:], shape=(len(records), length),
                              strides=(step, 1))
            codes = CODE_OF_BYTE[view]
            tally.add(view, codes, slice(None))
            return codes
    per_line = np.array([r.lenc for r in records], dtype=np.int64)[:, None]
    line_bytes = np.array([r.lenb for r in records], dtype=np.int64)[:, None]
    cols = np.arange(length, dtype=np.int64)
    codes = np.empty((len(records), length), dtype=np.uint8)
    step = max(1, _CHUNK_BASES // max(length, 1))
    for a in range(0, len(records), step):
        b = slice(a, a + step)
        where = offset[b] + cols // per_line[b] * line_bytes[b] + cols % per_line[b]
        letters = raw[where]
        codes[b] = CODE_OF_BYTE[letters]
        tally.add(letters, codes[b], b)
    return codes


def _read_compressed(fa: pyfaidx.Faidx, names: list[str], length: int,
                     tally: _Tally) -> np.ndarray:
    codes = np.empty((len(names), length), dtype=np.uint8)
    for i, name in enumerate(names):   # one call per record; bgzip needs pyfaidx's reader
        letters = np.frombuffer(fa.fetch(name, 1, length).seq.encode(), dtype=np.uint8)
        codes[i] = CODE_OF_BYTE[letters]
        tally.add(letters[None], codes[i:i + 1], slice(i, i + 1))
    return codes


def indexed_path(path: Path) -> Path:
    """A path to ``path`` with an up-to-date ``.fai`` beside it, for libraries that
    open FASTA files by name (tangermeme): ``path`` itself when its own index is
    current, else a link in the cache folder next to the cached index."""
    path = Path(path).resolve()
    beside = Path(f"{path}.fai")
    if beside.is_file() and beside.stat().st_mtime >= path.stat().st_mtime:
        return path
    open_fasta(path)  # builds the cached index, or fails with a clear message
    index = cache_dir() / f"{file_key(path)}.fai"
    link = cache_dir() / file_key(path) / path.name
    with writing_cache(link.parent):
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            tmp = link.with_name(f".{link.name}.{secrets.token_hex(8)}.tmp")   # not the PID
            tmp.symlink_to(path)
            os.replace(tmp, link)
        linked_index = Path(f"{link}.fai")
        if not linked_index.is_file():
            atomic_write(linked_index, index.read_bytes())
    return link
