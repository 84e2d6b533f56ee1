"""Several regbench processes on one machine: threads per process, and the warning."""
import os

import torch

from regbench.threads import apply_threads, other_regbench_processes


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
        monkeypatch.setattr("regbench.threads.other_regbench_processes", lambda: [4242])
        monkeypatch.setattr("regbench.threads.available_cores", lambda: 2)
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
    assert os.cpu_count() >= 1
