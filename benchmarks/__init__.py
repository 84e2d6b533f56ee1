"""regbench benchmarks. Run them all with ``python -m benchmarks`` (see README.md).

Shared pieces: ``median_times`` (warm-up, then interleaved repeats, median, CUDA
synchronised), ``Table`` (printed as text, optionally written as Markdown) and
``Contention`` (how busy the rest of the machine was while a table was measured).
"""
from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

# -- timing -----------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], object], device: torch.device) -> float:
    """Wall seconds of one call, the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def median_times(fns: dict[str, Callable[[], object]], device: torch.device, *,
                 repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median wall seconds per call of each function.

    Every function is warmed up first; then the repeats are interleaved (one call of
    each per round), so a change of machine load hits all of them alike and a ratio of
    two medians compares like with like.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(time_once(fn, device))
    return {name: statistics.median(ts) for name, ts in times.items()}


def peak_bytes(fn, device: torch.device) -> int:
    """Peak extra bytes allocated by torch while ``fn()`` runs (relative to its start):
    ``regbench.training.train.with_peak_memory`` (CUDA: max_memory_allocated; CPU: torch's
    allocator's live bytes replayed from torch.profiler's memory events)."""
    from regbench.training.train import with_peak_memory
    peak = with_peak_memory(fn, device)[1]
    return int(peak) if peak == peak else 0   # NaN: the profiler gave no events


MEMORY_NOTE = {False: "CPU: torch allocator's live bytes (torch.profiler memory events)",
               True: "CUDA: torch.cuda.max_memory_allocated"}


def preset_splits(preset: str, n_per_class: int | None) -> dict:
    """{split: (codes (N, L) uint8, labels (N, 1) float32)} for train, valid and test
    of spi1_binary at a preset's simulation sizes, with ``n_per_class`` positives and
    negatives (None: the preset's own)."""
    from regbench.options.config import PRESETS
    from regbench.simulate import generate
    overrides = dict(PRESETS[preset]["simulate"])
    if n_per_class is not None:
        overrides.update(positives=n_per_class, negatives=n_per_class)
    plan, codes = generate("spi1_binary", overrides)
    labels = plan.labels.astype("float32")
    return {name: (codes[plan.split == name], labels[plan.split == name])
            for name in ("train", "valid", "test")}


def preset_data(preset: str, n_per_class: int):
    """((train codes, labels), (valid codes, labels)) of ``preset_splits``."""
    splits = preset_splits(preset, n_per_class)
    return splits["train"], splits["valid"]


# -- machine load -----------------------------------------------------------------------


def _busy_jiffies() -> float | None:
    """CPU time (s) all processes spent since boot, from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    """CPU seconds of this process and of its finished children."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


POLLUTED = 0.10  # other processes using more than this share of the CPUs


def idle_share(seconds: float = 3.0) -> float | None:
    """Busy share of all CPUs over ``seconds`` (call it while this process is idle)."""
    before = _busy_jiffies()
    if before is None:
        return None
    time.sleep(seconds)
    return (_busy_jiffies() - before) / (seconds * (os.cpu_count() or 1))


def wait_for_idle(max_wait: float) -> None:
    """Sleep until the machine looks idle (busy share < POLLUTED), at most ``max_wait`` s."""
    start = time.monotonic()
    busiest = 0.0
    while time.monotonic() < start + max_wait:
        share = idle_share()
        if share is None or share < POLLUTED:
            if busiest:
                print(f"   (waited {time.monotonic() - start:.0f} s for other processes, up to "
                      f"{100 * busiest:.0f}% of the CPUs, to go quiet)", flush=True)
            return
        if not busiest:
            print(f"   (the machine is {100 * share:.0f}% busy: waiting up to {max_wait:.0f} s)",
                  flush=True)
        busiest = max(busiest, share)
    print(f"   (still busy after {max_wait:.0f} s; measuring anyway)", flush=True)


def run_clean(fn: Callable[[], object], *, retries: int, max_wait: float):
    """``fn()`` when the machine is idle; again (up to ``retries`` times) when other
    processes took more than POLLUTED of the CPUs meanwhile. Returns (result, share of
    the CPUs other processes used during the kept attempt, or None if unknown)."""
    for attempt in range(retries + 1):
        if retries:
            wait_for_idle(max_wait)
        contention = Contention()
        result = fn()
        share = contention.others()
        if share is None or share <= POLLUTED or attempt == retries:
            return result, share
        print(f"   (others used {100 * share:.0f}% of the CPUs meanwhile; measuring again)",
              flush=True)
    raise AssertionError("unreachable")


@dataclass
class Contention:
    """Share of the machine's CPUs used by *other* processes over an interval.

    Busy CPU time of the whole machine (/proc/stat) minus the CPU time of this process
    and its finished children, divided by wall time x CPUs. The load average counts
    our own threads too; this does not.
    """

    wall: float = field(default_factory=time.perf_counter)
    busy: float | None = field(default_factory=_busy_jiffies)
    own: float = field(default_factory=_own_cpu)

    def others(self) -> float | None:
        busy = _busy_jiffies()
        if busy is None or self.busy is None:
            return None
        wall = time.perf_counter() - self.wall
        others = (busy - self.busy) - (_own_cpu() - self.own)
        return max(0.0, others) / (wall * (os.cpu_count() or 1))


def describe_load(share: float | None) -> str:
    """One line on how busy the machine was: for the notes under a table."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = f"load avg (1 min, includes this run) {load:.2f}"
    if share is not None:
        text += f"; other processes used {100 * share:.0f}% of the {os.cpu_count()} CPUs"
        if share > POLLUTED:
            text += " -> POLLUTED, rerun when the machine is idle"
    return text


# -- tables -----------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[object]]
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def _cell(value: object) -> str:
        if isinstance(value, float):
            if value != value:
                return "n/a"
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    def text(self) -> str:
        cells = [self.headers] + [[self._cell(v) for v in row] for row in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.headers))]
        line = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                     for i, (c, w) in enumerate(zip(row, widths)))
        out = [f"== {self.title}", line(cells[0]), "  ".join("-" * w for w in widths)]
        out += [line(row) for row in cells[1:]]
        out += [f"   {note}" for note in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |",
               "|" + "|".join("---" for _ in self.headers) + "|"]
        out += ["| " + " | ".join(self._cell(v) for v in row) + " |" for row in self.rows]
        if self.notes:
            out += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(out) + "\n"


@dataclass
class Context:
    """What every benchmark gets: the device, the size preset, and the table sink."""

    device: torch.device
    quick: bool
    retries: int = 0       # re-measurements when other processes polluted a timing
    max_wait: float = 0.0  # seconds to wait for an idle machine before each attempt
    tables: list[Table] = field(default_factory=list)

    def repeats(self, n: int) -> int:
        """``n`` timed calls on the CPU; at least 30 on a GPU, where a call takes
        milliseconds and one slow launch would move a median of a few."""
        return n if self.device.type == "cpu" else max(n, 30)

    def clean(self, fn: Callable[[], object]):
        """``run_clean`` with this run's settings."""
        return run_clean(fn, retries=self.retries, max_wait=self.max_wait)

    def emit(self, table: Table, share: float | None | str = "") -> None:
        """Print the table and keep it; ``share``: from ``clean``, noted under it."""
        if share != "":
            table.notes.append(describe_load(share))
        self.tables.append(table)
        print(table.text(), "\n", flush=True)


def target(ok: bool | None, quick: bool = False) -> str:
    """Verdict on a target; targets are set for the full sizes, so --quick is not judged."""
    if quick:
        return "not judged (--quick sizes)"
    return "n/a" if ok is None else ("met" if ok else "MISSED")
