"""DeepLIFT/SHAP attributions per second: ``regbench.attributions.deep_lift_shap``.

20 dinucleotide-shuffled references per sequence, the paper's model in eval mode
(deep_lift_shap sets it), batches of 128 example-reference pairs (the default).
"""
from __future__ import annotations

import warnings

import torch

from benchmarks import MEMORY_NOTE, Context, Table, median_times, peak_bytes
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

    def attribute():
        return deep_lift_shap(model, X, n_shuffles=n_shuffles)

    def measure():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)  # tangermeme's summation deltas
            seconds = median_times({"dls": attribute}, ctx.device, repeats=repeats,
                                   warmup=1)["dls"]
        return seconds, sum("Convergence deltas" in str(w.message) for w in caught)

    (seconds, delta_warnings), share = ctx.clean(measure)
    peak = peak_bytes(attribute, ctx.device)
    ctx.emit(Table(
        f"DeepLIFT/SHAP, {ctx.device.type}: {n_seqs} sequences x {length} bp, "
        f"{n_shuffles} shuffles, paper model, eval mode (median of {repeats})",
        ["method", "seconds", "sequences/s", "pairs/s", "peak MiB", "delta warnings"],
        [["deep_lift_shap", seconds, n_seqs / seconds, n_seqs * n_shuffles / seconds,
          peak / 2**20, delta_warnings]],
        ["delta warnings: tangermeme's summation-to-delta check failing (> 1e-3) in the "
         f"{repeats + 1} timed and warm-up calls; {MEMORY_NOTE[ctx.device.type == 'cuda']}"]),
        share)
