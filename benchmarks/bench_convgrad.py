"""A hand-written 1-D convolution backward against PyTorch's convolution double backward.

Why: a Fourier-prior training step does double backprop. The attributions are
X x d(logits)/dX, taken with ``create_graph=True`` (pass 1); the loss on them is then
backpropagated into the weights (pass 2), which differentiates pass 1's convolution
backward. PyTorch does that in ``ConvolutionBackwardBackward0``
(``_convolution_double_backward``), whose weight term is a convolution with batch and
channels swapped and a kernel as long as the layer's output (~1000 taps). On an H100
that one cuDNN kernel was about half of the step.

The idea measured here: a first-order ``torch.autograd.Function`` whose forward is
``F.conv1d`` and whose backward is written with differentiable ops, so autograd
differentiates *those* in pass 2 instead:

- grad_input  = ``F.conv_transpose1d(grad_out, weight)``; its own derivative w.r.t. the
  weight is then an ordinary weight-gradient (wgrad) kernel of ``kernel_size`` taps;
- grad_weight = ``torch.nn.grad.conv1d_weight`` (aten's wgrad: cuDNN on a GPU) or an
  explicit ``unfold`` + ``einsum``; grad_bias = a sum.

Variants, each the Trainer's step (``Trainer.train_step``) on the paper's binary model
(``BinaryModelConfig`` defaults), half the batch positive, λ = the registry default:

- ``none``: no prior, stock ``nn.Conv1d`` (the reference of "x none");
- ``fourier, stock``: the Trainer's Fourier step as it is;
- ``fourier, custom``: every ``nn.Conv1d`` replaced by the custom conv (same weights),
  grad_weight by aten's wgrad; the backward asks the autograd engine which gradients
  the running pass will use and computes only those, as the stock conv does (pass 1
  needs only grad_input, pass 2 no gradient of the one-hot input);
- ``fourier, custom, every grad``: the same computing every gradient
  ``needs_input_grad`` names (what a plain autograd.Function does);
- ``fourier, custom, unfold+einsum``: grad_weight as an explicit matmul;
- ``fourier, im2col conv``: no custom backward at all, the convolution written as
  unfold + einsum so that autograd's own (C++) nodes differentiate it, twice, with
  matmuls: no Python in the backward, but the windows (B, C, L_out, K) are materialised.

Correctness first, against stock ``nn.Conv1d``: float64 ``gradcheck`` and
``gradgradcheck`` of each custom conv (stride, padding, dilation included); the weight
gradients of a double-backprop Fourier loss on the whole model in float64 (eval mode,
since the Trainer's path casts to float32); the weight gradients of one Trainer step's
loss (and of its penalty term alone) in float32, TF32 off. On CUDA, torch.profiler
gives each step's total kernel time (is the step GPU- or host-bound?) and its top
kernels: did the swapped-batch convolution kernel disappear?
"""
from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile

from benchmarks import Context, Table, median_times
from benchmarks.bench_step import make_trainer, random_batch, train_step
from regbench.attributions import full_float32

TOLERANCE = 1e-4  # max relative weight-gradient difference accepted in float32
TOLERANCE64 = 1e-10  # ... in float64

# -- the custom convolution --------------------------------------------------------------


def input_grad(grad_out, weight, length: int, stride: int, padding: int, dilation: int,
               groups: int):
    """d loss / d input of ``F.conv1d``. grad_out (B, O, L_out), weight (O, C/groups, K)
    -> (B, C, length). ``output_padding`` restores the input positions a stride > 1
    dropped at the end."""
    k = weight.shape[-1]
    covered = (grad_out.shape[-1] - 1) * stride - 2 * padding + dilation * (k - 1) + 1
    return F.conv_transpose1d(grad_out, weight, None, stride, padding, length - covered,
                              groups, dilation)


def weight_grad_aten(x, grad_out, weight_shape, stride, padding, dilation, groups):
    """d loss / d weight by aten's wgrad (``convolution_backward``, weight only; cuDNN on a
    GPU). x (B, C, L), grad_out (B, O, L_out) -> (O, C/groups, K). Differentiable: its
    derivative is ``_convolution_double_backward`` (not needed by a training step)."""
    return torch.nn.grad.conv1d_weight(x, weight_shape, grad_out, stride, padding, dilation,
                                       groups)


def weight_grad_unfold(x, grad_out, weight_shape, stride, padding, dilation, groups):
    """d loss / d weight as one contraction over (batch, position):
    grad_w[o, c, k] = sum_{b, l} grad_out[b, o, l] x_pad[b, c, l * stride + k * dilation].
    x (B, C, L), grad_out (B, O, L_out) -> (O, C, K). Materialises the (B, C, L_out, K)
    windows (242 MiB for a 64-channel layer at batch 64, 1000 bp)."""
    if groups != 1:
        raise NotImplementedError("unfold weight gradient: groups=1 only")
    k = weight_shape[-1]
    span = dilation * (k - 1) + 1
    windows = F.pad(x, (padding, padding)).unfold(2, span, stride)[..., ::dilation]
    return torch.einsum("bol,bclk->ock", grad_out, windows[:, :, :grad_out.shape[-1]])


WEIGHT_GRADS = {"aten": weight_grad_aten, "unfold": weight_grad_unfold}


def im2col_conv1d(x, weight, bias, stride, padding, dilation, groups):
    """``F.conv1d`` as unfold + einsum, no custom backward: autograd's own (C++) nodes
    differentiate it, twice, with matmuls and unfold/pad backwards.
    x (B, C, L), weight (O, C, K) -> (B, O, L_out); materialises the windows (B, C, L_out, K).
    """
    if groups != 1:
        raise NotImplementedError("im2col conv: groups=1 only")
    k = weight.shape[-1]
    span = dilation * (k - 1) + 1
    windows = F.pad(x, (padding, padding)).unfold(2, span, stride)[..., ::dilation]
    out = torch.einsum("bclk,ock->bol", windows, weight)
    return out if bias is None else out + bias[:, None]


def _used(ctx, i: int, ask_engine: bool) -> bool:
    """Whether the backward running now will use the gradient of the Function's input i.

    ``needs_input_grad`` only says the input requires grad: in pass 1
    (``autograd.grad`` w.r.t. X) the weight gradients are never used, in pass 2
    (``backward(inputs=params)``) the one-hot input's gradient is not. The engine knows
    (``_will_engine_execute_node``, as torch.utils.checkpoint asks it); it cannot answer
    about a leaf during ``autograd.grad``, so ``CustomConv1d`` passes views (non-leaf
    nodes) in."""
    if not ctx.needs_input_grad[i]:
        return False
    node = ctx.next_functions[i][0]
    if not ask_engine or node is None or not hasattr(torch._C, "_will_engine_execute_node"):
        return True
    try:
        return torch._C._will_engine_execute_node(node)
    except RuntimeError:  # a leaf during autograd.grad: the engine cannot say
        return True


class Conv1dFunction(torch.autograd.Function):
    """``F.conv1d`` whose backward is made of differentiable ops (twice differentiable).

    forward: x (B, C, L), weight (O, C/groups, K), bias (O,) or None -> (B, O, L_out).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, weight_grad,
                ask_engine):
        ctx.save_for_backward(x, weight)
        ctx.conf = stride, padding, dilation, groups, weight_grad, ask_engine
        return F.conv1d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups, weight_grad, ask_engine = ctx.conf
        grad_x = grad_w = grad_b = None
        if _used(ctx, 0, ask_engine):
            grad_x = input_grad(grad_out, weight, x.shape[-1], stride, padding, dilation,
                                groups)
        if _used(ctx, 1, ask_engine):
            grad_w = WEIGHT_GRADS[weight_grad](x, grad_out, weight.shape, stride, padding,
                                               dilation, groups)
        if _used(ctx, 2, ask_engine):
            grad_b = grad_out.sum((0, 2))
        return grad_x, grad_w, grad_b, None, None, None, None, None, None


def custom_conv1d(x, weight, bias=None, stride: int = 1, padding: int = 0, dilation: int = 1,
                  groups: int = 1, weight_grad: str = "aten", ask_engine: bool = True,
                  im2col: bool = False):
    """``F.conv1d`` through ``Conv1dFunction`` (or ``im2col_conv1d`` if ``im2col``).
    x (B, C, L) -> (B, O, L_out)."""
    if im2col:
        return im2col_conv1d(x, weight, bias, stride, padding, dilation, groups)
    if ask_engine:  # non-leaf inputs, so the engine can be asked about each (see _used)
        x, weight = x.view_as(x), weight.view_as(weight)
        bias = None if bias is None else bias.view_as(bias)
    return Conv1dFunction.apply(x, weight, bias, stride, padding, dilation, groups,
                                weight_grad, ask_engine)


class CustomConv1d(nn.Module):
    """Drop-in for an ``nn.Conv1d`` (zero padding), sharing its weight and bias
    Parameters. forward: (B, C, L) -> (B, O, L_out), the same numbers as the conv."""

    def __init__(self, conv: nn.Conv1d, weight_grad: str = "aten", ask_engine: bool = True,
                 im2col: bool = False):
        super().__init__()
        padding = 0 if conv.padding == "valid" else conv.padding
        if conv.padding_mode != "zeros" or isinstance(padding, str):
            raise NotImplementedError(f"CustomConv1d: padding={conv.padding!r}, "
                                      f"padding_mode={conv.padding_mode!r}")
        self.weight = conv.weight
        self.bias = conv.bias
        self.stride, self.dilation = conv.stride[0], conv.dilation[0]
        self.padding = padding if isinstance(padding, int) else padding[0]
        self.groups, self.weight_grad, self.ask_engine = conv.groups, weight_grad, ask_engine
        self.im2col = im2col

    def forward(self, x):
        return custom_conv1d(x, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, self.groups, self.weight_grad, self.ask_engine,
                             self.im2col)

    def extra_repr(self) -> str:
        return (f"{tuple(self.weight.shape)}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, weight_grad={self.weight_grad}, "
                f"ask_engine={self.ask_engine}, im2col={self.im2col}")


def with_custom_convs(model: nn.Module, **kwargs) -> nn.Module:
    """A deep copy of ``model`` (same weights, same parameter order) with every
    ``nn.Conv1d`` replaced by ``CustomConv1d(conv, **kwargs)``."""
    model = copy.deepcopy(model)
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Conv1d:
                setattr(module, name, CustomConv1d(child, **kwargs))
                replaced += 1
    assert replaced, "the model has no nn.Conv1d"
    return model


# variant -> CustomConv1d settings; None: stock nn.Conv1d
CUSTOM = {
    "fourier, custom (grad_x conv_transpose1d, grad_w aten wgrad)":
        dict(weight_grad="aten", ask_engine=True),
    "fourier, custom, every grad (needs_input_grad only)":
        dict(weight_grad="aten", ask_engine=False),
    "fourier, custom, grad_w unfold+einsum":
        dict(weight_grad="unfold", ask_engine=True),
    "fourier, im2col conv (unfold+einsum forward, autograd's backward)":
        dict(im2col=True),
}

# -- correctness -------------------------------------------------------------------------


def check_function(device: torch.device) -> str:
    """float64 gradcheck + gradgradcheck of ``custom_conv1d`` (every variant) on small
    shapes with stride/padding/dilation; raises on a mismatch."""
    gen = torch.Generator().manual_seed(1)
    configs = [  # (B, C, L, O, K, stride, padding, dilation)
        (2, 2, 9, 2, 3, 1, 0, 1),
        (2, 2, 10, 2, 3, 2, 1, 2),  # stride 2 drops the last input position: output_padding 1
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: on a busy CPU, OpenMP's waits cost 30x
    try:
        for config in configs:
            _check_config(device, gen, *config)
    finally:
        torch.set_num_threads(threads)
    return (f"float64 gradcheck + gradgradcheck passed ({len(configs)} shapes incl. "
            "stride 2, padding 1, dilation 2; every custom variant)")


def _check_config(device, gen, b, c, length, o, k, stride, padding, dilation) -> None:
    """One shape: x (b, c, length), weight (o, c, k), bias (o,); raises on a mismatch."""
    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(device).requires_grad_()

    inputs = rand(b, c, length), rand(o, c, k), rand(o)
    for settings in CUSTOM.values():
        def fn(x, w, bias, settings=settings):
            return custom_conv1d(x, w, bias, stride, padding, dilation, 1, **settings)
        assert torch.allclose(fn(*inputs), F.conv1d(*inputs, stride, padding, dilation))
        torch.autograd.gradcheck(fn, inputs, nondet_tol=1e-9)  # cuDNN may use atomics
        torch.autograd.gradgradcheck(fn, inputs, nondet_tol=1e-9)


def step_gradients(trainer, model, X, y, n_positive):
    """Weight gradients of one Fourier-step loss and of its λ · penalty alone, as
    {name: tensor} each, and the penalty. The model's current mode (training)."""
    names, params = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad])
    logits, penalty = trainer.penalty(model, X, n_positive)
    prior = trainer.lam * penalty
    loss = trainer.task.loss(logits, y) + prior
    full = torch.autograd.grad(loss, params, retain_graph=True)
    # the penalty does not reach every parameter (e.g. the output bias): zeros there
    only = torch.autograd.grad(prior, params, allow_unused=True, materialize_grads=True)
    return dict(zip(names, full)), dict(zip(names, only)), penalty.detach()


def max_relative(stock: dict, other: dict) -> float:
    """max over parameter tensors of max|other - stock| / max|stock|."""
    worst = 0.0
    for name, ref in stock.items():
        scale = ref.abs().max().item()
        if scale > 0:
            worst = max(worst, (other[name] - ref).abs().max().item() / scale)
    return worst


def gradients64(trainer, model, X, y, n_positive) -> dict:
    """Weight gradients {name: tensor} of a Fourier-step loss in float64: the model in
    eval mode (batch norm on running statistics: each row's own input gradient), the
    Trainer's regularizer, λ and task loss, attributions = X x d(sum logits)/dX."""
    model = model.double().eval()
    X = X.double().requires_grad_()
    logits = model(X)
    grad, = torch.autograd.grad(logits.sum(), X, create_graph=True)
    loss = trainer.task.loss(logits, y.double()) + trainer.lam * trainer.regularizer(
        (grad * X)[:n_positive])
    names, params = zip(*model.named_parameters())
    return dict(zip(names, torch.autograd.grad(loss, params)))


def check64(trainer, model, X, y, n_positive) -> dict[str, float]:
    """{custom variant: max rel. weight-gradient diff against stock nn.Conv1d}, float64."""
    stock = gradients64(trainer, copy.deepcopy(model), X, y, n_positive)
    return {name: max_relative(stock, gradients64(
        trainer, with_custom_convs(model, **settings), X, y, n_positive))
        for name, settings in CUSTOM.items()}


def check_step(trainer, model, X, y, n_positive) -> dict[str, tuple[float, float, float]]:
    """{custom variant: (max rel. diff of loss grads, of penalty grads, penalty rel. diff)}
    against stock nn.Conv1d, each on a fresh copy of ``model``; float32, TF32 off."""
    with full_float32():
        stock_full, stock_prior, stock_pen = step_gradients(trainer, copy.deepcopy(model), X, y,
                                                            n_positive)
        out = {}
        for name, settings in CUSTOM.items():
            full, prior, pen = step_gradients(trainer, with_custom_convs(model, **settings),
                                              X, y, n_positive)
            out[name] = (max_relative(stock_full, full), max_relative(stock_prior, prior),
                         abs(pen - stock_pen).item() / abs(stock_pen).item())
    return out

# -- GPU kernels -------------------------------------------------------------------------


def top_kernels(step, n_steps: int, top: int = 5):
    """[(kernel name, calls/step, device ms/step)] of the ``top`` kernels by device time,
    and all kernels' device ms/step, over ``n_steps`` profiled calls of ``step``."""
    with warnings.catch_warnings():  # "Profiler clears events at the end of each cycle"
        warnings.simplefilter("ignore", UserWarning)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(n_steps):
                step()
            torch.cuda.synchronize()
    kernels = [e for e in prof.key_averages() if e.self_device_time_total > 0
               and not e.key.startswith(("aten::", "autograd", "cuda", "Optimizer"))
               and "Conv1dFunction" not in e.key]
    total = sum(e.self_device_time_total for e in kernels) / 1e3 / n_steps
    kernels.sort(key=lambda e: -e.self_device_time_total)
    return [(e.key, e.count // n_steps, e.self_device_time_total / 1e3 / n_steps)
            for e in kernels[:top]], total


# -- the benchmark -----------------------------------------------------------------------


def run(ctx: Context) -> None:
    batch, length = (16, 500) if ctx.quick else (64, 1000)
    repeats = 3 if ctx.quick else ctx.repeats(7)
    device = ctx.device
    cuda = device.type == "cuda"
    checked = check_function(device)

    # the paper's model as the Trainer builds it (seed 0: the same weights for all)
    none_trainer, none_model, none_opt = make_trainer("none", length, device)
    trainer, model, optimizer = make_trainer("fourier", length, device)
    X, y, n_positive = random_batch(batch, length, device)
    diffs = check_step(trainer, model, X, y, n_positive)
    diffs64 = check64(trainer, model, X, y, n_positive)
    # float64: every variant exact; float32: those whose forward is F.conv1d itself (the
    # im2col forward rounds differently, which the training-mode step amplifies)
    failed = {name: (*diffs[name], diffs64[name]) for name in CUSTOM
              if diffs64[name] >= TOLERANCE64
              or (max(diffs[name][:2]) >= TOLERANCE and not CUSTOM[name].get("im2col"))}

    def step_of(trainer, model, optimizer):
        return lambda: train_step(trainer, model, optimizer, X, y, n_positive)

    stock_name = "fourier, stock nn.Conv1d (the Trainer)"
    steps = {"none": step_of(none_trainer, none_model, none_opt),
             stock_name: step_of(trainer, model, optimizer)}
    for name, settings in CUSTOM.items():
        custom = with_custom_convs(model, **settings)  # a copy of the untrained model
        steps[name] = step_of(trainer, custom, torch.optim.Adam(
            custom.parameters(), lr=trainer.config.learning_rate))
    if failed:  # report the numbers, then fail
        times, share = {name: float("nan") for name in steps}, ""
    else:
        times, share = ctx.clean(lambda: median_times(steps, device, repeats=repeats, warmup=2))

    # CUDA: each step's kernels (device time), to see which kernels went and whether
    # the step is bound by the GPU or by the host launching it
    n_profiled = 1 if ctx.quick else 3
    kernels = {name: top_kernels(step, n_profiled) for name, step in steps.items()
               } if cuda and not failed else {}

    rows = []
    for name, t in times.items():
        loss_diff, prior_diff, _ = diffs.get(name, ("", "", ""))
        if CUSTOM.get(name, {}).get("im2col"):
            loss_diff, prior_diff = f"{loss_diff:.3g}*", f"{prior_diff:.3g}*"
        rows.append([name, 1e3 * t, t / times["none"],
                     f"{100 * (t / times[stock_name] - 1):+.0f}%" if name != "none" else "",
                     "(reference)" if name == stock_name else loss_diff, prior_diff,
                     diffs64.get(name, "")]
                    + ([kernels[name][1]] if kernels else []))
    notes = [checked,
             "grad diff: max over parameter tensors of max|custom - stock| / max|stock| of "
             "the weight gradients; f32: of one Trainer step's loss (and of its λ · penalty "
             f"alone), fresh copies, TF32 off, tolerance {TOLERANCE:g}, penalty values differ "
             "by " + ", ".join(f"{d[2]:.1e}" for d in diffs.values()) + "; f64: of the "
             "loss with the model in float64 and eval mode (gradients64), tolerance "
             f"{TOLERANCE64:g}",
             "* the im2col forward rounds differently from F.conv1d, and the training-mode "
             "step amplifies float32 rounding (~1e-3 at full size): not held to the f32 "
             "tolerance (stock nn.Conv1d against itself with oneDNN off, CPU, full size: 5e-4, "
             "penalty grads 1e-2); the f64 check holds it to the f64 tolerance",
             f"λ = {trainer.lam:g}; timed with the Trainer's settings"
             + (" (cuDNN TF32 on, matmul TF32 off: the einsums run in full float32)"
                if cuda else "")]
    if kernels:
        notes.append(f"GPU kernel ms/step: the device time of all kernels (torch.profiler, "
                     f"{n_profiled} steps); ms/step well above it means the host (Python, "
                     "autograd, launches) sets the pace, not the GPU")
    ctx.emit(Table(
        f"Custom conv1d backward vs convolution double backward, Fourier step, {device.type}: "
        f"batch {batch}, {length} bp, paper model (interleaved, median of {repeats} after "
        f"2 warm-up, {torch.get_num_threads()} threads)",
        ["variant", "ms/step", "x none", "vs stock", "f32 grad diff", "f32 penalty-grad diff",
         "f64 grad diff"] + (["GPU kernel ms/step"] if kernels else []),
        rows, notes), share)
    if failed:
        raise AssertionError(f"custom conv gradients differ from nn.Conv1d's by more than "
                             f"{TOLERANCE:g} (f32) or {TOLERANCE64:g} (f64), relative; "
                             f"(f32 loss, f32 penalty, penalty value, f64 loss): {failed}")
    if not kernels:
        return
    rows = [[name.split(" (")[0], kernel[:100], calls, ms]
            for name, (top, _) in kernels.items() if name != "none"
            for kernel, calls, ms in top]
    ctx.emit(Table(
        f"Top 5 GPU kernels by device time per Fourier step ({n_profiled} step(s) profiled): "
        "did the swapped-batch convolution of ConvolutionBackwardBackward0 go?",
        ["variant", "kernel", "calls/step", "ms/step"], rows))
