"""CPU threads of a regbench process, so that several on one machine share its cores.

torch starts one compute thread per core. Two torch processes on a 2-core machine then
run four busy threads on two cores, and OpenMP's spinning threads make that far worse
than twice as slow: a λ trial took 479 s instead of 10 s (measured here). ``--threads
N`` (``threads = N``) sets the process's share; without it, ``apply_threads`` warns
when other regbench processes already run on the machine.
"""
from __future__ import annotations

import os
from pathlib import Path


# How many processes --workers auto (the default) starts, by the cores available.
AUTO_WORKERS_RULE = ("one process below 4 cores; from 4 cores one process per 2 cores, 2 "
                     "threads each. Measured on a 2-core machine (benchmarks/README.md, local "
                     "workers): a second process gained 1.10x on a PostgreSQL grid but lost "
                     "on short runs with the default SQLite storage (45.4 s vs 42.4 s), so "
                     "2 cores keep one process; independent models scale with processes "
                     "where threads of one small model do not")


def auto_workers(cores: int | None = None) -> int:
    """Processes for ``--workers auto`` on ``cores`` cores (``AUTO_WORKERS_RULE``;
    default: the cores this process may use)."""
    cores = available_cores() if cores is None else cores
    return 1 if cores < 4 else cores // 2


def available_cores() -> int:
    """Cores this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _ancestors(pid: int, proc: Path) -> set[int]:
    """``pid`` and its parents (a wrapper such as ``time`` is not another worker)."""
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            stat = (proc / str(pid) / "stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return seen


def other_regbench_processes(proc: Path = Path("/proc"), me: int | None = None) -> list[int]:
    """PIDs of the other processes on this machine running regbench's command line
    (``regbench ...`` or ``python -m regbench.cli ...``), from /proc/PID/cmdline;
    this process, its parents and its children are not counted. [] without /proc."""
    me = os.getpid() if me is None else me
    mine = _ancestors(me, proc)
    found = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        runs = any(Path(w).name == "regbench" for w in words[:2]) or "regbench.cli" in words
        if runs and me not in _ancestors(int(entry.name), proc):
            found.append(int(entry.name))
    return sorted(found)


def apply_threads(threads: int | None) -> str | None:
    """Set torch's CPU threads to ``threads`` when given. Without it, return a warning
    line when other regbench processes run here and the threads of all of them (each
    torch's default) would outnumber the cores; else None."""
    import torch
    if threads:
        torch.set_num_threads(int(threads))
        return None
    others = other_regbench_processes()
    cores = available_cores()
    if others and torch.get_num_threads() * (len(others) + 1) > cores:
        share = max(1, cores // (len(others) + 1))
        return (f"warning: {len(others)} other regbench process(es) run on this machine "
                f"({cores} cores), each with torch's default of {torch.get_num_threads()} "
                f"threads: together they oversubscribe the cores and can run tens of times "
                f"slower; give each --threads {share}")
    return None


__all__ = ["apply_threads", "available_cores", "other_regbench_processes"]
