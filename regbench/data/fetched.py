"""A folder written by ``regbench data fetch`` as a data source.

``regbench run --data DIR`` on such a folder (it has ``dataset.toml``), or
``[data_source] kind = "encode"`` with ``path = DIR`` (and the genome source's
``length``, ``seed``, ``negatives_per_peak``, ``jitter``): the genome source on its
FASTA, peaks and blacklist, with the folds dataset.toml records. One experiment per
run: the genome source makes one binary task.
"""
from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:   # Python < 3.11
    import tomli as tomllib

from regbench.data.genome import GenomeSource
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


@register_data_source("encode")
class EncodeSource(GenomeSource):
    """Peaks (label 1) and GC-matched negatives from a fetched ENCODE folder."""

    def __init__(self, path, experiment: str | None = None, **genome):
        self.folder = Path(path)
        self.meta = read_dataset_toml(self.folder)
        self.experiment = _one_experiment(self.meta, experiment, self.folder)
        folds = self.meta.get("folds", {})
        genome.setdefault("test_chroms", folds.get("test_chroms"))
        genome.setdefault("valid_chroms", folds.get("valid_chroms"))
        super().__init__(self.folder / self.meta["genome"]["file"],
                         self.folder / self.experiment["peaks"],
                         blacklist=self.folder / self.meta["blacklist"]["file"],
                         **{k: v for k, v in genome.items() if v is not None})

    def describe(self, dataset) -> str:
        e, m = self.experiment, self.meta
        return (f"ENCODE {e['accession']} ({e.get('target') or e['assay']}, "
                f"{e.get('biosample', '')}; peaks {e['peaks_accession']}, md5 "
                f"{e['peaks_md5']}; genome {m['genome']['accession']}, blacklist "
                f"{m['blacklist']['accession']}; chromosomes {_chroms(m)}; fetched "
                f"{m.get('fetched')} from {m.get('portal')}): " + super().describe(dataset))


def _chroms(meta) -> str:
    chroms = meta.get("chroms", "all")
    return chroms if isinstance(chroms, str) else ",".join(chroms)


def _one_experiment(meta: dict, wanted, folder) -> dict:
    experiments = meta.get("experiments") or []
    if wanted:
        for e in experiments:
            if e["accession"] == wanted.split(":")[-1]:
                return e
        raise RegbenchError(f"{folder} has no experiment {wanted}; it has "
                            f"{', '.join(e['accession'] for e in experiments)}")
    if len(experiments) != 1:
        raise RegbenchError(
            f"{folder} holds {len(experiments)} experiments "
            f"({', '.join(e['accession'] for e in experiments)}) and a run trains on one "
            "peak set: choose it with [data_source] kind = \"encode\", path = ..., "
            "experiment = \"ENCSR...\"")
    return experiments[0]


__all__ = ["EncodeSource", "is_fetched", "read_dataset_toml"]
