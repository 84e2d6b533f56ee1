"""Motif loading: built-in JASPAR set, MEME files, pyjaspar, lookup and scoring."""
import sys
import types

import numpy as np
import pytest

from regbench.errors import RegbenchError
from regbench.simulate import motifs as M

MEME = """MEME version 4

ALPHABET= ACGT

MOTIF MYID
letter-probability matrix: alength= 4 w= 3 nsites= 10 E= 0
 1.0 0.0 0.0 0.0
 0.0 1.0 0.0 0.0
 0.0 0.0 0.5 0.5

MOTIF MA0080.99 Spi1
letter-probability matrix: alength= 4 w= 2 nsites= 10 E= 0
 0.0 0.0 0.0 1.0
 0.0 0.0 0.0 1.0
"""


def test_builtin_set_has_normalised_jaspar_matrices():
    motifs = M.builtin_motifs()
    assert len(motifs) == 11
    for m in motifs:
        assert m.pfm.shape == (4, m.width)
        np.testing.assert_allclose(m.pfm.sum(axis=0), 1.0)
        assert m.source == "builtin:jaspar2026_selected.meme"
    spi1 = M.resolve_motif("MA0080.7")
    assert (spi1.id, spi1.name, spi1.width) == ("MA0080.7", "Spi1", 13)
    # GGAA core of the ETS motif at columns 5-8 (0-based)
    assert "".join("ACGT"[i] for i in spi1.pfm.argmax(axis=0)[5:9]) == "GGAA"


@pytest.mark.parametrize("key", ["MA0080.7", "ma0080.7", "SPI1", "spi1", "Spi1", "MA0080"])
def test_lookup_by_id_or_name_case_insensitive(key):
    assert M.resolve_motif(key).id == "MA0080.7"


def test_unknown_motif_lists_what_exists():
    with pytest.raises(RegbenchError, match="unknown motif 'NOPE'.*MA0080.7"):
        M.resolve_motif("NOPE")


def test_meme_file_read_and_searched_before_builtin(tmp_path):
    path = tmp_path / "mine.meme"
    path.write_text(MEME)
    motifs = M.read_meme(path)
    assert [(m.id, m.name, m.width) for m in motifs] == [("MYID", "MYID", 3),
                                                          ("MA0080.99", "Spi1", 2)]
    assert M.resolve_motif("myid", [path]).width == 3
    assert M.resolve_motif("spi1", [path]).id == "MA0080.99"   # the user's file wins
    assert M.resolve_motif("GATA2", [path]).id == "MA0036.4"   # falls back to built-in


def test_bad_meme_files(tmp_path):
    with pytest.raises(RegbenchError, match="does not exist"):
        M.read_meme(tmp_path / "missing.meme")
    empty = tmp_path / "empty.meme"
    empty.write_text("not a motif file\n")
    with pytest.raises(RegbenchError, match="no motifs found"):
        M.read_meme(empty)


def test_scores_consensus_best_and_handles_zeros():
    spi1 = M.resolve_motif("SPI1")
    consensus = spi1.pfm.argmax(axis=0)[None, :]
    assert spi1.score(consensus)[0] == pytest.approx(spi1.max_score)
    revcomp = (3 - consensus[:, ::-1])
    assert spi1.score(revcomp)[0] < spi1.max_score - 10
    ctcf = M.resolve_motif("CTCF")          # has zero frequencies: finite scores
    assert np.isfinite(ctcf.log_odds).all()
    assert spi1.score(np.full((1, 13), 4))[0] == 0.0   # N scores zero


def test_make_motif_normalises_counts_and_rejects_bad_matrices():
    m = M.make_motif("X", "X", [[2, 0], [2, 4], [0, 0], [0, 0]])
    np.testing.assert_allclose(m.pfm[:, 0], [0.5, 0.5, 0, 0])
    with pytest.raises(RegbenchError, match="4 x W"):
        M.make_motif("X", "X", np.ones((3, 2)))
    with pytest.raises(RegbenchError, match="all-zero column"):
        M.make_motif("X", "X", np.zeros((4, 2)))


def test_jaspar_without_pyjaspar_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyjaspar", None)
    with pytest.raises(RegbenchError, match=r"pip install 'regbench\[jaspar\]'"):
        M.fetch_jaspar("MA0080.7")


def test_jaspar_through_pyjaspar(monkeypatch):
    class FakeMotif:
        matrix_id, name = "MA9999.1", "FAKE"
        counts = {"A": [8, 0], "C": [2, 0], "G": [0, 5], "T": [0, 5]}

    class FakeDB:
        def __init__(self, release=None):
            self.release = release

        def fetch_motif_by_id(self, key):
            return FakeMotif() if key == "MA9999.1" else None

        def fetch_motifs_by_name(self, key):
            return [FakeMotif()] if key.lower() == "fake" else []

    monkeypatch.setitem(sys.modules, "pyjaspar", types.SimpleNamespace(jaspardb=FakeDB))
    M._fetch_jaspar_cached.cache_clear()
    motif = M.resolve_motif("jaspar:MA9999.1")
    assert motif.id == "MA9999.1" and motif.source == "JASPAR"
    np.testing.assert_allclose(motif.pfm[:, 0], [0.8, 0.2, 0, 0])
    assert M.fetch_jaspar("fake").id == "MA9999.1"
    with pytest.raises(RegbenchError, match="not in JASPAR"):
        M.fetch_jaspar("MA0000.0")
    M._fetch_jaspar_cached.cache_clear()
