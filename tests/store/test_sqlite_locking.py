"""SQLite shared by processes (a serve and a CLI, say): reads take no lock, writes wait for the
write lock a bounded time, trying often, and then fail with a clear error."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

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


# The writers' queue (store/writers.py) -------------------------------------------------------


def _begins(store) -> list[str]:
    """Record the ``BEGIN IMMEDIATE`` statements ``store``'s connections run from now on."""
    seen: list[str] = []
    engine = store._engine

    def trace(statement: str) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            seen.append(statement)

    sa.event.listen(engine, "connect", lambda dbapi, _: dbapi.set_trace_callback(trace))
    engine.dispose()  # new connections, traced
    return seen


def _hold_a_write(store) -> tuple[threading.Thread, threading.Event]:
    """A thread in a write transaction of ``store`` (party A added), until the event is set."""
    inside, finish = threading.Event(), threading.Event()

    def hold() -> None:
        with store.unit_of_work("holding the write lock"):
            store.add_party(Party("A", "A"), 0.0)
            inside.set()
            finish.wait(5.0)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5.0)
    return holder, finish


def test_a_queued_writer_waits_in_the_kernel_and_tries_the_lock_once(tmp_path):
    """Two stores on one file (two processes, as far as the lock is concerned): while one is in
    a write transaction, the other's write waits for its turn, not by trying the lock over and
    over, and runs as soon as the first commits."""
    db = tmp_path / "hub.db"
    first, second = open_sqlite(db), open_sqlite(db)
    try:
        begins = _begins(second)
        holder, finish = _hold_a_write(first)
        threading.Timer(0.3, finish.set).start()
        start = time.monotonic()
        second.add_party(Party("B", "B"), 0.0)
        waited = time.monotonic() - start
        holder.join(5.0)
        assert 0.25 <= waited < 2.0
        assert len(begins) == 1  # polling every 0.5 ms would have tried some 600 times
        assert [p.id for p in second.list_parties()] == ["A", "B"]
        assert (tmp_path / "hub.db-writers").exists()
    finally:
        first.close()
        second.close()


def test_a_writer_waits_for_its_turn_no_longer_than_for_the_lock(tmp_path, monkeypatch):
    """A turn held past the wait (a paused process) fails the write as a held lock does, and
    once it is given back the turn the waiter abandoned does not block the next writer."""
    monkeypatch.setattr(engines, "_LOCK_WAIT_S", 0.3)
    db = tmp_path / "hub.db"
    first, second = open_sqlite(db), open_sqlite(db)
    try:
        holder, finish = _hold_a_write(first)
        start = time.monotonic()
        with pytest.raises(StoreError, match="locked"):
            second.add_party(Party("B", "B"), 0.0)
        assert time.monotonic() - start < 2.0
        finish.set()
        holder.join(5.0)
        start = time.monotonic()
        second.add_party(Party("C", "C"), 0.0)
        first.add_party(Party("D", "D"), 0.0)
        assert time.monotonic() - start < 1.0
        assert [p.id for p in first.list_parties()] == ["A", "C", "D"]
    finally:
        first.close()
        second.close()


_HOLD_AND_DIE = """
import os, sys
from deconflict.model import Party
from deconflict.store import open_sqlite
store = open_sqlite(sys.argv[1])
with store.unit_of_work("dying mid-write"):
    store.add_party(Party("X", "X"), 0.0)
    print("inside", flush=True)
    sys.stdin.readline()
    os._exit(9)  # no commit, no rollback, no close: as kill -9
"""


def test_a_writer_that_dies_mid_write_frees_the_turn(tmp_path):
    """The kernel gives a dead process's turn back: the next writer goes on, and what the dead
    one had not committed is not there."""
    db = tmp_path / "hub.db"
    store = open_sqlite(db)
    try:
        with subprocess.Popen(
            [sys.executable, "-c", _HOLD_AND_DIE, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None
            assert child.stdin is not None
            assert child.stdout.readline().strip() == "inside"
            release = child.stdin
            threading.Timer(0.3, lambda: (release.write("\n"), release.flush())).start()
            start = time.monotonic()
            store.add_party(Party("B", "B"), 0.0)
            assert 0.25 <= time.monotonic() - start < 3.0
            assert child.wait(5.0) == 9
        assert [p.id for p in store.list_parties()] == ["B"]
    finally:
        store.close()
