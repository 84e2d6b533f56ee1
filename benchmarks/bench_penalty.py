"""Each penalty alone: forward + backward on an (N, 4, L) attribution tensor.

Sorted O(L log L) sparsity vs the pairwise O(L²) definition, with the peak memory of
each. Memory on the CPU: the peak of live bytes allocated through torch's CPU
allocator during the call (relative to its start), replayed from the allocation and
free events of ``torch.profiler`` with ``profile_memory=True``. On CUDA:
``torch.cuda.max_memory_allocated`` minus the memory allocated before the call.
"""
from __future__ import annotations

import torch

from benchmarks import Context, Table, median_times, peak_bytes, target
from regbench.regularizers import get_regularizer
from regbench.regularizers.erion import sparsity_penalty_pairwise


def attributions(batch: int, length: int, device, seed: int = 0) -> torch.Tensor:
    """gradient x input shaped: Gaussian values at the observed base, 0 elsewhere."""
    gen = torch.Generator().manual_seed(seed)
    one_hot = torch.nn.functional.one_hot(torch.randint(0, 4, (batch, length), generator=gen),
                                          4).transpose(1, 2).float()
    attr = torch.randn(batch, 4, length, generator=gen) * one_hot
    return attr.to(device).requires_grad_()


def run(ctx: Context) -> None:
    batch, length, repeats = (32, 500, 5) if ctx.quick else (64, 1000, ctx.repeats(9))
    attr = attributions(batch, length, ctx.device)
    penalties = {
        "fourier": get_regularizer("fourier"),
        "smoothness": get_regularizer("smoothness"),
        "sparsity (sorted)": get_regularizer("sparsity"),
        "sparsity (pairwise L x L)": sparsity_penalty_pairwise,
    }

    def forward_backward(penalty):
        def call():
            penalty(attr).backward()
            attr.grad = None  # freed inside the call, so the profiler sees both ends
        return call

    calls = {name: forward_backward(p) for name, p in penalties.items()}
    times, share = ctx.clean(lambda: median_times(calls, ctx.device, repeats=repeats,
                                                  warmup=1))
    memory = {name: peak_bytes(call, ctx.device) for name, call in calls.items()}
    with torch.no_grad():
        sorted_value = penalties["sparsity (sorted)"](attr).item()
        pairwise_value = sparsity_penalty_pairwise(attr).item()
    speedup = times["sparsity (pairwise L x L)"] / times["sparsity (sorted)"]
    rows = [[name, 1e3 * times[name], memory[name] / 2**20] for name in penalties]
    notes = [
        f"sorted sparsity is {speedup:,.0f}x faster than pairwise (target >= 100x: "
        f"{target(speedup >= 100, ctx.quick)}); values agree to "
        f"{abs(sorted_value - pairwise_value) / abs(pairwise_value):.1e} (relative)",
        f"pairwise builds (N, L, L) = {batch}x{length}x{length} float32 = "
        f"{batch * length * length * 4 / 2**20:,.0f} MiB per intermediate; sorted "
        f"sparsity's largest intermediate is (N, L) = {batch * length * 4 / 2**10:,.0f} KiB",
        "peak memory: " + ("torch.cuda.max_memory_allocated" if ctx.device.type == "cuda"
                           else "live bytes of torch's CPU allocator, from torch.profiler "
                                "memory events (profile_memory=True)"),
    ]
    ctx.emit(Table(
        f"Penalty alone, {ctx.device.type}: forward + backward on ({batch}, 4, {length}) "
        f"attributions (median of {repeats})",
        ["penalty", "ms", "peak MiB"], rows, notes), share)
