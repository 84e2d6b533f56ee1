"""`regbench data counts`: 5′ count bigWigs from a small BAM written by the test."""
import sys

import pytest

from regbench.cli import main

pysam = pytest.importorskip("pysam")


def _read(name, chrom_id, start, cigar_len, reverse=False, mapq=60, flag_extra=0):
    read = pysam.AlignedSegment()
    read.query_name = name
    read.query_sequence = "A" * cigar_len
    read.flag = (16 if reverse else 0) | flag_extra
    read.reference_id = chrom_id
    read.reference_start = start
    read.mapping_quality = mapq
    read.cigar = [(0, cigar_len)]   # cigar_len M
    read.query_qualities = pysam.qualitystring_to_array("I" * cigar_len)
    return read


@pytest.fixture
def bam(tmp_path):
    """chrA (1000 bp), chrB (500 bp). Counted: plus 5′ ends chrA:100 (x2, a duplicate
    kept), chrA:300, chrB:10; minus 5′ ends (end - 1) chrA:100+20-1=119, chrB:449.
    Dropped: MAPQ 29, unmapped, secondary (256), supplementary (2048)."""
    path = tmp_path / "reads.bam"
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": "chrA", "LN": 1000},
                                          {"SN": "chrB", "LN": 500}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for read in [_read("p1", 0, 100, 30), _read("p1dup", 0, 100, 30, flag_extra=1024),
                     _read("p2", 0, 300, 25), _read("p3", 1, 10, 30),
                     _read("m1", 0, 100, 20, reverse=True),
                     _read("m2", 1, 400, 50, reverse=True),
                     _read("lowq", 0, 500, 30, mapq=29),
                     _read("sec", 0, 600, 30, flag_extra=256),
                     _read("supp", 0, 700, 30, reverse=True, flag_extra=2048)]:
            out.write(read)
        unmapped = _read("un", -1, -1, 30, mapq=0, flag_extra=4)
        out.write(unmapped)
    return path


def _values(path, chrom, length):
    import pyBigWig
    bw = pyBigWig.open(str(path))
    try:
        return {i: v for i, v in enumerate(bw.values(chrom, 0, length, numpy=False))
                if v == v and v}   # NaN: no entry
    finally:
        bw.close()


def test_counts_are_the_five_prime_ends_after_the_authors_filters(bam, tmp_path, capsys):
    out = tmp_path / "tracks"
    assert main(["data", "counts", str(bam), "--out", str(out)]) == 0
    assert "6 reads counted" in capsys.readouterr().out
    assert _values(out / "plus.bw", "chrA", 1000) == {100: 2.0, 300: 1.0}
    assert _values(out / "plus.bw", "chrB", 500) == {10: 1.0}
    assert _values(out / "minus.bw", "chrA", 1000) == {119: 1.0}
    assert _values(out / "minus.bw", "chrB", 500) == {449: 1.0}
    import pyBigWig
    bw = pyBigWig.open(str(out / "plus.bw"))
    assert bw.chroms() == {"chrA": 1000, "chrB": 500}
    bw.close()


def test_a_missing_pysam_is_one_line(bam, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pysam", None)   # import pysam now fails
    assert main(["data", "counts", str(bam), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'regbench[bam]'" in err
    assert not (tmp_path / "t").exists()
