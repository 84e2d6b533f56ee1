"""The genome data source on a small synthetic genome written by the test."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from regbench import RegbenchError
from regbench.cli import main
from regbench.data import GenomeSource, decode, folds, read_peaks
from regbench.data.genome import gc_fraction

CHROMS = [f"chr{i}" for i in range(1, 9)] + ["chr20"]
MOTIF = "GAGGAAGTG"  # SPI1-like, planted at every summit
LENGTH = 200


@pytest.fixture(scope="module")
def genome(tmp_path_factory, random_genome):
    """9 chromosomes of 30 kb (GC 0.35 to 0.65 in 3-kb blocks), 8 peaks on each, in
    narrowPeak with summit offsets."""
    folder = tmp_path_factory.mktemp("genome")
    sequences, rows = random_genome(np.random.default_rng(0), CHROMS, MOTIF)
    peaks = [f"{c}\t{s}\t{e}\tpeak\t0\t.\t5.0\t-1\t-1\t{o}" for c, s, e, o in rows]
    fasta = folder / "genome.fa"
    fasta.write_text("".join(f">{c}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60))
                             + "\n" for c, s in sequences.items()))
    (folder / "peaks.narrowPeak").write_text("\n".join(peaks) + "\n")
    return folder, sequences


def source(genome, **kw):
    folder, _ = genome
    return GenomeSource(folder / "genome.fa", folder / "peaks.narrowPeak", length=LENGTH, **kw)


def _peak_auprc_by_hand(genome, run: Path, regularizer: str, profile=False) -> float:
    """The pooled peak auPRC of a run's input x gradient attributions, recomputed: the
    windows it explained (per_sequence.csv) cut from the test's own genome, centred on
    narrowPeak summits; gradients by autograd (binary: the logit; profile: the
    softmax-weighted, mean-centred profile logits summed over strands); the mask from
    the narrowPeak intervals; the area as docs/metrics.md defines it (sklearn's
    precision-recall curve without its end point, trapezoids)."""
    from sklearn.metrics import auc, precision_recall_curve

    from regbench.training.train import load_checkpoint
    folder, sequences = genome
    peaks = pd.read_csv(folder / "peaks.narrowPeak", sep="\t", header=None,
                        names=["chrom", "start", "end", "summit"], usecols=[0, 1, 2, 9])
    per_sequence = pd.read_csv(run / "per_sequence.csv")
    names = per_sequence.query("regularizer == @regularizer and method == "
                               "'input_x_gradient'")["sequence"].tolist()
    windows = [(n.split(":")[0], *map(int, n.split(":")[1].split("-"))) for n in names]
    summits = set(zip(peaks.chrom, peaks.start + peaks.summit))
    assert len(windows) == 16 and all(                    # max_sequences positive windows
        (c, (a + b) // 2) in summits for c, a, b in windows)
    X = torch.tensor(np.stack([[[base == b for b in sequences[c][a:e]] for base in "ACGT"]
                               for c, a, e in windows]), dtype=torch.float32)
    mask = np.zeros((len(windows), X.shape[-1]), bool)
    for row, (c, a, e) in enumerate(windows):
        for p in peaks[peaks.chrom == c].itertuples():
            mask[row, max(p.start, a) - a:max(min(p.end, e) - a, 0)] = True
    results = pd.read_csv(run / "results.csv")
    checkpoint = results.query("regularizer == @regularizer")["checkpoint"].iloc[0]
    model, _ = load_checkpoint(run / checkpoint)
    X.requires_grad_()
    if profile:
        logits = model(X)[0]
        weights = torch.softmax(logits, dim=-1).detach()
        explained = ((logits - logits.mean(-1, keepdim=True)) * weights).sum((-1, -2))
    else:
        explained = model(X)[:, 0]
    (grad,) = torch.autograd.grad(explained.sum(), X)
    g = (grad * X).abs().sum(1).detach().numpy()
    precision, recall, _ = precision_recall_curve(mask.ravel(), g.ravel())
    return auc(recall[:-1], precision[:-1])


@pytest.fixture(scope="module")
def dataset(genome, tmp_path_factory):
    return source(genome).load(tmp_path_factory.mktemp("out"))


def test_peak_windows_are_centred_on_the_summits(genome, dataset):
    _, sequences = genome
    peaks = read_peaks(genome[0] / "peaks.narrowPeak")
    positive = dataset.labels[:, 0] == 1
    assert positive.sum() == len(peaks) == 72
    for name, codes in zip(np.array(dataset.names)[positive], dataset.codes[positive]):
        chrom, span = name.split(":")
        start = int(span.split("-")[0])
        assert decode(codes) == sequences[chrom][start:start + LENGTH]
        assert decode(codes)[LENGTH // 2 - 4:LENGTH // 2 + 5] == MOTIF  # the summit


def test_negatives_are_gc_matched_and_away_from_peaks(genome, dataset):
    positive = dataset.labels[:, 0] == 1
    negative = ~positive
    assert negative.sum() == positive.sum()  # one per peak
    gc = gc_fraction(dataset.codes)
    assert abs(gc[positive].mean() - gc[negative].mean()) < 0.02
    peaks = read_peaks(genome[0] / "peaks.narrowPeak")
    for name in np.array(dataset.names)[negative]:
        chrom, span = name.split(":")
        start, end = map(int, span.split("-"))
        on = peaks[peaks.chrom == chrom]
        assert not ((on.start < end) & (on.end > start)).any(), name
    assert dataset.manifest["gc_peaks"] == pytest.approx(gc[positive].mean(), abs=1e-4)


def test_folds_are_by_chromosome_and_disjoint(dataset):
    chrom = np.array([n.split(":")[0] for n in dataset.names])
    by_split = {s: set(chrom[dataset.split == s]) for s in ("train", "valid", "test")}
    assert by_split["test"] == {"chr1", "chr3", "chr6"}
    assert by_split["valid"] == {"chr8", "chr20"}
    assert by_split["train"] == {"chr2", "chr4", "chr5", "chr7"}
    assert folds(CHROMS, test=["chr2"], valid=["chr4"])["chr2"] == "test"


def test_windows_are_cached(genome, tmp_path, monkeypatch):
    import tangermeme.io
    first = source(genome).load(tmp_path)
    monkeypatch.setattr(tangermeme.io, "extract_loci", None)  # a second read would fail
    again = source(genome).load(tmp_path)
    assert np.array_equal(first.codes, again.codes) and first.names == again.names
    assert first.fingerprint == again.fingerprint


@pytest.mark.parametrize("peaks,message", [
    ("chr99\t100\t300\n", "chromosome chr99 is not in"),
    ("chr1\t29900\t30100\n", "ends past the chromosome's end"),
    ("", "has no peaks"),
    ("chr1\tten\t300\n", "line 1: expected BED or narrowPeak"),
])
def test_bad_peaks_are_one_line(genome, tmp_path, peaks, message):
    bad = tmp_path / "bad.bed"
    bad.write_text(peaks)
    with pytest.raises(RegbenchError, match=message):
        GenomeSource(genome[0] / "genome.fa", bad).check()


def test_fold_lists_must_name_genome_chromosomes(genome):
    with pytest.raises(RegbenchError, match="chr23"):
        source(genome, test_chroms=["chr23"]).check()


def test_a_run_on_the_genome(genome, tmp_path):
    folder, _ = genome
    (tmp_path / "c.toml").write_text(
        f'preset = "smoke"\nseeds = 1\nregularizers = "none,fourier"\n'
        f'[data_source]\nkind = "genome"\nfasta = "{folder / "genome.fa"}"\n'
        f'peaks = "{folder / "peaks.narrowPeak"}"\nlength = {LENGTH}\n')
    out = tmp_path / "run"
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--out", str(out),
                 "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert (results.status == "ok").all() and results["test_auroc"].notna().all()
    assert results["motif_auprc"].isna().all()  # no motif truth on a genome
    for r in results.query("method == 'input_x_gradient'").itertuples():   # but the peaks
        assert r.peak_auprc == pytest.approx(_peak_auprc_by_hand(genome, out, r.regularizer),
                                             rel=1e-6)
    report = (out / "report.md").read_text()
    assert "GC-matched negative windows" in report and "by chromosome" in report
    import json
    sizes = json.loads((out / "config.json").read_text())["split_sizes"]
    assert {s: v["positives"] for s, v in sizes.items()} == {"train": 32, "valid": 16,
                                                             "test": 24}
    assert sum(v["sequences"] for v in sizes.values()) == 144
    assert f"train {sizes['train']['sequences']} (32 positive)" in report  # header
    assert "its simulated data sizes do not apply: these data are 144 sequences" in report


def test_genome_flags_on_the_command_line(genome, tmp_path, capsys):
    folder, _ = genome
    out = tmp_path / "run"
    assert main(["run", "--preset", "smoke", "--seeds", "1", "--regularizers", "none",
                 "--genome", str(folder / "genome.fa"), "--peaks",
                 str(folder / "peaks.narrowPeak"), "--out", str(out), "--no-progress"]) == 0
    config = (out / "config.json").read_text()
    assert '"kind": "genome"' in config and '"split": "by chromosome' in config
    assert main(["run", "--preset", "smoke", "--genome", str(folder / "genome.fa"),
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--genome and --peaks go together" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def bigwigs(genome):
    """Per-strand read counts: a peak of reads 8 bp either side of every summit."""
    import pyBigWig
    folder, sequences = genome
    peaks = read_peaks(folder / "peaks.narrowPeak")
    paths = []
    for strand, shift in (("plus", -8), ("minus", 8)):
        path = folder / f"{strand}.bw"
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader([(c, len(s)) for c, s in sequences.items()])
        for chrom in sequences:
            values = np.zeros(len(sequences[chrom]))
            for summit in peaks.loc[peaks.chrom == chrom, "summit"]:
                values[summit + shift] = 25.0
            bw.addEntries(chrom, 0, values=values.tolist(), span=1, step=1)
        bw.close()
        paths.append(path)
    return paths


def test_bigwigs_give_per_strand_counts_in_each_window(genome, bigwigs, tmp_path):
    ds = source(genome, bigwig_plus=bigwigs[0], bigwig_minus=bigwigs[1]).load(tmp_path)
    assert ds.signal.shape == (len(ds.names), 2, LENGTH)
    positive = ds.labels[:, 0] == 1
    centre = LENGTH // 2
    assert (ds.signal[positive, 0, centre - 8] == 25).all()
    assert (ds.signal[positive, 1, centre + 8] == 25).all()
    assert ds.signal[~positive].sum() == 0  # negatives are away from the peaks


def test_a_blacklist_drops_and_counts_windows(genome, tmp_path):
    folder, _ = genome
    (tmp_path / "black.bed").write_text("chr2\t0\t30000\n")
    ds = source(genome, blacklist=tmp_path / "black.bed").load(tmp_path)
    assert not any(n.startswith("chr2:") for n in ds.names)
    assert ds.manifest["dropped"]["peaks"] == 8


@pytest.mark.parametrize("case,message", [
    ("missing_chrom", "do not have the same chromosomes"),
    ("both_lack", r"minus2.bw has no chromosome chr\d+, which peaks.narrowPeak"),
    ("not_bigwig", "is not a readable bigWig file"),
    ("one_strand", "bigWigs come as a strand pair"),
])
def test_bad_bigwigs_are_one_line(genome, bigwigs, tmp_path, case, message):
    import pyBigWig
    plus, minus = bigwigs
    if case == "missing_chrom":
        minus = tmp_path / "short.bw"
        bw = pyBigWig.open(str(minus), "w")
        bw.addHeader([("chr1", 30000)])
        bw.addEntries("chr1", [0], values=[1.0], span=1)
        bw.close()
    elif case == "both_lack":
        plus, minus = tmp_path / "plus2.bw", tmp_path / "minus2.bw"
        for path in (plus, minus):
            bw = pyBigWig.open(str(path), "w")
            bw.addHeader([("chr1", 30000)])
            bw.addEntries("chr1", [0], values=[1.0], span=1)
            bw.close()
        plus, minus = minus, plus
    elif case == "not_bigwig":
        minus = tmp_path / "text.bw"
        minus.write_text("not a bigwig\n")
    elif case == "one_strand":
        minus = None
    with pytest.raises(RegbenchError, match=message):
        source(genome, bigwig_plus=plus, bigwig_minus=minus, seed=7).load(tmp_path)


def test_a_profile_run_on_the_genome(genome, bigwigs, tmp_path):
    folder, _ = genome
    (tmp_path / "c.toml").write_text('[model]\nfilters = 8\nn_dilated = 2\n'
                                     'profile_width = 15\n[evaluation]\n'
                                     'methods = ["input_x_gradient"]\n')
    out = tmp_path / "run"
    assert main(["run", "--preset", "smoke", "--config", str(tmp_path / "c.toml"),
                 "--seeds", "1", "--regularizers", "none,fourier", "--model", "profile",
                 "--genome", str(folder / "genome.fa"), "--peaks",
                 str(folder / "peaks.narrowPeak"), "--bigwig-plus", str(bigwigs[0]),
                 "--bigwig-minus", str(bigwigs[1]), "--jitter", "8", "--out", str(out),
                 "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert (results.status == "ok").all() and results["test_profile_jsd"].notna().all()
    for r in results.itertuples():
        assert r.peak_auprc == pytest.approx(_peak_auprc_by_hand(
            genome, out, r.regularizer, profile=True), rel=1e-6)
    import json
    model = json.loads((out / "config.json").read_text())["model"]
    assert model["filters"] == 8 and model["architecture"] == "bpnet"  # the file's sizes
    # the 32 peaks of chr2, 4, 5, 7 and the negatives drawn there (GC decides where)
    assert 32 < results["train_rows"].iloc[0] < 144


def test_two_negatives_per_peak(genome, tmp_path):
    ds = source(genome, negatives_per_peak=2).load(tmp_path)
    positive = ds.labels[:, 0] == 1
    assert (~positive).sum() == 2 * positive.sum() and len(set(ds.names)) == len(ds.names)
    gc = gc_fraction(ds.codes)
    assert abs(gc[positive].mean() - gc[~positive].mean()) < 0.02
    with pytest.raises(RegbenchError, match="negatives_per_peak"):
        source(genome, negatives_per_peak=-1)


def test_peak_mask_marks_each_peak_interval(genome, dataset):
    peaks = read_peaks(genome[0] / "peaks.narrowPeak")
    positive = dataset.labels[:, 0] == 1
    assert not dataset.peak_mask[~positive].any()
    by_window = {f"{r.chrom}:{r.summit - LENGTH // 2}": r for r in peaks.itertuples()}
    for name, mask in zip(np.array(dataset.names)[positive], dataset.peak_mask[positive]):
        peak = by_window[name.split("-")[0]]
        window_start = peak.summit - LENGTH // 2
        expected = np.zeros(LENGTH, bool)
        expected[max(0, peak.start - window_start):peak.end - window_start] = True
        assert np.array_equal(mask, expected), name
        assert mask[LENGTH // 2]  # the summit is inside its peak


def test_peak_auprc_on_a_known_answer():
    """The pooled curve of ``motif_auprc`` on the peak mask, by hand: no artificial
    end point, trapezoids over recall."""
    from regbench.metrics import GroundTruth, get_metric
    mask = np.zeros((1, 10), bool)
    mask[0, 3:6] = True
    truth = GroundTruth(np.zeros((1, 4, 10)), peak_mask=mask)
    attr = np.zeros((1, 4, 10))
    attr[0, 0] = [0.06, 0.05, 0.04, 0.9, 0.8, 0.7, 0.03, 0.02, 0.01, 0.005]
    # peak positions ranked first: points (R 1/3, P 1), (2/3, 1), (1, 1)
    assert get_metric("peak_auprc").compute(attr, truth) == pytest.approx(2 / 3)
    attr[0, 0, 0] = 0.95   # one outside position ranked first
    # (0, 0), (1/3, 1/2), (2/3, 2/3), (1, 3/4): 1/12 + 7/36 + 17/72
    assert get_metric("peak_auprc").compute(attr, truth) == pytest.approx(37 / 72)


def test_jitter_extracts_flanks_and_crops_training_batches(genome, bigwigs, tmp_path):
    import torch

    from regbench.tasks import create_task
    from regbench.training.train import one_hot_codes
    J = 12
    plain = source(genome, bigwig_plus=bigwigs[0], bigwig_minus=bigwigs[1]).load(tmp_path)
    ds = source(genome, bigwig_plus=bigwigs[0], bigwig_minus=bigwigs[1], jitter=J).load(
        tmp_path)
    _, sequences = genome
    assert ds.codes.shape[1] == LENGTH and ds.flanked.codes.shape[1] == LENGTH + 2 * J
    assert np.array_equal(ds.flanked.codes[:, J:J + LENGTH], ds.codes)
    for name, wide in list(zip(ds.names, ds.flanked.codes))[:5]:
        chrom, span = name.split(":")
        start = int(span.split("-")[0])
        assert decode(wide) == sequences[chrom][start - J:start + LENGTH + J]
    assert np.array_equal(ds.flanked.signal[..., J:J + LENGTH], ds.signal)
    # the same peak windows; a negative whose flanks run off a chromosome is dropped
    peaks = plain.labels[:, 0] == 1
    assert np.array_equal(plain.codes[peaks], ds.codes[ds.labels[:, 0] == 1])
    assert ds.manifest["dropped"]["negatives"] == (~peaks).sum() - (ds.labels[:, 0] == 0).sum()
    wide = ds.subset("train").with_flanks()
    task = create_task("profile", {"output_length": LENGTH - 40, "filters": 4,
                                   "n_dilated": 1, "profile_width": 5},
                       seq_len=LENGTH, n_tasks=1)
    y = torch.as_tensor(task.targets(wide))
    assert y.shape[-1] == LENGTH - 40 + 2 * J
    X = one_hot_codes(torch.as_tensor(wide.codes))
    Xc, yc = task.augment(X, y, np.random.default_rng(3))
    offsets = np.random.default_rng(3).integers(0, 2 * J + 1, size=len(X))
    assert len(set(offsets)) > 3 and Xc.shape == (len(X), 4, LENGTH)
    for i, o in enumerate(offsets):
        assert torch.equal(Xc[i], X[i, :, o:o + LENGTH])
        # the counts under the cropped window's output positions
        assert torch.equal(yc[i], torch.as_tensor(wide.signal[i, :, 20 + o:20 + o + LENGTH - 40]))
    with pytest.raises(RegbenchError, match="jitter"):
        source(genome, jitter=LENGTH)


@pytest.fixture(scope="module")
def controls(genome, tmp_path_factory):
    """A flat control experiment: 1 read per position on the plus strand, 2 on the minus."""
    import pyBigWig
    _, sequences = genome
    folder = tmp_path_factory.mktemp("controls")
    paths = []
    for strand, value in (("plus", 1.0), ("minus", 2.0)):
        path = folder / f"control_{strand}.bw"
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader([(c, len(s)) for c, s in sequences.items()])
        for chrom, seq in sequences.items():
            bw.addEntries(chrom, [0], values=[value], span=len(seq))
        bw.close()
        paths.append(path)
    return paths


def test_a_profile_run_with_controls(genome, bigwigs, controls, tmp_path, capsys):
    folder, _ = genome
    ds = source(genome, bigwig_plus=bigwigs[0], bigwig_minus=bigwigs[1],
                control_plus=controls[0], control_minus=controls[1], jitter=4).load(tmp_path)
    assert ds.control.shape == (len(ds.names), 2, LENGTH)
    assert (ds.control[:, 0] == 1).all() and (ds.control[:, 1] == 2).all()
    assert ds.flanked.control.shape == (len(ds.names), 2, LENGTH + 8)
    (tmp_path / "c.toml").write_text('[model]\nfilters = 8\nn_dilated = 2\n'
                                     'profile_width = 15\n[evaluation]\nn_shuffles = 2\n')
    args = ["run", "--preset", "smoke", "--config", str(tmp_path / "c.toml"), "--seeds", "1",
            "--regularizers", "fourier", "--genome", str(folder / "genome.fa"), "--peaks",
            str(folder / "peaks.narrowPeak"), "--bigwig-plus", str(bigwigs[0]),
            "--bigwig-minus", str(bigwigs[1]), "--controls", str(controls[0]),
            str(controls[1]), "--no-progress"]
    out = tmp_path / "run"
    assert main(args + ["--model", "profile", "--out", str(out)]) == 0
    results = pd.read_csv(out / "results.csv")
    assert (results.status == "ok").all() and results["test_profile_nll"].notna().all()
    import json
    assert json.loads((out / "config.json").read_text())["model"]["n_controls"] == 2
    capsys.readouterr()
    assert main(args + ["--out", str(tmp_path / "bad")]) == 2   # a binary model
    err = capsys.readouterr().err.strip()
    assert "inputs of profile models" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    with pytest.raises(RegbenchError, match="strand pair"):
        source(genome, bigwig_plus=bigwigs[0], bigwig_minus=bigwigs[1],
               control_plus=controls[0])


def test_a_profile_model_needs_the_bigwigs(genome, tmp_path, capsys):
    folder, _ = genome
    assert main(["run", "--preset", "smoke", "--model", "profile", "--genome",
                 str(folder / "genome.fa"), "--peaks", str(folder / "peaks.narrowPeak"),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs per-strand read counts" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", ["chrom\tstart\tend\n", "\x00\x01binary\xff"])
def test_a_genome_that_is_not_fasta_is_one_line(genome, tmp_path, content, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "genome.fa"
    bad.write_bytes(content.encode("latin-1"))
    with pytest.raises(RegbenchError, match="genome.fa") as error:
        GenomeSource(bad, genome[0] / "peaks.narrowPeak").check()
    assert "\n" not in str(error.value)


def test_iupac_letters_in_a_genome_window_are_one_line(genome, tmp_path, monkeypatch):
    """tangermeme reads only A, C, G, T, N (any case): another letter in a window is a
    one-line error saying how to fix it, not a ValueError traceback."""
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    folder, sequences = genome
    chrom, _, _, summit = next(iter(read_peaks(folder / "peaks.narrowPeak").itertuples(
        index=False)))
    edited = dict(sequences)
    seq = edited[chrom]
    edited[chrom] = seq[:summit - 3] + "RYk" + seq[summit:]    # inside the first window
    fasta = tmp_path / "genome.fa"
    fasta.write_text("".join(f">{c}\n{s}\n" for c, s in edited.items()))
    with pytest.raises(RegbenchError) as error:
        GenomeSource(fasta, folder / "peaks.narrowPeak", length=LENGTH).load(tmp_path)
    assert str(error.value) == (
        f"{fasta} has letters other than A, C, G, T, N (IUPAC codes or protein letters) "
        "in a peak window; replace them with N (e.g. sed '/^>/!s/[^ACGTNacgtn]/N/g') and "
        "run again")


@pytest.mark.parametrize("given, option", [({"blacklist": "nope.bed"}, "--blacklist"),
                                           ({"bigwig_plus": "p.bw", "bigwig_minus": "m.bw"},
                                            "--bigwig-plus")])
def test_a_missing_track_file_is_named_with_its_option(genome, given, option):
    with pytest.raises(RegbenchError, match=rf"^{option} \S+ does not exist$"):
        source(genome, **given).check()


def write_counts(path, sequences, counts):
    """A bigWig over the genome's chromosomes; counts {(chrom, base): value}, the other
    bases not covered (no value)."""
    import pyBigWig
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([(c, len(s)) for c, s in sequences.items()])
    for chrom in sequences:
        bases = sorted(b for c, b in counts if c == chrom)
        if bases:
            bw.addEntries(chrom, bases, values=[float(counts[chrom, b]) for b in bases],
                          span=1)
    bw.close()


def test_uncovered_bigwig_bases_are_0_counts_and_said_at_every_load(genome, tmp_path,
                                                                     capsys):
    """Sparse bigWigs (bases without reads left out) read as 0 there, with a note, also
    when the windows come from the cache."""
    folder, sequences = genome
    peaks = read_peaks(folder / "peaks.narrowPeak")
    counts = {(c, s - 8): 25.0 for c, s in zip(peaks.chrom, peaks.summit)}
    write_counts(tmp_path / "plus.bw", sequences, counts)
    write_counts(tmp_path / "minus.bw", sequences, {})
    notes = []
    for _ in range(2):   # extracted, then cached
        ds = source(genome, bigwig_plus=tmp_path / "plus.bw",
                    bigwig_minus=tmp_path / "minus.bw").load(tmp_path)
        notes.append([line for line in capsys.readouterr().out.splitlines()
                      if "note" in line])
    positive = ds.labels[:, 0] == 1
    assert (ds.signal[positive, 0, LENGTH // 2 - 8] == 25).all() and not ds.signal[:, 1].any()
    size = ds.signal[:, 0].size
    zeros = int((ds.signal[:, 0] == 0).sum())
    assert notes[0] == notes[1] == [
        "data: note: bases without a value in the bigWigs (NaN: not covered) are read as 0 "
        f"counts: plus.bw {zeros:,} of {size:,}; minus.bw {size:,} of {size:,}"]


@pytest.mark.parametrize("value,shown", [(float("inf"), "inf"), (-2.0, "-2")])
def test_inf_or_negative_bigwig_counts_name_file_chromosome_and_base(genome, tmp_path,
                                                                      value, shown):
    folder, sequences = genome
    peaks = read_peaks(folder / "peaks.narrowPeak")
    counts = {(c, s): 1.0 for c, s in zip(peaks.chrom, peaks.summit)}
    write_counts(tmp_path / "plus.bw", sequences, counts)
    first = (peaks.chrom[0], int(peaks.summit[0]))
    counts[first] = value
    write_counts(tmp_path / "minus.bw", sequences, counts)
    with pytest.raises(RegbenchError) as info:
        source(genome, bigwig_plus=tmp_path / "plus.bw",
               bigwig_minus=tmp_path / "minus.bw").load(tmp_path)
    assert str(info.value) == (f"{tmp_path / 'minus.bw'}: chromosome {first[0]} has the value "
                               f"{shown} at base {first[1]}; read counts must be finite and "
                               ">= 0, so regenerate the bigWig")


@pytest.mark.parametrize("how", ["beneath a file", "index folder read-only",
                                 "windows folder read-only"])
def test_an_unwritable_cache_is_one_line_naming_it(genome, tmp_path, monkeypatch, capsys,
                                                   how):
    """Issue 42: an unwritable cache said "check it is a FASTA file". Tests run as root,
    for whom chmod changes nothing: the cache is beneath a regular file, or the calls
    that write in it are refused as they would be for a user (EACCES)."""
    import errno
    import tempfile
    (tmp_path / "afile").write_text("")
    cache = tmp_path / ("afile" if how == "beneath a file" else "") / "cache"
    monkeypatch.setenv("REGBENCH_CACHE", str(cache))
    refused = cache / ("fasta_index" if how == "index folder read-only" else "genome")
    for name in ("mkdtemp", "mkstemp"):   # the index's build folder, the windows' file
        real = getattr(tempfile, name)

        def refuse(*args, real=real, **kw):
            if str(kw.get("dir", "")).startswith(str(refused)):
                raise PermissionError(errno.EACCES, "Permission denied", kw["dir"])
            return real(*args, **kw)
        monkeypatch.setattr(tempfile, name, refuse)
    folder, _ = genome
    assert main(["run", "--preset", "smoke", "--seeds", "1", "--regularizers", "none",
                 "--genome", str(folder / "genome.fa"), "--peaks",
                 str(folder / "peaks.narrowPeak"), "--out", str(tmp_path / "run"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    where = refused if how != "beneath a file" else cache / "fasta_index"
    assert f"the regbench cache folder {where} is not writable" in err, err
    assert "set $REGBENCH_CACHE to a folder you can write" in err
    assert "FASTA file" not in err
