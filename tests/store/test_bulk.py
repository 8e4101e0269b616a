"""The bulk helpers that run on the driver's own cursor: what they write and what they raise."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from deconflict.store import ledger_tables as lt
from deconflict.store import open_store
from deconflict.store.bulk import driver_scalar, insert_rows
from deconflict.store.tx import Tx

COLUMNS = ("idx", "type", "subject", "body", "at_s", "leaf")


def _row(idx: int) -> tuple[object, ...]:
    return (idx, "party.added", f"party:p{idx}", "{}", 1.0, bytes(32))


@pytest.fixture
def store(store_target):
    s = open_store(store_target)
    yield s
    s.close()


def test_rows_and_a_scalar_on_the_driver_cursor(store):
    """One row, then many, are written in the caller's transaction and read back by it."""
    with store._engine.begin() as c:
        tx = Tx(c, store._dialect)
        assert driver_scalar(tx, "SELECT max(idx) FROM ledger_entries") is None
        insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(0)])
        insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(i) for i in range(1, 5)])
        assert driver_scalar(tx, "SELECT max(idx) FROM ledger_entries") == 4
    with store._engine.connect() as c:
        leaves = c.execute(sa.select(lt.ledger_entries.c.leaf)).scalars().all()
    assert [bytes(leaf) for leaf in leaves] == [bytes(32)] * 5


def test_a_driver_error_is_wrapped_as_sqlalchemy_wraps_it(store):
    """A duplicate key is SQLAlchemy's IntegrityError (so the store translates and retries it
    as any other), with the driver's error as its ``orig``."""
    with store._engine.connect() as c, c.begin():
        tx = Tx(c, store._dialect)
        insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(0)])
        with pytest.raises(sa.exc.IntegrityError) as raised:
            insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(1), _row(0)])
        assert isinstance(raised.value.orig, c.dialect.loaded_dbapi.Error)
        with pytest.raises(sa.exc.DBAPIError):
            driver_scalar(tx, "SELECT max(nothing) FROM ledger_entries")


def test_a_batch_runs_in_order_and_gives_each_statement_s_rows(store):
    """On PostgreSQL in one pipeline: each statement sees the ones before it; one returning
    no rows gives none; an error names the statements and is SQLAlchemy's."""
    with store._engine.begin() as c:
        tx = Tx(c, store._dialect)
        insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(0), _row(1)])
        rows = store._dialect.batch(
            tx,
            [
                "SELECT max(idx) FROM ledger_entries",
                "DELETE FROM ledger_entries WHERE idx = 1",
                "SELECT count(*) FROM ledger_entries",
                "SELECT idx FROM ledger_entries WHERE idx > 5",
                "SELECT idx FROM ledger_entries ORDER BY idx",
            ],
        )
        assert [[tuple(row) for row in found] for found in rows] == [[(1,)], [], [(1,)], [], [(0,)]]
    statements = ["SELECT 1", "SELECT max(nothing) FROM ledger_entries"]
    with (
        store._engine.connect() as c,
        c.begin(),
        pytest.raises(sa.exc.DBAPIError, match="max\\(nothing\\)"),
    ):
        store._dialect.batch(Tx(c, store._dialect), statements)


def test_pipelined_writes_land_and_a_refused_one_fails_the_block(store):
    """Writes in a pipelined block are in the transaction after it; a duplicate key among
    them is SQLAlchemy's IntegrityError (at the block's end on PostgreSQL, at once on
    SQLite), so the store translates it as any other."""
    with store._engine.begin() as c:
        tx = Tx(c, store._dialect)
        with store._dialect.pipelined(tx, "writing entries"):
            insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(0)])
            insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(1), _row(2)])
        assert driver_scalar(tx, "SELECT count(*) FROM ledger_entries") == 3

    def write_3_and_0_again(tx: Tx) -> None:
        with store._dialect.pipelined(tx, "writing entries"):
            insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(3)])
            insert_rows(tx, lt.ledger_entries, COLUMNS, [_row(0)])

    with store._engine.connect() as c, c.begin():
        with pytest.raises(sa.exc.IntegrityError) as raised:
            write_3_and_0_again(Tx(c, store._dialect))
        assert isinstance(raised.value.orig, c.dialect.loaded_dbapi.Error)
