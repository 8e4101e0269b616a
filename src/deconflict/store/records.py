"""What the SQL store's record modules (:mod:`~deconflict.store.parties`,
:mod:`~deconflict.store.notices`, :mod:`~deconflict.store.plans`,
:mod:`~deconflict.store.detections`, :mod:`~deconflict.store.notifications`) share: the base
they extend, the check that explains a versioned update that matched no row, and how many ids
go in one ``IN (...)`` list.

Each write appends its change-log rows in its own transaction through ``_log``/``_log_many``,
which :class:`~deconflict.store.sql.SqlStore` defines (with the change log's reads).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from deconflict.errors import NotFound, VersionConflict
from deconflict.store.transactions import SqlTransactions
from deconflict.store.tx import Tx

if TYPE_CHECKING:
    from deconflict.model import Notice, Plan
    from deconflict.store.ledger_append import LogItem, Prebuilt

__all__ = ["IN_CHUNK", "SqlRecords", "after_key", "missing_or_stale", "rows_in"]

IN_CHUNK = 500  # ids per IN (...) list


def rows_in(c: Tx, query: sa.Select[Any], ids: Sequence[Any]) -> Iterator[sa.Row[Any]]:
    """The rows of ``query`` (its ``ids`` bind parameter expanding) for ``ids``, asked
    ``IN_CHUNK`` ids at a time."""
    for lo in range(0, len(ids), IN_CHUNK):
        yield from c.execute(query, {"ids": list(ids[lo : lo + IN_CHUNK])})


#: SELECTs one UNION ALL of :func:`union_rows` holds (a compound SELECT has at most 500 terms in
#: SQLite).
UNION_MOST = 200


def union_rows(c: Tx, selects: Sequence[sa.Select[Any]]) -> Iterator[sa.Row[Any]]:
    """The rows of each of ``selects``, each its own SELECT of a UNION ALL, ``UNION_MOST`` a
    statement: a lookup each, a row two of them find returned twice (an OR of the same terms
    let SQLite skip a row found twice, and its steps told how many distinct rows were asked)."""
    for lo in range(0, len(selects), UNION_MOST):
        yield from c.execute(sa.union_all(*selects[lo : lo + UNION_MOST]))


def after_key(
    time: sa.ColumnElement[float],
    ident: sa.ColumnElement[str],
    after: tuple[float | sa.BindParameter[float], str | sa.BindParameter[str]],
) -> sa.ColumnElement[bool]:
    """The rows after ``after`` in (``time``, ``ident``) order: a page's cursor (values, or
    parameters bound later). A row value, which an index on (..., ``time``, ``ident``) seeks to
    on both databases, and the time alone too, which bounds the range an index on (...,
    ``time``) reads."""
    return sa.and_(time >= after[0], sa.tuple_(time, ident) > sa.tuple_(after[0], after[1]))


def missing_or_stale(c: Tx, table: sa.Table, what: str, record_id: str, expected: int) -> None:
    """Raise why a versioned update of ``table`` matched no row: NotFound or VersionConflict."""
    current = c.execute(sa.select(table.c.version).where(table.c.id == record_id)).scalar()
    if current is None:
        raise NotFound(f"no {what} {record_id!r}")
    raise VersionConflict(
        f"{what} {record_id!r} is at version {current}, not {expected}: read it again"
    )


class SqlRecords(SqlTransactions):
    """A family of records in the store: its statements run in the store's transactions, and
    each write appends to the change log."""

    if TYPE_CHECKING:  # defined by SqlStore (deconflict.store.sql)

        @classmethod
        def _log(
            cls,
            connection: Tx,
            kind: str,
            entity_id: str,
            at_s: float,
            record: Notice | Plan | None = None,
        ) -> int | None: ...

        @staticmethod
        def _log_many(
            connection: Tx,
            items: Sequence[LogItem],
            defer: bool | None = None,
            prebuilt: Prebuilt | None = None,
        ) -> list[int | None]: ...
