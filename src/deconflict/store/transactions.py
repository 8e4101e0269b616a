"""The SQL store's engine and transaction plumbing: opening (migrations), units of work,
savepoints, one connection per call, and translating driver errors at this boundary.

:class:`SqlTransactions` is what every part of :class:`~deconflict.store.sql.SqlStore` builds on,
and the small interface the store's other modules use to run their statements in the store's
transactions (:mod:`deconflict.store.service_state`): :meth:`~SqlTransactions.write_connection`
and :meth:`~SqlTransactions.read_connection` join the open unit of work if there is one, else
open their own transaction; :attr:`~SqlTransactions.in_unit` says which; ``retry`` is the
policy that runs a whole transaction again.

Errors are translated by :func:`translated`: an integrity violation is ``InvalidInput`` (a
duplicate id is ``AlreadyExists``), a serialization failure or deadlock is ``Retryable`` (the
:func:`transaction` decorator runs the whole method again under the store's
:class:`RetryPolicy`); the rest are classified by :mod:`deconflict.store.faults`: a full disk or
a read-only store is ``WritesRefused``, a damaged file ``StoreCorrupt``, a failure that is for
now only ``StoreUnavailable`` (each with a message of its own, not the driver's), anything else
from the driver ``StoreError``.

SQLite's WAL is kept bounded here, beyond what SQLite does of itself. ``engines.py`` sets
``journal_size_limit`` (4 MiB) and leaves ``wal_autocheckpoint`` at SQLite's 1,000 pages: a
commit that leaves the WAL longer runs a PASSIVE checkpoint, which copies into the database what
no reader still reads, and a writer starts the WAL over (cut back to the limit) once it was all
copied and no reader is on it. Under readers that never all stop at once (the streams' reads,
every process's polls), one of them is always on a snapshot older than the last commit: neither
happens, and the WAL grows without bound. Another PASSIVE checkpoint would not help (it never
waits for a reader, and the autocheckpoint already runs one at each commit past the threshold),
so the detector lease holder's tick runs a TRUNCATE one every ``_CHECKPOINT_EVERY_S``
(:meth:`SqlTransactions.checkpoint`): it waits for the readers on old snapshots to end (readers
that start once all is copied read the database, not the WAL) and leaves the WAL empty. It holds
writers off while it waits, so it waits ``_CHECKPOINT_WAIT_MS`` at most and otherwise fails,
to be tried again. A write refused for a full disk leaves the WAL as large as it grew: it is
checkpointed and truncated after the writes that succeed (the space was freed) until that is
done, so the space freed is the host's again; at most every ``_RECLAIM_EVERY_S``, since a reader
on an old snapshot makes each try fail, and a try after every write held every write off.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, ParamSpec, Self, TypeVar, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc

from deconflict.errors import (
    AlreadyExists,
    DeconflictError,
    InvalidInput,
    StoreError,
    WritesRefused,
)
from deconflict.store import bulk, faults, lease, ledger_append, order, secrets, wakeup
from deconflict.store import schema as t
from deconflict.store.ledger_append import watch
from deconflict.store.retry import Retryable, RetryPolicy, is_retryable

#: Execution option of a connection that only reads (see ``read_connection``): on SQLite its
#: transaction is a plain BEGIN, which neither takes nor waits for the write lock (engines.py).
READ_ONLY = "deconflict_read_only"

__all__ = [
    "IN_UNIT",
    "READ_ONLY",
    "DuplicateInUnit",
    "SqlTransactions",
    "insert_with_unit",
    "transaction",
    "translated",
]

IN_UNIT = "deconflict.in_unit"  # Connection.info key: the connection is a unit of work's
log = logging.getLogger("deconflict.store")

_CHECKPOINT_EVERY_S = 10.0  # how often the lease holder's tick truncates SQLite's WAL
_RECLAIM_EVERY_S = 1.0  # how often, after a write refused for a full disk, until it is done
_CHECKPOINT_WAIT_MS = 100  # the longest a checkpoint waits for readers, holding writers off


def insert_with_unit(c: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` on ``c``: in a unit of work, with the unit's other rows at its next
    statement or its end (one statement a table, see
    :meth:`SqlTransactions.deferring_connection`); else now."""
    if c.info.get(IN_UNIT, False):
        bulk.defer_insert(c, table, rows)
    else:
        bulk.insert_many(c, table, rows)


_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x6465636F  # "deco": several workers starting at once migrate one at a time


def _migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision and make the rows every store needs, in one
    write transaction, only when there is something to do: a store found up to date is opened
    with reads alone, so a read-only store (or one on a full disk) opens and serves reads."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if _up_to_date(engine, config):
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        order.ensure_rows(connection, (order.LOG_MUTEX, *lease.LEASE_ROWS))
        secrets.ensure(connection)


class DuplicateInUnit(StoreError):
    """A unit of work failed at its commit because the one new id ``doing`` deferred is
    stored already. The unit's owner runs its writes again each alone, where a write alone
    answers ``AlreadyExists``; one that owns the unit (a single write, its own unit) answers
    :meth:`already_exists`, the same words as that write outside a unit."""

    def __init__(self, doing: str) -> None:
        super().__init__(f"{doing}: one with that id already exists (at the unit's commit)")
        self.doing = doing

    def already_exists(self) -> AlreadyExists:
        return AlreadyExists(f"{self.doing}: one with that id already exists")


def _duplicate_table(error: exc.IntegrityError) -> str | None:
    """The table of a duplicate-key refusal (PostgreSQL names it; SQLite says
    ``UNIQUE constraint failed: <table>.<column>``), or None."""
    if not _is_unique_violation(error):
        return None
    diag = getattr(error.orig, "diag", None)
    if diag is not None and getattr(diag, "table_name", None):
        return str(diag.table_name)
    found = re.search(r"UNIQUE constraint failed: (\w+)\.", str(error.orig))
    return found.group(1) if found else None


def _up_to_date(engine: sa.Engine, config: Config) -> bool:
    """Whether the store is at the newest revision and has the rows :func:`_migrate` makes
    (read in a read-only transaction)."""
    heads = set(ScriptDirectory.from_config(config).get_heads())
    rows = (order.LOG_MUTEX, *lease.LEASE_ROWS)
    with engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})
        if set(MigrationContext.configure(connection).get_current_heads()) != heads:
            return False
        count = sa.select(sa.func.count()).select_from(t.cursors)
        found = connection.execute(count.where(t.cursors.c.name.in_(rows)))
        if found.scalar() != len(rows):
            return False
        return secrets.complete(connection)


def _is_unique_violation(error: exc.IntegrityError) -> bool:
    """A duplicate key (PostgreSQL SQLSTATE 23505, SQLite's UNIQUE constraint)."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


@contextlib.contextmanager
def translated(doing: str) -> Iterator[None]:
    """Translate what the driver raises while ``doing`` into the store's errors."""
    try:
        yield
    except DeconflictError:
        raise
    except exc.DBAPIError as error:
        if is_retryable(error):
            raise Retryable(f"{doing}: {error.orig}") from None
        if isinstance(error, exc.IntegrityError):
            if _is_unique_violation(error):
                raise AlreadyExists(f"{doing}: one with that id already exists") from None
            raise InvalidInput(f"{doing}: conflicts with what is stored ({error.orig})") from None
        raise faults.classified(doing, error) from error
    except (exc.SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise faults.classified(doing, error) from error


P = ParamSpec("P")
R = TypeVar("R")


def transaction(method: Callable[P, R]) -> Callable[P, R]:
    """Run the store method (one transaction) again when the database asks for a retry."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        store = cast(SqlTransactions, args[0])  # only ever decorates SqlTransactions methods
        if store._unit is not None or store._snapshot is not None:
            return method(*args, **kwargs)  # part of a unit or snapshot: its owner retries it
        return store.retry.run(lambda: method(*args, **kwargs))

    return run


class SqlTransactions:
    """An engine, migrated when opened, and the transactions the store's calls run in."""

    #: Reads every unit of work makes (the agreements, for each filing's lead time), made on
    #: PostgreSQL in the round trip that takes its write turn: (key in the unit's reads, SQL
    #: without parameters, what its rows become). The store's parts that read them add theirs.
    _TURN_READS: ClassVar[tuple[tuple[str, str, Callable[[list[Any]], Any]], ...]] = ()

    def __init__(
        self,
        engine: sa.Engine,
        what: str = "store",
        retry: RetryPolicy | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._what = what
        self._owns_engine = True  # closing the store disposes of it (not a twin's)
        self._unit: sa.Connection | None = None  # the open unit of work's connection
        self._snapshot: sa.Connection | None = None  # the open read snapshot's connection
        # Reads a unit of work repeats for every write it groups (the agreements, whether a
        # party exists), kept until the unit ends, a savepoint is undone or they are written.
        self._unit_reads: dict[str, Any] = {}
        self._unit_ids: dict[tuple[str, str], str] = {}  # ids the unit's writes deferred rows of
        self._reclaim_due = False  # a write was refused for a full disk, the WAL not truncated
        self._monotonic = monotonic  # when checkpoints are tried (see checkpoint)
        self._checkpoint_tried_at = -math.inf
        self.retry = retry if retry is not None else RetryPolicy()
        watch(engine)

        def migrate() -> None:
            with translated(f"opening {what}"):
                _migrate(engine)

        self.retry.run(migrate)

    def twin(self) -> Self:
        """Another store on this one's database, sharing its engine (and pool) but none of its
        state: for a thread of its own, such as the lease renewal beside the detector's work.
        Closing it leaves the engine to this store."""
        twin = type(self)(self._engine, self._what, self.retry, monotonic=self._monotonic)
        twin._owns_engine = False
        return twin

    def change_signal(self, *channels: str) -> wakeup.ChangeSignal:
        """Wake-ups from other processes on ``channels`` (default: their commits); close it
        when done."""
        with translated(f"listening on {self._what}"):
            return wakeup.ChangeSignal(self._engine, channels or (wakeup.CHANNEL,))

    def announce_notifications(self, payload: str) -> None:
        wakeup.announce(self._engine, payload)

    @property
    def dialect(self) -> str:
        """The database's SQLAlchemy dialect name ("sqlite", "postgresql")."""
        return self._engine.dialect.name

    def hub_secret(self, name: str) -> bytes:
        """The shared secret ``name`` (:mod:`deconflict.store.secrets`)."""
        with self.read_connection(f"reading the {name!r} secret") as c:
            return secrets.read(c, name)

    def close(self) -> None:
        if not self._owns_engine:
            return
        with translated(f"closing {self._what}"):
            self._engine.dispose()

    @contextlib.contextmanager
    def unit_of_work(self, doing: str = "a unit of work") -> Iterator[None]:
        """One write transaction for every call made inside (they read what it wrote so far);
        not retried here: a serialization failure surfaces as ``Retryable`` from the commit or
        from the call that met it, and the owner runs the unit (or its parts) again. Nested,
        it joins the open unit. A store is used by one thread, so the unit is per store."""
        if self._unit is not None:
            yield
            return
        self._no_snapshot(doing)
        with self._space_watched(), translated(doing), self._engine.begin() as connection:
            # Held from here to the commit, outside every savepoint (rolling one back would
            # release what was taken inside it).
            _, reads = self._take_write_turn(connection, announce=True)
            order.take_log_position(connection)
            wakeup.notify(connection)
            self._unit = connection
            self._unit_reads.clear()
            self._unit_reads.update(reads)
            self._unit_ids.clear()
            connection.info[IN_UNIT] = True
            try:
                yield
                self._flush_unit(connection, doing)
            finally:
                connection.info.pop(IN_UNIT, None)
                connection.info.pop(bulk.DEFERRED, None)  # the pooled connection's: not the next's
                self._unit = None
                self._unit_reads.clear()
                self._unit_ids.clear()

    @contextlib.contextmanager
    def snapshot(self, doing: str = "reading") -> Iterator[None]:
        """One read transaction for every read made inside: a consistent view, and one
        connection and one BEGIN for all of them, which on SQLite cost more than a small
        query itself (a stream's reads at each wake-up). Nested, or in a unit of work, it
        joins what is open. Not retried here (its owner runs it again on ``Retryable``); no
        write may be made inside."""
        if self._unit is not None or self._snapshot is not None:
            yield
            return
        with translated(doing), self._engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            self._snapshot = connection
            try:
                yield
            finally:
                self._snapshot = None

    def in_snapshot(self, read: Callable[[], R], doing: str = "reading") -> R:
        """``read()`` in one :meth:`snapshot`, run again on ``Retryable``."""
        if self._unit is not None or self._snapshot is not None:
            return read()

        def run() -> R:
            with self.snapshot(doing):
                return read()

        return self.retry.run(run)

    def _no_snapshot(self, doing: str) -> None:
        if self._snapshot is not None and self._unit is None:
            raise StoreError(f"{doing}: a write inside a read snapshot")

    @contextlib.contextmanager
    def deferring_connection(self, doing: str) -> Iterator[sa.Connection]:
        """A connection for a write that inserts with :func:`insert_with_unit`: the open unit
        of work's, without first inserting what the unit deferred (as
        :meth:`write_connection` does), so a burst of filings grouped in one unit inserts a
        statement a table, not a few statements each. Each statement costs a process with a
        busy event loop more than SQLite's work: the thread gives the GIL up while SQLite
        runs and waits for it after, with the write lock held. Outside a unit, a new write
        transaction, as :meth:`write_connection`."""
        if self._unit is None:
            with self.write_connection(doing) as connection:
                yield connection
            return
        with translated(doing):
            yield self._unit

    def defer_new_id(self, table: sa.Table, record_id: str, doing: str) -> None:
        """In a unit of work, refuse (``AlreadyExists``) a second deferred row of one id, as
        its insert would be refused, but now, not at the flush where no write can be named.
        One stored before the unit fails the flush instead (see :meth:`_flush_inserts`).
        Outside a unit the insert itself refuses it."""
        if self._unit is None:
            return
        key = (table.name, record_id)
        if key in self._unit_ids:
            raise AlreadyExists(f"{doing}: one with that id already exists")
        self._unit_ids[key] = doing

    def _refused(self, error: exc.IntegrityError) -> StoreError:
        """What a refused deferred insert fails its unit with: ``DuplicateInUnit`` naming the
        write when the refusal is a duplicate id of a table the unit deferred one new id of
        (the unit's only write of that table, so it is that one's), else ``StoreError``."""
        table = _duplicate_table(error)
        doings = {doing for (name, _), doing in self._unit_ids.items() if name == table}
        if table is not None and len(doings) == 1:
            return DuplicateInUnit(doings.pop())
        return StoreError(f"a write of this unit of work was refused: {error.orig}")

    def _flush_inserts(self, connection: sa.Connection) -> None:
        """Insert the rows the unit's writes deferred. A refused insert (an id already stored)
        is the unit's failure, not that of the write it interrupts: ``StoreError`` (or its
        ``DuplicateInUnit``), on which a unit's owner runs each write alone, and each is
        answered as it deserves."""
        try:
            bulk.flush_inserts(connection)
        except exc.IntegrityError as error:
            raise self._refused(error) from None

    def _take_write_turn(
        self, connection: sa.Connection, announce: bool, first: Sequence[str] = ()
    ) -> tuple[list[list[tuple[Any, ...]]], dict[str, Any]]:
        """Queue for the write turn and take the log position (:mod:`deconflict.store.order`),
        read the ledger's end, run ``first`` (statements without parameters) and, if
        ``announce`` (a unit of work), notify the listeners at the commit and make the unit's
        first reads (:attr:`_TURN_READS`): on PostgreSQL in one round trip
        (``take_write_turn``), where the steps done here are not done again by the calls that
        would do them; elsewhere each call does its own. The rows of each of ``first``, and
        the first reads' values by key (on PostgreSQL only)."""
        reads = self._TURN_READS if announce else ()
        also = [*first, *(sql for _, sql, _ in reads)]
        also += [wakeup.NOTIFY_SQL] if announce else []
        rows = order.take_write_turn(connection, [*also, ledger_append.LAST_INDEX_SQL])
        if not rows:
            order.queue_writer(connection)
            return (bulk.driver_batch(connection, first) if first else []), {}
        if announce:
            wakeup.notified(connection)
        last = rows[-1][0][0] if rows[-1] else None
        ledger_append.known_end(connection, last)
        read = rows[len(first) : len(first) + len(reads)]
        values = {key: made(found) for (key, _, made), found in zip(reads, read, strict=True)}
        return rows[: len(first)], values

    @contextlib.contextmanager
    def write_turn(
        self, doing: str, first: Sequence[str]
    ) -> Iterator[tuple[sa.Connection, list[Any]]]:
        """:meth:`write_connection`, whose transaction first runs ``first`` (statements without
        parameters: a check or a read every such write makes), on PostgreSQL in the round trip
        that takes the write turn; the connection and the rows of each."""
        if self._unit is not None:
            self._flush_inserts(self._unit)
            with translated(doing):
                yield self._unit, bulk.driver_batch(self._unit, first)
            return
        self._no_snapshot(doing)
        with self._space_watched(), translated(doing), self._engine.begin() as connection:
            rows, _ = self._take_write_turn(connection, announce=False, first=first)
            yield connection, rows

    def _flush_unit(self, connection: sa.Connection, doing: str) -> None:
        """Before the unit's commit: insert what its writes deferred and the ledger entries it
        appended, in one round trip on PostgreSQL (:func:`bulk.pipelined`; the entries are
        built first, as building one may read). A refused insert fails the unit as in
        :meth:`_flush_inserts`."""
        ledger_append.build_pending(connection)
        try:
            with bulk.pipelined(connection, doing):
                bulk.flush_inserts(connection)
                ledger_append.flush(connection)
        except exc.IntegrityError as error:
            raise self._refused(error) from None

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        if self._unit is None:
            yield
            return
        self._flush_inserts(self._unit)
        before = ledger_append.mark(self._unit)
        try:
            with translated("a savepoint"), self._unit.begin_nested():
                yield
                self._flush_inserts(self._unit)
        except BaseException:
            self._unit.info.pop(bulk.DEFERRED, None)  # what they deferred goes with them
            self._unit_reads.clear()  # what they read may have been undone
            ledger_append.restore(self._unit, before)  # and what they appended
            raise

    @property
    def in_unit(self) -> bool:
        """Whether a unit of work is open (its owner then retries it, not each call)."""
        return self._unit is not None

    @contextlib.contextmanager
    def write_connection(self, doing: str) -> Iterator[sa.Connection]:
        """A connection in a write transaction: the open unit of work's, else a new one
        (committed when the block ends), with errors translated."""
        if self._unit is not None:
            self._flush_inserts(self._unit)
            with translated(doing):
                yield self._unit
            return
        self._no_snapshot(doing)
        with self._space_watched(), translated(doing), self._engine.begin() as connection:
            self._take_write_turn(connection, announce=False)
            yield connection

    def checkpoint(self) -> None:
        """Copy SQLite's WAL into the database and truncate it, if ``_CHECKPOINT_EVERY_S``
        has passed since the last try (see the module's docstring for why); PostgreSQL
        manages its own."""
        self._checkpoint(_CHECKPOINT_EVERY_S)

    @contextlib.contextmanager
    def _space_watched(self) -> Iterator[None]:
        """Around a write transaction of its own: once one is refused for a full disk, the
        WAL is checkpointed and truncated after the writes that succeed until that is done, so
        the space freed meanwhile is returned to the host rather than kept by the WAL. Not
        after a refused one: the disk is full then, and the checkpoint, which writes the WAL's
        pages into the database, mostly fails as the write did. The first write that succeeds
        after a refusal tries at once (space was freed: the likeliest moment), the others at
        most every ``_RECLAIM_EVERY_S``."""
        try:
            yield
        except WritesRefused as error:
            if error.full:
                self._reclaim_due = True
                self._checkpoint_tried_at = -math.inf  # the next write that succeeds tries
            raise
        if self._reclaim_due:
            self._checkpoint(_RECLAIM_EVERY_S)

    def _checkpoint(self, every_s: float) -> None:
        """Truncate the WAL, unless a try was made less than ``every_s`` ago."""
        now = self._monotonic()
        if now - self._checkpoint_tried_at < every_s:
            return
        self._checkpoint_tried_at = now
        if self._truncate_wal():
            self._reclaim_due = False

    def _truncate_wal(self) -> bool:
        """``PRAGMA wal_checkpoint(TRUNCATE)``, waiting ``_CHECKPOINT_WAIT_MS`` at most for the
        readers on old snapshots and for the write lock; whether it was done. Best effort: a
        failure (the disk still full) is logged, a reader still there is not (it is usual)."""
        if self.dialect != "sqlite":
            return True
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA busy_timeout")
                wait_ms = (cursor.fetchone() or (0,))[0]  # the connection's, put back below
                cursor.execute(f"PRAGMA busy_timeout={_CHECKPOINT_WAIT_MS}")
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
        return busy == 0

    @contextlib.contextmanager
    def read_connection(self, doing: str) -> Iterator[sa.Connection]:
        """A connection to read on: the open unit of work's (what it wrote so far; the ledger's
        rows, written at its end, are written first by the ledger's own reads), else a new one,
        with errors translated."""
        if self._unit is not None:  # read what the unit has written so far
            self._flush_inserts(self._unit)
            with translated(doing):
                yield self._unit
            return
        if self._snapshot is not None:
            with translated(doing):
                yield self._snapshot
            return
        with translated(doing), self._engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            yield connection
