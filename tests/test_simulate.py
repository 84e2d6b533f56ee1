"""`regbench.simulate`: the generated files carry exactly the truth that was asked for."""
import hashlib

import numpy as np
import pyBigWig
import pyfaidx
import pytest

from regbench.data import decode, load_dataset
from regbench.errors import RegbenchError
from regbench.simulate import generate, resolve_motif, simulate
from regbench.simulate import writers

SMALL = {"positives": 400, "negatives": 400, "length": 250}


def sim(tmp_path_factory, scenario, **overrides):
    out = tmp_path_factory.mktemp("sim") / "out"
    simulate(scenario, out, overrides=overrides, progress=False)
    return load_dataset(out)


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    return sim(tmp_path_factory, "spi1_binary", **SMALL, **{
        "gc.positives": 0.6, "gc.negatives": 0.35, "placement.rc_prob": 0.3,
        "decoys.positives": 0.5, "decoys.negatives": 0.25})


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return sim(tmp_path_factory, "multi_motif", positives=300, negatives=100, length=300)


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    return sim(tmp_path_factory, "spi1_profile", positives=200, negatives=50, length=300)


def all_spans(ds):
    """(N, L) bool: inside any instance in motifs.bed, decoys included."""
    mask = np.zeros(ds.codes.shape, dtype=bool)
    rows = {n: i for i, n in enumerate(ds.names)}
    for chrom, start, end in ds.motifs[["chrom", "start", "end"]].itertuples(index=False):
        mask[rows[chrom], start:end] = True
    return mask


def instance_letters(ds, row):
    """Codes of one motifs.bed row, read on its own strand."""
    codes = ds.codes[ds.names.index(row.chrom), row.start:row.end]
    return 3 - codes[::-1] if row.strand == "-" else codes


def is_positive(ds):
    return ds.labels.any(axis=1)


def test_background_gc_matches_each_class(binary):
    background = ~all_spans(binary)
    for rows, asked in [(is_positive(binary), 0.6), (~is_positive(binary), 0.35)]:
        bases = binary.codes[rows][background[rows]]
        counts = np.bincount(bases, minlength=4) / bases.size
        assert counts[1] + counts[2] == pytest.approx(asked, abs=0.01)
        assert counts[1] == pytest.approx(counts[2], abs=0.01)   # C and G equally likely
        assert counts[0] == pytest.approx(counts[3], abs=0.01)


def test_motif_bed_matches_fasta_and_beats_background(binary):
    spi1 = resolve_motif("MA0080.7")
    rows = binary.motifs[binary.motifs["name"] == "MA0080.7"]
    letters = np.stack([instance_letters(binary, r) for r in rows.itertuples()])
    scores = spi1.score(letters)
    np.testing.assert_allclose(scores, rows["score"], atol=1e-3)   # BED score = FASTA span
    shuffled = np.random.default_rng(0).permuted(letters, axis=1)
    assert scores.mean() > spi1.score(shuffled).mean() + 10
    neg = binary.codes[~is_positive(binary)]
    rng = np.random.default_rng(1)
    starts = rng.integers(0, binary.length - spi1.width, 3000)
    windows = neg[rng.integers(0, len(neg), 3000)[:, None], starts[:, None] + np.arange(13)]
    assert (scores > np.percentile(spi1.score(windows), 99)).mean() > 0.95
    # every decoy entry matches its own motif too
    for row in binary.motifs[binary.motifs["decoy"]].itertuples():
        score = resolve_motif(row.name).score(instance_letters(binary, row)[None])[0]
        assert score == pytest.approx(row.score, abs=1e-3)


def test_reverse_complement_share_near_asked(binary):
    share = (binary.motifs["strand"] == "-").mean()
    assert share == pytest.approx(0.3, abs=0.06)
    assert binary.manifest["counts"]["minus_strand_share"] == pytest.approx(share)


@pytest.mark.parametrize("prob,strand", [(0.0, "+"), (1.0, "-")])
def test_reverse_complement_extremes(tmp_path_factory, prob, strand):
    ds = sim(tmp_path_factory, "spi1_binary", positives=50, negatives=0,
             **{"placement.rc_prob": prob, "decoys.positives": 0.0})
    assert set(ds.motifs["strand"]) == {strand}


def test_labels_instances_and_centred_placement(binary):
    pos = is_positive(binary)
    assert pos.sum() == 400 and (~pos).sum() == 400 and binary.tasks == ["SPI1"]
    task = binary.motifs[~binary.motifs["decoy"]]
    per_seq = task["chrom"].value_counts()
    assert set(per_seq.index) == {n for n, p in zip(binary.names, pos) if p}
    assert (per_seq == 1).all()                                  # one SPI1 per positive
    # the instances of a sequence are centred as a group, +-30 bp jitter
    offset = abs((task["start"] + task["end"] - 1) / 2 - (binary.length - 1) / 2)
    decoyed = set(binary.motifs.loc[binary.motifs["decoy"], "chrom"])
    alone = ~task["chrom"].isin(decoyed)
    assert offset[alone].max() <= 30.5 and offset[alone].max() > 25
    assert offset.max() <= 30 + (13 + 5 + 15) / 2
    has_decoy = np.array([n in decoyed for n in binary.names])
    assert has_decoy[pos].mean() == pytest.approx(0.5, abs=0.08)
    assert has_decoy[~pos].mean() == pytest.approx(0.25, abs=0.08)
    assert set(binary.motifs.loc[binary.motifs["decoy"], "name"]) <= {
        "MA0036.4", "MA0466.4", "MA0139.2"}


def test_instances_never_overlap(binary, multi):
    for ds, spacing in [(binary, 5), (multi, 10)]:
        bed = ds.motifs.sort_values(["chrom", "start"])
        same = bed["chrom"].to_numpy()[1:] == bed["chrom"].to_numpy()[:-1]
        gaps = bed["start"].to_numpy()[1:] - bed["end"].to_numpy()[:-1]
        assert same.any() and (gaps[same] >= spacing).all()


def test_split_recorded_and_stratified(binary):
    assert binary.manifest["split"]["fractions"] == {"train": 0.8, "valid": 0.1, "test": 0.1}
    for rows in (is_positive(binary), ~is_positive(binary)):
        shares = [(binary.split[rows] == s).mean() for s in ("train", "valid", "test")]
        np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.005)


def test_manifest_records_parameters_and_counts(binary):
    m = binary.manifest
    assert m["scenario"]["gc"] == {"positives": 0.6, "negatives": 0.35}
    assert m["seed"] == m["scenario"]["seed"] == 1
    assert m["counts"]["positives"] == 400 and m["counts"]["sequences"] == 800
    assert m["counts"]["task_instances"] == 400
    assert m["regbench_version"]
    assert sorted(m["decoy_motif_ids"]) == ["MA0036.4", "MA0139.2", "MA0466.4"]


def test_multi_task_labels_follow_motif_content(multi):
    task_motifs = {"SPI1": {"MA0080.7"}, "GATA": {"MA0036.4", "MA0140.3"},
                   "CTCF": {"MA0139.2"}}
    assert multi.tasks == list(task_motifs)
    rows = {n: i for i, n in enumerate(multi.names)}
    present = np.zeros(multi.labels.shape, dtype=bool)
    for t, ids in enumerate(task_motifs.values()):
        hits = multi.motifs[multi.motifs["name"].isin(ids)]
        present[[rows[c] for c in hits["chrom"]], t] = True
    np.testing.assert_array_equal(present, multi.labels.astype(bool))
    assert 1 < multi.labels.sum(axis=1).max() and multi.labels[is_positive(multi)].min() == 0
    n_task = multi.motifs[~multi.motifs["decoy"]]["chrom"].value_counts()
    assert n_task.min() >= 1 and n_task.max() <= 3 and (n_task > 1).any()


def test_poisson_min_zero_leaves_some_positives_empty():
    plan, _ = generate("spi1_binary", {"positives": 2000, "negatives": 0,
                                       "instances.distribution": "poisson",
                                       "instances.mean": 1.0, "instances.min": 0,
                                       "instances.max": 3, "decoys.positives": 0.0})
    counts = np.bincount(plan.instances.seq, minlength=2000)
    assert (counts == 0).mean() == pytest.approx(np.exp(-1), abs=0.04)
    assert counts.max() == 3


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_same_seed_identical_bytes_different_seed_differs(tmp_path):
    kw = {"overrides": {"positives": 60, "negatives": 40, "length": 300}, "progress": False}
    a = simulate("spi1_profile", tmp_path / "a", seed=7, **kw)
    b = simulate("spi1_profile", tmp_path / "b", seed=7, **kw)
    c = simulate("spi1_profile", tmp_path / "c", seed=8, **kw)
    assert digest(a) == digest(b)
    assert len(digest(a)) == 8
    differ = {k for k in digest(a) if digest(a)[k] != digest(c)[k]}
    assert {"sequences.fa", "motifs.bed", "signal.plus.bw", "labels.tsv"} <= differ


def test_fasta_readable_by_pyfaidx_and_index_matches(binary, tmp_path):
    fasta = binary.path / "sequences.fa"
    fa = pyfaidx.Fasta(str(fasta))
    assert list(fa.keys()) == binary.names
    for i in (0, 17, len(binary) - 1):
        assert str(fa[binary.names[i]][:]) == decode(binary.codes[i])
    copy = tmp_path / "copy.fa"
    copy.write_bytes(fasta.read_bytes())
    pyfaidx.Faidx(str(copy))                               # pyfaidx builds its own index
    assert (tmp_path / "copy.fa.fai").read_text() == (binary.path / "sequences.fa.fai").read_text()


def test_profile_bigwigs_readable_and_peaking_at_instances(profile):
    for strand in ("plus", "minus"):
        bw = pyBigWig.open(str(profile.path / f"signal.{strand}.bw"))
        assert bw.chroms() == {n: profile.length for n in profile.names}
        bw.close()
    signal = profile.signal                                 # (N, 2, L)
    pos = is_positive(profile)
    total = signal.sum(axis=1)
    assert total[pos].sum(axis=1).mean() > 10 * total[~pos].sum(axis=1).mean()
    task = profile.motifs[~profile.motifs["decoy"]]
    rows = np.array([profile.names.index(c) for c in task["chrom"]])
    centre = ((task["start"] + task["end"] - 1) / 2).to_numpy()
    # the smoothed coverage peaks at an instance (shift 8 bp, sd 4 bp)
    smooth = np.apply_along_axis(np.convolve, 1, total[pos], np.ones(9), "same")
    peak = smooth.argmax(axis=1)
    pos_rows = np.flatnonzero(pos)
    near = [np.abs(centre[rows == r] - p).min() <= 15 for r, p in zip(pos_rows, peak)]
    assert np.mean(near) > 0.95
    # plus-strand reads sit upstream of the instance, minus-strand downstream
    offsets = np.arange(profile.length)[None, :] - centre[:, None]
    window = np.abs(offsets) <= 20
    plus = (signal[rows, 0] * offsets * window).sum() / (signal[rows, 0] * window).sum()
    minus = (signal[rows, 1] * offsets * window).sum() / (signal[rows, 1] * window).sum()
    assert plus == pytest.approx(-8, abs=1.5) and minus == pytest.approx(8, abs=1.5)
    # stronger motifs get more reads; summits sit on the strongest instance
    single = task["chrom"].map(task["chrom"].value_counts()) == 1
    reads = total[rows[single]].sum(axis=1)
    assert np.corrcoef(task["score"][single], reads)[0, 1] > 0.3
    best = task.loc[task.groupby("chrom")["score"].idxmax()]
    best_rows = [profile.names.index(c) for c in best["chrom"]]
    np.testing.assert_array_equal(profile.summits[best_rows],
                                  np.rint((best["start"] + best["end"] - 1) / 2))
    assert (profile.summits[~pos] == profile.length // 2).all()


@pytest.mark.parametrize("overrides,message", [
    ({"tasks.0.motifs": ["NOPE"]}, "unknown motif 'NOPE'"),
    ({"gc.positives": 1.5}, r"gc.positives = 1.5 is outside \[0.0, 1.0\]"),
    ({"gc.negatives": -0.1}, "gc.negatives"),
    ({"length": 10}, "longer than the 10 bp sequences"),
    ({"placement.min_spacing": 200}, "min_spacing 200 need"),
    ({"instances.distribution": "poisson", "instances.max": 20}, "need .* bp but"),
    ({"decoys.motifs": ["SPI1"]}, "both a task motif and a decoy"),
    ({"split.train": 0.9}, "must sum to 1"),
    ({"placement.mode": "left"}, "placement.mode"),
    ({"positives": 0, "negatives": 0}, "at least one sequence"),
    ({"positives": 2.5}, "positives must be an integer"),
])
def test_bad_scenarios_raise_one_clear_line(tmp_path, overrides, message):
    with pytest.raises(RegbenchError, match=message) as info:
        simulate("spi1_binary", tmp_path / "out", overrides=overrides, progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_refuses_non_empty_folder_unless_forced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    small = {"positives": 10, "negatives": 10}
    with pytest.raises(RegbenchError, match="not empty.*--force"):
        simulate("spi1_binary", out, overrides=small, progress=False)
    assert (out / "keep.txt").exists()
    simulate("spi1_binary", out, overrides=small, force=True, progress=False)
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]     # no temporary folders left


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(writers, "write_manifest", boom)
    with pytest.raises(KeyboardInterrupt):
        simulate("spi1_binary", tmp_path / "out", overrides={"positives": 10}, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_shipped_scenarios_are_package_data():
    """Bare scenario names must work from a wheel, not only from a source checkout."""
    import fnmatch
    import tomllib
    from pathlib import Path

    import regbench
    from regbench.simulate.scenario import find_scenario, list_scenarios

    repo = Path(regbench.__file__).resolve().parent.parent
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert pyproject["package-dir"]["regbench.simulations"] == "simulations"
    patterns = pyproject["package-data"]["regbench.simulations"]
    shipped = sorted((repo / "simulations").glob("*.toml"))
    assert {p.stem for p in shipped} >= {"spi1_binary", "spi1_gc_bias", "multi_motif",
                                         "spi1_profile"}
    assert (repo / "simulations" / "jaspar2026_selected.meme").is_file()
    assert set(list_scenarios()) >= {p.stem for p in shipped}
    for path in shipped:
        relative = path.relative_to(repo / "simulations").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
        assert find_scenario(path.stem).resolve() == path


def test_low_signal_profile_scenario_is_spi1_profile_with_noisier_reads(tmp_path_factory):
    """spi1_profile_lowsignal (issue 32): spi1_profile but for the stated keys, and its
    reads are what its comments say: about 129 background reads per sequence, only
    about a fifth of a positive's reads from its sites, an unbound decoy in half of
    the rows of each class; 720 training sequences, 30% of spi1_profile's."""
    from regbench.simulate.scenario import load_scenario
    clean, noisy = load_scenario("spi1_profile"), load_scenario("spi1_profile_lowsignal")
    differ = {(table, key) for table in clean if isinstance(clean[table], dict)
              for key in clean[table] if clean[table][key] != noisy[table][key]}
    assert differ == {("profile", "counts"), ("profile", "background"),
                      ("decoys", "motifs"), ("decoys", "positives"), ("decoys", "negatives"),
                      ("split", "train"), ("split", "valid"), ("split", "test")}
    total = noisy["positives"] + noisy["negatives"]
    assert round(total * noisy["split"]["train"]) == 720
    assert round(total * clean["split"]["train"]) == 2400
    assert (noisy["profile"]["counts"], noisy["profile"]["background"]) == (40.0, 0.1)
    assert noisy["length"] == clean["length"] == 646 and noisy["tasks"] == clean["tasks"]

    ds = sim(tmp_path_factory, "spi1_profile_lowsignal", positives=300, negatives=300)
    reads = ds.signal.sum(axis=(1, 2))                       # (N,)
    pos = is_positive(ds)
    background = 0.1 * 646 * 2
    assert reads[~pos].mean() == pytest.approx(background, rel=0.05)
    site_share = 1 - background / reads[pos].mean()
    assert 0.12 < site_share < 0.3
    decoyed = set(ds.motifs.loc[ds.motifs["decoy"], "chrom"])
    has_decoy = np.array([n in decoyed for n in ds.names])
    assert has_decoy[pos].mean() == pytest.approx(0.5, abs=0.1)
    assert has_decoy[~pos].mean() == pytest.approx(0.5, abs=0.1)
    # decoys are unbound: a negative with one has only background reads
    assert reads[~pos & has_decoy].mean() == pytest.approx(background, rel=0.06)


def test_a_simulated_profile_loads_without_the_uncovered_bases_note(tmp_path, capsys):
    """The simulator writes no value where a base has no reads (most bases): a real
    bigWig's uncovered bases are news at every load, a simulation's are not."""
    import pyBigWig
    out = tmp_path / "out"
    simulate("spi1_profile", out, overrides={"positives": 20, "negatives": 10,
                                             "length": 100}, progress=False)
    bw = pyBigWig.open(str(out / "signal.plus.bw"))
    name, length = next(iter(bw.chroms().items()))
    assert np.isnan(bw.values(name, 0, length)).any()   # bases left out: NaN
    capsys.readouterr()
    ds = load_dataset(out)
    assert "not covered" not in capsys.readouterr().out
    assert ds.signal.min() == 0 and not np.isnan(ds.signal).any()
