"""The CUDA path: same numbers as the CPU, no per-batch host synchronisation, host-memory
data streamed through pinned buffers. Skipped where there is no GPU (CI has none); run
on a GPU machine with ``python -m pytest -m cuda``."""
import warnings

import numpy as np
import pytest
import torch

import regbench
from regbench.attributions import deep_lift_shap
from regbench.models import BinaryCNN, BinaryModelConfig
from regbench.training.train import Trainer, TrainConfig, one_hot_codes


pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(autouse=True)
def exact_float32():
    """TF32 convolutions (cuDNN's default) round to 10 mantissa bits; compare in float32."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


MODEL = BinaryModelConfig(seq_len=60, conv_filters=[16], conv_widths=[9], pool_size=52,
                          pool_stride=52, dense_sizes=[8])  # conftest's small model


def _trainer(name, device, lam=1.0, **kw):
    from regbench.tasks import BinaryTask
    task = BinaryTask({k: v for k, v in MODEL.__dict__.items()
                       if k not in ("seq_len", "n_tasks")}, seq_len=60, n_tasks=1)
    return Trainer(task, regbench.get_regularizer(name), lam,
                   TrainConfig(device=device, batch_size=32, max_epochs=2, **kw))


@pytest.mark.parametrize("name", ["fourier", "smoothness", "sparsity", "l2"])
def test_penalty_and_gradients_match_the_cpu(name, motif_problem):
    torch.manual_seed(0)
    model = BinaryCNN(MODEL).train()
    X = one_hot_codes(torch.as_tensor(motif_problem(n=32)[0]))
    results = []
    for device in ("cpu", "cuda"):
        trainer = _trainer(name, device)
        m = BinaryCNN(MODEL).to(device).train()
        m.load_state_dict(model.state_dict())
        logits, penalty = trainer.penalty(m, X.to(device), 16)
        penalty.backward()
        grads = [p.grad.cpu() for p in m.parameters() if p.grad is not None]
        results.append((logits.detach().cpu(), penalty.item(), grads))
    (cpu_logits, cpu_pen, cpu_grads), (gpu_logits, gpu_pen, gpu_grads) = results
    torch.testing.assert_close(gpu_logits, cpu_logits, rtol=1e-4, atol=1e-5)
    assert gpu_pen == pytest.approx(cpu_pen, rel=1e-4)
    assert len(gpu_grads) == len(cpu_grads) > 0
    # atol on the scale of all gradients: the conv biases before batch norm have a true
    # gradient of 0, so theirs are pure rounding (~1e-7 seen on an H100) on both devices.
    scale = max(c.abs().max().item() for c in cpu_grads)
    for g, c in zip(gpu_grads, cpu_grads):
        torch.testing.assert_close(g, c, rtol=1e-3, atol=1e-4 * scale)


def test_an_epoch_synchronises_with_the_host_once(motif_split):
    """Per batch nothing waits for the GPU; only the epoch's summed losses are read."""
    (codes, labels), _ = motif_split
    trainer = _trainer("fourier", "cuda")
    model = BinaryCNN(MODEL).cuda()
    optimizer = torch.optim.Adam(model.parameters())
    dev_codes, dev_labels = trainer.to_device(codes, labels)
    trainer.run_epoch(model, optimizer, dev_codes, dev_labels, labels.max(axis=1) > 0,
                       np.random.default_rng(0))  # warm-up: cuDNN and allocator set-up
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.run_epoch(model, optimizer, dev_codes, dev_labels, labels.max(axis=1) > 0,
                               np.random.default_rng(1))
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "called a synchronizing" in str(w.message)]
    # the final .tolist(), against 19 batches
    assert len(syncs) == 1, [str(w.message) for w in syncs]


def test_host_memory_data_train_like_resident_data(motif_split):
    train, valid = motif_split
    histories = []
    for resident in (True, False):
        trainer = _trainer("fourier", "cuda", resident_data=resident)
        tr_codes, _ = trainer.to_device(*train)
        assert tr_codes.is_cuda == resident
        histories.append(trainer.fit(train, valid).history)
    # Same batches, same numbers up to the order of cuDNN's float sums (not bitwise
    # deterministic on a GPU), compounded over two epochs: 2e-4 seen on an H100.
    for a, b in zip(*histories):
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=2e-3, abs=1e-6), key


def test_mixed_precision_penalty_within_tolerance_on_cuda(motif_problem):
    torch.manual_seed(0)
    model = BinaryCNN(MODEL).cuda().train()
    X = one_hot_codes(torch.as_tensor(motif_problem(n=64)[0])).cuda()
    values = []
    for mixed in (False, True):
        logits, penalty = _trainer("fourier", "cuda", mixed_precision=mixed).penalty(
            model, X, 32)
        assert logits.dtype == torch.float32
        values.append(penalty.item())
    assert values[1] == pytest.approx(values[0], rel=0.05)
    assert values[1] != values[0]


@pytest.mark.parametrize("tf32", [True, False])
def test_deep_lift_shap_on_cuda_matches_the_cpu(tf32):
    """Whatever the global TF32 setting, attributions are computed in full float32."""
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.manual_seed(0)
    model = BinaryCNN(BinaryModelConfig(seq_len=1000)).eval()  # the paper's model
    X = one_hot_codes(torch.randint(0, 4, (8, 1000), dtype=torch.uint8))
    cpu = deep_lift_shap(model, X, n_shuffles=4, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # tangermeme's delta check
        gpu = deep_lift_shap(model.cuda(), X, n_shuffles=4)
    assert gpu.device.type == "cpu"  # returned on X's device
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5 * cpu.abs().max().item())
    assert torch.backends.cudnn.allow_tf32 == tf32  # the caller's setting is restored


def test_profile_model_with_controls_and_jitter_trains_like_the_cpu():
    """The profile task on CUDA: flanked batches cropped at the same offsets, controls
    as a model input, the Fourier prior's double backprop; two epochs give the CPU's
    losses."""
    from regbench.tasks import ProfileTask
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (32, 80)).astype(np.uint8)          # 60 bp + 2 × 10 flank
    targets = rng.poisson(0.3, (32, 4, 60)).astype(np.float32)    # signal, then controls
    histories = []
    for device in ("cpu", "cuda"):
        task = ProfileTask(dict(filters=8, n_dilated=2, profile_width=9, first_width=9,
                                output_length=40, reverse_complement=True),
                           seq_len=60, n_tasks=1, n_controls=2)
        trainer = Trainer(task, regbench.get_regularizer("fourier"), 1.0,
                          TrainConfig(device=device, batch_size=16, max_epochs=2, seed=3))
        prior = np.ones(32, bool)
        valid = (codes[:, 10:70], targets[:, :, 10:50].copy(), prior)
        histories.append(trainer.fit((codes, targets, prior), valid).history)
    for cpu, gpu in zip(*histories):
        for key in ("train_loss", "train_penalty", "val_loss"):
            assert gpu[key] == pytest.approx(cpu[key], rel=1e-3), key


def test_grouped_training_on_cuda_matches_solo_runs(motif_split):
    """Three seeds of fourier trained as one grouped model on the GPU: each member's
    losses match its solo GPU run (float32, no TF32; tolerance as on the CPU with batch
    norm, tests/test_group.py)."""
    from regbench.training.group import GroupTrainer
    solo = [_trainer("fourier", "cuda", seed=s) for s in (0, 1, 2)]
    results = [t.fit(*motif_split) for t in solo]
    grouped = GroupTrainer(solo[0].task, solo[0].regularizer, 1.0,
                           [t.config for t in solo]).fit([motif_split[0]] * 3,
                                                         motif_split[1])
    for alone, member in zip(results, grouped):
        assert member.best_epoch == alone.best_epoch
        for a, b in zip(alone.history, member.history):
            for key in ("train_loss", "val_loss"):
                assert abs(a[key] - b[key]) < 1e-3, (key, a[key], b[key])
