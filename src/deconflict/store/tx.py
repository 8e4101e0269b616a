"""One transaction as the store's modules see it: its connection and its state, as plain fields.

:class:`~deconflict.store.transactions.SqlTransactions` makes a :class:`Tx` for each transaction
it opens (a unit of work, a read snapshot, a write or a read of its own) and passes it to the
store's module functions in place of a bare ``sa.Connection``. What a transaction has done so far
and what it still owes before its commit is kept here, and nowhere else: which steps run now and
which at the unit's end depends on these fields alone.

Nothing is kept on the connection (``Connection.info`` outlives the transaction: a pooled
connection would carry one transaction's state into the next), and a ``Tx`` is dropped when its
transaction ends, so each transaction starts from the defaults below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVarTuple, overload

import sqlalchemy as sa

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import _CoreAnyExecuteParams
    from sqlalchemy.sql.selectable import TypedReturnsRows

    from deconflict.store.dialect import Dialect
    from deconflict.store.ledger_append import End

__all__ = ["Tx"]

_Ts = TypeVarTuple("_Ts")


@dataclass(slots=True, eq=False)
class Tx:
    """One transaction of the store (see the module docstring)."""

    connection: sa.Connection
    #: what differs between SQLite and PostgreSQL, chosen when the store was opened
    dialect: Dialect
    #: a unit of work's: its inserts and ledger rows are written once, before its commit
    unit: bool = False
    #: rows to insert at the unit's next statement or its end, by table (in the order first
    #: deferred to: :func:`deconflict.store.bulk.defer_insert`)
    deferred: dict[sa.Table, list[Mapping[str, Any]]] = field(default_factory=dict)
    #: ids a unit's writes deferred rows of, by (table, id): the write that did (a second one
    #: of an id is refused at once, see ``SqlTransactions.defer_new_id``)
    new_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    #: reads a unit repeats for every write it groups (the agreements, whether a party exists),
    #: kept until it ends, a savepoint is undone or they are written
    reads: dict[str, Any] = field(default_factory=dict)
    #: the ledger's end and what was appended but not yet written (read at the first append)
    ledger_end: End | None = None
    #: whether it holds the change log's mutex row (:mod:`deconflict.store.order`)
    holds_log_mutex: bool = False
    #: whether it sent its NOTIFY (delivered at the commit, one is enough)
    notified: bool = False
    #: the open pipeline's cursor (:meth:`deconflict.store.dialect.Dialect.pipelined`)
    pipeline: Any = None

    @overload
    def execute(
        self,
        statement: TypedReturnsRows[*_Ts],
        parameters: _CoreAnyExecuteParams | None = None,
    ) -> sa.CursorResult[*_Ts]: ...

    @overload
    def execute(
        self, statement: sa.Executable, parameters: _CoreAnyExecuteParams | None = None
    ) -> sa.CursorResult[*tuple[Any, ...]]: ...

    def execute(
        self, statement: sa.Executable, parameters: _CoreAnyExecuteParams | None = None
    ) -> sa.CursorResult[*tuple[Any, ...]]:
        """``statement`` on the transaction's connection (``sa.Connection.execute``)."""
        return self.connection.execute(statement, parameters)
