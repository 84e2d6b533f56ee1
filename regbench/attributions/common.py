"""What every attribution method shares: input checks, the model's device and dtype,
eval mode with TF32 off, the explained output, batches and one batch's gradient."""
from __future__ import annotations

import contextlib

import torch

from regbench.errors import RegbenchError


def model_device(model: torch.nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    param = next(model.parameters(), None)
    return param.dtype if param is not None else torch.float32


def check_shape(X: torch.Tensor) -> None:
    if X.dim() != 3 or X.shape[1] != 4:
        raise RegbenchError(f"X must be one-hot DNA of shape (N, 4, L), got {tuple(X.shape)}")


@contextlib.contextmanager
def full_float32():
    """Turn off TF32 (cuDNN's default for float32 convolutions on recent GPUs) inside the
    block. TF32 keeps 10 mantissa bits: fine for training, but DeepLIFT/SHAP's
    summation-to-delta check then fails by ~1e-3 (seen on an H100)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Run in eval mode (batchnorm on running stats), then restore the caller's mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def output_to_explain(logits: torch.Tensor, target: int | None) -> torch.Tensor:
    """The scalar whose input gradient is the attribution. logits: (N, T)."""
    if logits.dim() != 2:
        raise RegbenchError(f"the model must return logits of shape (N, T), got "
                            f"{tuple(logits.shape)}; wrap it to return one value per task")
    if target is None:
        return logits.sum()
    if not -logits.shape[1] <= target < logits.shape[1]:
        raise RegbenchError(f"target={target} is out of range for a model with "
                            f"{logits.shape[1]} task(s)")
    return logits[:, target].sum()


def identity(outputs):
    return outputs


@contextlib.contextmanager
def evaluating(model: torch.nn.Module, device=None):
    """The model in eval mode on ``device`` (None: where it is), TF32 off; the caller's
    mode and device are restored after. Yields the device."""
    home = model_device(model)
    device = torch.device(device) if device is not None else home
    model.to(device)
    try:
        with eval_mode(model), full_float32():
            yield device
    finally:
        model.to(home)


def input_gradient(model: torch.nn.Module, X: torch.Tensor, target: int | None,
              args: tuple = ()) -> torch.Tensor:
    """Input gradient of the explained output (``output_to_explain``) for one batch
    X (B, 4, L) on the model's device; args (B, ...). Detached, in the model's dtype."""
    X = X.detach().to(model_dtype(model)).requires_grad_()
    with torch.enable_grad():
        grad, = torch.autograd.grad(output_to_explain(model(X, *args), target), X)
    return grad


def batch_indices(n: int, batch_size: int):
    if batch_size < 1:
        raise RegbenchError(f"batch_size must be >= 1, got {batch_size}")
    return [torch.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def check_one_hot(X: torch.Tensor, allow_N: bool) -> None:
    check_shape(X)
    if not torch.all((X == 0) | (X == 1)) or not torch.all(X.sum(dim=1) <= 1):
        raise RegbenchError("X must be one-hot DNA (0/1, at most one base per position)")
    if not allow_N and not torch.all(X.sum(dim=1) == 1):
        raise RegbenchError("X has N (all-zero) positions; pass allow_N=True to give them "
                            "zero attribution (summation to delta then holds only roughly)")


def check_target(model: torch.nn.Module, X: torch.Tensor, target: int,
                  args: tuple = ()) -> None:
    """Fail with a clear message, not tangermeme's IndexError. X: (1, 4, L)."""
    device, dtype = model_device(model), model_dtype(model)
    with eval_mode(model), torch.no_grad():
        logits = model(X.to(device=device, dtype=dtype),
                       *(a.to(device=device, dtype=dtype) for a in args))
    output_to_explain(logits, target)
