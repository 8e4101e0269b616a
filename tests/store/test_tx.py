"""A transaction's state lives on its Tx, never on the pooled connection; what differs between
the databases is asked of the store's dialect only."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from tests.hub.scenario import make_hub, vol

from deconflict.errors import NotFound, StoreError
from deconflict.store import dialect

SRC = Path(__file__).parents[2] / "src" / "deconflict"


class _Undo(Exception):
    """Raised inside a unit of work to roll it back."""


def test_a_pooled_connection_carries_nothing_from_one_transaction_to_the_next(
    tmp_path, store_target
):
    """Units of work (one rolled back after deferring its rows and taking the log mutex, one
    committed), the detector's pass and plain reads check their connections back into the pool
    with nothing of theirs on them; the rolled-back unit's rows are not written by the next
    transaction on the same connection, which takes its own write turn."""
    hub, _ = make_hub(tmp_path, target=store_target)
    engine: sa.Engine = hub.store._engine
    checked_in: list[dict[object, object]] = []

    def on_checkin(_dbapi_connection: object, record: sa.pool.ConnectionPoolEntry) -> None:
        checked_in.append(dict(record.info))

    def file_and_undo() -> None:
        with hub.store.unit_of_work():
            hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
            raise _Undo

    sa.event.listen(engine, "checkin", on_checkin)
    try:
        with pytest.raises(_Undo):
            file_and_undo()
        with hub.store.unit_of_work():
            hub.file_notice("usaf", [vol("b")], "air-activity", "N2")
        hub.process()
        assert hub.store.get_notice("usaf/N2").id == "N2"
        with pytest.raises(NotFound):
            hub.store.get_notice("usaf/N1")
        hub.ledger.verify()
    finally:
        sa.event.remove(engine, "checkin", on_checkin)
    assert checked_in
    assert [info for info in checked_in if info] == []
    hub.close()


def test_the_store_picks_its_dialect_once_and_refuses_another_database():
    """``dialect.of`` maps an engine to one object per database; an engine of a database the
    store does not run on is refused when the store is opened, not at its first write."""
    assert dialect.of(sa.create_engine("sqlite://")).name == "sqlite"
    assert isinstance(dialect.of(sa.create_engine("postgresql+psycopg://")), dialect.Postgres)
    mysql = SimpleNamespace(dialect=SimpleNamespace(name="mysql"))
    with pytest.raises(StoreError, match="does not run on mysql"):
        dialect.of(mysql)  # type: ignore[arg-type]


def test_no_module_but_the_dialect_asks_which_database_it_is_on():
    """Outside ``store/dialect.py`` (and the migrations, which say what each does on each) no
    module tests the dialect's name or keeps state in ``Connection.info``."""
    asks = re.compile(
        r"dialect\.name\s*[!=]=|\.dialect\s*[!=]=|\.info\s*(\[|\.(get|pop|setdefault))"
    )
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        if path != SRC / "store" / "dialect.py" and "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if asks.search(line)
    ]
    assert found == []
