"""The queries the hub runs at every event-stream wake-up and every tick read by index (SQLite's
query plan names an index, never a scan of the table): their cost follows what is asked for,
not how much history the hub holds."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from deconflict.errors import NotFound
from deconflict.store import Seen, SqlStore, bulk, notifications, open_sqlite


def _plans(store: SqlStore, call: Callable[[], Any], kind: str = "SELECT") -> list[str]:
    """SQLite's query plan of every statement ``call`` makes the store run that starts with
    ``kind`` (every SELECT by default)."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(kind):
            seen.append((statement, parameters))

    engine = store._engine  # type: ignore[attr-defined]
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    raw = sqlite3.connect(engine.url.database)
    try:
        return [
            " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in seen
        ]
    finally:
        raw.close()


@pytest.fixture
def store(tmp_path):
    opened = open_sqlite(tmp_path / "hub.db")
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("name", "call", "bounds"),
    [
        (
            "undelivered",
            lambda s: s.list_notifications("A", include_relayed=False, undelivered=True),
            # the index of the undelivered alone (migration 0032): the party bounds it
            ["INDEX ix_notifications_recipient_delivered (recipient=?)"],
        ),
        (
            "since a cursor",
            lambda s: s.list_notifications("A", since_s=1.0),
            ["recipient=? AND created_at_s>?", "via=? AND created_at_s>?"],
        ),
        (
            "past their deadline",
            lambda s: s.list_notifications(ack_due_by_s=1.0),
            ["state=? AND ack_deadline_s<?"],
        ),
        (
            "moved by time",
            lambda s: s.notices_moved_by_time(1.0),
            ["state=? AND start_s<?", "state=? AND end_s<?"],
        ),
    ],
)
def test_a_wake_up_or_a_tick_reads_by_index(store, name, call, bounds):
    """Each query is an index search bounded by what it asks (the party and the time, or the
    state and the time), never a scan and never all of a party's rows."""
    plans = [
        p for p in _plans(store, lambda: call(store)) if "notifications" in p or "notices" in p
    ]
    _by_index(name, plans, ("notifications", "notices"), bounds)


@pytest.mark.parametrize(
    ("name", "query", "params", "bounds"),
    [
        (
            "the undelivered, a page",
            notifications._UNDELIVERED,
            {"party": "A", "t": 1.0, "id": "M-0", "limit": 10},
            ["INDEX ix_notifications_recipient_delivered (recipient=? AND created_at_s>?)"],
        ),
        (
            "a stream's page",
            notifications._AFTER,
            {"party": "A", "t": 1.0, "id": "M-0", "limit": 10},
            ["recipient=? AND created_at_s>?", "via=? AND created_at_s>?"],
        ),
    ],
)
def test_a_stream_s_reads_on_the_driver_read_by_index(store, name, query, params, bounds):
    """The event stream's reads at every wake-up, run on the driver (``bulk.driver_rows``):
    a page is a seek in the party's range (to it, through it), and one of the undelivered a
    seek in the index that holds only those."""
    engine = store._engine  # type: ignore[attr-defined]
    sql, order, made = bulk._select_sql(engine.dialect, query)
    values = {**made, **params}
    args = tuple(values[key] for key in order) if order is not None else values
    raw = sqlite3.connect(engine.url.database)
    try:
        plan = " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", args))
    finally:
        raw.close()
    _by_index(name, [plan], ("notifications",), bounds)


def _by_index(name: str, plans: list[str], tables: tuple[str, ...], bounds: list[str]) -> None:
    """Some plans were seen, none scans any of ``tables``, and together they name ``bounds``."""
    assert plans, f"{name}: no query seen"
    for plan in plans:
        for table in tables:
            assert f"SCAN {table}" not in plan, (name, plan)
    joined = " / ".join(plans)
    for bound in bounds:
        assert bound in joined, (name, joined)


@pytest.mark.parametrize(
    ("name", "call", "bound"),
    [
        (
            "a notice's entries",
            lambda s: s.ledger_find("notice:N1"),
            ["USING INDEX ix_ledger_entries_subject (subject=? AND idx>?)", "(notice_id=?)"],
        ),
        (
            "a notification's entries",
            lambda s: s.ledger_find("notification:M1"),
            ["USING INDEX ix_ledger_entries_subject (subject=? AND idx>?)"],
        ),
        (
            "a notice version's opening",
            lambda s: s.ledger_opening("notice:N1", 1),
            ["(notice_id=?"],
        ),
        (
            "a conflict's opening",
            lambda s: s.ledger_opening("conflict:K1", 0),
            ["USING INDEX ix_ledger_entries_subject (subject=?)"],
        ),
    ],
)
def test_a_record_s_ledger_entries_are_found_by_index(store, name, call, bound):
    """The subject index holds every entry but those committing to a notice version (migration
    0009); those are found through the version's link, by primary keys: never a scan."""

    def asking() -> None:
        with contextlib.suppress(NotFound):  # an empty store: the plan is what is looked at
            call(store)

    plans = [p for p in _plans(store, asking) if "ledger_entries" in p]
    _by_index(name, plans, ("ledger_entries", "notice_versions"), bound)


def test_the_commitments_a_notification_refers_to_are_read_by_index(store):
    """The lookups an entry makes of the commitments it refers to: a notice's by its versions'
    links, any other subject's by the partial subject index; an older version than the newest
    by the same, and none for a subject with no commitment at all."""
    from deconflict.store.ledger_entries import Commitments

    def lookups() -> None:
        with store._engine.begin() as c:  # type: ignore[attr-defined]
            known = Commitments()
            known.fetch(c, ["notice:N1", "conflict:K1"])  # none stored: nothing more to read
            assert known.at(c, "conflict:K1", 0) is None
            known.made("notice:N2", 4, "c4")  # newer than the versions asked below
            known.made("agreement:MOU", 2, "c2")
            known.at(c, "notice:N2", 3)
            known.at(c, "agreement:MOU", 1)

    plans = _plans(store, lookups)
    assert len(plans) == 4, plans
    for plan in plans:
        assert "SCAN ledger_entries" not in plan, plan
        assert "SCAN notice_versions" not in plan, plan
    joined = " / ".join(plans)
    assert joined.count("ix_ledger_entries_subject (subject=?)") == 2, joined
    assert joined.count("notice_versions USING") == 2, joined


def test_a_page_of_notices_is_read_in_filing_order_by_index(store):
    """A page of an owner's notices (after a notice, at most a few) reads the owner's range of
    the index on (party, filing order): no scan and no sort of its notices; a page of several
    owners' reads each one's range so, at most a page of each, and sorts only those."""
    one = [
        p
        for p in _plans(store, lambda: store.list_notices("A", after=(10.0, "N1"), limit=5))
        if "notices" in p
    ]
    _by_index("a page of an owner's notices", one, ("notices",), ["ix_notices_party_filed"])
    assert "TEMP B-TREE" not in " / ".join(one)
    seen = Seen(frozenset({"A", "B"}), {})
    several = [
        p
        for p in _plans(store, lambda: store.list_notices(seen=seen, after=(10.0, "N1"), limit=5))
        if "notices" in p
    ]
    joined = " / ".join(several)
    assert joined.count("SEARCH notices USING INDEX ix_notices_party_filed") == 2, joined
    assert "SCAN notices" not in joined, joined


def test_an_amendment_closes_the_newest_volumes_by_their_own_index(store):
    """An amendment marks the rows of the volumes it changed or dropped (``notice_volumes``,
    migration 0034) by the index of the rows the newest version holds: by the key alone it
    stepped over every row the notice ever had, 3.4 s after 1,000 amendments of 1,000 volumes,
    in the write turn every party's writes wait for (a thirty-eighth reader)."""
    from deconflict.geo import Circle, Volume4D
    from deconflict.model import Notice, Party

    def volumes(lon: float) -> list[Volume4D]:
        return [
            Volume4D.build(f"v{i}", Circle((lon + i * 0.01, 35.0), 500.0), 0.0, 100.0, 10.0, 20.0)
            for i in range(3)
        ]

    store.add_party(Party("A", "A"), 0.5)
    notice = Notice("N1", "A", tuple(volumes(39.0)), "air-activity", filed_at_s=1.0)
    store.add_notice(notice)
    amended = notice.amend(volumes(40.0), 2.0)
    plans = _plans(
        store,
        lambda: store.update_notice(amended, expected_version=1, verb="amended"),
        "UPDATE NOTICE_VOLUMES",
    )
    assert len(plans) == 1
    plan = plans[0].split(" / ")
    assert plan[0] == "SEARCH notice_volumes USING INDEX ix_notice_volumes_open (notice_id=?)"


def test_a_page_of_plans_is_read_in_creation_order_by_index(store):
    """A page of a party's current plans after one of them (``GET /v1/plans``, migration 0035)
    reads the party's range of the index on (party, state, creation order): no scan and no sort
    of its plans, so a page costs what it holds, not how many plans the party ever added."""
    from deconflict.geo import Circle, Volume4D
    from deconflict.model import Party, Plan

    store.add_party(Party("A", "A"), 0.5)
    volume = Volume4D.build("v", Circle((39.0, 35.0), 500.0), 0.0, 100.0, 10.0, 20.0)
    store.add_plan(Plan("P1", "A", (volume,), created_at_s=1.0))
    plans = [
        p
        for p in _plans(store, lambda: store.list_plans("A", after="A/P1", limit=5))
        if "plans" in p
    ]
    _by_index("a page of a party's plans", plans, ("plans",), ["ix_plans_party_state"])
    joined = " / ".join(plans)
    assert "TEMP B-TREE" not in joined, joined
    assert "SCAN plans" not in joined, joined


def test_the_plans_of_a_window_are_read_from_its_start_on_by_index(store):
    """The map's plans (those of a window, migration 0036) read the party's range of the index
    on (party, end) from the window's start on: the plans ended before it are not stepped
    over (the map read every current plan of the party, a forty-third reader)."""
    plans = [
        p for p in _plans(store, lambda: store.list_plans("A", active=(10.0, 20.0))) if "plans" in p
    ]
    _by_index("the plans of a window", plans, ("plans",), ["ix_plans_party_end"])
    assert "(party_id=? AND end_s>?)" in " / ".join(plans), plans
