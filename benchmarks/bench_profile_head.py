"""The profile head: a "same" convolution cropped to the output window (how it was
computed before) against ``window_conv1d`` (how the model computes it now), forward +
backward, and forward + the Fourier prior's double backward through it, at the quick
profile preset's sizes: 2 output tracks, 75 wide, the last layer's 64 channels over
646 bp, 300 out, 128 rows a step (64 and their reverse complements).
"""
from __future__ import annotations

import torch

from benchmarks import Context, Table, median_times
from regbench.models.profile import window_conv1d


def run(ctx: Context) -> None:
    batch, repeats = (32, 3) if ctx.quick else (128, ctx.repeats(5))
    channels, length, out, width = 64, 646, 300, 75
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv1d(channels, 2, width, padding=width // 2).to(ctx.device)
    h = torch.relu(torch.randn(batch, channels, length, generator=gen)).to(ctx.device)
    h.requires_grad_()

    def cropped(x):
        full = conv(x)
        start = (full.shape[-1] - out) // 2
        return full[..., start:start + out]

    def windowed(x):
        return window_conv1d(x, conv, out)

    def backward(head):
        def call():
            head(h).square().mean().backward()
        return call

    def double_backward(head):   # an input gradient kept for a second backward
        def call():
            g, = torch.autograd.grad(head(h).square().mean(), h, create_graph=True)
            g.square().mean().backward()
        return call

    calls = {"cropped convolution, backward": backward(cropped),
             "window_conv1d, backward": backward(windowed),
             "cropped convolution, double backward": double_backward(cropped),
             "window_conv1d, double backward": double_backward(windowed)}
    times, share = ctx.clean(lambda: median_times(calls, ctx.device, repeats=repeats,
                                                  warmup=1))
    with torch.no_grad():
        differ = (cropped(h) - windowed(h)).abs().max().item()
        scale = cropped(h).abs().max().item()
    rows = [[name, 1e3 * seconds] for name, seconds in times.items()]
    speedups = [times[f"cropped convolution, {kind}"] / times[f"window_conv1d, {kind}"]
                for kind in ("backward", "double backward")]
    ctx.emit(Table(
        f"Profile head, {ctx.device.type}: ({batch}, {channels}, {length}) -> "
        f"({batch}, 2, {out}), width {width} (median of {repeats})",
        ["head", "ms"], rows,
        [f"window_conv1d is {speedups[0]:.1f}x faster with a backward pass and "
         f"{speedups[1]:.1f}x with the prior's double backward",
         f"outputs differ by at most {differ:.1e} (largest |output| {scale:.2g}): "
         "float32 rounding"]), share)
