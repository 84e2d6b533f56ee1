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


def test_folder_without_any_instance_or_peak(tmp_path, capsys):
    out = simulate("spi1_profile", tmp_path / "neg", progress=False,
                   overrides={"positives": 0, "negatives": 12, "length": 100})
    ds = load_dataset(out)
    # no motif instance: no motif truth (NaN motif metrics, not 0.0), with a note
    assert ds.motifs is None and ds.motif_mask is None
    assert capsys.readouterr().out.splitlines() == [NO_MOTIF_NOTE.format(
        path=out / "motifs.bed", why="lists no motif instance")]
    assert (ds.summits == 50).all() and ds.signal.shape == (12, 2, 100)
    assert ds.signal.sum() > 0                                  # background reads only


def test_stratified_split_is_seeded_and_balanced():
    labels = np.r_[np.ones(500), np.zeros(300)][:, None]
    a, b = stratified_split(labels, seed=3), stratified_split(labels, seed=3)
    assert (a == b).all() and (a != stratified_split(labels, seed=4)).any()
    for rows in (labels[:, 0] == 1, labels[:, 0] == 0):
        assert (a[rows] == "train").mean() == pytest.approx(0.8, abs=0.005)
        assert (a[rows] == "test").mean() == pytest.approx(0.1, abs=0.005)


# -- bad data: one line at load time (issue 29) --------------------------------------------
TINY_FASTA = ">a\nACGTACGT\n>b\nGGCCGGCC\n>c\nTTAATTAA\n"
TINY_LABELS = "name\tsplit\tT\na\ttrain\t1\nb\tvalid\t0\nc\ttest\t1\n"


def write_bigwig(path, chroms):
    """A bigWig with one value per base of each {chrom: [values]}; None leaves that base
    out (not covered)."""
    import pyBigWig
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([(c, len(v)) for c, v in chroms.items()], maxZooms=0)
    for chrom, values in chroms.items():
        covered = [i for i, v in enumerate(values) if v is not None]
        if covered:
            bw.addEntries(chrom, covered, values=[float(values[i]) for i in covered], span=1)
    bw.close()


@pytest.mark.parametrize("value,shown", [("0.5", "0.5"), ("2", "2"), ("-1", "-1"),
                                         ("inf", "inf")])
def test_labels_outside_0_and_1_name_file_column_and_row(tmp_path, value, shown):
    labels = "name\tsplit\tT\tU\na\ttrain\t1\t0\nb\tvalid\t0\t" + value + "\nc\ttest\t1\t1\n"
    folder = write(tmp_path / "d", TINY_FASTA, labels)
    with pytest.raises(RegbenchError) as info:
        load_dataset(folder)
    assert str(info.value) == (f"{folder / 'labels.tsv'}: column 'U' holds {shown} in row 2 "
                               "(sequence 'b'); labels must be 0 or 1")


@pytest.mark.parametrize("labels,message", [
    ("", "labels.tsv is empty; write a header"),
    ("\n\n", "labels.tsv is empty; write a header"),
    ("name\tsplit\tT\n", "labels.tsv has a header but no rows; add a row per sequence"),
])
def test_an_empty_labels_tsv_is_one_line(tmp_path, labels, message):
    folder = write(tmp_path / "d", TINY_FASTA, labels)
    with pytest.raises(RegbenchError, match=message) as info:
        load_dataset(folder)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("how", ["not utf-8", "no permission"])
def test_an_unreadable_labels_tsv_is_one_line_and_exit_2(tmp_path, tune_kit, capsys,
                                                         monkeypatch, how):
    """Before: a traceback (UnicodeDecodeError, PermissionError) from the command."""
    import os

    from regbench.cli import main
    folder = tune_kit.make_dataset(tmp_path / "d", n=48)
    labels = folder / "labels.tsv"
    if how == "not utf-8":
        labels.write_bytes(b"name\tsplit\tbound\n\xff\xfe\x00seq\ttrain\t1\n")
    elif os.geteuid() != 0:
        labels.chmod(0)
    else:   # root reads whatever the mode: the open fails as it would for a user
        real = pd.read_csv

        def denied(path, *args, **kwargs):
            if str(path) == str(labels):
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *args, **kwargs)
        monkeypatch.setattr(pd, "read_csv", denied)
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--data", str(folder), "--regularizers", "none",
                 "--seeds", "1", "--no-progress", "--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"regbench run: error: {labels} cannot be read (")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_motifs_and_peaks_on_no_sequence_are_counted_and_left_out(tmp_path, capsys):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    (folder / "motifs.bed").write_text("a\t1\t3\tM\t0\t+\nzz\t1\t3\tM\t0\t+\n"
                                       "yy\t0\t2\tM\t0\t+\n")
    (folder / "peaks.bed").write_text("b\t2\t6\nqq\t0\t4\n")
    ds = load_dataset(folder)
    assert ds.motifs["chrom"].tolist() == ["a"] and ds.motif_mask.sum() == 2
    assert ds.summits.tolist() == [4, 4, 4]            # b's peak centre; the rest default
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"data: note: 2 of the 3 rows in {folder / 'motifs.bed'} name no sequence of "
        "labels.tsv (e.g. 'zz') and are left out",
        f"data: note: 1 of the 2 peaks in {folder / 'peaks.bed'} name no sequence of "
        "labels.tsv (e.g. 'qq') and are left out"]


@pytest.mark.parametrize("name,content,what", [
    ("motifs.bed", "zz\t1\t3\tM\t0\t+\nyy\t0\t2\tM\t0\t+\n", "2 rows"),
    ("peaks.bed", "qq\t0\t4\n", "1 peaks"),
])
def test_motifs_or_peaks_all_on_no_sequence_stop(tmp_path, name, content, what):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    (folder / name).write_text(content)
    with pytest.raises(RegbenchError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        f"{folder / name}: none of its {what} names a sequence of labels.tsv (e.g. "
        f"{content.split(chr(9))[0]!r}); name the sequences of sequences.fa in its "
        "chromosome column")


def test_bigwig_uncovered_bases_read_as_0_with_a_note(tmp_path, capsys):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    plus = {"a": [1, None, 2, 0, 0, 0, 0, 5], "b": [0] * 8, "c": [None] * 7 + [3],
            "other": [9] * 8}
    write_bigwig(folder / "signal.plus.bw", plus)
    write_bigwig(folder / "signal.minus.bw", {"a": [1] * 8, "c": [2] * 8})  # b: absent
    ds = load_dataset(folder)
    np.testing.assert_array_equal(ds.signal[:, 0], [[1, 0, 2, 0, 0, 0, 0, 5], [0] * 8,
                                                    [0] * 7 + [3]])
    np.testing.assert_array_equal(ds.signal[:, 1], [[1] * 8, [0] * 8, [2] * 8])
    assert capsys.readouterr().out.splitlines() == [
        f"data: note: 1 of the 4 chromosomes in {folder / 'signal.plus.bw'} name no "
        "sequence of labels.tsv (e.g. 'other') and are left out",
        f"data: note: 1 of the 3 sequences of labels.tsv are not in "
        f"{folder / 'signal.minus.bw'} (e.g. 'b'), so their counts are read as 0",
        "data: note: bases without a value in the bigWigs (NaN: not covered) are read as 0 "
        "counts: signal.plus.bw 8 of 24"]


@pytest.mark.parametrize("value,shown", [(float("inf"), "inf"), (float("-inf"), "-inf"),
                                         (-3, "-3")])
def test_bigwig_inf_and_negative_counts_name_file_and_chromosome(tmp_path, value, shown):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    write_bigwig(folder / "signal.plus.bw", {c: [1] * 8 for c in "abc"})
    write_bigwig(folder / "signal.minus.bw", {"a": [1] * 8, "b": [0, 0, 0, value, 0, 0, 0, 0],
                                              "c": [1] * 8})
    with pytest.raises(RegbenchError) as info:
        load_dataset(folder)
    assert str(info.value) == (f"{folder / 'signal.minus.bw'}: chromosome b has the value "
                               f"{shown} at base 3; read counts must be finite and >= 0, so "
                               "regenerate the bigWig")


def test_a_bigwig_on_no_sequence_stops(tmp_path):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    write_bigwig(folder / "signal.plus.bw", {"chr1": [1] * 8, "chr2": [1] * 8})
    write_bigwig(folder / "signal.minus.bw", {c: [1] * 8 for c in "abc"})
    with pytest.raises(RegbenchError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        f"{folder / 'signal.plus.bw'}: none of its 2 chromosomes names a sequence of "
        "labels.tsv (e.g. 'chr1'); name the sequences of sequences.fa in its chromosome "
        "column")


@pytest.mark.parametrize("bad,message", [
    ("label", "column 'bound' holds 0.5 in row 2 (sequence 'seq1'); labels must be 0 or 1"),
    ("empty", "labels.tsv has a header but no rows"),
    ("motifs", "motifs.bed: none of its 60 rows names a sequence of labels.tsv"),
    ("bigwig", "signal.plus.bw: chromosome seq7 has the value inf at base 3"),
    ("mostly_n", "sequence 'seq5' is mostly unknown (60 of its 100 bases are N"),
])
def test_bad_data_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, tune_kit, bad,
                                                           message):
    """Data that trains but for the one fault: the run stops before any work."""
    from regbench.cli import main
    folder = tune_kit.make_dataset(tmp_path / "d")
    labels = folder / "labels.tsv"
    if bad == "label":
        labels.write_text(labels.read_text().replace("seq1\t1\t", "seq1\t0.5\t"))
    if bad == "empty":
        labels.write_text(labels.read_text().splitlines()[0] + "\n")
    if bad == "motifs":
        motifs = folder / "motifs.bed"
        motifs.write_text(motifs.read_text().replace("seq", "chr"))
    if bad == "mostly_n":
        fasta = folder / "sequences.fa"
        lines = fasta.read_text().splitlines()
        at = lines.index(">seq5") + 1
        lines[at] = "X" * 30 + "n" * 30 + lines[at][60:]   # protein-like, soft-masked N
        fasta.write_text("\n".join(lines) + "\n")
    if bad == "bigwig":
        names = pd.read_csv(labels, sep="\t")["name"]
        counts = {n: [1] * 100 for n in names}
        write_bigwig(folder / "signal.minus.bw", counts)
        counts["seq7"] = [1, 1, 1, float("inf")] + [1] * 96
        write_bigwig(folder / "signal.plus.bw", counts)
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("mine\n")
    assert main(["run", "--preset", "smoke", "--data", str(folder), "--regularizers", "none",
                 "--seeds", "1", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert [p.name for p in out.iterdir()] == ["kept.txt"]


def test_bad_labels_exit_2_without_a_traceback_from_the_command(tmp_path, tune_kit):
    import subprocess
    import sys
    folder = tune_kit.make_dataset(tmp_path / "d")
    labels = folder / "labels.tsv"
    labels.write_text(labels.read_text().replace("seq3\t1\t", "seq3\t2\t"))
    done = subprocess.run([sys.executable, "-m", "regbench.cli", "run", "--preset", "smoke",
                           "--data", str(folder), "--regularizers", "none", "--seeds", "1",
                           "--no-progress", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr == (
        f"regbench run: error: {labels}: column 'bound' holds 2 in row 4 (sequence 'seq3'); "
        "labels must be 0 or 1\n")
    assert not (tmp_path / "out").exists()


# -- bad data must not be scored as real (issue 42 item 2) ---------------------------------
NO_MOTIF_NOTE = ("data: note: {path} {why}, so the motif metrics (motif fraction, motif "
                 "auPRC) are not scored (NaN) and GC reliance counts every base as "
                 "background; list the task's motif instances in it to score them")


@pytest.mark.parametrize("content,manifest,why", [
    ("", None, "lists no motif instance"),
    ("track name=motifs\n# none found\n\n", None, "lists no motif instance"),
    ("a\t1\t3\tDECOY\t0\t+\n", {"decoy_motif_ids": ["DECOY"]},
     "lists only decoy motifs (manifest.json's decoy_motif_ids)"),
])
def test_a_motifs_bed_without_task_motifs_leaves_the_motif_metrics_unscored(
        tmp_path, capsys, content, manifest, why):
    """An empty motifs.bed is no ground truth: no mask (as without motifs.bed), so the
    motif metrics are NaN, not 0.0, and a note says so."""
    import json
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    (folder / "motifs.bed").write_text(content)
    if manifest:
        (folder / "manifest.json").write_text(json.dumps(manifest))
    ds = load_dataset(folder)
    assert ds.motif_mask is None and ds.motifs is None
    note = NO_MOTIF_NOTE.format(path=folder / "motifs.bed", why=why)
    assert capsys.readouterr().out.splitlines() == [note] and ds.notes == [note]


@pytest.mark.parametrize("bed,expected", [
    ("a\t1\t3\n", [("a", 1, 3, "a:1-3", 0.0, ".")]),
    ("track name=m\nbrowser position a:1-8\n# c\na\t1\t3\tM1\nb\t0\t2\tM2\n",
     [("a", 1, 3, "M1", 0.0, "."), ("b", 0, 2, "M2", 0.0, ".")]),
    ("a\t1\t3\tM1\t7.5\n", [("a", 1, 3, "M1", 7.5, ".")]),
    ("a\t1\t3\tM1\t.\t-\n", [("a", 1, 3, "M1", 0.0, "-")]),
    ("a\t1\t3\tM1\t2\t+\t1\t3\t0,0,0\nc\t4\t8\tM2\t1\t-\t4\t8\t0,0,0\n",
     [("a", 1, 3, "M1", 2.0, "+"), ("c", 4, 8, "M2", 1.0, "-")]),
], ids=["bed3", "bed4-headers", "bed5", "bed6-dot-score", "bed9"])
def test_motifs_bed_is_read_as_standard_bed(tmp_path, capsys, bed, expected):
    """BED3, BED4, BED5, BED6 and wider; track/browser/# lines skipped. Missing
    columns: name chrom:start-end, score 0, strand '.'."""
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    (folder / "motifs.bed").write_text(bed)
    ds = load_dataset(folder)
    got = ds.motifs[["chrom", "start", "end", "name", "score", "strand"]]
    assert [tuple(r) for r in got.itertuples(index=False)] == expected
    mask = np.zeros((3, 8), bool)
    for chrom, start, end, *_ in expected:
        mask["abc".index(chrom), start:end] = True
    np.testing.assert_array_equal(ds.motif_mask, mask)
    assert capsys.readouterr().out == ""


def test_peaks_bed_is_read_as_standard_bed(tmp_path, capsys):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    (folder / "peaks.bed").write_text("track name=peaks\nbrowser hide all\n# peaks\n"
                                      "b\t2\t6\tp1\nc\t0\t4\tp2\t9\t.\t1\t-1\t-1\t1\n")
    ds = load_dataset(folder)
    assert ds.summits.tolist() == [4, 4, 1]    # a: none, b: the centre, c: column 10
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("bed,line,problem", [
    ("a\t1\t3\nb\t2\n", 2, "expected at least chrom, start, end"),
    ("# h\na\tone\t3\n", 2, "start and end must be whole numbers"),
    ("a\t1\t3\tM\tbig\t+\n", 1, "score must be a number or '.'"),
    ("a\t1\t3\tM\t0\tup\n", 1, "strand must be +, - or ."),
])
def test_a_bad_bed_line_is_named(tmp_path, bed, line, problem):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    (folder / "motifs.bed").write_text(bed)
    with pytest.raises(RegbenchError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        f"{folder / 'motifs.bed'} line {line}: {problem}; write BED (chrom, start, end, "
        "then optionally name, score, strand), tab-separated")


def test_letters_other_than_acgtn_are_counted_in_one_note(tmp_path, capsys):
    fasta = (">a\nACGTRYAC\n>b\nacgtnnAC\n>c\nTTAAMEEK\n>d\nACGTACGT\n>e\nAC-TAC*y\n")
    labels = TINY_LABELS + "d\ttrain\t0\ne\ttest\t1\n"
    folder = write(tmp_path / "d", fasta, labels)
    ds = load_dataset(folder)
    assert decode(ds.codes[0]) == "ACGTNNAC" and decode(ds.codes[2]) == "TTAANNNN"
    assert decode(ds.codes[1]) == "ACGTNNAC"                 # soft-masked: as upper case
    note = (f"data: note: 9 letters other than A, C, G, T, N in 3 of the 5 sequences of "
            f"{folder / 'sequences.fa'} are read as N (unknown): IUPAC codes K 1, M 1, "
            "R 1, Y 2; other letters E 2; other characters '*' 1, '-' 1")
    assert capsys.readouterr().out.splitlines() == [note] and ds.notes == [note]


def test_soft_masked_sequences_are_read_without_a_note(tmp_path, capsys):
    folder = write(tmp_path / "d", ">a\nacgtACGT\n>b\nggccnnCC\n>c\nttaaTTAA\n", TINY_LABELS)
    ds = load_dataset(folder)
    assert decode(ds.codes[1]) == "GGCCNNCC" and ds.notes == []
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("seq,shown", [("NNNNNACG", "5 of its 8"), ("MEEKNRAC", "6 of its 8")])
def test_a_mostly_n_sequence_stops(tmp_path, seq, shown):
    fasta = f">a\nACGTACGT\n>b\n{seq}\n>c\nTTAATTAA\n"
    folder = write(tmp_path / "d", fasta, TINY_LABELS)
    with pytest.raises(RegbenchError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        f"{folder / 'sequences.fa'}: sequence 'b' is mostly unknown ({shown} bases are N "
        "or letters other than A, C, G, T; the limit is half); a protein or masked "
        "sequence cannot be scored as DNA: remove it from labels.tsv or give its bases")


def test_a_sequence_missing_from_a_bigwig_is_counted_in_a_note(tmp_path, capsys):
    folder = write(tmp_path / "d", TINY_FASTA, TINY_LABELS)
    write_bigwig(folder / "signal.plus.bw", {c: [1] * 8 for c in "abc"})
    write_bigwig(folder / "signal.minus.bw", {"a": [2] * 8})
    ds = load_dataset(folder)
    np.testing.assert_array_equal(ds.signal[:, 1], [[2] * 8, [0] * 8, [0] * 8])
    note = (f"data: note: 2 of the 3 sequences of labels.tsv are not in "
            f"{folder / 'signal.minus.bw'} (e.g. 'b'), so their counts are read as 0")
    assert capsys.readouterr().out.splitlines() == [note] and ds.notes == [note]


@pytest.mark.parametrize("motifs", ["bed4", "empty"])
def test_a_run_scores_a_bed4_and_leaves_an_empty_motifs_bed_unscored(tmp_path, capsys,
                                                                    tune_kit, motifs):
    """The user path: a BED4 motifs.bed is scored; an empty one gives NaN motif metrics
    (not 0.0), a note in the log, config.json and the report."""
    import json
    from regbench.cli import main
    folder = tune_kit.make_dataset(tmp_path / "d")
    bed = folder / "motifs.bed"
    if motifs == "bed4":
        bed.write_text("".join("\t".join(line.split("\t")[:4]) + "\n"
                               for line in bed.read_text().splitlines()))
    else:
        bed.write_text("")
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--data", str(folder), "--regularizers", "none",
                 "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv")
    printed = capsys.readouterr().out
    recorded = json.loads((out / "config.json").read_text())
    if motifs == "bed4":
        assert results["motif_fraction"].between(0, 1).all()
        assert results["motif_auprc"].between(0, 1).all()
        assert "data: note" not in printed and "data_notes" not in recorded
        return
    note = NO_MOTIF_NOTE.format(path=bed, why="lists no motif instance")
    assert results["motif_fraction"].isna().all() and results["motif_auprc"].isna().all()
    assert printed.count(note) == 1 and recorded["data_notes"] == [note]
    assert ("lists no motif instance, so the motif metrics (motif fraction, motif auPRC) "
            "are not scored (NaN)") in (out / "report.md").read_text()
