"""Motifs: position frequency matrices from MEME files, the built-in JASPAR set, pyjaspar.

A motif is named by its id or its name, case-insensitively (``MA0080.7``, ``MA0080``,
``SPI1``). A name prefixed ``jaspar:`` is fetched through the optional ``pyjaspar``
package instead of the MEME files.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from memelite.io import read_meme as _memelite_read_meme

from regbench.errors import RegbenchError
from regbench.lookup import shipped_simulations

BUILTIN_MEME = "jaspar2026_selected.meme"
JASPAR_PREFIX = "jaspar:"
# Added to every frequency so that a zero in a PFM does not give a -inf score.
PSEUDOCOUNT = 0.01
BACKGROUND = 0.25  # log-odds are against a uniform background, whatever the GC


@dataclass(frozen=True, eq=False)
class Motif:
    """One motif: ``pfm`` of shape (4, W), rows A, C, G, T, each column summing to 1."""

    id: str
    name: str
    pfm: np.ndarray
    source: str = ""

    @property
    def width(self) -> int:
        return int(self.pfm.shape[1])

    @property
    def log_odds(self) -> np.ndarray:
        """Log2-odds against a uniform background, shape (5, W); row 4 (N) scores 0."""
        freq = (self.pfm + PSEUDOCOUNT) / (1 + 4 * PSEUDOCOUNT)
        return np.vstack([np.log2(freq / BACKGROUND), np.zeros((1, self.width))])

    @property
    def max_score(self) -> float:
        return float(self.log_odds[:4].max(axis=0).sum())

    def score(self, codes: np.ndarray) -> np.ndarray:
        """Log-odds scores of windows read 5'->3' on the motif's strand.

        codes: (n, W) uint8 codes (A=0, C=1, G=2, T=3, N=4). Returns (n,) float64.
        """
        codes = np.asarray(codes)
        return self.log_odds[codes, np.arange(self.width)].sum(axis=-1)


def make_motif(motif_id: str, name: str, pfm, source: str = "") -> Motif:
    """Build a Motif from a (4, W) matrix of frequencies or counts, normalising columns."""
    pfm = np.asarray(pfm, dtype=np.float64)
    if pfm.ndim != 2 or pfm.shape[0] != 4 or pfm.shape[1] == 0 or (pfm < 0).any():
        raise RegbenchError(f"motif {motif_id} in {source or 'input'} is not a non-negative "
                            f"4 x W matrix (got shape {pfm.shape}); fix the matrix")
    totals = pfm.sum(axis=0)
    if (totals <= 0).any():
        raise RegbenchError(f"motif {motif_id} in {source or 'input'} has an all-zero "
                            "column; fix the matrix")
    return Motif(motif_id, name, pfm / totals, source)


def read_meme(path: str | Path) -> list[Motif]:
    """Read every motif of a MEME file (memelite does the parsing)."""
    path = Path(path)
    if not path.is_file():
        raise RegbenchError(f"motif file {path} does not exist; give the path of a MEME file")
    try:
        raw = _memelite_read_meme(str(path))
    except (ValueError, IndexError, AttributeError) as exc:
        raise RegbenchError(f"could not read MEME file {path} ({exc}); "
                            "check it is in MEME minimal motif format") from None
    if not raw:
        raise RegbenchError(f"no motifs found in {path}; check it is a MEME motif file")
    motifs = []
    for header, pwm in raw.items():
        fields = header.split(maxsplit=1)
        motifs.append(make_motif(fields[0], fields[-1], pwm, str(path)))
    return motifs


@lru_cache(maxsize=1)
def builtin_motifs() -> tuple[Motif, ...]:
    """The shipped JASPAR 2026 selection (SPI1, GATA2, CTCF, ...), no download needed."""
    with resources.as_file(shipped_simulations() / BUILTIN_MEME) as path:
        motifs = read_meme(path)
    # A machine-independent source, so manifests do not depend on the install path.
    return tuple(dataclasses.replace(m, source=f"builtin:{BUILTIN_MEME}") for m in motifs)


def _matches(motif: Motif, key: str) -> bool:
    key = key.lower()
    return key in (motif.id.lower(), motif.name.lower(), motif.id.split(".")[0].lower())


def find_motif(key: str, motifs) -> Motif | None:
    """The motif whose id, unversioned id or name equals ``key`` (case-insensitive)."""
    hits = [m for m in motifs if _matches(m, key)]
    exact = [m for m in hits if m.id.lower() == key.lower()]
    if len(exact) == 1 or len(hits) == 1:
        return (exact or hits)[0]
    if hits:
        ids = ", ".join(m.id for m in hits)
        raise RegbenchError(f"motif name {key!r} is ambiguous ({ids}); name it by its id")
    return None


def fetch_jaspar(key: str, release: str | None = None) -> Motif:
    """Fetch one motif by id or name from the JASPAR database through ``pyjaspar``."""
    try:
        from pyjaspar import jaspardb
    except ImportError:
        raise RegbenchError(f"motif {JASPAR_PREFIX}{key} needs the optional pyjaspar "
                            "package: pip install 'regbench[jaspar]'") from None
    db = jaspardb(release=release) if release else jaspardb()
    found = db.fetch_motif_by_id(key) if key.upper().startswith("MA") else None
    if found is None:
        by_name = db.fetch_motifs_by_name(key) or []
        found = by_name[0] if by_name else None
    if found is None:
        raise RegbenchError(f"motif {key!r} is not in JASPAR {release or ''}".rstrip()
                            + "; check the id or name")
    counts = [list(found.counts[base]) for base in "ACGT"]
    return make_motif(found.matrix_id, found.name, counts, "JASPAR")


def resolve_motif(key: str, motif_files=(), jaspar_release: str | None = None) -> Motif:
    """Look ``key`` up in ``motif_files`` (in order), then the built-in set, or JASPAR.

    ``jaspar:KEY`` skips the files and asks pyjaspar. An unknown key raises
    RegbenchError listing what is available.
    """
    if key.lower().startswith(JASPAR_PREFIX):
        return _fetch_jaspar_cached(key[len(JASPAR_PREFIX):], jaspar_release)
    sources = [read_meme_cached(str(p)) for p in motif_files] + [builtin_motifs()]
    for motifs in sources:
        found = find_motif(key, motifs)
        if found is not None:
            return found
    available = ", ".join(f"{m.id} ({m.name})" for motifs in sources for m in motifs)
    raise RegbenchError(f"unknown motif {key!r}; use an id or name from: {available}, "
                        f"or {JASPAR_PREFIX}ID with pyjaspar installed")


@lru_cache(maxsize=32)
def read_meme_cached(path: str) -> tuple[Motif, ...]:
    return tuple(read_meme(path))


@lru_cache(maxsize=256)
def _fetch_jaspar_cached(key: str, release: str | None) -> Motif:
    return fetch_jaspar(key, release)
