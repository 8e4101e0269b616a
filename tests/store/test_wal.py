"""SQLite's WAL kept bounded (store/transactions.py): truncated by the detector's tick every so
often, and after a full disk, once a second until it is done, not at every write.

Real SQLite files; a reader on an old snapshot is a second connection with a read transaction
open, which keeps any checkpoint from truncating the WAL; the checkpoints' clock is the store's
injected monotonic clock, moved by hand. The full disk is a small tmpfs filled for real
(tests/disk.py), as in test_faults_disk.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.calls import counted
from tests.disk import fill, small_filesystem
from tests.hub.scenario import T0, vol

from deconflict.errors import WritesRefused
from deconflict.hub import DetectorWorker, Hub, SimulatedClock
from deconflict.model import Party
from deconflict.settings import ledger_key_path
from deconflict.store import Store
from deconflict.store.engines import open_sqlite


class Clock:
    """A hand-driven monotonic clock for the store's checkpoints."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wal(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _fill_until_refused(store: Store) -> bool:
    """Add parties until the full disk refuses one (the WAL's slack first); whether it did."""
    for n in range(2000):
        try:
            store.add_party(Party(f"P{n}", "a party"), 1.0)
        except WritesRefused as error:
            return error.full
    return False


@pytest.fixture
def reader() -> Iterator[Callable[[Path], sqlite3.Connection]]:
    """Opens a reader on an old snapshot of a database (closed when the test ends)."""
    opened: list[sqlite3.Connection] = []

    def open_on(db: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(db, isolation_level=None)
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM cursors").fetchall()
        opened.append(connection)
        return connection

    yield open_on
    for connection in opened:
        connection.close()


def test_the_detector_tick_truncates_the_wal_every_ten_seconds(tmp_path, reader):
    """The lease holder's tick leaves the WAL empty, at most every ten seconds (not at every
    tick, once a second); a reader on an old snapshot that outlasts the try's short wait makes
    it fail, and the next try after the reader is gone succeeds."""
    clock = Clock()
    db = tmp_path / "hub.db"
    hub = Hub(open_sqlite(db, monotonic=clock), SimulatedClock(T0), ledger_key_path(str(db)))
    hub.add_party("usaf", "US Air Force")
    worker = DetectorWorker(hub)
    assert _wal(db) > 0
    assert worker.step(tick=True) is not None
    assert _wal(db) == 0
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    clock.now += 1.0
    assert worker.step(tick=True) is not None
    assert _wal(db) > 0  # not yet: a tick a second, a checkpoint every ten
    old = reader(db)
    clock.now += 10.0
    assert worker.step(tick=True) is not None
    assert _wal(db) > 0  # the reader is still on the WAL
    old.rollback()
    clock.now += 10.0
    assert worker.step(tick=True) is not None
    assert _wal(db) == 0
    worker.release()
    hub.close()


def test_after_a_full_disk_the_wal_is_truncated_once_a_second_not_at_every_write(tmp_path, reader):
    """security.md §4.4: after a write refused for a full disk, the first write that succeeds
    (space was freed) tries to give the WAL's space back; while a reader on an old snapshot
    keeps it from being truncated, the writes after it try again once a second, not each (each
    try held writes off while it waited); once the reader is gone the WAL is truncated to
    nothing, and no write tries again."""
    clock = Clock()
    with small_filesystem(tmp_path / "disk", size_mb=2) as disk:
        db = disk / "hub.db"
        store = open_sqlite(db, monotonic=clock)
        tries = counted(store._dialect, "truncate_wal")
        old = reader(db)
        filler = disk / "filler"
        fill(filler)
        assert _fill_until_refused(store)
        assert tries == []  # not on a full disk, where it fails as the write did
        filler.unlink()
        for n in range(20):
            store.add_party(Party(f"Q{n}", "a party"), 1.0)
        assert len(tries) == 1  # the first that succeeded, and none more within the second
        assert _wal(db) > 0  # the reader is still on the WAL
        clock.now += 1.0
        store.add_party(Party("R1", "a party"), 1.0)
        assert len(tries) == 2
        assert _wal(db) > 0
        old.rollback()
        clock.now += 1.0
        store.add_party(Party("R2", "a party"), 1.0)
        assert len(tries) == 3
        assert _wal(db) == 0
        clock.now += 1.0
        store.add_party(Party("R3", "a party"), 1.0)
        assert len(tries) == 3  # done: no write tries again
        store.close()
