"""A folder written by ``regbench data fetch`` as a data source.

``regbench run --data DIR`` on such a folder (it has ``dataset.toml``), or
``[data_source] kind = "encode"`` with ``path = DIR`` (and the genome source's
``length``, ``seed``, ``negatives_per_peak``, ``jitter``): the genome source on its
FASTA, peaks and blacklist, with the folds dataset.toml records.

One experiment gives one binary task. Several (a recipe such as ``paper-spi1``) give one
multi-task binary dataset, one task per experiment, as the paper trained its SPI1 and
GATA2 models: a window is centred on every peak summit of any experiment (summits
closer than ``CENTRE // 2`` bp to one already kept are merged into it), and a window's
label for experiment t is 1 when a peak of t overlaps its central ``CENTRE`` bp (the
paper's "a peak overlapping the center of the sequence"). The GC-matched negatives lie
away from every experiment's peaks: all their labels are 0. ``experiment = "ENCSR..."``
keeps one experiment's peaks (one task).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:   # Python < 3.11
    import tomli as tomllib

import numpy as np
import pandas as pd

from regbench.data.genome import GenomeSource, read_peaks
from regbench.data.sources import register_data_source
from regbench.errors import RegbenchError


def is_fetched(path) -> bool:
    return (Path(path) / "dataset.toml").is_file()


def read_dataset_toml(path) -> dict:
    folder = Path(path)
    if not is_fetched(folder):
        raise RegbenchError(f"{folder} has no dataset.toml: fetch it with `regbench data "
                            "fetch encode:ENCSR... --out DIR`")
    try:
        return tomllib.loads((folder / "dataset.toml").read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RegbenchError(f"{folder / 'dataset.toml'} is not valid TOML ({exc}); fetch "
                            "the folder again") from None


# The central stretch a peak must overlap for a window to be labelled 1 (bp).
CENTRE = 200


@register_data_source("encode")
class EncodeSource(GenomeSource):
    """Peaks (label 1 per experiment) and GC-matched negatives from a fetched folder."""

    def __init__(self, path, experiment: str | None = None, **genome):
        self.folder = Path(path)
        self.meta = read_dataset_toml(self.folder)
        self.experiments = _chosen(self.meta, experiment, self.folder)
        self.experiment_peaks = [self.folder / e["peaks"] for e in self.experiments]
        folds = self.meta.get("folds", {})
        genome.setdefault("test_chroms", folds.get("test_chroms"))
        genome.setdefault("valid_chroms", folds.get("valid_chroms"))
        # several experiments: their union (written by check, not here: a run's
        # options are checked before any file is written)
        super().__init__(self.folder / self.meta["genome"]["file"], self.experiment_peaks[0],
                         blacklist=self.folder / self.meta["blacklist"]["file"],
                         **{k: v for k, v in genome.items() if v is not None})

    def check(self) -> None:
        for path in self.experiment_peaks:
            if not path.is_file():
                raise RegbenchError(f"{path} is missing: fetch {self.folder} again")
        if len(self.experiments) > 1:
            self.peaks_path = union_peaks(self.experiment_peaks)
        super().check()

    def task_names(self) -> list[str]:
        """TARGET_ACCESSION_BIOSAMPLE per experiment, as the paper's authors named them."""
        return ["_".join(v for v in (e.get("target") or e["assay"].split()[0],
                                      e["accession"], e.get("biosample", "")) if v)
                .replace(" ", "-") for e in self.experiments]

    def _key(self) -> str:
        if len(self.experiments) == 1:
            return super()._key()
        from regbench.data.dataset import fingerprint_file
        blob = "\0".join([super()._key(), str(CENTRE),
                           *(fingerprint_file(p) for p in self.experiment_peaks)])
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def _extract(self) -> dict:
        arrays = super()._extract()
        if len(self.experiments) > 1:
            arrays["labels"] = task_labels(arrays["chrom"], arrays["start"] + self.length // 2,
                                           [read_peaks(p) for p in self.experiment_peaks])
            self.report["task_positives"] = {
                name: int(n) for name, n in zip(self.task_names(),
                                                arrays["labels"].sum(axis=0))}
        return arrays

    def describe(self, dataset) -> str:
        m = self.meta
        experiments = "; ".join(
            f"{e['accession']} ({e.get('target') or e['assay']}, {e.get('biosample', '')}; "
            f"peaks {e['peaks_accession']}, md5 {e['peaks_md5']})" for e in self.experiments)
        tasks = (f"{len(self.experiments)} tasks, positives per task "
                 f"{self.report.get('task_positives')}; " if len(self.experiments) > 1
                 else "")
        return (f"ENCODE {experiments}; genome {m['genome']['accession']}, blacklist "
                f"{m['blacklist']['accession']}; chromosomes {_chroms(m)}; fetched "
                f"{m.get('fetched')} from {m.get('portal')}: {tasks}" +
                super().describe(dataset))


def union_peaks(paths) -> Path:
    """One narrowPeak of every experiment's peaks, sorted, a summit within CENTRE // 2 bp
    of the previous kept one dropped (its window would be the same); written once to
    the regbench cache (keyed by the files), the fetched folder is only read."""
    from regbench.data.dataset import fingerprint_file
    from regbench.data.fasta import cache_dir, writing_cache
    from regbench.store.runs import atomic_write
    key = hashlib.sha256("\0".join([str(CENTRE), *(fingerprint_file(p) for p in paths)])
                         .encode()).hexdigest()[:20]
    target = cache_dir().parent / "genome" / f"union-{key}.narrowPeak"
    if target.is_file():
        return target
    peaks = pd.concat([read_peaks(p) for p in paths]).sort_values(["chrom", "summit"])
    kept, last = [], (None, 0)
    for row in peaks.itertuples(index=False):
        if row.chrom != last[0] or row.summit - last[1] >= CENTRE // 2:
            kept.append(f"{row.chrom}\t{row.start}\t{row.end}\t.\t0\t.\t0\t-1\t-1\t"
                        f"{row.summit - row.start}\n")
            last = (row.chrom, row.summit)
    with writing_cache(target.parent):
        atomic_write(target, "".join(kept))
    return target


def task_labels(chroms, centres, peak_sets) -> np.ndarray:
    """(N, T) float32: 1 where a peak of set t overlaps [centre - CENTRE/2, centre +
    CENTRE/2). chroms, centres: (N,); peak_sets: T frames of (chrom, start, end)."""
    chroms, centres = np.asarray(chroms).astype(str), np.asarray(centres, np.int64)
    lo, hi = centres - CENTRE // 2, centres + CENTRE // 2
    labels = np.zeros((len(centres), len(peak_sets)), np.float32)
    for t, peaks in enumerate(peak_sets):
        for chrom, group in peaks.groupby("chrom"):
            rows = np.flatnonzero(chroms == chrom)
            order = np.argsort(group["start"].to_numpy(), kind="stable")
            starts = group["start"].to_numpy()[order]
            reach = np.maximum.accumulate(group["end"].to_numpy()[order])
            # the peaks starting before hi: one of them overlaps when the farthest end > lo
            before = np.searchsorted(starts, hi[rows], side="left")
            labels[rows, t] = (before > 0) & (reach[np.maximum(before - 1, 0)] > lo[rows])
    return labels


def _chroms(meta) -> str:
    chroms = meta.get("chroms", "all")
    return chroms if isinstance(chroms, str) else ",".join(chroms)


def _chosen(meta: dict, wanted, folder) -> list[dict]:
    """Every experiment of the folder (one task each), or the one ``wanted``."""
    experiments = meta.get("experiments") or []
    if not experiments:
        raise RegbenchError(f"{folder / 'dataset.toml'} lists no [[experiments]]; fetch "
                            "the folder again")
    if not wanted:
        return experiments
    for e in experiments:
        if e["accession"] == wanted.split(":")[-1]:
            return [e]
    raise RegbenchError(f"{folder} has no experiment {wanted}; it has "
                        f"{', '.join(e['accession'] for e in experiments)}")


__all__ = ["CENTRE", "EncodeSource", "is_fetched", "read_dataset_toml", "task_labels",
           "union_peaks"]
