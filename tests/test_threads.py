"""Several regbench processes on one machine: threads per process, and the warning."""
import contextlib
import os

import pytest
import torch

from regbench.runtime.threads import apply_threads, other_regbench_processes


def _proc(tmp_path, pid, ppid, argv):
    folder = tmp_path / str(pid)
    folder.mkdir()
    (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (folder / "stat").write_text(f"{pid} (python3) S {ppid} 0 0")


def test_other_regbench_processes_are_found_but_not_this_one(tmp_path):
    _proc(tmp_path, 100, 1, ["/usr/bin/time", "-v", "python", "-m", "regbench.cli", "run"])
    _proc(tmp_path, 101, 100, ["python", "-m", "regbench.cli", "run"])      # this process
    _proc(tmp_path, 102, 101, ["python", "-c", "import torch"])            # its child
    _proc(tmp_path, 200, 1, ["/venv/bin/regbench", "tune", "--storage", "x"])  # another
    _proc(tmp_path, 201, 200, ["python", "-m", "regbench.cli", "tune"])    # and its child
    _proc(tmp_path, 300, 1, ["python", "-m", "pytest", "tests"])           # not regbench
    (tmp_path / "self").mkdir()                                             # not a pid
    assert other_regbench_processes(tmp_path, me=101) == [200, 201]
    assert other_regbench_processes(tmp_path / "missing", me=101) == []


def test_threads_are_set_and_oversubscription_is_named(monkeypatch):
    old = torch.get_num_threads()
    try:
        assert apply_threads(1) is None and torch.get_num_threads() == 1
        monkeypatch.setattr("regbench.runtime.threads.other_regbench_processes", lambda: [4242])
        monkeypatch.setattr("regbench.runtime.threads.available_cores", lambda: 2)
        torch.set_num_threads(2)
        warning = apply_threads(None)
        assert "1 other regbench process(es)" in warning and "--threads 1" in warning
        assert "\n" not in warning
        torch.set_num_threads(1)
        assert apply_threads(None) is None          # 1 + 1 threads on 2 cores: fine
    finally:
        torch.set_num_threads(old)


def test_a_bad_thread_count_is_one_line(tmp_path, capsys):
    from regbench.cli import main
    assert main(["run", "--preset", "smoke", "--threads", "0", "--out",
                 str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "threads = 0" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_the_cores_are_the_affinity_mask_else_the_machine_count(monkeypatch):
    """A process pinned to 2 of 16 cores shares those 2 (taskset, a container's cpuset):
    the count that decides the warning and the share it advises."""
    from regbench.runtime.threads import available_cores
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)
    assert available_cores() == 2

    def no_affinity(pid):
        raise OSError("not supported here")
    monkeypatch.setattr(os, "sched_getaffinity", no_affinity, raising=False)
    assert available_cores() == 16
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)   # macOS, Windows
    assert available_cores() == 16
    monkeypatch.setattr(os, "cpu_count", lambda: None)            # count unknown
    assert available_cores() == 1


def test_the_advised_share_divides_the_cores_among_the_processes(monkeypatch):
    """3 others + this one on 10 cores, each at torch's 4 threads: 16 > 10, so each
    should take 10 // 4 = 2; at 2 threads each (8 <= 10) nothing is said."""
    old = torch.get_num_threads()
    try:
        monkeypatch.setattr("regbench.runtime.threads.other_regbench_processes", lambda: [7, 8, 9])
        monkeypatch.setattr("regbench.runtime.threads.available_cores", lambda: 10)
        torch.set_num_threads(4)
        warning = apply_threads(None)
        assert warning.startswith("warning: 3 other regbench process(es) run on this "
                                  "machine (10 cores), each with torch's default of 4 "
                                  "threads")
        assert warning.endswith("give each --threads 2")
        torch.set_num_threads(2)
        assert apply_threads(None) is None
        monkeypatch.setattr("regbench.runtime.threads.available_cores", lambda: 3)
        torch.set_num_threads(4)                  # 4 processes on 3 cores: at least 1
        assert apply_threads(None).endswith("give each --threads 1")
    finally:
        torch.set_num_threads(old)


def test_auto_workers_keep_one_process_below_4_cores_then_one_per_2_cores(monkeypatch):
    """Issue 44 item 4: --workers auto (the default) is one process on this project's
    2-core machine (a second one lost on short runs) and one per 2 cores from 4."""
    from regbench.options.config import RunConfig
    from regbench.runtime import threads
    assert [threads.auto_workers(c) for c in (1, 2, 3, 4, 5, 16)] == [1, 1, 1, 2, 2, 8]
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    assert RunConfig().workers == "auto" and RunConfig().worker_count() == 4
    assert RunConfig(workers=3).worker_count() == 3


def test_workers_take_auto_or_a_whole_number(tmp_path, capsys):
    from regbench.cli import main
    for bad in ("two", "0"):
        with pytest.raises(SystemExit) if bad == "two" else contextlib.nullcontext():
            code = main(["run", "--preset", "smoke", "--workers", bad, "--out",
                         str(tmp_path / "o")])
            assert code == 2
    err = capsys.readouterr().err
    assert "expected 'auto' or a whole number, got 'two'" in err
    assert "workers = 0 is not valid: expected 'auto' or an integer >= 1" in err


def test_rows_name_the_processor_and_the_kernels_torch_picks_on_it(monkeypatch):
    import torch

    from regbench.runtime import hardware as hw
    monkeypatch.setattr(hw, "cpu_name", lambda: "Some CPU")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert hw.hardware(torch.device("cpu")) == "Some CPU (AVX512)"
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "")
    assert hw.hardware(torch.device("cpu")) == "Some CPU"


def test_the_cpu_name_is_cpuinfos_model_name():
    from pathlib import Path

    from regbench.runtime.hardware import cpu_name
    info = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
             if line.startswith("model name")] if info.is_file() else []
    if not names:
        pytest.skip("no model name in /proc/cpuinfo here")
    assert cpu_name() == names[0]
