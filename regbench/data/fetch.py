"""``regbench data fetch``: ENCODE accessions -> a data folder ``regbench run`` reads.

Each ``encode:ENCSR...`` is resolved through ENCODE's REST API (the experiment's JSON,
``/experiments/ACC/?format=json``): a released GRCh38 TF ChIP-seq or DNase-seq
experiment, its released GRCh38 peaks (narrowPeak; optimal IDR thresholded peaks
first) and, with ``bigwigs``, its signal bigWig. The genome is ENCODE's GRCh38 analysis
set (no alternate contigs) and the blacklist its GRCh38 exclusion list (ENCFF356LFX);
both are ENCODE file objects, so every file has the md5 the portal gives.

Downloads go through pooch (cache, md5 check, retries, progress): a file already in the
cache with the right md5 is never downloaded again; a download that fails its md5 is
removed. pooch does not resume a half-finished download: an interrupted file is
downloaded again from its start, the finished ones stay cached.

The folder written (``OUT``):

    genome.fa            the analysis set, only the --chroms asked (all by default)
    peaks/ACC.narrowPeak peaks of each experiment on those chromosomes
    blacklist.bed        the exclusion list on those chromosomes
    signal/ACC.bigWig    with --bigwigs (unstranded: recorded, not read by runs)
    dataset.toml         accessions, URLs, md5s, chromosomes, folds and the fetch date

``regbench run --data OUT`` reads it (``EncodeSource``).
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import gzip
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from regbench.data.genome import DEFAULT_TEST_CHROMS, DEFAULT_VALID_CHROMS
from regbench.errors import RegbenchError
from regbench.store.runs import sync_folder, sync_tree

DEFAULT_BASE_URL = "https://www.encodeproject.org"
# a cache folder that cannot be made or written: read-only, beneath a file, not a folder
UNWRITABLE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST)
# ENCODE file objects of the reference: the GRCh38 analysis set (as the ENCODE
# pipelines align to) and the GRCh38 exclusion list (annotation ENCSR636HFF).
GENOME_FILE = "GRCh38_no_alt_analysis_set_GCA_000001405.15"
BLACKLIST_FILE = "ENCFF356LFX"
ASSEMBLY = "GRCh38"
ASSAYS = ("TF ChIP-seq", "DNase-seq")
# Peak files in the order they are preferred (DNase-seq experiments have only "peaks").
PEAK_OUTPUTS = ("optimal IDR thresholded peaks", "conservative IDR thresholded peaks",
                "IDR thresholded peaks", "pseudoreplicated peaks", "peaks")
SIGNAL_OUTPUTS = ("fold change over control", "read-depth normalized signal",
                  "signal p-value")


def base_url(given: str | None = None) -> str:
    """The ENCODE portal: ``given``, else $REGBENCH_ENCODE_URL, else the real one."""
    return (given or os.environ.get("REGBENCH_ENCODE_URL") or DEFAULT_BASE_URL).rstrip("/")


def fetch_cache(given=None) -> Path:
    """Where downloads are kept: ``given``, else $REGBENCH_CACHE/encode (the cache
    folder the rest of regbench uses), else ~/.cache/regbench/encode."""
    if given:
        return Path(given)
    root = os.environ.get("REGBENCH_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "regbench"
    return Path(root) / "encode"


@dataclass
class RemoteFile:
    """One ENCODE file: its accession (or name), download URL and md5."""
    accession: str
    url: str
    md5: str
    output_type: str = ""

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass
class Experiment:
    accession: str
    assay: str
    target: str
    biosample: str
    peaks: RemoteFile
    signal: RemoteFile | None = None
    extra: dict = field(default_factory=dict)


class Fetcher:
    """Metadata and files of one portal, cached in one folder (pooch)."""

    def __init__(self, base: str | None = None, cache=None, progress: bool = True):
        self.base, self.cache, self.progress = base_url(base), fetch_cache(cache), progress

    # -- metadata ------------------------------------------------------------------
    def metadata(self, kind: str, accession: str) -> dict:
        """The JSON of ``/{kind}/{accession}/`` (cached: a second fetch reads the cache)."""
        url = f"{self.base}/{kind}/{accession}/?format=json"
        path = self._retrieve(url, None, f"{accession}.json", self.cache / "metadata",
                              progress=False)
        try:
            return json.loads(Path(path).read_text())
        except ValueError:
            Path(path).unlink(missing_ok=True)
            raise RegbenchError(f"{url} did not return JSON (removed from the cache); "
                                "check --base-url") from None

    def remote_file(self, accession: str) -> RemoteFile:
        """A released file object (genome, blacklist) from its own JSON."""
        meta = self.metadata("files", accession)
        if meta.get("status") != "released" or not meta.get("md5sum"):
            raise RegbenchError(f"ENCODE file {accession} is not released with an md5 "
                                f"(status {meta.get('status')!r})")
        return RemoteFile(accession, self._absolute(meta["href"]), meta["md5sum"],
                          meta.get("output_type", ""))

    def experiment(self, accession: str) -> Experiment:
        """The experiment's assay, target and files, checked: released, GRCh38,
        TF ChIP-seq or DNase-seq, with released GRCh38 narrowPeak peaks."""
        meta = self.metadata("experiments", accession)
        what = f"encode:{accession}"
        assay = meta.get("assay_title") or meta.get("assay_term_name")
        if meta.get("status") != "released":
            raise RegbenchError(f"{what} is not a released experiment (status "
                                f"{meta.get('status')!r}); give a released one")
        if assay not in ASSAYS:
            raise RegbenchError(f"{what} is a {assay or 'non-experiment'} record; regbench "
                                f"fetches {' or '.join(ASSAYS)} experiments")
        if ASSEMBLY not in (meta.get("assembly") or []):
            raise RegbenchError(f"{what} has no {ASSEMBLY} files (assemblies: "
                                f"{', '.join(meta.get('assembly') or []) or 'none'})")
        files = [f for f in meta.get("files") or [] if isinstance(f, dict)
                 and f.get("status") == "released" and f.get("assembly") == ASSEMBLY]
        peaks = _preferred([f for f in files if _file_type(f) == "bed narrowPeak"],
                           PEAK_OUTPUTS)
        if peaks is None:
            raise RegbenchError(f"{what} has no released {ASSEMBLY} narrowPeak peaks "
                                f"({', '.join(PEAK_OUTPUTS[:2])}, ...)")
        signal = _preferred([f for f in files if f.get("file_format") == "bigWig"],
                            SIGNAL_OUTPUTS)
        target = meta.get("target")
        target = (target.get("label") if isinstance(target, dict) else
                  str(target or "").strip("/").split("/")[-1].split("-")[0]) or ""
        return Experiment(accession, assay, target,
                          meta.get("biosample_ontology", {}).get("term_name", "")
                          if isinstance(meta.get("biosample_ontology"), dict)
                          else meta.get("biosample_term_name", ""),
                          self._file(peaks), self._file(signal) if signal else None)

    def _file(self, record: dict) -> RemoteFile:
        return RemoteFile(record["accession"], self._absolute(record["href"]),
                          record["md5sum"], record.get("output_type", ""))

    def _absolute(self, href: str) -> str:
        return href if "://" in href else f"{self.base}/{href.lstrip('/')}"

    # -- files ---------------------------------------------------------------------
    def download(self, remote: RemoteFile) -> Path:
        """The file in the cache, downloaded unless there with the right md5."""
        return Path(self._retrieve(remote.url, f"md5:{remote.md5}", remote.filename,
                                   self.cache / "files", progress=self.progress))

    def _retrieve(self, url, known_hash, name, folder: Path, progress: bool) -> str:
        """pooch does the HTTP, the cache, the md5 and the retries; failures become
        one line naming what to do."""
        import pooch
        import requests
        pooch.get_logger().setLevel("WARNING")   # no hash of every metadata page
        registry = pooch.create(path=folder, base_url="", registry={name: known_hash},
                                urls={name: url}, retry_if_failed=2 if known_hash else 1)
        try:
            return registry.fetch(name, progressbar=progress,
                                  downloader=pooch.HTTPDownloader(progressbar=progress,
                                                                  timeout=60))
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise RegbenchError(f"{url} answered HTTP {status}: check the accession "
                                "(and --base-url)") from None
        except requests.exceptions.ConnectionError:
            raise RegbenchError(f"cannot reach {self.base} (no network?) to download "
                                f"{name}; connect, or fill the cache folder {self.cache} "
                                "(files already there are used as they are)") from None
        except requests.exceptions.RequestException as exc:
            raise RegbenchError(f"downloading {name} from {url} failed "
                                f"({type(exc).__name__}); rerun: finished downloads stay "
                                f"in the cache folder {self.cache}") from None
        except ValueError as exc:   # pooch: the md5 does not match; the file is gone
            if "hash" not in str(exc):
                raise
            raise RegbenchError(f"{name} from {url} does not match the md5 ENCODE gives "
                                f"({known_hash}): the download was removed; rerun to "
                                "download it again") from None
        except OSError as exc:
            if isinstance(exc, PermissionError) or exc.errno in UNWRITABLE_ERRNOS:
                # pooch's own PermissionError has no errno; its advice names no option
                raise RegbenchError(f"the download cache folder {folder} is not writable "
                                    f"({exc.strerror or 'permission denied'}): give --cache "
                                    "DIR (or set $REGBENCH_CACHE) to a folder you can "
                                    "write") from None
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise RegbenchError(f"no space left in {folder} while downloading {name}: free "
                                "some space or give --cache on a larger disk, then rerun "
                                "(finished downloads are kept)") from None


def _file_type(record: dict) -> str:
    return record.get("file_type") or " ".join(
        v for v in (record.get("file_format"), record.get("file_format_type")) if v)


def _preferred(records: list[dict], outputs) -> dict | None:
    """The first output type present; among its files ENCODE's preferred default,
    then the newest."""
    for output in outputs:
        chosen = [r for r in records if r.get("output_type") == output]
        if chosen:
            return max(chosen, key=lambda r: (bool(r.get("preferred_default")),
                                              r.get("date_created", "")))
    return None


# -- the data folder ---------------------------------------------------------------
def parse_accessions(items) -> list[str]:
    """``encode:ENCSR...`` (or a bare ENCSR...) -> accessions, checked."""
    found = []
    for item in items:
        acc = item.split(":", 1)[1] if item.lower().startswith("encode:") else item
        if not (acc.startswith("ENCSR") and len(acc) == 11 and acc.isalnum()):
            raise RegbenchError(f"{item!r} is not an ENCODE experiment accession: expected "
                                "encode:ENCSR followed by 6 letters/digits, e.g. "
                                "encode:ENCSR000BGQ")
        found.append(acc)
    if not found:
        raise RegbenchError("give one or more accessions (encode:ENCSR...) or --recipe NAME")
    return found


def check_chroms(chroms) -> list[str] | None:
    """A --chroms subset must leave a training chromosome beside the folds' ones."""
    if chroms is None:
        return None
    held = set(DEFAULT_TEST_CHROMS) | set(DEFAULT_VALID_CHROMS)
    if not [c for c in chroms if c not in held] or not set(chroms) & set(
            DEFAULT_TEST_CHROMS) or not set(chroms) & set(DEFAULT_VALID_CHROMS):
        raise RegbenchError(
            f"--chroms {','.join(chroms)} leaves a fold empty: runs test on "
            f"{', '.join(DEFAULT_TEST_CHROMS)} and validate on "
            f"{', '.join(DEFAULT_VALID_CHROMS)}; give one of each and a chromosome to "
            "train on, e.g. --chroms chr1,chr2,chr8")
    return list(chroms)


def fetch_dataset(accessions, out, chroms=None, bigwigs: bool = False, base=None,
                  cache=None, progress: bool = True, recipe: str | None = None) -> Path:
    """Resolve, download (cached, md5-checked) and write the data folder ``out``.

    Everything small is resolved and checked before the genome is downloaded."""
    accessions, chroms = parse_accessions(accessions), check_chroms(chroms)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "dataset.toml").is_file():
        raise RegbenchError(f"--out {out} is a folder of other files; give a new folder "
                            "(or one `regbench data fetch` wrote, to replace it)")
    fetcher = Fetcher(base, cache, progress)
    experiments = [fetcher.experiment(acc) for acc in accessions]
    genome, blacklist = fetcher.remote_file(GENOME_FILE), fetcher.remote_file(BLACKLIST_FILE)
    peak_paths = {e.accession: fetcher.download(e.peaks) for e in experiments}
    kept = {acc: _bed_lines(path, chroms) for acc, path in peak_paths.items()}
    for acc, lines in kept.items():
        if not lines:
            raise RegbenchError(f"--chroms {','.join(chroms or [])} leaves no peaks of "
                                f"encode:{acc}; add chromosomes it has peaks on")
    blacklist_lines = _bed_lines(fetcher.download(blacklist), chroms)
    signals = ({e.accession: fetcher.download(e.signal) for e in experiments if e.signal}
               if bigwigs else {})
    fasta_gz = fetcher.download(genome)
    # a folder of its own (two fetches into one --out write apart), renamed into place
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.fetching-", dir=out.parent))
    os.chmod(building, 0o755)   # mkdtemp makes it private; the result is an ordinary folder
    try:
        _write_folder(building, experiments, kept, blacklist_lines, signals, fasta_gz,
                      chroms, genome, blacklist, fetcher.base, recipe)
        sync_tree(building)
        _swap_in(building, out)
    except OSError as exc:
        shutil.rmtree(building, ignore_errors=True)
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise RegbenchError(f"no space left writing {out}: free some space or give "
                            "another --out, then rerun (downloads stay cached)") from None
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return out


def _swap_in(building: Path, out: Path, tries: int = 5) -> None:
    """Rename the finished ``building`` to ``out`` (atomic); a fetched folder there
    (checked by the caller; or one another fetch renamed there meanwhile) is moved
    aside first, then deleted. The renames are synced."""
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    try:
        for attempt in range(tries):
            try:
                os.rename(building, out)   # onto nothing, or an empty folder
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == tries - 1:
                    raise
            with contextlib.suppress(FileNotFoundError):   # moved by another fetch
                os.rename(out, aside / str(attempt))
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    sync_folder(out.parent)


def _bed_lines(path: Path, chroms) -> list[str]:
    """Lines of a (gzipped) BED on the chromosomes asked (all when None)."""
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        return [line if line.endswith("\n") else line + "\n" for line in handle
                if line.strip() and not line.startswith(("#", "track", "browser"))
                and (chroms is None or line.split("\t", 1)[0] in chroms)]


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _write_fasta(source: Path, target: Path, chroms) -> list[str]:
    """The records of ``chroms`` (all when None), streamed; the names written."""
    opener = gzip.open if _is_gzip(source) else open
    written, keep = [], False
    with opener(source, "rb") as src, open(target, "wb") as dst:
        for line in src:
            if line.startswith(b">"):
                name = line[1:].split(None, 1)[0].decode() if line[1:].strip() else ""
                keep = chroms is None or name in chroms
                if keep:
                    written.append(name)
            if keep:
                dst.write(line)
    missing = sorted(set(chroms or []) - set(written))
    if missing:
        raise RegbenchError(f"the genome has no chromosome {missing[0]} (--chroms); names "
                            "are as in GRCh38 analysis sets: chr1 ... chr22, chrX, chrY")
    return written


def _write_folder(out, experiments, kept, blacklist_lines, signals, fasta_gz, chroms,
                  genome, blacklist, base, recipe) -> Path:
    """Everything into the new folder ``out``."""
    (out / "peaks").mkdir(parents=True)
    for acc, lines in kept.items():
        (out / "peaks" / f"{acc}.narrowPeak").write_text("".join(lines))
    (out / "blacklist.bed").write_text("".join(blacklist_lines))
    for acc, path in signals.items():
        (out / "signal").mkdir(exist_ok=True)
        shutil.copyfile(path, out / "signal" / f"{acc}.bigWig")
    names = _write_fasta(fasta_gz, out / "genome.fa", chroms)
    (out / "dataset.toml").write_text(_dataset_toml(experiments, signals, genome, blacklist,
                                                    base, names, chroms, recipe))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))   # a JSON string is a TOML basic string


def _table(name: str, values: dict) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items()
                                   if v is not None)


def _dataset_toml(experiments, signals, genome, blacklist, base, names, chroms,
                  recipe) -> str:
    folds = {"test_chroms": [c for c in DEFAULT_TEST_CHROMS if c in names],
             "valid_chroms": [c for c in DEFAULT_VALID_CHROMS if c in names]}
    head = {"source": "ENCODE", "portal": base, "recipe": recipe,
            "fetched": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "assembly": ASSEMBLY, "chroms": chroms if chroms else "all"}
    blocks = ["# Written by `regbench data fetch`; `regbench run --data THIS_FOLDER` "
              "reads it.\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in head.items()
                                      if v is not None),
              _table("folds", folds),
              _table("genome", {"file": "genome.fa", "accession": genome.accession,
                                "url": genome.url, "md5": genome.md5}),
              _table("blacklist", {"file": "blacklist.bed", "accession": blacklist.accession,
                                   "url": blacklist.url, "md5": blacklist.md5})]
    for e in experiments:
        row = {"accession": e.accession, "assay": e.assay, "target": e.target,
               "biosample": e.biosample, "peaks": f"peaks/{e.accession}.narrowPeak",
               "peaks_accession": e.peaks.accession, "peaks_output": e.peaks.output_type,
               "peaks_url": e.peaks.url, "peaks_md5": e.peaks.md5}
        if e.accession in signals:
            row.update(signal=f"signal/{e.accession}.bigWig",
                       signal_accession=e.signal.accession,
                       signal_output=e.signal.output_type, signal_url=e.signal.url,
                       signal_md5=e.signal.md5)
        blocks.append("[[experiments]]\n" + "".join(
            f"{k} = {_toml_value(v)}\n" for k, v in row.items()))
    return "\n".join(blocks)


__all__ = ["BLACKLIST_FILE", "DEFAULT_BASE_URL", "Experiment", "Fetcher", "GENOME_FILE",
           "RemoteFile", "base_url", "check_chroms", "fetch_cache", "fetch_dataset",
           "parse_accessions"]
