"""The glibc malloc setting applied before CPU training (regbench.runtime.memory)."""
import platform
import subprocess
import sys

import pytest

CODE = "from regbench.runtime.memory import keep_freed_memory as k; print(k(), k())"


def run(env_value=None):
    env = {"PATH": "/usr/bin:/bin"}
    if env_value is not None:
        env["REGBENCH_KEEP_FREED_MEMORY"] = env_value
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          env=env, check=True).stdout.split()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc")
def test_applied_once_on_glibc():
    assert run() == ["True", "True"]


def test_opt_out_by_environment():
    assert run("0") == ["False", "False"]


@pytest.mark.parametrize("env_value, expected", [(None, False), ("1", True)])
def test_cudnn_autotuning_off_unless_asked(monkeypatch, env_value, expected):
    """Autotuning re-tunes every new shape, and a prior's batches change shape."""
    import torch
    from regbench.runtime.memory import apply_process_settings
    if env_value is None:
        monkeypatch.delenv("REGBENCH_CUDNN_BENCHMARK", raising=False)
    else:
        monkeypatch.setenv("REGBENCH_CUDNN_BENCHMARK", env_value)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", not expected)
    apply_process_settings("cuda")   # only sets a flag: no GPU needed
    assert torch.backends.cudnn.benchmark is expected
