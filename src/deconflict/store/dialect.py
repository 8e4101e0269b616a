"""What differs between SQLite and PostgreSQL: one object per database, chosen when a store opens.

The store's queries are portable SQLAlchemy Core; what is not is here, as named methods of
:class:`Dialect`, one class a database, so the differences read side by side and no other module
asks which database it is on (the migrations excepted: each says what it does on each):

- *the write turn* (``take_write_turn``, ``take_log_position``): on PostgreSQL ``LOCK TABLE``,
  then the log mutex row (``SELECT ... FOR UPDATE``), with the transaction's first reads, in one
  round trip (:mod:`deconflict.store.order` says why); on SQLite ``BEGIN IMMEDIATE`` (set up in
  ``engines.py``) is the turn and there is nothing to run;
- *batches and pipelining* (``batch``, ``pipelined``): psycopg's pipeline, one round trip for
  many statements, on PostgreSQL; one statement after another on SQLite (no round trip to save);
- *wake-ups* (``notify``, ``announce``, ``change_signal``): LISTEN/NOTIFY on PostgreSQL, a watch
  that polls the file on SQLite (:mod:`deconflict.store.wakeup`);
- *WAL checkpoints* (``truncate_wal``): the server's own on PostgreSQL; ``PRAGMA
  wal_checkpoint(TRUNCATE)`` on SQLite (``transactions.py`` says when and why);
- *upserts* (``insert_new``): ``INSERT ... ON CONFLICT DO NOTHING`` in each one's dialect;
- *advisory locks* (``lock_migrations``): ``pg_advisory_xact_lock`` around a migration on
  PostgreSQL (several workers start at once); on SQLite the migration's write transaction is
  the lock;
- *index walks* (``walk_indexes``): the rebuild's pages read by walking the change log's index
  on PostgreSQL whatever its statistics say (none yet after a bulk load or a restore, and a
  page's end was planned as a scan and sort of every row left); SQLite plans them so anyway.

What a driver error means is decided by the error's own code (SQLite's result code, PostgreSQL's
SQLSTATE) in :mod:`deconflict.store.faults` and :mod:`deconflict.store.retry`, not by asking
which database raised it.

The objects hold no state: a transaction's state is on its :class:`~deconflict.store.tx.Tx`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from deconflict.errors import StoreError
from deconflict.store import bulk, order, wakeup
from deconflict.store.tx import Tx

__all__ = ["Dialect", "Postgres", "Sqlite", "of"]

log = logging.getLogger("deconflict.store")

_MIGRATION_LOCK = 0x6465636F  # "deco": several workers starting at once migrate one at a time


class Dialect(ABC):
    """What the store does differently on one database (see the module docstring)."""

    #: SQLAlchemy's name of the dialect ("sqlite", "postgresql")
    name: ClassVar[str]

    @abstractmethod
    def take_write_turn(self, tx: Tx, statements: Sequence[str]) -> list[list[Any]] | None:
        """At a write transaction's start: wait for the write turn, take the log position and
        run ``statements`` (no parameters: what every such transaction reads or sends first),
        in one round trip; the rows of each. None where the turn is taken by the transaction's
        BEGIN and nothing was run (the caller runs what it needs itself)."""

    @abstractmethod
    def take_log_position(self, tx: Tx) -> None:
        """Hold the change log's mutex until ``tx`` ends (:mod:`deconflict.store.order`)."""

    @abstractmethod
    def batch(self, tx: Tx, statements: Sequence[str]) -> list[list[Any]]:
        """Run ``statements`` (no parameters) in order in ``tx``; the rows of each."""

    @abstractmethod
    def pipelined(self, tx: Tx, doing: str) -> contextlib.AbstractContextManager[None]:
        """The driver-cursor writes of the block sent in one round trip at its end, where their
        errors surface naming ``doing``; or at once where a statement makes no round trip."""

    @abstractmethod
    def notify(self, tx: Tx) -> None:
        """Wake the other processes' detectors when ``tx`` commits (once a transaction)."""

    @abstractmethod
    def announce(self, engine: sa.Engine, payload: str) -> None:
        """Tell the other processes' streams that detections were committed, now."""

    @abstractmethod
    def change_signal(self, engine: sa.Engine, channels: Iterable[str]) -> wakeup.ChangeSignal:
        """Wake-ups from other processes on ``channels``."""

    @abstractmethod
    def truncate_wal(self, engine: sa.Engine) -> bool:
        """Copy the write-ahead log into the database and empty it, if the store keeps one;
        whether it was done (best effort: a failure is logged)."""

    @abstractmethod
    def insert_new(self, table: sa.Table, key: str, **values: Any) -> sa.Executable:
        """An insert of ``values`` into ``table`` that does nothing where a row of that ``key``
        is there already (another process making it at the same time wins)."""

    @abstractmethod
    def lock_migrations(self, connection: sa.Connection) -> None:
        """Keep other processes from migrating until ``connection``'s transaction ends."""

    @abstractmethod
    def walk_indexes(self, tx: Tx) -> None:
        """Have the rest of ``tx`` read ranges by walking their index, not by scanning (a
        bitmap or the whole table) and sorting: for reads whose ranges are small and ordered
        as an index is, which a planner without statistics misjudges."""


class Postgres(Dialect):
    """PostgreSQL: concurrent write transactions at SERIALIZABLE, queued by the store itself."""

    name = "postgresql"

    def take_write_turn(self, tx: Tx, statements: Sequence[str]) -> list[list[Any]]:
        rows = bulk.run_pipelined(tx, [order.QUEUE_SQL, order.MUTEX_SQL, *statements])
        if not rows[1]:
            raise StoreError("the change-log mutex row is missing: open the store to create it")
        tx.holds_log_mutex = True
        return rows[2:]

    def take_log_position(self, tx: Tx) -> None:
        if tx.holds_log_mutex:
            return
        if tx.execute(order.MUTEX).first() is None:
            raise StoreError("the change-log mutex row is missing: open the store to create it")
        tx.holds_log_mutex = True

    def batch(self, tx: Tx, statements: Sequence[str]) -> list[list[Any]]:
        if tx.pipeline is not None:  # in an open pipeline: its statements ride it
            return bulk.run_each(tx, statements)
        return bulk.run_pipelined(tx, statements)

    def pipelined(self, tx: Tx, doing: str) -> contextlib.AbstractContextManager[None]:
        return bulk.pipeline_open(tx, doing)

    def notify(self, tx: Tx) -> None:
        if not tx.notified:
            tx.execute(sa.text(wakeup.NOTIFY_SQL))
            tx.notified = True

    def announce(self, engine: sa.Engine, payload: str) -> None:
        # A failure is only a lost wake-up (the streams read at their next pause anyway).
        with contextlib.suppress(exc.DBAPIError), engine.begin() as connection:
            connection.execute(
                sa.text("SELECT pg_notify(:channel, :payload)"),
                {"channel": wakeup.NOTIFICATIONS, "payload": payload},
            )

    def change_signal(self, engine: sa.Engine, channels: Iterable[str]) -> wakeup.ChangeSignal:
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return wakeup.ChangeSignal(wakeup.Listener(url, channels))

    def truncate_wal(self, engine: sa.Engine) -> bool:
        return True  # the server checkpoints and recycles its WAL itself

    def insert_new(self, table: sa.Table, key: str, **values: Any) -> sa.Executable:
        return (
            postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
        )

    def lock_migrations(self, connection: sa.Connection) -> None:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})

    def walk_indexes(self, tx: Tx) -> None:
        bulk.run_each(tx, _WALK_INDEXES)


# Costs, not bans: a plan with no index to walk still runs.
_WALK_INDEXES = ("SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_seqscan = off")


class Sqlite(Dialect):
    """SQLite: one writer at a time, its write lock taken by ``BEGIN IMMEDIATE``."""

    name = "sqlite"

    #: The longest a checkpoint waits for readers on old snapshots, holding writers off.
    CHECKPOINT_WAIT_MS = 100

    def take_write_turn(self, tx: Tx, statements: Sequence[str]) -> None:
        return None  # BEGIN IMMEDIATE took it

    def take_log_position(self, tx: Tx) -> None:
        # The write transaction holds the database's one write lock from its BEGIN IMMEDIATE
        # to its commit: its change-log rows are in commit order already.
        return

    def batch(self, tx: Tx, statements: Sequence[str]) -> list[list[Any]]:
        return bulk.run_each(tx, statements)

    def pipelined(self, tx: Tx, doing: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # a statement makes no round trip

    def notify(self, tx: Tx) -> None:
        return  # the other processes' watches see the commit in the file

    def announce(self, engine: sa.Engine, payload: str) -> None:
        return  # the detections' commit is the announcement (the watch reads the cursor)

    def change_signal(self, engine: sa.Engine, channels: Iterable[str]) -> wakeup.ChangeSignal:
        if engine.url.database in (None, "", ":memory:"):
            return wakeup.ChangeSignal(None)  # no file another process could write
        return wakeup.ChangeSignal(wakeup.FileWatch(_sqlite_target(engine.url), channels))

    def truncate_wal(self, engine: sa.Engine) -> bool:
        """``PRAGMA wal_checkpoint(TRUNCATE)``, waiting ``CHECKPOINT_WAIT_MS`` at most for the
        readers on old snapshots and for the write lock. A failure (the disk still full) is
        logged, a reader still there is not (it is usual)."""
        try:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA busy_timeout")
                wait_ms = (cursor.fetchone() or (0,))[0]  # the connection's, put back below
                cursor.execute(f"PRAGMA busy_timeout={self.CHECKPOINT_WAIT_MS}")
                try:
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    busy = (cursor.fetchone() or (1,))[0]  # (busy, WAL frames, checkpointed)
                finally:
                    cursor.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
                cursor.close()
            finally:
                raw.close()
        except (sqlite3.Error, exc.SQLAlchemyError, OSError) as error:
            log.warning("could not truncate the WAL: %s", error)
            return False
        return bool(busy == 0)

    def insert_new(self, table: sa.Table, key: str, **values: Any) -> sa.Executable:
        statement = sqlite.insert(table).values(**values)
        return statement.on_conflict_do_nothing(index_elements=[key])

    def lock_migrations(self, connection: sa.Connection) -> None:
        return  # the migration's write transaction holds the write lock

    def walk_indexes(self, tx: Tx) -> None:
        return  # its planner walks an index for a range on its leading columns


def _sqlite_target(url: sa.URL) -> str:
    """The file an engine's URL names, as ``sqlite3.connect`` takes it: a URI filename with
    its query (a read-only store's mode) when the URL gives one."""
    database = str(url.database)
    query = {key: value for key, value in url.query.items() if key != "uri"}
    if url.query.get("uri") and query:
        return database + "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return database


_DIALECTS: dict[str, type[Dialect]] = {Postgres.name: Postgres, Sqlite.name: Sqlite}


def of(engine: sa.Engine) -> Dialect:
    """The dialect of ``engine``'s database (StoreError for one the store does not support)."""
    made = _DIALECTS.get(engine.dialect.name)
    if made is None:
        raise StoreError(f"the store does not run on {engine.dialect.name}")
    return made()
