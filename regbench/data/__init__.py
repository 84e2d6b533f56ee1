"""Genome data layer: dataset folders (FASTA, labels, BED, bigWig) -> arrays.

    from regbench.data import load_dataset, one_hot
    ds = load_dataset("results/data/spi1_binary")
    train = ds.subset("train")
    X = one_hot(train.codes)          # (N, 4, L) float32
"""
from regbench.data.dataset import Dataset, fingerprint, load_dataset
from regbench.data.encode import decode, encode, one_hot
from regbench.data.sources import (DataSource, FolderSource, SimulatedSource,
                                   create_data_source, list_data_sources,
                                   register_data_source, source_of, unregister_data_source)
from regbench.data.split import SPLITS, stratified_split
from regbench.data.genome import GenomeSource, folds, read_peaks  # registers "genome"
from regbench.data.fetched import EncodeSource  # registers "encode"

__all__ = ["DataSource", "Dataset", "EncodeSource", "FolderSource", "GenomeSource", "folds", "read_peaks", "SPLITS", "SimulatedSource",
           "create_data_source", "decode", "encode", "fingerprint", "list_data_sources",
           "load_dataset", "one_hot", "register_data_source", "source_of",
           "stratified_split", "unregister_data_source"]
