"""Real-data path: genome windows per second (FASTA + per-strand bigWigs, through
tangermeme and pyBigWig, then from the cache) and a profile-model training step with
and without the Fourier prior.

The genome is synthetic (written to a temporary folder: chromosomes of random
sequence, one peak every 5 kb, reads around each summit), so the figures are the
reading cost, not a particular assembly's.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import Context, Table, median_times


def write_genome(folder: Path, n_chroms: int, chrom_bp: int, motif: str = "",
                 names=None) -> tuple[Path, Path, list[Path]]:
    """A random genome with a peak every 5 kb (``motif`` planted at each summit),
    narrowPeak and per-strand bigWigs of reads 8 bp either side of each summit."""
    import pyBigWig
    rng = np.random.default_rng(0)
    # chr20 is a default validation chromosome: always there
    names = names or list(dict.fromkeys([f"chr{i}" for i in range(1, n_chroms + 1)] + ["chr20"]))
    fasta, peaks = folder / "genome.fa", folder / "peaks.narrowPeak"
    lines, rows, tracks = [], [], {}
    for name in names:
        summits = np.arange(3000, chrom_bp - 3000, 5000)
        bases = rng.choice(list("ACGT"), chrom_bp)
        for summit in summits if motif else ():
            bases[summit - len(motif) // 2:summit - len(motif) // 2 + len(motif)] = list(motif)
        seq = "".join(bases)
        lines.append(f">{name}\n" + "\n".join(seq[i:i + 80] for i in range(0, chrom_bp, 80)))
        rows += [f"{name}\t{s - 100}\t{s + 100}\tp\t0\t.\t1\t-1\t-1\t100" for s in summits]
        tracks[name] = summits
    fasta.write_text("\n".join(lines) + "\n")
    peaks.write_text("\n".join(rows) + "\n")
    bigwigs = []
    for strand, shift in (("plus", -8), ("minus", 8)):
        path = folder / f"{strand}.bw"
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader([(n, chrom_bp) for n in names])
        for name in names:
            starts = (tracks[name] + shift).tolist()
            bw.addEntries([name] * len(starts), starts, ends=[s + 1 for s in starts],
                          values=[20.0] * len(starts))
        bw.close()
        bigwigs.append(path)
    return fasta, peaks, bigwigs


def loading(ctx: Context, folder: Path) -> None:
    from regbench.data import GenomeSource
    n_chroms, chrom_bp = (8, 200_000) if ctx.quick else (21, 1_000_000)
    fasta, peaks, bigwigs = write_genome(folder, n_chroms, chrom_bp)
    os.environ["REGBENCH_CACHE"] = str(folder / "cache")
    source = GenomeSource(fasta, peaks, length=1000, bigwig_plus=bigwigs[0],
                          bigwig_minus=bigwigs[1])
    rows = []
    for label in ("first read (extract, match, bigWig)", "cached"):
        start = time.perf_counter()
        ds = source.load(folder)
        seconds = time.perf_counter() - start
        rows.append([label, len(ds.names), seconds, len(ds.names) / seconds])
    ctx.emit(Table(f"Genome windows, 1000 bp, {n_chroms + 1} chromosomes x {chrom_bp:,} bp, "
                   "peaks + GC-matched negatives + 2 bigWigs",
                   ["load", "windows", "seconds", "windows/s"], rows,
                   ["first read: tangermeme extract_matching_loci + extract_loci, "
                    "pyBigWig per window; cached: one .npz"]))


def profile_step(ctx: Context) -> None:
    import regbench
    from regbench.tasks import ProfileTask
    from regbench.training.train import Trainer, TrainConfig, one_hot_codes
    length, out, batch = (500, 400, 16) if ctx.quick else (1346, 1000, 64)
    task = ProfileTask({"output_length": out}, seq_len=length, n_tasks=1)
    gen = torch.Generator().manual_seed(0)
    X = one_hot_codes(torch.randint(0, 4, (batch, length), generator=gen,
                                    dtype=torch.uint8)).to(ctx.device)
    y = torch.poisson(torch.full((batch, 2, out), 0.2), generator=gen).to(ctx.device)
    steps = {}
    for name in ("none", "fourier"):
        torch.manual_seed(0)
        trainer = Trainer(task, regbench.get_regularizer(name), 1.0,
                          TrainConfig(device=str(ctx.device)))
        model = trainer.build_model().train()
        optimizer = torch.optim.Adam(model.parameters())
        params = list(model.parameters())
        steps[name] = (lambda t=trainer, m=model, o=optimizer, p=params:
                       t.train_step(m, o, p, X, y, batch // 2))
    times, share = ctx.clean(lambda: median_times(steps, ctx.device, repeats=3))
    ctx.emit(Table(f"Profile model (bpnet defaults, 64 filters), {ctx.device.type}: batch "
                   f"{batch}, {length} bp in, {out} bp out",
                   ["regularizer", "s/step", "vs none"],
                   [[n, t, t / times["none"]] for n, t in times.items()],
                   ["the prior on half the batch (the peaks), double backprop"]), share)


def run(ctx: Context) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        loading(ctx, Path(tmp))
    profile_step(ctx)
