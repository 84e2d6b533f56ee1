"""`regbench.data`: loading a dataset folder, one-hot encoding, subsets, errors."""
import numpy as np
import pandas as pd
import pytest
import torch

from regbench.data import decode, encode, load_dataset, one_hot, stratified_split
from regbench.errors import RegbenchError
from regbench.simulate import simulate


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "sim"
    return simulate("spi1_binary", out, progress=False, overrides={
        "positives": 120, "negatives": 80, "length": 150,
        "decoys.positives": 0.5, "decoys.negatives": 0.5})


@pytest.fixture(scope="module")
def ds(folder):
    return load_dataset(folder)


def fasta_records(path):
    lines = path.read_text().split("\n")
    return {lines[i][1:]: lines[i + 1] for i in range(0, len(lines) - 1, 2)}


def test_fields_shapes_and_types(ds, folder):
    n = 200
    assert len(ds) == n and ds.codes.shape == (n, 150) and ds.codes.dtype == np.uint8
    assert ds.labels.shape == (n, 1) and ds.labels.dtype == np.float32 and ds.tasks == ["SPI1"]
    assert ds.split.shape == (n,) and set(ds.split) == {"train", "valid", "test"}
    assert ds.motif_mask.shape == (n, 150) and ds.motif_mask.dtype == bool
    assert ds.summits.dtype == np.int64 and (ds.summits == 75).all()   # no peaks.bed
    assert ds.signal is None and ds.manifest["kind"] == "simulation"
    assert len(ds.fingerprint) == 16
    records = fasta_records(folder / "sequences.fa")
    labels = pd.read_csv(folder / "labels.tsv", sep="\t")
    assert ds.names == labels["name"].tolist()
    for i in (0, 99, 199):
        assert decode(ds.codes[i]) == records[ds.names[i]]
    np.testing.assert_array_equal(ds.labels[:, 0], labels["SPI1"])


def test_motif_mask_covers_task_instances_not_decoys(ds):
    assert ds.motifs["decoy"].any() and (~ds.motifs["decoy"]).any()
    expected = np.zeros_like(ds.motif_mask)
    for row in ds.motifs[~ds.motifs["decoy"]].itertuples():
        expected[ds.names.index(row.chrom), row.start:row.end] = True
    np.testing.assert_array_equal(ds.motif_mask, expected)
    assert ds.motif_mask.sum() == 13 * 120                  # one 13 bp SPI1 per positive


def test_one_hot_order_and_n_columns():
    codes = encode("ACGTNacgtn")[None]
    x = one_hot(codes)
    assert x.shape == (1, 4, 10) and x.dtype == torch.float32
    np.testing.assert_array_equal(x[0].argmax(dim=0)[:4], [0, 1, 2, 3])
    np.testing.assert_array_equal(x[0].sum(dim=0), [1, 1, 1, 1, 0] * 2)
    assert torch.equal(one_hot(torch.as_tensor(codes)), x)


def test_subset_by_split_and_mask(ds):
    train = ds.subset("train")
    rows = np.flatnonzero(ds.split == "train")
    assert len(train) == rows.size and (train.split == "train").all()
    np.testing.assert_array_equal(train.codes, ds.codes[rows])
    np.testing.assert_array_equal(train.motif_mask, ds.motif_mask[rows])
    assert set(train.motifs["chrom"]) <= set(train.names)
    assert len(train.motifs) == ds.motifs["chrom"].isin(train.names).sum()
    pos = ds.subset(ds.labels[:, 0] == 1)
    assert len(pos) == 120 and pos.fingerprint == ds.fingerprint
    with pytest.raises(RegbenchError, match="unknown split 'training'"):
        ds.subset("training")


def test_fingerprint_follows_file_bytes(folder, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in folder.iterdir():
        if f.suffix != ".fai":
            (copy / f.name).write_bytes(f.read_bytes())
    assert load_dataset(copy).fingerprint == load_dataset(folder).fingerprint
    labels = copy / "labels.tsv"
    labels.write_text(labels.read_text().replace("\ttrain\t", "\tvalid\t", 1))
    assert load_dataset(copy).fingerprint != load_dataset(folder).fingerprint


def test_a_large_file_is_hashed_whole_once_so_a_same_size_edit_is_seen(tmp_path,
                                                                      monkeypatch):
    import hashlib
    import os

    import regbench.data.dataset as dataset
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(dataset, "WHOLE_FILE_BYTES", 1000)
    folder, data = tmp_path / "data", bytearray(b"ACGT" * 2500)   # 10,000 bytes: large
    folder.mkdir()
    genome = folder / "genome.fa"
    genome.write_bytes(data)
    first = dataset.fingerprint(folder)
    cached = list((tmp_path / "cache" / "fingerprints").iterdir())
    assert [p.read_text() for p in cached] == [hashlib.sha256(data).hexdigest() + "\n"]
    # a same-size edit in the middle (16 samples of 1 MiB once missed it in a genome)
    stat = genome.stat()
    data[5000:5001] = b"N"
    genome.write_bytes(data)
    os.utime(genome, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    assert dataset.fingerprint(folder) != first
    assert len(list((tmp_path / "cache" / "fingerprints").iterdir())) == 2
    # while path, size and mtime are those of a cached hash, the hash is used and the
    # file is not read again (here: the old bytes' hash, for the edited file)
    os.utime(genome, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert dataset.fingerprint(folder) == first
    genome.write_bytes(data + b"A")                # the size is in the hash too
    assert dataset.fingerprint(folder) != first
    # no usable cache folder: hashed every time, still right
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "file" / "cache"))
    genome.write_bytes(data)
    assert dataset.fingerprint(folder) == dataset.fingerprint(folder) != first


def write(folder, fasta, labels):
    folder.mkdir(exist_ok=True)
    (folder / "sequences.fa").write_text(fasta)
    (folder / "labels.tsv").write_text(labels)
    return folder


def test_real_style_folder_multiline_fasta_no_split(tmp_path):
    seqs = {"chr1_a": "ACGT" * 30, "chr2_b": "GGCCNNTTAA" * 12, "x": "T" * 120}
    fasta = "".join(f">{n} some description\n" + "\n".join(s[i:i + 50] for i in
                    range(0, 120, 50)) + "\n" for n, s in seqs.items())
    labels = "name\ttaskA\ttaskB\nx\t1\t0\nchr1_a\t0\t1\n"     # subset, other order
    ds = load_dataset(write(tmp_path / "d", fasta, labels))
    assert ds.names == ["x", "chr1_a"] and ds.tasks == ["taskA", "taskB"]
    assert decode(ds.codes[0]) == seqs["x"] and decode(ds.codes[1]) == seqs["chr1_a"]
    assert ds.motifs is None and ds.motif_mask is None and ds.manifest == {}
    assert set(ds.split) <= {"train", "valid", "test"}


@pytest.mark.parametrize("fasta,labels,message", [
    (None, "name\tsplit\tT\n", "sequences.fa is missing"),
    (">a\nACGT\n>b\nACG\n", "name\tsplit\tT\na\ttrain\t1\nb\ttest\t0\n", "unequal lengths"),
    (">a\nACGT\n", "name\tsplit\tT\na\ttrain\t1\nzz\ttest\t0\n", "not in .*sequences.fa.*'zz'"),
    (">a\nACGT\n", "name\tsplit\tT\na\tholdout\t1\n", "split must be one of"),
    (">a\nACGT\n", "name\tsplit\n", "no task columns"),
    (">a\nACGT\n", "seq\tsplit\tT\na\ttrain\t1\n", "must start with a 'name' column"),
])
def test_bad_folders_raise_clear_errors(tmp_path, fasta, labels, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    if fasta is not None:
        (folder / "sequences.fa").write_text(fasta)
    (folder / "labels.tsv").write_text(labels)
    with pytest.raises(RegbenchError, match=message) as info:
        load_dataset(folder)
    assert "\n" not in str(info.value)


def test_missing_labels_named(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "sequences.fa").write_text(">a\nACGT\n")
    with pytest.raises(RegbenchError, match="labels.tsv is missing"):
        load_dataset(folder)


def test_folder_without_any_instance_or_peak(tmp_path):
    out = simulate("spi1_profile", tmp_path / "neg", progress=False,
                   overrides={"positives": 0, "negatives": 12, "length": 100})
    ds = load_dataset(out)
    assert ds.motifs.empty and not ds.motif_mask.any()
    assert (ds.summits == 50).all() and ds.signal.shape == (12, 2, 100)
    assert ds.signal.sum() > 0                                  # background reads only


def test_stratified_split_is_seeded_and_balanced():
    labels = np.r_[np.ones(500), np.zeros(300)][:, None]
    a, b = stratified_split(labels, seed=3), stratified_split(labels, seed=3)
    assert (a == b).all() and (a != stratified_split(labels, seed=4)).any()
    for rows in (labels[:, 0] == 1, labels[:, 0] == 0):
        assert (a[rows] == "train").mean() == pytest.approx(0.8, abs=0.005)
        assert (a[rows] == "test").mean() == pytest.approx(0.1, abs=0.005)
