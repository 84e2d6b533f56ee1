"""Local workers: wall time of one seed grid worked by 1, 2 and 4 ``regbench run``
processes on this machine (``--workers N``, each with cores ÷ N torch threads, at least
one), through the Optuna storage: PostgreSQL when REGBENCH_TEST_POSTGRES_URL is set
(``.ci/postgres.sh``), else SQLite in the results folder.

The grid: none and fourier × 4 seeds on the quick preset's data and model, at most 4
epochs each (patience 4), no λ search, DeepLIFT/SHAP and input×gradient scoring as
usual; ``--quick``: 2 seeds, 2 epochs. The data are simulated once and read by every
run (``--data``); each N starts from an empty results folder and a new study, so the
times include every process's start (imports, the plan's step timing).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks import Context, Table
from regbench.options.config import PRESETS
from regbench.runtime.threads import available_cores

WORKERS = (1, 2, 4)


def _regbench(*args) -> float:
    """Wall seconds of one ``regbench`` command (an error stops the benchmark)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "regbench.cli", *args], text=True,
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"regbench {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def run(ctx: Context) -> None:
    url = os.environ.get("REGBENCH_TEST_POSTGRES_URL")
    seeds, epochs = (2, 2) if ctx.quick else (4, 4)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "grid.toml"
        config.write_text(f"[train]\nmax_epochs = {epochs}\npatience = {epochs}\n")
        sizes = [a for k, v in PRESETS["quick"]["simulate"].items()
                 for a in ("--set", f"{k}={json.dumps(v)}")]
        _regbench("simulate", "--scenario", "spi1_binary", "--out", str(tmp / "data"),
                  "--no-progress", *sizes)
        grid = ["run", "--preset", "quick", "--data", str(tmp / "data"), "--regularizers",
                "none,fourier", "--seeds", str(seeds), "--no-tune", "--config", str(config),
                "--device", str(ctx.device), "--no-progress"]

        def measure():
            rows, one = [], None
            for n in WORKERS:
                storage = url or f"sqlite:///{tmp / f'w{n}' / 'optuna.db'}"
                seconds = _regbench(*grid, "--out", str(tmp / f"w{n}"), "--workers", str(n),
                                    "--storage", storage, "--study-name",
                                    f"bench-{uuid.uuid4().hex[:8]}")
                one = one or seconds
                threads = max(1, available_cores() // n)
                rows.append([n, threads, seconds, one / seconds])
                print(f"   {n} worker(s): {seconds:.1f} s", flush=True)
            return rows

        rows, share = ctx.clean(measure)
    ctx.emit(Table(
        f"Local workers on one seed grid ({'PostgreSQL' if url else 'SQLite'}), "
        f"{ctx.device.type}: none, fourier x {seeds} seeds, quick preset, <= {epochs} epochs",
        ["workers", "threads each", "wall s", "speed-up"], rows,
        [f"{available_cores()} cores; wall s: the whole `regbench run --workers N` "
         "(process starts, plan, training, scoring, report)",
         "speed-up: 1 worker's wall time / N workers'"]), share)
