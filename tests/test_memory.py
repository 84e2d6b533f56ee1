"""The glibc malloc setting applied before CPU training (regbench.memory)."""
import platform
import subprocess
import sys

import pytest

CODE = "from regbench.memory import keep_freed_memory as k; print(k(), k())"


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
