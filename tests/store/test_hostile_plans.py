"""A party's reads are planned through indexes led by what it may read, whatever statistics the
database holds (docs/security.md §3.5): an operator's ``ANALYZE`` on SQLite, PostgreSQL's own
(autovacuum collects them). With them, a page of a party's notices, ordered by filing time, was
read through an index on filing time alone: it walked every party's notices filed within the
page's span, and its cost counted the notices others filed then, hidden ones too, at whatever
interval the page's cursor chose (an eighteenth reader: 4.1 against 17.4 ms on PostgreSQL, 5
SQLite steps a hidden notice)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.hub.scenario import T0, vol
from tests.hub.test_hostile_need_to_know import MINIMA, _steps

from deconflict.hub import Hub, SimulatedClock
from deconflict.model import Agreement, Disclosure
from deconflict.store import schema as t

OWN, HIDDEN, PAGE = 2_000, 50_000, 100


def _hub(target: str, hidden_during: bool) -> Hub:
    """P (sees Z whole) with ``OWN`` notices filed over an hour, and Q (no agreement) with
    ``HIDDEN`` filed within P's first page's span, or after P's last: rows written straight
    to the store (a filing each would take minutes), then the statistics gathered."""
    hub = Hub.open(target, SimulatedClock(T0))
    for party in ("P", "Z", "Q"):
        hub.add_party(party)
    hub.add_agreement(
        Agreement("pz", ("P", "Z"), minima=MINIMA, default_disclosure=Disclosure.FULL)
    )
    hub.file_notice("P", [vol("p", lon=30.0)], "air", "PN")
    hub.file_notice("Q", [vol("q", lon=50.0)], "air", "QN")
    hub.process()
    engine: sa.Engine = hub.store._engine  # type: ignore[attr-defined]
    c = t.notices.c
    with engine.begin() as conn:
        own = dict(conn.execute(sa.select(t.notices).where(c.id == "P/PN")).mappings().one())
        theirs = dict(conn.execute(sa.select(t.notices).where(c.id == "Q/QN")).mappings().one())
        rows = [
            dict(own, id=f"P/B{k:05d}", filed_at_s=T0 + 10 + k * 3_600 / OWN) for k in range(OWN)
        ]
        start = T0 + 11 if hidden_during else T0 + 4_000
        rows += [
            dict(theirs, id=f"Q/H{k:06d}", filed_at_s=start + k * 140 / HIDDEN)
            for k in range(HIDDEN)
        ]
        conn.execute(sa.insert(t.notices), rows)
        conn.exec_driver_sql("ANALYZE")
    return hub


def _page_statement(hub: Hub) -> tuple[str, Any]:
    """The statement (and its parameters) P's first page of notices runs."""
    engine: sa.Engine = hub.store._engine  # type: ignore[attr-defined]
    seen: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM notices" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        hub.list_notices("P", limit=PAGE)
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return seen[-1]


def test_a_page_of_notices_costs_sqlite_the_same_whenever_others_filed(tmp_path: Path) -> None:
    """After ANALYZE, P's first page costs the same steps whether Q's hidden notices were filed
    within its span or after it (on main: 4,445 against 104,445)."""
    costs = []
    for during in (False, True):
        path = tmp_path / f"during-{during}"
        path.mkdir()
        hub = _hub(str(path / "hub.db"), during)
        try:
            first = hub.list_notices("P", limit=PAGE)
            with _steps(hub) as steps:
                assert hub.list_notices("P", limit=PAGE) == first
            statement, parameters = _page_statement(hub)
            with sqlite3.connect(path / "hub.db") as db:
                plan = [
                    row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                ]
            costs.append((steps[0], plan))
        finally:
            hub.close()
    assert costs[0] == costs[1]
    assert not any("ix_notices_filed" in step for step in costs[0][1])


@pytest.mark.postgres
def test_a_page_of_notices_is_planned_by_its_owners_on_postgresql(pg_url: str) -> None:
    """With the statistics PostgreSQL gathers, P's first page is read by P's own notices
    (an index led by the party), not by walking every party's in filing order."""
    hub = _hub(pg_url, hidden_during=True)
    try:
        statement, parameters = _page_statement(hub)
        engine: sa.Engine = hub.store._engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
    finally:
        hub.close()
    assert "ix_notices_filed" not in plan, plan
    assert "Seq Scan on notices" not in plan, plan


@pytest.mark.postgres
def test_every_statement_is_planned_for_its_own_parameters(pg_url: str) -> None:
    """A prepared statement's generic plan is never used: the store's sessions plan each
    execution with its parameters (the plans the test above checks)."""
    hub = Hub.open(pg_url, SimulatedClock(T0))
    try:
        engine: sa.Engine = hub.store._engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
    finally:
        hub.close()


@pytest.mark.postgres
def test_a_stream_s_pages_are_seeks_on_postgresql(pg_url: str) -> None:
    """An event stream's page (to the party and through it) and its page of the party's
    undelivered notifications are seeks in the indexes led by the party (migration 0032),
    with the statistics PostgreSQL gathers: not a walk of every party's notifications, nor of
    all the party's own for its few undelivered (the plan a twenty-seventh reader saw once)."""
    from deconflict.model import Notification, NotificationKind
    from deconflict.store import Detection, bulk, notifications

    hub = Hub.open(pg_url, SimulatedClock(T0))
    try:
        made = [
            Notification(f"M-{who}", who, NotificationKind.NOTICE, T0, T0 + 900.0, 60.0)
            for who in ("A", "B")
        ]
        hub.store.commit_detection(Detection(1, T0, [], [], made))
        engine: sa.Engine = hub.store._engine  # type: ignore[attr-defined]
        n = t.notifications.c
        with engine.begin() as conn:
            row = dict(
                conn.execute(sa.select(t.notifications).where(n.id == "M-A")).mappings().one()
            )
            rows = [  # A's history, nearly all delivered; others' many, undelivered
                dict(row, id=f"M-A{k:05d}", created_at_s=T0 + k, delivered_at_s=T0 + k + 1)
                for k in range(3_000)
            ]
            rows += [dict(row, id=f"M-U{k:03d}", created_at_s=T0 + 3_000 + k) for k in range(20)]
            rows += [
                dict(row, id=f"M-{who}{k:05d}", recipient=who, created_at_s=T0 + k, via="R")
                for who in ("B", "C")
                for k in range(10_000)
            ]
            conn.execute(sa.insert(t.notifications), rows)
            conn.exec_driver_sql("ANALYZE notifications")
        plans = {}
        values = {"party": "A", "t": T0 + 10.0, "id": "M-0", "limit": 256}
        with engine.connect() as conn:
            for name, query in (
                ("undelivered", notifications._UNDELIVERED),
                ("page", notifications._AFTER),
            ):
                sql, _, made_values = bulk._select_sql(engine.dialect, query)
                plans[name] = "\n".join(
                    r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, {**made_values, **values})
                )
    finally:
        hub.close()
    assert "ix_notifications_recipient_delivered" in plans["undelivered"], plans["undelivered"]
    for plan in plans.values():
        assert "Seq Scan on notifications" not in plan, plan
    assert "ix_notifications_recipient_created" in plans["page"], plans["page"]
    assert "ix_notifications_via_created" in plans["page"], plans["page"]
