"""``regbench data counts``: per-strand 5′ read counts from a BAM, as bigWigs.

ENCODE publishes no stranded 5′ count tracks; the paper's authors made them from the
unfiltered alignments, keeping mapped, primary reads of MAPQ >= 30 and keeping
duplicates (useful for profiles). The 5′ end of a plus-strand read is its reference
start; of a minus-strand read, its reference end - 1 (0-based). Needs pysam
(``pip install 'regbench[bam]'``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.errors import RegbenchError


def _pysam():
    try:
        import pysam
    except ModuleNotFoundError:
        raise RegbenchError("regbench data counts reads BAMs with pysam, which is not "
                            "installed: pip install 'regbench[bam]'") from None
    return pysam


def five_prime_counts(bam_path, min_mapq: int = 30) -> tuple[dict, dict, dict, int]:
    """Per chromosome, (positions, counts) of the plus and of the minus strand's 5′
    ends (sorted, int64), the chromosome lengths, and the number of reads counted.
    Sparse, and the BAM needs neither sorting nor an index."""
    from array import array
    pysam = _pysam()
    path = Path(bam_path)
    if not path.is_file():
        raise RegbenchError(f"BAM {path} does not exist")
    try:
        bam = pysam.AlignmentFile(str(path), "rb")
    except (ValueError, OSError) as exc:
        raise RegbenchError(f"{path} is not a readable BAM ({exc})") from None
    with bam:
        sizes = dict(zip(bam.references, bam.lengths))
        ends = {strand: {c: array("q") for c in sizes} for strand in ("plus", "minus")}
        counted = 0
        for read in bam.fetch(until_eof=True):
            if (read.is_unmapped or read.is_secondary or read.is_supplementary
                    or read.mapping_quality < min_mapq):
                continue   # duplicates are kept, as the authors did
            if read.is_reverse:
                ends["minus"][read.reference_name].append(read.reference_end - 1)
            else:
                ends["plus"][read.reference_name].append(read.reference_start)
            counted += 1
    plus, minus = ({c: np.unique(np.frombuffer(a, np.int64), return_counts=True)
                    for c, a in ends[strand].items()} for strand in ("plus", "minus"))
    return plus, minus, sizes, counted


def write_bigwig(path: Path, counts: dict, sizes: dict) -> None:
    """(positions, counts) per chromosome as a bigWig of the counted bases (span 1)."""
    import pyBigWig
    bw = pyBigWig.open(str(path), "w")
    try:
        bw.addHeader(list(sizes.items()))
        for chrom in sizes:
            where, n = counts[chrom]
            if len(where):
                bw.addEntries([chrom] * len(where), where.tolist(),
                              ends=(where + 1).tolist(), values=n.astype(float).tolist())
    finally:
        bw.close()


def write_count_bigwigs(bam_path, out, min_mapq: int = 30) -> tuple[Path, Path, int]:
    """OUT/plus.bw and OUT/minus.bw from a BAM; the paths and the reads counted."""
    plus, minus, sizes, counted = five_prime_counts(bam_path, min_mapq)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "plus.bw", folder / "minus.bw"
    for path, counts in zip(paths, (plus, minus)):
        partial = path.with_suffix(".bw.part")
        write_bigwig(partial, counts, sizes)
        partial.replace(path)
    return paths[0], paths[1], counted


__all__ = ["five_prime_counts", "write_bigwig", "write_count_bigwigs"]
