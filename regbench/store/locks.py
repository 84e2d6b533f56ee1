"""Who may write a results folder at a time: ``fcntl.flock`` locks on files in it
(which NFS passes on as byte-range locks). A lock ends with its process, however it
ends (kill -9 too), so a stale one never blocks a rerun.

- ``lock_folder(out)``: alone (OUT/.lock, exclusive). A plain ``regbench run`` and
  ``regbench report`` (which rewrites the tables and the report). Two plain runs on
  one folder would both train every run, and the later one would write a results.csv
  of its own runs only.
- ``lock_folder(out, shared=True)``: together with the other processes of a shared
  seed grid (OUT/.lock, shared): ``--workers N`` and the local workers it starts,
  workers on other machines given one ``--storage`` and one ``--out``. A plain run or
  a report waits for all of them, and they for it.
- ``lock_grid(out, study)``: once a grid process knows its grid (its study name), it
  names it in OUT/.grid.lock, which it holds shared with the processes of the same
  grid only: the workers of another grid (other options, the same storage and
  ``--out``) would write results.csv, grid.json and config.json of their own runs
  over this grid's.

Every lock is also the first write into the folder: a folder that cannot be written
(read-only, not a folder) is one line (a RegbenchError), before anything is written.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
from pathlib import Path

from regbench.errors import RegbenchError

LOCK_FILE = ".lock"
GRID_LOCK_FILE = ".grid.lock"


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _open(out: Path, name: str):
    """The lock file ``name`` in ``out`` (created, with ``out``), opened for appending;
    a RegbenchError when the folder cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / name, "a+")
    except OSError as exc:
        raise unwritable(out, exc) from None
    try:   # the lock file may be left from a run before the folder was made read-only
        fd, probe = tempfile.mkstemp(dir=out, prefix=".write-check.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        handle.close()
        raise unwritable(out, exc) from None
    return handle


def unwritable(out, exc: OSError) -> RegbenchError:
    """The one line for a results folder that cannot be written."""
    why = exc.strerror or type(exc).__name__
    return RegbenchError(f"cannot write in the results folder {out} ({why}): give an --out "
                         "you can write to, or copy the folder somewhere writable; "
                         "nothing was written")


def _in_use(out, handle) -> RegbenchError:
    handle.seek(0)
    holder = handle.read().strip() or "another process"
    handle.close()
    return RegbenchError(f"{out} is in use by another regbench run ({holder}): wait for "
                         "it to finish, give another --out, or let several processes "
                         "share the work with --storage URL (or --workers N)")


@contextlib.contextmanager
def lock_folder(out, shared: bool = False):
    """Hold OUT/.lock while the body runs: alone, or with ``shared`` together with the
    other processes of a shared grid (module docstring). A RegbenchError when a process
    holds it that this one may not share it with, or when ``out`` cannot be written.
    Yields the lock file's path; it names the holder (HOST:PID; with ``shared``, the
    grid process that found the folder free)."""
    out = Path(out)
    handle = _open(out, LOCK_FILE)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            first = True
        except BlockingIOError:
            if not shared:
                raise _in_use(out, handle) from None
            first = False
        if first:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{_holder()}\n")
            handle.flush()
        if shared:
            try:   # joins the grid's processes; a plain run or a report holds it alone
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _in_use(out, handle) from None
        yield out / LOCK_FILE
    finally:
        handle.close()   # releases the lock


@contextlib.contextmanager
def lock_grid(out, study: str, tries: int = 50):
    """Hold OUT/.grid.lock, shared with the processes of the grid ``study`` only
    (module docstring); a RegbenchError when the processes of another grid hold it."""
    import time
    out = Path(out)
    named = holder = ""
    for _ in range(tries):
        handle = _open(out, GRID_LOCK_FILE)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:   # a grid works here (or one is naming itself)
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                time.sleep(0.02)
                continue
        else:   # no grid here: this one names itself, then shares
            handle.seek(0)
            handle.truncate()
            handle.write(f"{_holder()} {study}\n")   # HOST:PID has no space; a study may
            handle.flush()
            try:   # not atomic: another may take it in between, and is read below
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                time.sleep(0.02)
                continue
        handle.seek(0)
        holder, _, named = handle.read().rstrip("\n").partition(" ")
        if named == study:
            break
        handle.close()   # another grid's, or left by one that ended meanwhile: again
        time.sleep(0.02)
    else:
        raise RegbenchError(
            f"{out} is in use by the workers of another seed grid (study {named!r}, "
            f"{holder or 'another process'}): give this run another --out, or run it with "
            "the same options as theirs to join that grid")
    try:
        yield out / GRID_LOCK_FILE
    finally:
        handle.close()


__all__ = ["GRID_LOCK_FILE", "LOCK_FILE", "lock_folder", "lock_grid", "unwritable"]
