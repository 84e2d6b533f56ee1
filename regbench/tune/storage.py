"""Where λ studies live: Optuna RDB storages (SQLite, PostgreSQL), their URLs, study
names and keys, and the one write that racing workers must not repeat.

Studies live in an RDB storage: by default ``OUT/optuna.db`` (SQLite, which
optuna-dashboard opens), or any SQLAlchemy URL such as PostgreSQL, where any number
of workers on any number of machines share one study. A worker that dies stops
sending heartbeats; its trial then turns FAIL and is queued again with the same λ.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import optuna

from regbench.errors import RegbenchError

HEARTBEAT_INTERVAL = 60   # seconds between heartbeats of a running trial
GRACE_PERIOD = 180        # a trial silent this long belongs to a dead worker
STORAGE_ATTEMPTS = 4      # tries to open a storage that other workers are creating
MAX_RETRY = 3             # times a dead worker's trial is queued again


def default_storage(out) -> str:
    return f"sqlite:///{(Path(out) / 'optuna.db').resolve()}"


def default_study_name(study_key: str, regularizer: str, objective: str) -> str:
    """REGULARIZER-FINGERPRINT-CONFIG_HASH (-pareto): the same on every machine with the
    same data and trial settings, so workers find each other's study."""
    name = f"{regularizer}-{study_key}"
    return name if objective == "loss" else f"{name}-{objective}"


def parse_storage(url: str):
    """The SQLAlchemy URL of ``--storage``, its database kind known to SQLAlchemy; a
    RegbenchError line otherwise. Connects to nothing (a check before any work)."""
    import sqlalchemy
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        shown = url if "@" not in url else "..." + url[url.rindex("@"):]   # no password
        raise RegbenchError(f"--storage {shown!r} is not a SQLAlchemy URL; use e.g. "
                            "sqlite:///optuna.db or postgresql://user:pw@host/db") from None
    try:
        sqlalchemy.dialects.registry.load(parsed.get_backend_name())
    except sqlalchemy.exc.NoSuchModuleError:
        raise RegbenchError(f"--storage {parsed.render_as_string(hide_password=True)}: "
                            f"unknown database kind {parsed.get_backend_name()!r}; use "
                            "sqlite:///FILE or postgresql://user:pw@host/db") from None
    return parsed


def open_storage(url: str, heartbeat: int | None = None, grace: int | None = None,
                 retry: bool = True) -> optuna.storages.RDBStorage:
    """RDBStorage with heartbeats every ``heartbeat`` s, so a trial silent for ``grace``
    s is failed (its worker died) and, with ``retry``, queued again (defaults:
    HEARTBEAT_INTERVAL, GRACE_PERIOD)."""
    heartbeat = HEARTBEAT_INTERVAL if heartbeat is None else heartbeat
    grace = GRACE_PERIOD if grace is None else grace
    import sqlalchemy
    parsed = parse_storage(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.drivername == "postgresql":
        parsed = _postgres_driver(parsed)
    if parsed.get_backend_name() == "sqlite":
        # Workers on one SQLite file take turns writing: wait for the lock, don't fail.
        engine_kwargs = {"connect_args": {"timeout": 120}}
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        engine_kwargs = {"pool_pre_ping": True}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    parsed.render_as_string(hide_password=False), engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat, grace_period=grace,
                    **(_retry_callback() if retry else {}))
            if parsed.get_backend_name() == "sqlite":
                _serialize_sqlite(storage.engine)
            return storage
        except ImportError:
            raise RegbenchError(f"no database driver for {shown}; for PostgreSQL install "
                                "psycopg2-binary (pip install 'regbench[postgres]')") from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # Workers starting together on a new database race to create its tables;
            # the loser finds them made on the next attempt.
            race = isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in str(exc)
            if not race or attempt + 1 == STORAGE_ATTEMPTS:
                first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                raise RegbenchError(f"cannot open the Optuna storage {shown}: "
                                    f"{first[0] if first else type(exc).__name__}") from None
            time.sleep(1 + attempt)


def _serialize_sqlite(engine) -> None:
    """Every transaction on the SQLite file takes the write lock at its start (BEGIN
    IMMEDIATE). Why: Optuna pops a waiting trial by reading it WAITING and setting it
    RUNNING, made atomic by SELECT ... FOR UPDATE, which SQLite ignores; and pysqlite
    begins a transaction only at the first write. Two workers could both pop one trial
    (measured: 9 of 150 popped twice by 3 processes) and train one grid run twice."""
    import sqlalchemy

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, record):
        dbapi_connection.isolation_level = None   # SQLAlchemy's "begin" event begins

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()   # pooled connections made before the listeners: replaced


def _postgres_driver(parsed):
    """SQLAlchemy 2.1 reads postgresql:// as psycopg 3; regbench[postgres] installs
    psycopg2, so use it when psycopg 3 is missing."""
    import importlib.util
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return parsed.set(drivername="postgresql+psycopg2")
    return parsed


def _retry_callback() -> dict:
    """Optuna >= 4.9 names it RetryHeartbeatStaleTrialCallback; older ones
    RetryFailedTrialCallback."""
    storages = optuna.storages
    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
        return {"heartbeat_stale_trial_callback":
                storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)}
    return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=MAX_RETRY)}


def redact_url(url: str) -> str:
    import sqlalchemy
    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)


def check_study_key(study: optuna.Study, study_key: str, url: str) -> None:
    """Refuse a study made for other data or trial settings: a --study-name names it
    without ``study_key`` (dataset fingerprint and trial configuration hash), and its
    best λ would be taken as tuned for these. The key is stored in the study's user
    attribute ``study_key`` by its first worker; a study made before keys were
    stored adopts this run's key."""
    stored = study.user_attrs.get("study_key")
    if stored is None:
        study.set_user_attr("study_key", study_key)
    elif stored != study_key:
        raise RegbenchError(f"study {study.study_name!r} in {redact_url(url)} was made for "
                            f"other data or trial settings (key {stored}, this run's "
                            f"{study_key}); use another --study-name")


def record_once(study, key: str, value):
    """Store ``value`` as the study's user attribute ``key`` unless a worker stored
    one first; returns the stored value. An INSERT, where ``set_user_attr`` would
    overwrite: the table's unique (study, key) lets exactly one of racing workers in."""
    import json

    import sqlalchemy.exc
    import sqlalchemy.orm
    from optuna.storages._rdb import models
    storage = study._storage
    backend = getattr(storage, "_backend", storage)   # under Optuna's cache
    try:
        with sqlalchemy.orm.Session(backend.engine) as session, session.begin():
            session.add(models.StudyUserAttributeModel(
                study_id=study._study_id, key=key, value_json=json.dumps(value)))
    except sqlalchemy.exc.IntegrityError:   # another worker's came first
        pass
    return storage.get_study_user_attrs(study._study_id)[key]
