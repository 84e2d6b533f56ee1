"""Genome data layer: dataset folders (FASTA, labels, BED, bigWig) -> arrays.

    from regbench.data import load_dataset, one_hot
    ds = load_dataset("results/data/spi1_binary")
    train = ds.subset("train")
    X = one_hot(train.codes)          # (N, 4, L) float32
"""
from regbench.data.dataset import Dataset, fingerprint, load_dataset
from regbench.data.encode import decode, encode, one_hot
from regbench.data.split import SPLITS, stratified_split

__all__ = ["Dataset", "SPLITS", "decode", "encode", "fingerprint", "load_dataset",
           "one_hot", "stratified_split"]
