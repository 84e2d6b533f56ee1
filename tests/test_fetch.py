"""`regbench data fetch` against a loopback ENCODE portal started by the test: the
experiment JSON, a gzipped GRCh38-shaped FASTA, narrowPeak and blacklist files."""
import gzip
import hashlib
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regbench import RegbenchError
from regbench.cli import main
from regbench.data import source_of
from regbench.data.fetch import BLACKLIST_FILE, GENOME_FILE, fetch_dataset

CHROMS = ["chr1", "chr2", "chr4", "chr8", "chrX"]
SUBSET = ["chr1", "chr2", "chr4", "chr8"]
ACC, PEAKS_ACC = "ENCSR000AAA", "ENCFF000PKS"
SECOND = "ENCSR000BBB"   # the same TF in a second cell type: the multi-task recipe
PAPER_SPI1 = {"ENCSR000BGQ": "GM12878", "ENCSR000BGW": "K562", "ENCSR000BIJ": "GM12891",
              "ENCSR000BUW": "HL-60"}


def _genome(rng, random_genome):
    """The shared synthetic genome (conftest) on CHROMS. Returns the sequences, the FASTA
    text and the peaks as (chrom, start, end, offset)."""
    sequences, peaks = random_genome(rng, CHROMS)
    fasta = "".join(f">{c} AC:xx\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60))
                    + "\n" for c, s in sequences.items())
    return sequences, fasta, peaks


def _narrowpeak(peaks) -> str:
    return "".join(f"{c}\t{s}\t{e}\t.\t0\t.\t5.0\t-1\t-1\t{o}\n" for c, s, e, o in peaks)


def _second_peaks(peaks):
    """A second cell type's peaks: the first 4 of each chromosome's (summits 30 bp
    further: the same windows) and one of its own at 28 kb."""
    chroms = dict.fromkeys(c for c, *_ in peaks)
    shared = [p for c in chroms for p in [q for q in peaks if q[0] == c][:4]]
    return ([(c, s, e, o + 30) for c, s, e, o in shared] +
            [(c, 28000, 28200, 100) for c in chroms])


def _bigwig(sequences) -> bytes:
    """A signal bigWig: 1.0 over the first 100 bp of every chromosome."""
    import os
    import tempfile
    import pyBigWig
    fd, path = tempfile.mkstemp(suffix=".bw")
    os.close(fd)
    bw = pyBigWig.open(path, "w")
    bw.addHeader([(c, len(s)) for c, s in sequences.items()])
    for chrom in sequences:
        bw.addEntries([chrom], [0], ends=[100], values=[1.0])
    bw.close()
    data = open(path, "rb").read()
    os.unlink(path)
    return data


class Portal:
    """Paths -> bodies; counts the requests; can cut a file short (``cut``: how many
    more times) to stand for an interrupted download."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests, self.cut = dict(files), [], {}
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                portal.requests.append(self.path)
                body = portal.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if portal.cut.get(self.path, 0) > 0:
                    portal.cut[self.path] -= 1
                    self.wfile.write(body[:len(body) // 2])   # then the connection drops
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def downloads(self):
        return [p for p in self.requests if "@@download" in p]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _file_json(accession, name, data, **extra):
    return {"accession": accession, "status": "released", "md5sum": _md5(data),
            "href": f"/files/{accession}/@@download/{name}", **extra}


def _experiment(accession, peaks_record, assay="TF ChIP-seq", assembly=("GRCh38",),
                status="released", biosample="GM12878"):
    return {"accession": accession, "status": status, "assay_title": assay,
            "assembly": list(assembly), "target": {"label": "SPI1"},
            "biosample_ontology": {"term_name": biosample}, "files": [peaks_record]}


def _peak_record(accession, data):
    return _file_json(accession, f"{accession}.bed.gz", data, assembly="GRCh38",
                      file_format="bed", file_type="bed narrowPeak",
                      output_type="optimal IDR thresholded peaks")


@pytest.fixture(scope="module")
def portal(random_genome):
    rng = np.random.default_rng(0)
    sequences, fasta, peak_rows = _genome(rng, random_genome)
    peaks, second = _narrowpeak(peak_rows), _narrowpeak(_second_peaks(peak_rows))
    chrx_only = _narrowpeak([p for p in peak_rows if p[0] == "chrX"])
    fasta_gz, peaks_gz = gzip.compress(fasta.encode()), gzip.compress(peaks.encode())
    second_gz, chrx_gz = gzip.compress(second.encode()), gzip.compress(chrx_only.encode())
    blacklist_gz = gzip.compress(b"chr2\t0\t500\nchrX\t0\t500\n")
    genome_name = f"{GENOME_FILE}.fasta.gz"
    peak_record = _peak_record(PEAKS_ACC, peaks_gz)
    # the same experiment's conservative peaks and an hg19 copy are never chosen
    others = [dict(peak_record, accession="ENCFF000CON", output_type=
                   "conservative IDR thresholded peaks", href="/nowhere"),
              dict(peak_record, accession="ENCFF000H19", assembly="hg19", href="/nowhere")]
    signal = _bigwig(sequences)
    signal_record = _file_json("ENCFF000SIG", "ENCFF000SIG.bigWig", signal, assembly="GRCh38",
                               file_format="bigWig", file_type="bigWig",
                               output_type="fold change over control")
    bad_record = dict(peak_record, accession="ENCFF000BAD", md5sum="0" * 32,
                      href="/files/ENCFF000BAD/@@download/ENCFF000BAD.bed.gz")
    experiments = {
        ACC: dict(_experiment(ACC, peak_record), files=[*others, peak_record,
                                                        signal_record]),
        "ENCSR000BAD": _experiment("ENCSR000BAD", bad_record),
        "ENCSR000HIS": _experiment("ENCSR000HIS", peak_record, assay="Histone ChIP-seq"),
        "ENCSR000H19": _experiment("ENCSR000H19", peak_record, assembly=("hg19",)),
        "ENCSR000REV": _experiment("ENCSR000REV", peak_record, status="revoked"),
        SECOND: _experiment(SECOND, _peak_record("ENCFF000PK2", second_gz), biosample="K562"),
        "ENCSR000CHX": _experiment("ENCSR000CHX", _peak_record("ENCFF000PKX", chrx_gz)),
        # the shipped paper-spi1 recipe's accessions, served with the fixture's peaks
        **{acc: _experiment(acc, peak_record, biosample=cell)
           for acc, cell in PAPER_SPI1.items()},
    }
    files = {f"/experiments/{a}/?format=json": json.dumps(e).encode()
             for a, e in experiments.items()}
    files.update({
        f"/files/{GENOME_FILE}/?format=json": json.dumps(_file_json(
            GENOME_FILE, genome_name, fasta_gz)).encode(),
        f"/files/{BLACKLIST_FILE}/?format=json": json.dumps(_file_json(
            BLACKLIST_FILE, f"{BLACKLIST_FILE}.bed.gz", blacklist_gz)).encode(),
        f"/files/{GENOME_FILE}/@@download/{genome_name}": fasta_gz,
        f"/files/{BLACKLIST_FILE}/@@download/{BLACKLIST_FILE}.bed.gz": blacklist_gz,
        f"/files/{PEAKS_ACC}/@@download/{PEAKS_ACC}.bed.gz": peaks_gz,
        "/files/ENCFF000BAD/@@download/ENCFF000BAD.bed.gz": peaks_gz,
        "/files/ENCFF000SIG/@@download/ENCFF000SIG.bigWig": signal,
        "/files/ENCFF000PK2/@@download/ENCFF000PK2.bed.gz": second_gz,
        "/files/ENCFF000PKX/@@download/ENCFF000PKX.bed.gz": chrx_gz,
    })
    server = Portal(files)
    server.sequences, server.peaks, server.fasta_gz = sequences, peaks, fasta_gz
    server.peak_rows = peak_rows
    yield server
    server.close()


@pytest.fixture
def fresh(portal):
    portal.requests.clear()
    portal.cut.clear()
    return portal


def test_fetch_writes_a_folder_with_the_chromosomes_asked(fresh, tmp_path):
    out = fetch_dataset([f"encode:{ACC}"], tmp_path / "data", chroms=SUBSET, bigwigs=True,
                        base=fresh.url, cache=tmp_path / "cache", progress=False)
    assert ((out / "signal" / f"{ACC}.bigWig").read_bytes() ==
            fresh.files["/files/ENCFF000SIG/@@download/ENCFF000SIG.bigWig"])
    from pyfaidx import Fasta
    genome = Fasta(str(out / "genome.fa"))
    assert list(genome.keys()) == SUBSET
    assert str(genome["chr8"][:]) == fresh.sequences["chr8"]
    peaks = (out / "peaks" / f"{ACC}.narrowPeak").read_text()
    assert peaks == "".join(line + "\n" for line in fresh.peaks.splitlines()
                            if not line.startswith("chrX"))
    assert (out / "blacklist.bed").read_text() == "chr2\t0\t500\n"
    import tomllib
    meta = tomllib.loads((out / "dataset.toml").read_text())
    assert meta["chroms"] == SUBSET and meta["portal"] == fresh.url
    assert meta["folds"] == {"test_chroms": ["chr1"], "valid_chroms": ["chr8"]}
    e, = meta["experiments"]
    assert (e["accession"], e["peaks_accession"], e["target"], e["biosample"]) == (
        ACC, PEAKS_ACC, "SPI1", "GM12878")
    assert e["peaks_output"] == "optimal IDR thresholded peaks"
    assert (e["signal_accession"], e["signal_output"]) == ("ENCFF000SIG",
                                                           "fold change over control")
    assert e["peaks_md5"] == _md5(fresh.files[
        f"/files/{PEAKS_ACC}/@@download/{PEAKS_ACC}.bed.gz"])
    assert meta["genome"]["md5"] == _md5(fresh.fasta_gz)
    assert meta["genome"]["url"].startswith(fresh.url + "/files/" + GENOME_FILE)


def test_a_second_fetch_downloads_nothing_and_works_offline(fresh, tmp_path):
    cache = tmp_path / "cache"
    fetch_dataset([ACC], tmp_path / "a", chroms=SUBSET, base=fresh.url, cache=cache,
                  progress=False)
    assert len(fresh.downloads()) == 3   # peaks, blacklist, genome
    fresh.requests.clear()
    fetch_dataset([ACC], tmp_path / "b", chroms=SUBSET, base=fresh.url, cache=cache,
                  progress=False)
    assert fresh.requests == []           # metadata and files from the cache
    assert ((tmp_path / "a" / "genome.fa").read_bytes() ==
            (tmp_path / "b" / "genome.fa").read_bytes())


def test_an_interrupted_download_is_fetched_again_and_the_rest_kept(fresh, tmp_path):
    genome_path = next(p for p in fresh.files if p.endswith(".fasta.gz"))
    fresh.cut[genome_path] = 3   # more cuts than pooch's retries: this fetch fails
    with pytest.raises(RegbenchError, match="failed .*rerun"):
        fetch_dataset([ACC], tmp_path / "data", chroms=SUBSET, base=fresh.url,
                      cache=tmp_path / "cache", progress=False)
    files = tmp_path / "cache" / "files"
    assert sorted(p.name for p in files.iterdir()) == [f"{PEAKS_ACC}.bed.gz",
                                                       f"{BLACKLIST_FILE}.bed.gz"]  # no part
    assert not (tmp_path / "data" / "dataset.toml").exists()
    fresh.requests.clear()
    fresh.cut[genome_path] = 1   # one cut: pooch's retry finishes it
    fetch_dataset([ACC], tmp_path / "data", chroms=SUBSET, base=fresh.url,
                  cache=tmp_path / "cache", progress=False)
    assert fresh.downloads() == [genome_path, genome_path]   # only the genome, twice
    assert (tmp_path / "data" / "dataset.toml").is_file()


def _one_line_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_checksum_mismatch_removes_the_file_and_names_it(fresh, tmp_path, capsys):
    cache = tmp_path / "cache"
    err = _one_line_error(["data", "fetch", "encode:ENCSR000BAD", "--out",
                           str(tmp_path / "d"), "--cache", str(cache), "--base-url",
                           fresh.url, "--chroms", ",".join(SUBSET)], capsys)
    assert "ENCFF000BAD.bed.gz" in err and "md5" in err and "removed" in err
    assert list((cache / "files").iterdir()) == []
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("accession, words", [
    ("encode:ENCSR000HIS", "Histone ChIP-seq record"),
    ("encode:ENCSR000H19", "has no GRCh38 files"),
    ("encode:ENCSR000REV", "not a released experiment"),
    ("encode:ENCSR999ZZZ", "HTTP 404"),
    ("ENCFF000PKS", "not an ENCODE experiment accession"),
])
def test_accessions_that_cannot_be_fetched_get_one_line(fresh, tmp_path, capsys,
                                                        accession, words):
    err = _one_line_error(["data", "fetch", accession, "--out", str(tmp_path / "d"),
                           "--cache", str(tmp_path / "c"), "--base-url", fresh.url],
                          capsys)
    assert words in err
    assert fresh.downloads() == [] and not (tmp_path / "d").exists()


def test_no_network_names_the_cache_folder(tmp_path, capsys, monkeypatch):
    import socket
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("REGBENCH_ENCODE_URL", f"http://127.0.0.1:{port}")
    cache = tmp_path / "cache"
    err = _one_line_error(["data", "fetch", f"encode:{ACC}", "--out", str(tmp_path / "d"),
                           "--cache", str(cache)], capsys)
    assert "no network" in err and str(cache) in err


def test_chromosomes_without_peaks_or_a_fold_are_refused(fresh, tmp_path, capsys):
    err = _one_line_error(["data", "fetch", ACC, "--out", str(tmp_path / "d"), "--cache",
                           str(tmp_path / "c"), "--base-url", fresh.url, "--chroms",
                           "chr1,chr8,chr9"], capsys)
    assert f"leaves no peaks of encode:{ACC}" not in err   # chr1, chr8 have peaks
    assert "no chromosome chr9" in err
    err = _one_line_error(["data", "fetch", ACC, "--out", str(tmp_path / "d"), "--cache",
                           str(tmp_path / "c"), "--base-url", fresh.url, "--chroms",
                           "chr1,chr8"], capsys)
    assert "leaves a fold empty" in err
    err = _one_line_error(["data", "fetch", "encode:ENCSR000CHX", "--out", str(tmp_path / "d"),
                           "--cache", str(tmp_path / "c"), "--base-url", fresh.url,
                           "--chroms", "chr1,chr2,chr8"], capsys)
    assert "--chroms chr1,chr2,chr8 leaves no peaks of encode:ENCSR000CHX" in err
    assert not (tmp_path / "d").exists()


def test_a_full_disk_is_one_line(fresh, tmp_path, capsys, monkeypatch):
    import errno
    import shutil

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(shutil, "move", full)   # pooch moves each finished download
    err = _one_line_error(["data", "fetch", ACC, "--out", str(tmp_path / "d"), "--cache",
                           str(tmp_path / "c"), "--base-url", fresh.url], capsys)
    assert "no space left in" in err and str(tmp_path / "c") in err


def test_a_full_disk_while_writing_the_folder_leaves_nothing(fresh, tmp_path, capsys,
                                                             monkeypatch):
    import errno
    import regbench.data.fetch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(regbench.data.fetch, "_write_fasta", full)   # after the peaks
    err = _one_line_error(["data", "fetch", ACC, "--out", str(tmp_path / "d"), "--cache",
                           str(tmp_path / "c"), "--base-url", fresh.url], capsys)
    assert f"no space left writing {tmp_path / 'd'}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]   # no half-written folder


def test_two_fetches_into_one_folder_do_not_collide(fresh, tmp_path, monkeypatch):
    """Before: both wrote into one .NAME.fetching folder; the second removed the first's
    half-written files, and the first failed (FileNotFoundError)."""
    import regbench.data.fetch as fetch
    out, cache = tmp_path / "data", tmp_path / "cache"
    real, nested = fetch._write_fasta, []

    def meanwhile(source, target, chroms):   # the first fetch, half-written
        if not nested:
            nested.append(None)
            nested[0] = fetch_dataset([ACC], out, chroms=SUBSET, base=fresh.url,
                                      cache=cache, progress=False)
        return real(source, target, chroms)
    monkeypatch.setattr(fetch, "_write_fasta", meanwhile)
    assert fetch_dataset([ACC], out, chroms=SUBSET, base=fresh.url, cache=cache,
                         progress=False) == out
    assert nested == [out]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "data"]   # no leftovers
    assert sorted(p.name for p in out.iterdir()) == ["blacklist.bed", "dataset.toml",
                                                     "genome.fa", "peaks"]
    from pyfaidx import Fasta
    assert str(Fasta(str(out / "genome.fa"))["chr8"][:]) == fresh.sequences["chr8"]


def test_run_data_recipe_fetches_then_runs_the_smoke_preset_multitask(fresh, tmp_path,
                                                                       capsys, monkeypatch):
    """A two-experiment recipe: fetched into data/NAME, run as one two-task binary
    dataset through the smoke preset (one seed, one regularizer); not fetched again."""
    import argparse
    from regbench.commands.run import _fetch_recipe
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REGBENCH_ENCODE_URL", fresh.url)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny.toml").write_text(
        f'accessions = ["encode:{ACC}", "encode:{SECOND}"]\n')
    out = tmp_path / "run"
    assert main(["run", "--data-recipe", "tiny", "--preset", "smoke", "--seeds", "1",
                 "--regularizers", "none", "--out", str(out), "--no-progress"]) == 0
    assert (tmp_path / "data" / "tiny" / "dataset.toml").is_file()
    results = pd.read_csv(out / "results.csv")
    assert (results.regularizer == "none").all() and (results.status == "ok").all()
    assert results["test_auroc"].notna().all()
    report = (out / "report.md").read_text()
    assert f"ENCODE {ACC} (SPI1, GM12878; peaks {PEAKS_ACC}" in report
    assert f"{SECOND} (SPI1, K562; peaks ENCFF000PK2" in report
    assert "chromosomes all; fetched 20" in report and ": 2 tasks, positives per task" in report
    fresh.requests.clear()
    args = argparse.Namespace(data_recipe="tiny", scenario=None, data=None, genome=None,
                              no_progress=True)
    _fetch_recipe(args)   # the folder is there: nothing fetched
    assert fresh.requests == [] and args.data == str(Path("data") / "tiny")
    err = _one_line_error(["run", "--data-recipe", "tiny", "--scenario", "spi1_binary"],
                          capsys)
    assert "--data-recipe does not go with --scenario" in err


def test_several_experiments_are_one_multitask_dataset(fresh, tmp_path):
    """One window per peak summit of either experiment (the second's summits 30 bp from
    the first's merged into them); labels per experiment checked by hand; negatives 0."""
    from regbench.data.fetched import EncodeSource
    data = fetch_dataset([ACC, SECOND], tmp_path / "data", base=fresh.url,
                         cache=tmp_path / "cache", progress=False)
    source = EncodeSource(data, length=400)
    ds = source.load(tmp_path / "out")
    assert ds.tasks == ["SPI1_ENCSR000AAA_GM12878", "SPI1_ENCSR000BBB_K562"]
    expected = {}
    for chrom in CHROMS:
        rows = [p for p in fresh.peak_rows if p[0] == chrom]
        for k, (_, start, _, offset) in enumerate(rows):
            expected[f"{chrom}:{start + offset - 200}-{start + offset + 200}"] = (1, int(k < 4))
        expected[f"{chrom}:27900-28300"] = (0, 1)
    got = {n: tuple(int(v) for v in row) for n, row in zip(ds.names, ds.labels)
           if row.any()}
    assert got == expected   # the blacklist (0-500 bp) touches no window
    negatives = ds.labels[~ds.labels.any(axis=1)]
    assert len(negatives) == len(ds.labels) - len(expected) and len(negatives) > 0
    assert source.report["task_positives"] == {"SPI1_ENCSR000AAA_GM12878": 40,
                                               "SPI1_ENCSR000BBB_K562": 25}
    one = EncodeSource(data, experiment=f"encode:{SECOND}", length=400)
    assert one.task_names() == ["SPI1_ENCSR000BBB_K562"]
    assert one.peaks_path == data / "peaks" / f"{SECOND}.narrowPeak"


def test_run_data_on_a_fetched_folder_reads_it_as_genome_data(fresh, tmp_path):
    from regbench.commands.run import configure, resolve_config
    import argparse
    data = fetch_dataset([ACC], tmp_path / "data", chroms=SUBSET, base=fresh.url,
                         cache=tmp_path / "cache", progress=False)
    parser = argparse.ArgumentParser()
    configure(parser)
    config = resolve_config(parser.parse_args(["--preset", "smoke", "--data", str(data)]))
    source = source_of(config)
    assert source.name == "encode" and source.peaks_path == data / "peaks" / f"{ACC}.narrowPeak"
    assert (source.test_chroms, source.valid_chroms) == (["chr1"], ["chr8"])
    assert source.blacklist == data / "blacklist.bed"


# this checkout's recipes (an editable install elsewhere may map the package data there)
SHIPPED = Path(__file__).resolve().parents[1] / "simulations"


@pytest.fixture
def shipped(monkeypatch):
    import regbench.lookup
    monkeypatch.setattr(regbench.lookup, "shipped_simulations", lambda: SHIPPED)


def test_the_shipped_recipes_load_and_cite_their_sources(shipped):
    from regbench.data.fetch import parse_accessions
    from regbench.data.recipes import list_recipes, load_recipe
    assert list_recipes() == ["k562-dnase", "paper-spi1", "spi1-gm12878"]
    for path in sorted((SHIPPED / "recipes").glob("*.toml")):
        recipe = load_recipe(str(path))
        accessions = parse_accessions(recipe["accessions"])
        comments = "".join(line for line in path.read_text().splitlines(True)
                           if line.startswith("#"))
        assert "github.com/" in comments and "Source" in comments, path.name
        assert all(acc in comments for acc in accessions), path.name


def test_the_paper_spi1_recipe_is_one_four_task_dataset(fresh, tmp_path, capsys, shipped):
    from regbench.data.fetched import EncodeSource
    assert main(["data", "fetch", "--recipe", "paper-spi1", "--out", str(tmp_path / "d"),
                 "--cache", str(tmp_path / "c"), "--base-url", fresh.url, "--chroms",
                 ",".join(SUBSET), "--no-progress"]) == 0
    assert f"data folder: {tmp_path / 'd'}" in capsys.readouterr().out
    source = EncodeSource(tmp_path / "d")
    assert source.task_names() == [f"SPI1_{acc}_{cell}" for acc, cell in PAPER_SPI1.items()]
    import tomllib
    meta = tomllib.loads((tmp_path / "d" / "dataset.toml").read_text())
    assert meta["recipe"] == "paper-spi1"
    assert [e["accession"] for e in meta["experiments"]] == list(PAPER_SPI1)


@pytest.mark.parametrize("how", ["beneath a file", "read-only"])
def test_an_unwritable_download_cache_is_one_line(tmp_path, capsys, monkeypatch, how):
    """Issue 42: a cache folder that cannot be written was a traceback (pooch's own
    PermissionError, or NotADirectoryError). Tests run as root, for whom chmod changes
    nothing: the folder is beneath a regular file, or making it is refused (EACCES)."""
    import errno
    import os
    (tmp_path / "afile").write_text("")
    cache = tmp_path / ("afile" if how == "beneath a file" else "") / "cache"
    real = os.makedirs

    def refuse(path, *args, **kw):
        if str(path).startswith(str(cache)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kw)
    if how == "read-only":
        monkeypatch.setattr(os, "makedirs", refuse)
    err = _one_line_error(["data", "fetch", f"encode:{ACC}", "--out", str(tmp_path / "d"),
                           "--cache", str(cache), "--base-url", "http://127.0.0.1:9"],
                          capsys)
    assert f"the download cache folder {cache}" in err and "is not writable" in err, err
    assert "give --cache DIR (or set $REGBENCH_CACHE)" in err
    assert not (tmp_path / "d").exists()
