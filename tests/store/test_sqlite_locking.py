"""SQLite shared by processes (a serve and a CLI, say): reads take no lock, writes wait for the
write lock a bounded time, trying often, and then fail with a clear error."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from deconflict.errors import StoreError
from deconflict.model import Party
from deconflict.store import engines, open_sqlite


@pytest.fixture
def shared(tmp_path):
    """A store on a file with party A, and another connection to the same file."""
    db = tmp_path / "hub.db"
    store = open_sqlite(db)
    store.add_party(Party("A", "A"), 0.0)
    other = sqlite3.connect(db, isolation_level=None, timeout=0, check_same_thread=False)
    yield store, other
    other.close()
    store.close()


def test_a_read_does_not_wait_for_another_connections_write_lock(shared):
    store, other = shared
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        start = time.monotonic()
        assert [p.id for p in store.list_parties()] == ["A"]
        assert time.monotonic() - start < 1.0
    finally:
        other.execute("ROLLBACK")


def test_a_write_waits_for_the_lock_and_goes_on_when_it_is_free(shared):
    store, other = shared
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO parties (id, name, created_at_s) VALUES ('B', 'B', 0.0)")
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    start = time.monotonic()
    store.add_party(Party("C", "C"), 0.0)
    waited = time.monotonic() - start
    assert 0.25 <= waited < 2.0  # it waited for the other write, no longer than needed
    assert [p.id for p in store.list_parties()] == ["A", "B", "C"]


def test_a_write_that_cannot_get_the_lock_fails_clearly(shared, monkeypatch):
    store, other = shared
    monkeypatch.setattr(engines, "_LOCK_WAIT_S", 0.2)
    other.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        with pytest.raises(StoreError, match="locked"):
            store.add_party(Party("B", "B"), 0.0)
        assert time.monotonic() - start < 2.0
    finally:
        other.execute("ROLLBACK")
    store.add_party(Party("B", "B"), 0.0)  # and the store works on
    assert [p.id for p in store.list_parties()] == ["A", "B"]
