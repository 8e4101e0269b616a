"""Many rows in one statement at the driver's speed: the hot paths' bulk inserts and updates.

A Core ``insert`` executed with a list of parameter dicts costs, per row, SQLAlchemy's parameter
processing (a dict built and each value run through its type), which on the filing path came to
more than the database's own work. These helpers compile the statement once per dialect, table
and column list (the SQL string and its parameter order), and hand the driver plain tuples (or
dicts, for a named parameter style) through ``exec_driver_sql``. They suit columns whose values
the driver takes as they are (strings, numbers, bytes, None), as every hot table's do.

:func:`insert_rows` and :func:`driver_scalar`, which the ledger runs in every write transaction,
go one step further: straight to the DBAPI cursor of the connection's transaction, as
``exec_driver_sql`` does in the end, without its execution context (about 7 µs a statement, more
than SQLite's own work for one row). What the driver raises is wrapped as SQLAlchemy wraps it
(:meth:`sqlalchemy.exc.DBAPIError.instance`), so the store translates and retries it as any
other.

Two steps defer work, each keeping its state on the transaction's :class:`~deconflict.store.tx.Tx`:
a unit of work's inserts wait for its next read or its end (:func:`defer_insert`, one statement a
table), and on PostgreSQL the writes of a :func:`pipeline_open` block ride one pipeline (the
dialect decides where to open one: :meth:`deconflict.store.dialect.Dialect.pipelined`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from deconflict.store.tx import Tx

__all__ = [
    "defer_insert",
    "driver_rows",
    "driver_scalar",
    "driver_tuples",
    "flush_inserts",
    "insert_many",
    "insert_rows",
    "pipeline_open",
    "run_each",
    "run_pipelined",
    "update_many",
]


@functools.lru_cache(maxsize=128)
def _insert_sql(
    dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None]:
    statement = sa.insert(table).values({name: sa.bindparam(name) for name in columns})
    compiled = statement.compile(dialect=dialect, for_executemany=True)  # no RETURNING
    return str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None


@functools.lru_cache(maxsize=128)
def _update_sql(
    dialect: sa.Dialect, table: sa.Table, key: str, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None]:
    statement = (
        sa.update(table)
        .where(table.c[key] == sa.bindparam("key_"))
        .values({name: sa.bindparam(name) for name in columns})
    )
    compiled = statement.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None


def _run(
    c: sa.Connection,
    sql: str,
    order: tuple[str, ...] | None,
    rows: Sequence[Mapping[str, Any]],
) -> int:
    if order is not None:
        params: list[Any] = [tuple(row[name] for name in order) for row in rows]
    else:
        params = [dict(row) for row in rows]
    result = c.exec_driver_sql(sql, params if len(params) > 1 else params[0])
    return int(result.rowcount)


def insert_many(tx: Tx, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, the table's column names) in one statement,
    on the DBAPI cursor (see :func:`insert_rows`)."""
    if rows:
        columns = tuple(rows[0])
        insert_rows(tx, table, columns, [tuple(row[name] for name in columns) for row in rows])


@contextlib.contextmanager
def _driver_cursor(c: sa.Connection, sql: str, params: Any) -> Iterator[Any]:
    """A DBAPI cursor of ``c``'s transaction, to run ``sql`` with ``params`` on; what the driver
    raises meanwhile is wrapped as SQLAlchemy wraps it."""
    dbapi = c.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a connection in a transaction has one
        raise sa.exc.ResourceClosedError("the connection is closed")
    error_type = c.dialect.loaded_dbapi.Error
    cursor = dbapi.cursor()
    try:
        yield cursor
    except error_type as error:
        raise sa.exc.DBAPIError.instance(
            sql, params, error, error_type, dialect=c.dialect
        ) from error
    finally:
        cursor.close()


def run_each(tx: Tx, statements: Sequence[str]) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` (SQL without parameters) in order in ``tx``, one after the other; the
    rows of each (none for one that returns none). The transaction is begun as SQLAlchemy would
    begin it, if not yet."""
    c = tx.connection
    if not c.in_transaction():
        c.begin()
    found = []
    for sql in statements:
        with _driver_cursor(c, sql, ()) as cursor:
            cursor.execute(sql)
            found.append(list(cursor.fetchall()) if cursor.description else [])
    return found


def run_pipelined(tx: Tx, statements: Sequence[str]) -> list[list[tuple[Any, ...]]]:
    """:func:`run_each`, all sent in one pipeline (psycopg's): one round trip for all."""
    c = tx.connection
    if not c.in_transaction():
        c.begin()
    cursors = []
    try:
        with _driver_pipeline(c, "; ".join(statements)) as (dbapi, pipeline):
            for sql in statements:
                cursors.append(cursor := dbapi.cursor())
                cursor.execute(sql)
            pipeline.sync()
            return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


@contextlib.contextmanager
def pipeline_open(tx: Tx, doing: str) -> Iterator[None]:
    """A pipeline (psycopg's) open on ``tx`` for the block, its cursor in ``tx.pipeline``: the
    driver-cursor writes made inside ride it (:func:`insert_rows`, :func:`update_many`) and are
    sent in one round trip at the block's end, where their errors surface, as SQLAlchemy's,
    naming ``doing``. Nested, it changes nothing."""
    if tx.pipeline is not None:
        yield
        return
    cursor = None
    try:
        with _driver_pipeline(tx.connection, doing) as (dbapi, _):
            tx.pipeline = cursor = dbapi.cursor()
            try:
                yield
            finally:
                tx.pipeline = None
    finally:
        if cursor is not None:
            cursor.close()


@contextlib.contextmanager
def _driver_pipeline(c: sa.Connection, doing: str) -> Iterator[tuple[Any, Any]]:
    """The driver's (psycopg's) connection of ``c``'s transaction and a pipeline open on it,
    synchronised at the block's end; what the driver raises meanwhile is wrapped as
    SQLAlchemy wraps it, naming ``doing``."""
    dbapi: Any = c.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a connection in a transaction has one
        raise sa.exc.ResourceClosedError("the connection is closed")
    error_type = c.dialect.loaded_dbapi.Error
    try:
        with dbapi.pipeline() as pipeline:
            yield dbapi, pipeline
    except error_type as error:
        raise sa.exc.DBAPIError.instance(
            doing, None, error, error_type, dialect=c.dialect
        ) from error


def _on_cursor(tx: Tx, sql: str, params: Any, many: bool) -> Any:
    """Run ``sql`` on a DBAPI cursor of ``tx`` (``executemany`` if ``many``); the first row it
    returns, if any. In a :func:`pipeline_open` block a write rides the pipeline."""
    c = tx.connection
    if not c.in_transaction():  # begun as SQLAlchemy would (the store's BEGIN), not autocommit
        c.begin()
    cursor = tx.pipeline
    if many and cursor is not None:
        cursor.executemany(sql, params)  # errors at the block's end, where they are wrapped
        return None
    with _driver_cursor(c, sql, params) as cursor:
        if many:
            cursor.executemany(sql, params)
            return None
        cursor.execute(sql, params)
        return cursor.fetchone()


@functools.lru_cache(maxsize=64)
def _select_sql(
    dialect: sa.Dialect, query: sa.Select[Any]
) -> tuple[str, tuple[str, ...] | None, Mapping[str, Any]]:
    """The SQL of ``query``, the order of its positional parameters (None: named), and the
    values of those the compiler made itself (SQLite's ``OFFSET 0`` after a ``LIMIT``)."""
    compiled = query.compile(dialect=dialect)
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    made = {
        name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
    }
    return str(compiled), order, made


def driver_rows(tx: Tx, query: sa.Select[Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``query`` (a select built once, at import, with named bind parameters, none
    expanding) as dicts by column name, run on the DBAPI cursor of ``c``'s transaction: for a
    small read made very often (an event stream's, at every wake-up), where SQLAlchemy's
    execution costs several times the database's work."""
    names, rows = _driver_select(tx.connection, query, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def driver_tuples(
    tx: Tx, query: sa.Select[Any], params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``query`` as the driver gives them (tuples), run as :func:`driver_rows` runs
    it: for many rows, where SQLAlchemy's row objects cost as much as the work on them."""
    return _driver_select(tx.connection, query, params)[1]


def _driver_select(
    c: sa.Connection, query: sa.Select[Any], params: Mapping[str, Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    sql, order, made = _select_sql(c.dialect, query)
    values = {**made, **params}
    args: Any = tuple(values[name] for name in order) if order is not None else values
    if not c.in_transaction():  # begun as SQLAlchemy would (the store's BEGIN), not autocommit
        c.begin()
    with _driver_cursor(c, sql, args) as cursor:
        cursor.execute(sql, args)
        return [column[0] for column in cursor.description], cursor.fetchall()


def driver_scalar(tx: Tx, sql: str) -> Any:
    """The first column of the first row of ``sql`` (no parameters), None if no row."""
    row = _on_cursor(tx, sql, (), many=False)
    return None if row is None else row[0]


def insert_rows(
    tx: Tx, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples of the values of ``columns``, in that order) in one statement,
    on the DBAPI cursor: no dict per row where the caller builds rows in bulk."""
    if not rows:
        return
    sql, order = _insert_sql(tx.connection.dialect, table, columns)
    if order is None:
        params: list[Any] = [dict(zip(columns, row, strict=True)) for row in rows]
    elif order == columns:
        params = list(rows)
    else:
        where = [columns.index(name) for name in order]
        params = [tuple(row[i] for i in where) for row in rows]
    _on_cursor(tx, sql, params, many=True)


def update_many(tx: Tx, table: sa.Table, key: str, rows: Sequence[Mapping[str, Any]]) -> int | None:
    """Set the other columns of each row where column ``key`` equals the row's ``key`` value, in
    one statement; how many rows changed, or None when the driver cannot tell for many (or in a
    :func:`pipeline_open` block, where it rides the pipeline and is not waited for)."""
    if not rows:
        return 0
    columns = tuple(name for name in rows[0] if name != key)
    c = tx.connection
    sql, order = _update_sql(c.dialect, table, key, columns)
    keyed = [{**{name: row[name] for name in columns}, "key_": row[key]} for row in rows]
    if tx.pipeline is not None:
        if order is not None:
            _on_cursor(tx, sql, [tuple(row[name] for name in order) for row in keyed], many=True)
        else:
            _on_cursor(tx, sql, keyed, many=True)
        return None
    count = _run(c, sql, order, keyed)
    if len(rows) > 1 and not c.dialect.supports_sane_multi_rowcount:
        return None
    return count


def defer_insert(tx: Tx, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` at the next :func:`flush_inserts` of ``tx``, with the other rows deferred
    to that table, in one statement per table (tables in the order first deferred to)."""
    tx.deferred.setdefault(table, []).extend(rows)


def flush_inserts(tx: Tx) -> None:
    """Insert the rows deferred in ``tx`` (see :func:`defer_insert`); none are left after, even
    if it fails (the transaction is then rolled back)."""
    deferred, tx.deferred = tx.deferred, {}
    for table, rows in deferred.items():
        insert_many(tx, table, rows)
