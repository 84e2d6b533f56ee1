"""A genome as a data source: FASTA + peaks -> windows, GC-matched negatives, folds.

``[data_source] kind = "genome"`` (or ``regbench run --genome FA --peaks P``). Each peak
gives one window of ``length`` bp centred on its summit (narrowPeak: start + column 10;
BED: the centre), read by tangermeme's ``extract_loci`` (``return_mask=True``: windows
that run off a chromosome end are dropped and counted). Negatives are GC-matched
background windows away from the peaks, ``negatives_per_peak`` per peak (default 1;
tangermeme's ``extract_matching_loci``, seeded). Splits are by chromosome
(``folds``). The windows are extracted once and cached (keyed by the inputs'
fingerprints and the settings), so a rerun never reads the FASTA again.

``jitter = J`` (bp, default 0) also extracts every window with J more bases each side
(``Dataset.flanked``): training batches are then cropped back to ``length`` at a random
offset of up to ±J (``Task.augment``), as BPNet trains; validation and test use the
centred windows. Each peak window records its peak interval (``Dataset.peak_mask``),
for the peak-overlap auPRC. ``control_plus``/``control_minus`` (bigWigs of a control
experiment) are read like the signal into ``Dataset.control``; profile models take
them as an input (``models.profile``).
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.data.fasta import cache_dir, indexed_path, open_fasta, writing_cache
from regbench.data.sources import DataSource, register_data_source
from regbench.errors import RegbenchError

# The common fold of ENCODE/BPNet-style work: test chr1, chr3, chr6; validation chr8,
# chr20; every other chromosome trains.
DEFAULT_TEST_CHROMS = ("chr1", "chr3", "chr6")
DEFAULT_VALID_CHROMS = ("chr8", "chr20")


def read_peaks(path) -> pd.DataFrame:
    """Peaks as (chrom, start, end, summit), summit an absolute position.

    narrowPeak (10 columns): summit = start + column 10 (-1: the centre); BED (3 or
    more columns): the centre. '#', 'track' and 'browser' lines are skipped. Errors
    name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise RegbenchError(f"peak file {path} does not exist")
    rows = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                chrom, start, end = fields[0], int(fields[1]), int(fields[2])
                offset = int(fields[9]) if len(fields) >= 10 else -1
            except (IndexError, ValueError):
                raise RegbenchError(f"{path} line {number}: expected BED or narrowPeak "
                                    "(chrom, start, end tab-separated)") from None
            if start < 0 or end <= start:
                raise RegbenchError(f"{path} line {number}: start {start} and end {end} "
                                    "do not make an interval")
            summit = start + offset if offset >= 0 else (start + end) // 2
            rows.append((chrom, start, end, summit))
    if not rows:
        raise RegbenchError(f"peak file {path} has no peaks")
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "summit"])


def folds(chroms, test=DEFAULT_TEST_CHROMS, valid=DEFAULT_VALID_CHROMS) -> dict[str, str]:
    """chromosome -> "train" | "valid" | "test". The lists must name chromosomes of the
    genome and must not overlap, so the folds are disjoint by construction."""
    chroms = list(chroms)
    for name, listed in (("test", test), ("valid", valid)):
        unknown = sorted(set(listed) - set(chroms))
        if unknown:
            raise RegbenchError(f"{name}_chroms names chromosome(s) {', '.join(unknown)} "
                                "that the genome FASTA does not have")
    both = sorted(set(test) & set(valid))
    if both:
        raise RegbenchError(f"{', '.join(both)} is in both test_chroms and valid_chroms")
    return {c: "test" if c in test else "valid" if c in valid else "train" for c in chroms}


def _codes(X) -> np.ndarray:
    """One-hot (N, 4, L) -> uint8 codes (N, L), all-zero columns (N) -> 4."""
    X = np.asarray(X)
    return np.where(X.sum(axis=1) > 0, X.argmax(axis=1), 4).astype(np.uint8)


def gc_fraction(codes: np.ndarray) -> np.ndarray:
    """G+C share of the non-N bases of each window. codes: (N, L) -> (N,)."""
    called = (codes < 4).sum(axis=1)
    return ((codes == 1) | (codes == 2)).sum(axis=1) / np.maximum(called, 1)


@register_data_source("genome")
class GenomeSource(DataSource):
    """Binary windows from a genome: peaks (label 1) and GC-matched negatives (label 0)."""

    def __init__(self, fasta, peaks, length: int = 1000, test_chroms=DEFAULT_TEST_CHROMS,
                 valid_chroms=DEFAULT_VALID_CHROMS, seed: int = 0, bigwig_plus=None,
                 bigwig_minus=None, blacklist=None, negatives_per_peak: int = 1,
                 jitter: int = 0, control_plus=None, control_minus=None):
        self.fasta, self.peaks_path = Path(fasta), Path(peaks)
        if not isinstance(negatives_per_peak, int) or negatives_per_peak < 0:
            raise RegbenchError(f"negatives_per_peak = {negatives_per_peak!r} is not valid: "
                                "expected an integer >= 0")
        self.negatives_per_peak = negatives_per_peak
        if not isinstance(jitter, int) or not 0 <= jitter <= int(length) // 2:
            raise RegbenchError(f"jitter = {jitter!r} is not valid: expected an integer "
                                f"from 0 to half the window ({int(length) // 2})")
        self.jitter = jitter
        if (bigwig_plus is None) != (bigwig_minus is None):
            raise RegbenchError("bigWigs come as a strand pair: give both bigwig_plus and "
                                "bigwig_minus (--bigwig-plus, --bigwig-minus)")
        self.bigwigs = [Path(p) for p in (bigwig_plus, bigwig_minus) if p is not None]
        if (control_plus is None) != (control_minus is None):
            raise RegbenchError("control bigWigs come as a strand pair: give both "
                                "control_plus and control_minus (--controls PLUS MINUS)")
        self.controls = [Path(p) for p in (control_plus, control_minus) if p is not None]
        if self.controls and not self.bigwigs:
            raise RegbenchError("control bigWigs go with the signal's: give --bigwig-plus "
                                "and --bigwig-minus too")
        self.blacklist = Path(blacklist) if blacklist else None
        self.length, self.seed = int(length), int(seed)
        self.test_chroms, self.valid_chroms = list(test_chroms), list(valid_chroms)
        self.report: dict = {}

    def check(self) -> None:
        if not self.fasta.is_file():
            raise RegbenchError(f"genome FASTA {self.fasta} does not exist")
        sizes = self._sizes()
        peaks = read_peaks(self.peaks_path)
        missing = sorted(set(peaks["chrom"]) - set(sizes))
        if missing:
            raise RegbenchError(f"{self.peaks_path}: chromosome {missing[0]} is not in "
                                f"{self.fasta}" + (f" (and {len(missing) - 1} more)"
                                                   if len(missing) > 1 else ""))
        ends = peaks["chrom"].map(sizes)
        past = peaks[peaks["end"] > ends]
        if len(past):
            row = past.iloc[0]
            raise RegbenchError(f"{self.peaks_path}: peak {row.chrom}:{row.start}-{row.end} "
                                f"ends past the chromosome's end ({sizes[row.chrom]} bp)")
        folds(sizes, self.test_chroms, self.valid_chroms)
        files = [*zip(("--bigwig-plus", "--bigwig-minus"), self.bigwigs),
                 *(("--controls", path) for path in self.controls),
                 *([("--blacklist", self.blacklist)] if self.blacklist else [])]
        for option, path in files:
            if not path.is_file():
                raise RegbenchError(f"{option} {path} does not exist")
        for pair in (self.bigwigs, self.controls):
            if pair:
                self._check_pair(pair, set(peaks["chrom"]))

    def task_names(self) -> list[str]:
        """One binary task: the peak file's."""
        return [self.peaks_path.stem]

    def has_signal(self) -> bool:
        return bool(self.bigwigs)

    def _check_pair(self, pair: list[Path], peak_chroms: set) -> None:
        """A strand pair of bigWigs: the same chromosomes, every peak's among them."""
        from regbench.data.tracks import bigwig_chroms
        plus, minus = (set(bigwig_chroms(p)) for p in pair)
        if plus != minus:
            odd = sorted(plus ^ minus)[0]
            raise RegbenchError(f"the strand bigWigs {pair[0].name} and {pair[1].name} do "
                                f"not have the same chromosomes ({odd} is in one only)")
        lacking = sorted(peak_chroms - plus)
        if lacking:
            raise RegbenchError(f"{pair[0]} has no chromosome {lacking[0]}, "
                                f"which {self.peaks_path.name} has peaks on")

    def _sizes(self) -> dict[str, int]:
        index = open_fasta(self.fasta)
        return {name: int(record.rlen) for name, record in index.index.items()}

    def load(self, out, progress: bool = False):
        from regbench.data.dataset import Dataset, Flanked
        self.check()
        cached = cache_dir().parent / "genome" / f"{self._key()}.npz"
        if cached.is_file():
            with np.load(cached, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            self.report = json.loads(str(arrays.pop("report")))
        else:
            arrays = self._extract()
            from regbench.store.runs import atomic_write_npz
            with writing_cache(cached.parent):
                atomic_write_npz(cached, report=np.array(json.dumps(self.report)), **arrays)
        fold_of = folds(self._sizes(), self.test_chroms, self.valid_chroms)
        split = np.array([fold_of[c] for c in arrays["chrom"]])
        names = [f"{c}:{s}-{s + self.length}" for c, s in zip(arrays["chrom"],
                                                               arrays["start"])]
        J, L = self.jitter, self.length
        centre = slice(J, J + L)
        signal, control = arrays.get("signal"), arrays.get("control")
        offsets = np.arange(L)
        peak_mask = ((offsets >= arrays["peak_lo"][:, None]) &
                     (offsets < arrays["peak_hi"][:, None]))
        ds = Dataset.from_arrays(names, arrays["codes"][:, centre], arrays["labels"],
                                 split, tasks=self.task_names(),
                                 source=str(self.peaks_path), peak_mask=peak_mask,
                                 signal=None if signal is None else signal[..., centre])
        if control is not None:
            ds.control = control[..., centre]
        if J:
            ds.flanked = Flanked(J, arrays["codes"], signal, control)
        ds.split_source = (f"by chromosome: test {', '.join(self.test_chroms)}; valid "
                           f"{', '.join(self.valid_chroms)}; the rest train")
        ds.manifest = dict(self.report)
        ds.notes = list(self.report.get("notes", []))
        print(f"data: {self.describe(ds)}", flush=True)
        for note in ds.notes:
            print(note, flush=True)
        return ds

    def _key(self) -> str:
        from regbench.data.dataset import fingerprint_file
        inputs = [self.fasta, self.peaks_path, *self.bigwigs, *self.controls] + (
            [self.blacklist] if self.blacklist else [])
        blob = json.dumps([[fingerprint_file(p) for p in inputs], self.length, self.seed,
                           len(self.bigwigs), len(self.controls), self.blacklist is not None,
                           self.negatives_per_peak, self.jitter, 4])
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def _extract(self) -> dict:
        from tangermeme.io import extract_loci
        from tangermeme.match import extract_matching_loci
        fasta = str(indexed_path(self.fasta))
        peaks = read_peaks(self.peaks_path)
        half, width = self.length // 2, self.length + 2 * self.jitter
        windows = pd.DataFrame({"chrom": peaks["chrom"], "start": peaks["summit"] - half,
                                "end": peaks["summit"] - half + self.length,
                                "peak_start": peaks["start"], "peak_end": peaks["end"]})
        # k negatives per peak: the peaks listed k times ask for k matches per GC bin,
        # drawn without replacement from the background windows.
        wanted = pd.concat([peaks[["chrom", "start", "end"]]] * self.negatives_per_peak)
        negatives = windows.iloc[:0]
        if len(wanted):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                negatives = extract_matching_loci(wanted, fasta, in_window=self.length,
                                                  out_window=self.length,
                                                  random_state=self.seed)
        parts, dropped = [], {}
        for label, loci in ((1, windows), (0, negatives)):
            if not len(loci):
                continue
            # in_window: the flanked width, centred on the window's centre
            try:
                X, kept = extract_loci(loci.iloc[:, :3], fasta, in_window=width,
                                       return_mask=True, n_jobs=1, exclusion_lists=(
                                           str(self.blacklist) if self.blacklist else None))
            except ValueError as exc:   # tangermeme reads only A, C, G, T, N (any case)
                if "not in `alphabet`" not in str(exc):
                    raise
                raise RegbenchError(
                    f"{self.fasta} has letters other than A, C, G, T, N (IUPAC codes or "
                    f"protein letters) in a {'peak' if label else 'negative'} window; "
                    "replace them with N (e.g. sed '/^>/!s/[^ACGTNacgtn]/N/g') and run "
                    "again") from None
            kept = np.asarray(kept, bool)
            dropped["peaks" if label else "negatives"] = int((~kept).sum())
            loci = loci[kept]
            centre = (loci["start"].to_numpy() + loci["end"].to_numpy()) // 2
            start = (centre - half).astype(np.int64)
            # the peak interval in window coordinates (negatives: empty)
            lo = (loci["peak_start"].to_numpy() - start if label else np.zeros(len(loci)))
            hi = (loci["peak_end"].to_numpy() - start if label else np.zeros(len(loci)))
            parts.append(dict(codes=_codes(X), labels=np.full(len(loci), label, np.float32),
                              chrom=loci["chrom"].to_numpy().astype(str), start=start,
                              peak_lo=np.asarray(lo, np.int64),
                              peak_hi=np.asarray(hi, np.int64)))
        arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        from regbench.data.tracks import fill_uncovered, read_bigwig_windows
        notes = []
        for name, pair in (("signal", self.bigwigs), ("control", self.controls)):
            if pair:
                strands = [(p.name, read_bigwig_windows(
                    p, arrays["chrom"], arrays["start"] - self.jitter, width))
                    for p in pair]
                notes.append(fill_uncovered(strands))
                arrays[name] = np.stack([values for _, values in strands], axis=1)
        gc = gc_fraction(arrays["codes"][:, self.jitter:self.jitter + self.length])
        positive = arrays["labels"] > 0
        self.report = {"peaks": int(positive.sum()), "negatives": int((~positive).sum()),
                       "dropped": dropped,
                       "gc_peaks": round(float(gc[positive].mean()), 4),
                       "gc_negatives": (round(float(gc[~positive].mean()), 4)
                                        if (~positive).any() else None)}
        if any(notes):   # said at every load, the cached ones too
            self.report["notes"] = [note for note in notes if note]
        return arrays

    def describe(self, dataset) -> str:
        r = self.report
        return (f"genome {self.fasta.name}, peaks {self.peaks_path.name}: {r.get('peaks')} "
                f"peak and {r.get('negatives')} GC-matched negative windows of "
                f"{self.length} bp" + (f" (±{self.jitter} bp jitter)" if self.jitter else "")
                + f" (mean GC {r.get('gc_peaks')} vs {r.get('gc_negatives')}; "
                f"dropped at chromosome ends or in the blacklist: "
                f"{r.get('dropped')})")


__all__ = ["DEFAULT_TEST_CHROMS", "DEFAULT_VALID_CHROMS", "GenomeSource", "folds",
           "gc_fraction", "read_peaks"]
