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
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = [
    "DEFERRED",
    "defer_insert",
    "driver_batch",
    "driver_rows",
    "driver_scalar",
    "flush_inserts",
    "insert_many",
    "insert_rows",
    "pipelined",
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


def insert_many(c: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, the table's column names) in one statement,
    on the DBAPI cursor (see :func:`insert_rows`)."""
    if rows:
        columns = tuple(rows[0])
        insert_rows(c, table, columns, [tuple(row[name] for name in columns) for row in rows])


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


_PIPELINE = "deconflict.pipeline"  # Connection.info key: the open pipeline's cursor


@contextlib.contextmanager
def pipelined(c: sa.Connection, doing: str) -> Iterator[None]:
    """On PostgreSQL, the driver-cursor writes made inside (:func:`insert_rows`,
    :func:`flush_inserts`) sent in one pipeline: one round trip for all of them, at the end of
    the block, instead of one each. Their errors (a refused insert) surface there, as
    SQLAlchemy's, naming ``doing``. Elsewhere (SQLite, whose statements make no round trip),
    or nested, it changes nothing.

    Under the write turn every round trip is time the other writers wait (PostgreSQL serialises
    write transactions, see :mod:`deconflict.store.order`): a filing unit's four inserts
    (notices, their versions, the change log, the ledger) were four of its nine."""
    if c.dialect.name != "postgresql" or _PIPELINE in c.info:
        yield
        return
    cursor = None
    try:
        with _driver_pipeline(c, doing) as (dbapi, _):
            c.info[_PIPELINE] = cursor = dbapi.cursor()
            try:
                yield
            finally:
                del c.info[_PIPELINE]
    finally:
        if cursor is not None:
            cursor.close()


def driver_batch(c: sa.Connection, statements: Sequence[str]) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` (SQL without parameters) in order in ``c``'s transaction, on
    PostgreSQL in one pipeline (one round trip for all); the rows of each (none for one that
    returns none). The transaction is begun as SQLAlchemy would begin it, if not yet."""
    if not c.in_transaction():
        c.begin()
    if c.dialect.name != "postgresql" or _PIPELINE in c.info:
        found = []
        for sql in statements:
            with _driver_cursor(c, sql, ()) as cursor:
                cursor.execute(sql)
                found.append(list(cursor.fetchall()) if cursor.description else [])
        return found
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


def _on_cursor(c: sa.Connection, sql: str, params: Any, many: bool) -> Any:
    """Run ``sql`` on a DBAPI cursor of ``c``'s transaction (``executemany`` if ``many``); the
    first row it returns, if any. In a :func:`pipelined` block a write rides the pipeline."""
    if not c.in_transaction():  # begun as SQLAlchemy would (the store's BEGIN), not autocommit
        c.begin()
    cursor = c.info.get(_PIPELINE)
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
def _select_sql(dialect: sa.Dialect, query: sa.Select[Any]) -> tuple[str, tuple[str, ...] | None]:
    compiled = query.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None


def driver_rows(
    c: sa.Connection, query: sa.Select[Any], params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows of ``query`` (a select built once, at import, with named bind parameters, none
    expanding) as dicts by column name, run on the DBAPI cursor of ``c``'s transaction: for a
    small read made very often (an event stream's, at every wake-up), where SQLAlchemy's
    execution costs several times the database's work."""
    names, rows = _driver_select(c, query, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def driver_tuples(
    c: sa.Connection, query: sa.Select[Any], params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``query`` as the driver gives them (tuples), run as :func:`driver_rows` runs
    it: for many rows, where SQLAlchemy's row objects cost as much as the work on them."""
    return _driver_select(c, query, params)[1]


def _driver_select(
    c: sa.Connection, query: sa.Select[Any], params: Mapping[str, Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    sql, order = _select_sql(c.dialect, query)
    args: Any = tuple(params[name] for name in order) if order is not None else dict(params)
    if not c.in_transaction():  # begun as SQLAlchemy would (the store's BEGIN), not autocommit
        c.begin()
    with _driver_cursor(c, sql, args) as cursor:
        cursor.execute(sql, args)
        return [column[0] for column in cursor.description], cursor.fetchall()


def driver_scalar(c: sa.Connection, sql: str) -> Any:
    """The first column of the first row of ``sql`` (no parameters), None if no row."""
    row = _on_cursor(c, sql, (), many=False)
    return None if row is None else row[0]


def insert_rows(
    c: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples of the values of ``columns``, in that order) in one statement,
    on the DBAPI cursor: no dict per row where the caller builds rows in bulk."""
    if not rows:
        return
    sql, order = _insert_sql(c.dialect, table, columns)
    if order is None:
        params: list[Any] = [dict(zip(columns, row, strict=True)) for row in rows]
    elif order == columns:
        params = list(rows)
    else:
        where = [columns.index(name) for name in order]
        params = [tuple(row[i] for i in where) for row in rows]
    _on_cursor(c, sql, params, many=True)


def update_many(
    c: sa.Connection, table: sa.Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> int | None:
    """Set the other columns of each row where column ``key`` equals the row's ``key`` value, in
    one statement; how many rows changed, or None when the driver cannot tell for many (or in a
    :func:`pipelined` block, where it rides the pipeline and is not waited for)."""
    if not rows:
        return 0
    columns = tuple(name for name in rows[0] if name != key)
    sql, order = _update_sql(c.dialect, table, key, columns)
    keyed = [{**{name: row[name] for name in columns}, "key_": row[key]} for row in rows]
    if _PIPELINE in c.info:
        if order is not None:
            _on_cursor(c, sql, [tuple(row[name] for name in order) for row in keyed], many=True)
        else:
            _on_cursor(c, sql, keyed, many=True)
        return None
    count = _run(c, sql, order, keyed)
    if len(rows) > 1 and not c.dialect.supports_sane_multi_rowcount:
        return None
    return count


DEFERRED = "deconflict.deferred_inserts"  # Connection.info key: rows to insert, by table


def defer_insert(c: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` at the next :func:`flush_inserts` on ``c``, with the other rows deferred
    to that table, in one statement per table (tables in the order first deferred to). They
    are kept in ``c.info``, which outlives the transaction: its owner drops them if it ends
    without flushing them (a rollback)."""
    deferred: dict[sa.Table, list[Mapping[str, Any]]] = c.info.setdefault(DEFERRED, {})
    deferred.setdefault(table, []).extend(rows)


def flush_inserts(c: sa.Connection) -> None:
    """Insert the rows deferred on ``c`` (see :func:`defer_insert`); none are left after, even
    if it fails (the transaction is then rolled back)."""
    deferred: dict[sa.Table, list[Mapping[str, Any]]] | None = c.info.pop(DEFERRED, None)
    for table, rows in (deferred or {}).items():
        insert_many(c, table, rows)
