"""Opening a store: the target names the database, the engine is set up for it.

``open_store(target)`` takes a file path or ``sqlite:///path`` (SQLite, the embedded default) or a
``postgresql://`` / ``postgres://`` / ``postgresql+psycopg://`` URL (PostgreSQL through psycopg 3),
so every caller (CLI ``--db``, ``Hub.open``, tests) names its database the same way.

SQLite: WAL, ``synchronous=FULL`` (what the API acknowledges is on disk), foreign keys on, a busy
timeout, and ``BEGIN IMMEDIATE`` so a write transaction takes the write lock at once instead of
failing on upgrade (a read-only one, a plain ``BEGIN``: WAL gives it a snapshot and no lock);
several processes may share the file, their writers queued in the kernel for their turn
(:mod:`deconflict.store.writers`). PostgreSQL: every transaction at
SERIALIZABLE (retried on 40001/40P01 by the store), connections checked before use, and a session
idle inside a transaction for ``IDLE_IN_TRANSACTION_S`` ended by the server.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from deconflict import owner_only
from deconflict.errors import StoreError
from deconflict.store.retry import RetryPolicy
from deconflict.store.sql import SqlStore
from deconflict.store.transactions import READ_ONLY
from deconflict.store.writers import QueuedConnection, turn_path

__all__ = ["open_postgres", "open_sqlite", "open_store", "postgres_url"]

log = logging.getLogger("deconflict.store")

_PG_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
_BUSY_TIMEOUT_MS = 5000  # SQLite's own wait for a lock, for every statement but BEGIN IMMEDIATE
# The WAL is cut back to this size whenever a checkpoint lets it start over: a burst of writes
# (or a disk that filled mid-burst) does not leave it at its largest for good.
_WAL_LIMIT_BYTES = 4 * 1024 * 1024


def _sqlite_engine(path: Path, read_only: str | None = None) -> sa.Engine:
    url = f"sqlite:///{path}"
    if read_only is not None:  # a URI filename, with one of SQLite's read-only modes
        url = f"sqlite:///file:{urllib.parse.quote(str(path))}?{read_only}&uri=true"
    engine = sa.create_engine(url, connect_args={"factory": QueuedConnection})
    turns = turn_path(path)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a snapshot; takes no lock in WAL mode
            return
        _begin_immediate(connection, turns)

    return engine


_LOCK_WAIT_S = 5.0  # longest a writer waits for SQLite's write lock
_LOCK_RETRY_S = 0.0005  # how often it tries again meanwhile


def _begin_immediate(connection: sa.Connection, turns: Path) -> None:
    """``BEGIN IMMEDIATE`` after the writers' queue gives this connection its turn
    (:mod:`deconflict.store.writers`), waiting at most ``_LOCK_WAIT_S`` in all for the write
    lock, trying every ``_LOCK_RETRY_S`` while a writer outside the queue holds it. Not
    SQLite's own busy timeout for this: its handler sleeps longer and longer (up to 100 ms a
    try), so a process that writes now and then (a CLI command beside a busy serve) would lose
    the lock to one that writes all the time, and wait for seconds; the timeout stays for every
    other statement."""
    cursor = connection.connection.dbapi_connection
    if cursor is None:  # pragma: no cover - a begun connection has one
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    deadline = time.monotonic() + _LOCK_WAIT_S
    queued = isinstance(cursor, QueuedConnection)
    if queued:  # past the deadline without it, the first try below fails as it always did
        cursor.take_turn(turns, _LOCK_WAIT_S)
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    if queued:
                        cursor.give_back_turn()
                    raise
            time.sleep(_LOCK_RETRY_S)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")


def open_sqlite(
    path: str | Path,
    retry: RetryPolicy | None = None,
    *,
    monotonic: Callable[[], float] = time.monotonic,
) -> SqlStore:
    """Open (creating if needed, migrating to the newest schema) the SQLite store at ``path``;
    ``monotonic`` times its WAL's checkpoints (:mod:`deconflict.store.transactions`).

    The database holds private plans in clear, so it is the owner's alone: made 0600 before
    SQLite opens it (SQLite gives its ``-wal`` and ``-shm`` files the database's mode), and a
    database, WAL, shared-memory or writers' file found open to others (an older version made
    them 0644) is tightened to 0600, with a warning (:mod:`deconflict.owner_only`)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise StoreError(f"cannot open store {str(target)!r}: no such directory")
    read_only = _read_only(target)
    if read_only is not None:
        log.warning("the store %s is read-only: reads are served, writes refused", target)
        engine = _sqlite_engine(target, read_only)
        return SqlStore(engine, what=str(target), retry=retry, monotonic=monotonic)
    try:
        if not owner_only.create_file(target):
            for companion in (target, *_companions(target)):
                owner_only.tighten(companion)
    except OSError as error:
        raise StoreError(f"cannot open store {str(target)!r}: {error.strerror}") from None
    return SqlStore(_sqlite_engine(target), what=str(target), retry=retry, monotonic=monotonic)


def _read_only(database: Path) -> str | None:
    """How to open an existing ``database`` this process cannot write (a SQLite URI query),
    else None: on a read-only filesystem ``immutable=1`` (SQLite can make no ``-shm`` there,
    and nobody can write the file meanwhile), unless a WAL was left behind (its commits are
    read through ``mode=ro``); a file this process may not write (its mode) ``mode=ro``."""
    if not database.exists():
        return None
    wal = database.with_name(database.name + "-wal")
    if os.statvfs(database).f_flag & os.ST_RDONLY:
        return "mode=ro" if wal.exists() and wal.stat().st_size > 0 else "immutable=1"
    if not os.access(database, os.W_OK):
        return "mode=ro"
    return None


def _companions(database: Path) -> tuple[Path, ...]:
    """The files SQLite and the writers' queue keep beside ``database``."""
    return (
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
        database.with_name(database.name + "-journal"),
        turn_path(database),
    )


def postgres_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named (``postgresql+psycopg://``)."""
    for scheme in _PG_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    raise StoreError(f"not a PostgreSQL URL: {url!r}")


#: A session that sits inside a transaction this long (a paused or partitioned process) is ended
#: by the server, releasing the write lock every other writer queues on (see store/order.py).
IDLE_IN_TRANSACTION_S = 30.0


def open_postgres(url: str, retry: RetryPolicy | None = None) -> SqlStore:
    """Open (migrating to the newest schema) the PostgreSQL store at ``url``."""
    try:
        engine = sa.create_engine(
            postgres_url(url), isolation_level="SERIALIZABLE", pool_pre_ping=True
        )
    except (sa.exc.ArgumentError, ValueError) as error:
        raise StoreError(f"cannot open store: bad URL ({error})") from None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        milliseconds = round(IDLE_IN_TRANSACTION_S * 1000)
        dbapi_connection.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
        # Every statement planned for its own parameters: a generic plan (psycopg prepares a
        # statement it has run five times) read a party's lists by a scan or by the filing
        # time, every party's rows (an eighteenth reader; not reached while each read ends in
        # a rollback, which drops psycopg's prepared statements: docs/security.md §3.5).
        dbapi_connection.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()

    return SqlStore(engine, what=engine.url.render_as_string(hide_password=True), retry=retry)


def sqlite_file(target: str | Path) -> Path | None:
    """The SQLite file ``target`` names (a path or a ``sqlite:///`` URL), None for a PostgreSQL
    URL; StoreError for any other scheme."""
    if isinstance(target, Path):
        return target
    if target.startswith(_PG_SCHEMES):
        return None
    if target.startswith("sqlite:///"):
        return Path(target[len("sqlite:///") :])
    if "://" in target:
        raise StoreError(f"cannot open store {target!r}: unknown scheme")
    return Path(target)


def open_store(target: str | Path, retry: RetryPolicy | None = None) -> SqlStore:
    """The store ``target`` names: a PostgreSQL URL, a ``sqlite:///`` URL or a file path."""
    path = sqlite_file(target)
    return open_postgres(str(target), retry) if path is None else open_sqlite(path, retry)
