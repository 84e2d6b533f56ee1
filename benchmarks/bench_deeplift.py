"""DeepLIFT/SHAP attributions per second: ``regbench.attributions.deep_lift_shap``.

20 dinucleotide-shuffled references per sequence, the paper's model in eval mode
(deep_lift_shap sets it), batches of 128 example-reference pairs (the default).
"""
from __future__ import annotations

import warnings

import torch

from benchmarks import Context, Table, median_times
from regbench.attributions import deep_lift_shap
from regbench.models import BinaryCNN, BinaryModelConfig


def run(ctx: Context) -> None:
    n_seqs, length, repeats = (4, 500, 2) if ctx.quick else (32, 1000, 3)
    n_shuffles = 20
    torch.manual_seed(0)
    model = BinaryCNN(BinaryModelConfig(seq_len=length)).to(ctx.device).eval()
    gen = torch.Generator().manual_seed(0)
    X = torch.nn.functional.one_hot(torch.randint(0, 4, (n_seqs, length), generator=gen),
                                    4).transpose(1, 2).float().to(ctx.device)

    def measure():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # tangermeme's summation deltas
            return median_times({"dls": lambda: deep_lift_shap(model, X, n_shuffles=n_shuffles)},
                                ctx.device, repeats=repeats, warmup=1)["dls"]

    seconds, share = ctx.clean(measure)
    ctx.emit(Table(
        f"DeepLIFT/SHAP, {ctx.device.type}: {n_seqs} sequences x {length} bp, "
        f"{n_shuffles} shuffles, paper model, eval mode (median of {repeats})",
        ["method", "seconds", "sequences/s", "pairs/s"],
        [["deep_lift_shap", seconds, n_seqs / seconds, n_seqs * n_shuffles / seconds]]),
        share)
