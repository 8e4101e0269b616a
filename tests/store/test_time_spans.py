"""The notices time moves, found by index (migration 0007): what a tick reads is what is due,
on SQLite and PostgreSQL, and a database from before 0007 gains the spans of its notices."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import deconflict.store.migrations as migrations
from deconflict.geo import Circle, Volume4D
from deconflict.hub import Hub, SimulatedClock
from deconflict.model import NoticeState
from deconflict.store import open_store
from deconflict.store.engines import postgres_url

T0 = 1_447_000_000.0


def _volume(vid: str, start_s: float, end_s: float) -> Volume4D:
    return Volume4D.build(vid, Circle((39.0, 35.95), 2_000.0), 1_000.0, 3_000.0, start_s, end_s)


def _hub_with_notices(target: str, clock: SimulatedClock) -> Hub:
    """Notices: 'later' (starts in an hour), 'started' (from T0+60 for an hour), 'two' (volumes
    from T0+120 to T0+180 and from T0+900 to T0+1000), 'cancelled' (started, but cancelled)."""
    hub = Hub.open(target, clock)
    hub.add_party("US")
    hub.file_notice("US", [_volume("v", T0 + 3600, T0 + 7200)], "air-activity", "later")
    hub.file_notice("US", [_volume("v", T0 + 60, T0 + 3660)], "air-activity", "started")
    two = [_volume("a", T0 + 120, T0 + 180), _volume("b", T0 + 900, T0 + 1000)]
    hub.file_notice("US", two, "air-activity", "two")
    hub.file_notice("US", [_volume("v", T0 + 30, T0 + 90)], "air-activity", "cancelled")
    hub.cancel_notice("US", "cancelled")
    return hub


def test_the_store_finds_what_time_has_moved(store_target):
    clock = SimulatedClock(T0)
    hub = _hub_with_notices(store_target, clock)
    try:
        store = hub.store
        assert store.notices_moved_by_time(T0) == []
        assert store.notices_moved_by_time(T0 + 150) == ["US/started", "US/two"]  # both begun
        clock.advance(150)
        report = hub.tick()
        assert sorted(n.id for n in report.activated) == ["started", "two"]
        assert store.notices_moved_by_time(T0 + 500) == []  # active, not yet over
        # The span is the union of the volumes: "two" ends with its last volume, not its first.
        assert store.notices_moved_by_time(T0 + 1000) == ["US/two"]
        assert store.notices_moved_by_time(T0 + 8000) == ["US/later", "US/started", "US/two"]
        clock.advance(8000 - 150)
        report = hub.tick()
        assert sorted(n.id for n in report.ended) == ["later", "started", "two"]
        assert store.notices_moved_by_time(T0 + 10**6) == []
        assert hub.store.get_notice("US/cancelled").state is NoticeState.CANCELLED
    finally:
        hub.close()


def test_a_database_from_before_0007_gains_its_notices_spans(store_target):
    """Back to 0006 (the columns dropped), then opened again: the spans are filled from the
    stored volumes, and the tick finds what is due."""
    clock = SimulatedClock(T0)
    _hub_with_notices(store_target, clock).close()
    engine = (
        sa.create_engine(postgres_url(store_target))
        if store_target.startswith("postgresql")
        else sa.create_engine(f"sqlite:///{store_target}")
    )
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("notices")}
    assert "start_s" not in columns
    engine.dispose()
    store = open_store(store_target)
    try:
        assert store.notices_moved_by_time(T0 + 150) == ["US/started", "US/two"]
        assert store.notices_moved_by_time(T0 + 8000) == ["US/later", "US/started", "US/two"]
    finally:
        store.close()
