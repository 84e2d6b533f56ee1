"""One exception type for mistakes a user can fix (bad input, bad options).

The command line turns it into one line on stderr and exit code 2; library callers
get an ordinary ``ValueError`` subclass they can catch.
"""
import errno


class RegbenchError(ValueError):
    """A user-fixable error: the message says what is wrong and how to fix it."""


FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> str | None:
    """What filled up, when ``exc`` or an exception behind it (``__cause__``,
    ``__context__``, SQLAlchemy's ``orig``) is a full disk, quota or database: an
    ``OSError`` ENOSPC/EDQUOT, SQLite's "database or disk is full", PostgreSQL's
    disk_full (SQLSTATE 53100). None otherwise. The command line turns it into one line
    (Optuna wraps a failed commit in ``StorageInternalError``, whose text says nothing
    of the disk)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in FULL_ERRNOS:
            return e.strerror + (f" writing {e.filename}" if e.filename else "")
        text = str(e)
        if "database or disk is full" in text:
            return "the SQLite database or its disk is full"
        if getattr(e, "pgcode", None) == "53100" or "No space left on device" in text:
            return "the database server's disk is full"
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]
    return None
