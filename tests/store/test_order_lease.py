"""Change-log order under concurrent writers, the detector lease and its fencing, retries."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from deconflict.errors import StoreError, StoreUnavailable
from deconflict.model import Party
from deconflict.store import Detection, LeaseLost, RetryPolicy, open_store, order
from deconflict.store.retry import Retryable, is_retryable
from deconflict.store.sql import SqlStore
from deconflict.store.tx import Tx


def _pg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextlib.contextmanager
def _lock_waits_told(*engines: sa.Engine) -> Iterator[threading.Event]:
    """An event set when a connection of ``engines`` waits on a lock, as PostgreSQL itself tells
    it: a session that waits longer than its ``deadlock_timeout`` (1 ms here) is logged with
    ``log_lock_waits``, and with ``client_min_messages = log`` the line reaches the waiting
    client as a notice while its statement still waits (the interleaving point, by the
    server's word, not looked for again and again)."""
    waiting = threading.Event()

    def told(diagnostic: psycopg.errors.Diagnostic) -> None:
        if "still waiting for" in (diagnostic.message_primary or ""):
            waiting.set()

    def on_connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.add_notice_handler(told)
        for setting in ("deadlock_timeout = '1ms'", "log_lock_waits = on"):
            dbapi_connection.execute(f"SET {setting}")
        dbapi_connection.execute("SET client_min_messages = log")
        dbapi_connection.commit()

    for engine in engines:
        engine.dispose()  # every connection from here on is a new one, told
        sa.event.listen(engine, "connect", on_connect)
    try:
        yield waiting
    finally:
        for engine in engines:
            sa.event.remove(engine, "connect", on_connect)


@pytest.mark.postgres
def test_a_bare_sequence_commits_out_of_order(pg_url):
    """The hazard is real: without the log mutex a reader sees seq 2 while seq 1 is in flight."""
    open_store(pg_url).close()
    engine = sa.create_engine(_pg(pg_url), isolation_level="SERIALIZABLE")
    row = "INSERT INTO changes (entity, kind, entity_id, at_s) VALUES ('x', 'x.y', :i, 0)"
    with engine.connect() as first, engine.connect() as second:
        first.begin()
        early = first.execute(sa.text(row + " RETURNING seq"), {"i": "a"}).scalar()
        with second.begin():
            late = second.execute(sa.text(row + " RETURNING seq"), {"i": "b"}).scalar()
        with engine.connect() as reader:
            seen = reader.execute(sa.text("SELECT seq FROM changes")).scalars().all()
        first.commit()
    assert early < late
    assert seen == [late]  # a cursor moved to `late` would never come back for `early`
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("queued", [True, False], ids=["table-lock", "mutex-row-only"])
def test_log_mutex_makes_seq_order_commit_order(pg_url, queued):
    """A writer that drew its log position first commits first; a second writer waits for it,
    so the detector never sees a later row while an earlier one is in flight. Both with the
    PostgreSQL write queue and with the portable mutex row alone (as on CockroachDB)."""
    store = open_store(pg_url)
    store.add_party(Party("usaf", "US"), 1.0)
    cursor = store.changes_after(0)[-1].seq
    engine = sa.create_engine(_pg(pg_url), isolation_level="SERIALIZABLE")

    def raw_writer() -> None:  # the store's writes without the table lock, retried as they are
        for _ in range(5):
            try:
                with engine.begin() as c:
                    SqlStore._log(Tx(c, store._dialect), "party.added", "faf", 3.0)
                return
            except sa.exc.OperationalError as error:
                if not is_retryable(error):
                    raise

    store_engine: sa.Engine = store._engine  # type: ignore[attr-defined]
    with _lock_waits_told(engine, store_engine) as waiting, engine.connect() as first:
        first.begin()
        if queued:
            first.execute(sa.text(order.QUEUE_SQL))
        SqlStore._log(Tx(first, store._dialect), "party.added", "early", 2.0)  # holds the mutex
        if queued:
            second = threading.Thread(target=store.add_party, args=(Party("faf", "FR"), 3.0))
        else:
            second = threading.Thread(target=raw_writer)
        second.start()
        assert waiting.wait(10.0), "the second writer did not queue behind the first"
        assert store.changes_after(cursor) == []  # neither is visible yet
        first.commit()
    second.join(10)
    rows = store.changes_after(cursor)
    assert [c.entity_id for c in rows] == ["early", "faf"]
    assert rows[0].seq < rows[1].seq
    engine.dispose()
    store.close()


def test_lease_is_exclusive_expires_and_fences(store_target):
    """One holder at a time; after expiry another takes it under a newer token, and the old
    holder's renewal and fenced commits are refused without writing anything. A commit at or
    before the stored cursor is refused too (both checks ride the write turn's round trip)."""
    store = open_store(store_target)
    first = store.acquire_lease(100.0, 5.0)
    assert first is not None
    assert store.acquire_lease(101.0, 5.0) is None  # another process, before expiry
    assert store.acquire_lease(104.0, 5.0, held=first) == first  # renewal
    assert store.acquire_lease(108.0, 5.0) is None  # renewed until 109
    second = store.acquire_lease(109.5, 5.0)
    assert second is not None
    assert second > first
    assert store.acquire_lease(110.0, 5.0, held=first) is None
    with pytest.raises(LeaseLost):
        store.commit_detection(Detection(1, 110.0), fence=first)
    assert store.detector_cursor() == 0
    store.commit_detection(Detection(1, 110.0), fence=second)
    assert store.detector_cursor() == 1
    with pytest.raises(StoreError, match="already processed"):  # the cursor is past it
        store.commit_detection(Detection(1, 110.5), fence=second)
    store.commit_detection(Detection(3, 110.7), fence=second)
    assert store.detector_cursor() == 3
    store.release_lease(second)
    third = store.acquire_lease(111.0, 5.0)  # released: no wait for expiry
    assert third is not None
    assert third > second
    store.close()


def test_retry_policy_reruns_then_gives_up():
    """A retryable failure is run again with bounded, growing pauses, then reported."""
    pauses: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.02, sleep=pauses.append)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Retryable("raced")
        return "done"

    assert policy.run(flaky) == "done"
    assert len(pauses) == 2
    assert all(0 <= p <= 0.02 for p in pauses)

    def hopeless() -> str:
        raise Retryable("raced")

    with pytest.raises(StoreUnavailable, match="locked") as caught:  # 503, Retry-After
        policy.run(hopeless)
    assert not isinstance(caught.value, Retryable)
    assert isinstance(caught.value.__cause__, Retryable)  # the driver's words, for the log


@pytest.mark.postgres
def test_real_serialization_failure_is_retryable(pg_url):
    """PostgreSQL's SQLSTATE 40001 from two racing SERIALIZABLE writers is classed retryable."""
    store = open_store(pg_url)
    engine = sa.create_engine(_pg(pg_url), isolation_level="SERIALIZABLE")
    bump = sa.text("UPDATE cursors SET seq = seq + 1 WHERE name = 'detector.lease'")
    with engine.connect() as c:
        c.begin()
        c.execute(sa.text("SELECT 1 FROM cursors"))  # the snapshot is taken here
        assert store.acquire_lease(0.0, 1.0) is not None  # commits a newer token row
        with pytest.raises(sa.exc.OperationalError) as caught:
            c.execute(bump)
        c.rollback()
    assert caught.value.orig.sqlstate == "40001"
    assert is_retryable(caught.value)
    engine.dispose()
    store.close()


def test_open_store_picks_the_database_by_target(tmp_path):
    """A path or sqlite URL opens SQLite; an unknown scheme or dead server is StoreError."""
    for target in (tmp_path / "a.db", f"sqlite:///{tmp_path / 'b.db'}"):
        store = open_store(target)
        assert store.dialect == "sqlite"
        store.close()
    with pytest.raises(StoreError):
        open_store("mysql://localhost/x")
    with pytest.raises(StoreError):
        open_store("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")


@pytest.mark.postgres
def test_postgres_store_reopens_with_its_data(pg_url):
    """Opening the same PostgreSQL schema again finds the data; migrating again is a no-op."""
    first = open_store(pg_url)
    assert first.dialect == "postgresql"
    first.add_party(Party("usaf", "US Air Force"), 1.0)
    first.close()
    again = open_store(pg_url)
    assert again.list_parties() == [Party("usaf", "US Air Force")]
    again.close()


def test_change_signal_wakes_on_a_commit_elsewhere(store_target):
    """A commit by another store that grows the change log wakes a waiter at once (on
    PostgreSQL by NOTIFY, on SQLite by the watch on the file); on SQLite, with nothing
    committed, the wait lasts its timeout (a PostgreSQL channel is the whole server's: the
    other tests' schemas send on it too). Either way it is only a wake-up."""
    listening = open_store(store_target)
    writer = open_store(store_target)
    signal = listening.change_signal()
    try:
        if listening.dialect == "sqlite":
            started = time.monotonic()
            assert not signal.wait(0.2)
            assert time.monotonic() - started >= 0.19
        timer = threading.Timer(0.2, writer.add_party, args=(Party("usaf", "US"), 1.0))
        timer.start()
        started = time.monotonic()
        assert signal.wait(10.0)
        assert time.monotonic() - started < 5.0
        timer.join()
    finally:
        signal.close()
        listening.close()
        writer.close()


def test_the_detector_s_commit_is_announced_to_other_processes(store_target):
    """Subscribed to ``NOTIFICATIONS``, a waiter wakes when the detector lease holder has
    committed detections, and learns the holder's token; a commit that only grows the change
    log (a filing) wakes a ``CHANNEL`` subscriber and not this one."""
    from deconflict.store.wakeup import CHANNEL, NOTIFICATIONS

    listening = open_store(store_target)
    writer = open_store(store_target)
    signal = listening.change_signal(CHANNEL, NOTIFICATIONS)
    try:
        writer.add_party(Party("usaf", "US"), 1.0)
        wakeup = signal.next(10.0)
        assert wakeup.changed
        assert not wakeup.announced
        token = writer.acquire_lease(time.time(), 5.0, None)
        assert token is not None
        writer.commit_detections([Detection(writer.detector_cursor() + 1, 2.0)], token)
        writer.announce_notifications(str(token))
        deadline = time.monotonic() + 10.0
        announced: list[str] = []  # on PostgreSQL other tests' hubs may announce on it too
        while str(token) not in announced and time.monotonic() < deadline:
            announced += signal.next(1.0).announced
        assert str(token) in announced
    finally:
        signal.close()
        listening.close()
        writer.close()


@pytest.mark.postgres
def test_a_stuck_transaction_is_ended_by_the_server(pg_url):
    """Every PostgreSQL session the store opens ends a transaction left idle too long, so a
    paused process cannot hold the write queue for ever."""
    store = open_store(pg_url)
    with store._engine.connect() as c:
        timeout = c.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar()
    assert timeout == "30s"
    store.close()


@pytest.mark.postgres
def test_the_write_turn_is_one_round_trip_that_finds_the_mutex_row(pg_url):
    """A write transaction's start queues, takes the log mutex and reads what it is given in
    one pipeline, in that order (the rows returned are the given statements'); with the
    mutex row gone it fails, naming it, rather than write out of order."""
    store = open_store(pg_url)
    store.add_party(Party("usaf", "US"), 1.0)
    with store._engine.begin() as c:
        (rows,) = store._dialect.take_write_turn(
            Tx(c, store._dialect), ["SELECT max(seq) FROM changes"]
        )
        assert [tuple(row) for row in rows] == [(store.last_change(),)]
        locks = c.execute(
            sa.text(
                "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() "
                "AND relation = 'changes'::regclass"
            )
        ).scalars()
        assert "ShareRowExclusiveLock" in set(locks)
        c.execute(sa.text("DELETE FROM cursors WHERE name = :n"), {"n": order.LOG_MUTEX})
    with pytest.raises(StoreError, match="mutex row is missing"):
        store.add_party(Party("faf", "FR"), 2.0)
    store.close()


def test_a_unit_reads_the_agreements_with_its_write_turn(tmp_path, store_target):
    """On PostgreSQL a unit of work has the agreements from its write turn's round trip (no
    statement of its own); on SQLite it reads them once. Either way one added inside the
    unit is seen after."""
    from dataclasses import replace

    from tests.hub.scenario import make_hub

    hub, _ = make_hub(tmp_path, target=store_target)
    store = hub.store
    (mou,) = store.list_agreements()
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "FROM agreements" in statement:
            reads.append(statement)

    sa.event.listen(store._engine, "before_cursor_execute", seen)
    with store.unit_of_work():
        assert store.list_agreements() == [mou]
        assert store.list_agreements() == [mou]
        assert len(reads) == (0 if store.dialect == "postgresql" else 1)
        store.add_agreement(replace(mou, id="mou2"), 2.0)
        assert sorted(a.id for a in store.list_agreements()) == ["mou", "mou2"]
    sa.event.remove(store._engine, "before_cursor_execute", seen)
    hub.close()
