"""The SQL store's engine and transaction plumbing: opening (migrations), units of work,
savepoints, one connection per call, and translating driver errors at this boundary.

:class:`SqlTransactions` is what every part of :class:`~deconflict.store.sql.SqlStore` builds on,
and the small interface the store's other modules use to run their statements in the store's
transactions (:mod:`deconflict.store.service_state`): :meth:`~SqlTransactions.write_connection`
and :meth:`~SqlTransactions.read_connection` join the open unit of work if there is one, else
open their own transaction; :attr:`~SqlTransactions.in_unit` says which; ``retry`` is the
policy that runs a whole transaction again.

Each transaction is a :class:`~deconflict.store.tx.Tx`, made here when it begins (a unit of work,
a read snapshot, a call's own) and dropped when it ends: the store's module functions take it,
and its fields say what the transaction has done and still owes (the rows a unit deferred, the
ledger's end, the log mutex held). The database's differences are asked of the store's
:class:`~deconflict.store.dialect.Dialect`, chosen when it is opened.

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
writers off while it waits, so it waits ``Sqlite.CHECKPOINT_WAIT_MS`` at most and otherwise fails,
to be tried again. A write refused for a full disk leaves the WAL as large as it grew: it is
checkpointed and truncated after the writes that succeed (the space was freed) until that is
done, so the space freed is the host's again; at most every ``_RECLAIM_EVERY_S``, since a reader
on an old snapshot makes each try fail, and a try after every write held every write off.
"""

from __future__ import annotations

import contextlib
import functools
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
from deconflict.store import bulk, dialect, faults, lease, ledger_append, order, secrets, wakeup
from deconflict.store import schema as t
from deconflict.store.retry import Retryable, RetryPolicy, is_retryable
from deconflict.store.tx import Tx

#: Execution option of a connection that only reads (see ``read_connection``): on SQLite its
#: transaction is a plain BEGIN, which neither takes nor waits for the write lock (engines.py).
READ_ONLY = "deconflict_read_only"

__all__ = [
    "READ_ONLY",
    "DuplicateInUnit",
    "SqlTransactions",
    "insert_with_unit",
    "transaction",
    "translated",
]

_CHECKPOINT_EVERY_S = 10.0  # how often the lease holder's tick truncates SQLite's WAL
_RECLAIM_EVERY_S = 1.0  # how often, after a write refused for a full disk, until it is done


def insert_with_unit(tx: Tx, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` in ``tx``: in a unit of work, with the unit's other rows at its next
    statement or its end (one statement a table, see
    :meth:`SqlTransactions.deferring_connection`); else now."""
    if tx.unit:
        bulk.defer_insert(tx, table, rows)
    else:
        bulk.insert_many(tx, table, rows)


_MIGRATIONS = Path(__file__).parent / "migrations"


def _migrate(engine: sa.Engine, on: dialect.Dialect) -> None:
    """Bring the schema to the newest revision and make the rows every store needs, in one
    write transaction, only when there is something to do: a store found up to date is opened
    with reads alone, so a read-only store (or one on a full disk) opens and serves reads."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if _up_to_date(engine, config):
        return
    with engine.begin() as connection:
        on.lock_migrations(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        order.ensure_rows(connection, (order.LOG_MUTEX, *lease.LEASE_ROWS))
        secrets.ensure(connection, on)


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
        self._dialect = dialect.of(engine)
        self._what = what
        self._owns_engine = True  # closing the store disposes of it (not a twin's)
        self._unit: Tx | None = None  # the open unit of work
        self._snapshot: Tx | None = None  # the open read snapshot
        self._reclaim_due = False  # a write was refused for a full disk, the WAL not truncated
        self._monotonic = monotonic  # when checkpoints are tried (see checkpoint)
        self._checkpoint_tried_at = -math.inf
        self.retry = retry if retry is not None else RetryPolicy()

        def migrate() -> None:
            with translated(f"opening {what}"):
                _migrate(engine, self._dialect)

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
            return self._dialect.change_signal(self._engine, channels or (wakeup.CHANNEL,))

    def announce_notifications(self, payload: str) -> None:
        self._dialect.announce(self._engine, payload)

    @property
    def dialect(self) -> str:
        """The database's SQLAlchemy dialect name ("sqlite", "postgresql")."""
        return self._dialect.name

    def hub_secret(self, name: str) -> bytes:
        """The shared secret ``name`` (:mod:`deconflict.store.secrets`)."""
        with self.read_connection(f"reading the {name!r} secret") as c:
            return secrets.read(c.connection, name)

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
            tx = Tx(connection, self._dialect, unit=True)
            # Held from here to the commit, outside every savepoint (rolling one back would
            # release what was taken inside it).
            _, tx.reads = self._take_write_turn(tx, announce=True)
            self._dialect.take_log_position(tx)
            self._dialect.notify(tx)
            self._unit = tx
            try:
                yield
                self._flush_unit(tx, doing)
            finally:
                self._unit = None

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
            self._snapshot = Tx(connection, self._dialect)
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
    def deferring_connection(self, doing: str) -> Iterator[Tx]:
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
        if key in self._unit.new_ids:
            raise AlreadyExists(f"{doing}: one with that id already exists")
        self._unit.new_ids[key] = doing

    def _refused(self, tx: Tx, error: exc.IntegrityError) -> StoreError:
        """What a refused deferred insert fails its unit with: ``DuplicateInUnit`` naming the
        write when the refusal is a duplicate id of a table the unit deferred one new id of
        (the unit's only write of that table, so it is that one's), else ``StoreError``."""
        table = _duplicate_table(error)
        doings = {doing for (name, _), doing in tx.new_ids.items() if name == table}
        if table is not None and len(doings) == 1:
            return DuplicateInUnit(doings.pop())
        return StoreError(f"a write of this unit of work was refused: {error.orig}")

    def _flush_inserts(self, tx: Tx) -> None:
        """Insert the rows the unit's writes deferred. A refused insert (an id already stored)
        is the unit's failure, not that of the write it interrupts: ``StoreError`` (or its
        ``DuplicateInUnit``), on which a unit's owner runs each write alone, and each is
        answered as it deserves."""
        try:
            bulk.flush_inserts(tx)
        except exc.IntegrityError as error:
            raise self._refused(tx, error) from None

    def _take_write_turn(
        self, tx: Tx, announce: bool, first: Sequence[str] = ()
    ) -> tuple[list[list[tuple[Any, ...]]], dict[str, Any]]:
        """Queue for the write turn and take the log position (:mod:`deconflict.store.order`),
        read the ledger's end, run ``first`` (statements without parameters) and, if
        ``announce`` (a unit of work), notify the listeners at the commit and make the unit's
        first reads (:attr:`_TURN_READS`): on PostgreSQL in one round trip
        (:meth:`~deconflict.store.dialect.Dialect.take_write_turn`), where the steps done here
        are not done again by the calls that would do them (``tx`` notes them); elsewhere each
        call does its own. The rows of each of ``first``, and the first reads' values by key
        (on PostgreSQL only)."""
        reads = self._TURN_READS if announce else ()
        also = [*first, *(sql for _, sql, _ in reads)]
        also += [wakeup.NOTIFY_SQL] if announce else []
        rows = self._dialect.take_write_turn(tx, [*also, ledger_append.LAST_INDEX_SQL])
        if rows is None:
            return (self._dialect.batch(tx, first) if first else []), {}
        tx.notified = tx.notified or announce
        last = rows[-1][0][0] if rows[-1] else None
        ledger_append.known_end(tx, last)
        read = rows[len(first) : len(first) + len(reads)]
        values = {key: made(found) for (key, _, made), found in zip(reads, read, strict=True)}
        return rows[: len(first)], values

    @contextlib.contextmanager
    def write_turn(self, doing: str, first: Sequence[str]) -> Iterator[tuple[Tx, list[Any]]]:
        """:meth:`write_connection`, whose transaction first runs ``first`` (statements without
        parameters: a check or a read every such write makes), on PostgreSQL in the round trip
        that takes the write turn; the transaction and the rows of each."""
        if self._unit is not None:
            self._flush_inserts(self._unit)
            with translated(doing):
                yield self._unit, self._dialect.batch(self._unit, first)
            return
        self._no_snapshot(doing)
        with self._space_watched(), translated(doing), self._engine.begin() as connection:
            tx = Tx(connection, self._dialect)
            rows, _ = self._take_write_turn(tx, announce=False, first=first)
            yield tx, rows

    def _flush_unit(self, tx: Tx, doing: str) -> None:
        """Before the unit's commit: insert what its writes deferred and the ledger entries it
        appended, in one round trip on PostgreSQL (:meth:`~dialect.Dialect.pipelined`; the
        entries are built first, as building one may read). A refused insert fails the unit as
        in :meth:`_flush_inserts`."""
        ledger_append.build_pending(tx)
        try:
            with self._dialect.pipelined(tx, doing):
                bulk.flush_inserts(tx)
                ledger_append.flush(tx)
        except exc.IntegrityError as error:
            raise self._refused(tx, error) from None

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        tx = self._unit
        if tx is None:
            yield
            return
        self._flush_inserts(tx)
        before = ledger_append.mark(tx)
        try:
            with translated("a savepoint"), tx.connection.begin_nested():
                yield
                self._flush_inserts(tx)
        except BaseException:
            tx.deferred.clear()  # what they deferred goes with them
            tx.reads.clear()  # what they read may have been undone
            ledger_append.restore(tx, before)  # and what they appended
            raise

    def _unit_read(self, key: str) -> Any:
        """What the open unit of work read as ``key`` (see :attr:`Tx.reads`), or None."""
        return None if self._unit is None else self._unit.reads.get(key)

    def _keep_unit_read(self, key: str, value: Any) -> None:
        """Keep ``value``, read as ``key``, for the rest of the open unit of work (if any)."""
        if self._unit is not None:
            self._unit.reads[key] = value

    def _forget_unit_reads(self) -> None:
        """Drop the open unit's reads: a write may change them."""
        if self._unit is not None:
            self._unit.reads.clear()

    @property
    def in_unit(self) -> bool:
        """Whether a unit of work is open (its owner then retries it, not each call)."""
        return self._unit is not None

    @contextlib.contextmanager
    def write_connection(self, doing: str) -> Iterator[Tx]:
        """A write transaction: the open unit of work, else a new one (committed when the block
        ends), with errors translated."""
        if self._unit is not None:
            self._flush_inserts(self._unit)
            with translated(doing):
                yield self._unit
            return
        self._no_snapshot(doing)
        with self._space_watched(), translated(doing), self._engine.begin() as connection:
            tx = Tx(connection, self._dialect)
            self._take_write_turn(tx, announce=False)
            yield tx

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
        if self._dialect.truncate_wal(self._engine):
            self._reclaim_due = False

    @contextlib.contextmanager
    def read_connection(self, doing: str) -> Iterator[Tx]:
        """A transaction to read in: the open unit of work (what it wrote so far; the ledger's
        rows, written at its end, are written first by the ledger's own reads), else the open
        snapshot, else a new one, with errors translated."""
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
            yield Tx(connection, self._dialect)
