"""The event stream reads and sends a party's notifications a page at a time: a stream opened
without a cursor on a long history read it whole, in one read, one batch and one write
(438,001 steps and 1.8 MB for 2,000 notifications), and twenty such streams held that many
times over (security.md §4.2). Each page is sent once, in order, whatever the page size; a read
the database asks to run again (``Retryable``) sends nothing twice and loses nothing; a client
resuming after any event gets exactly what came after it."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from tests.api.harness import circle, detected, make_db, notice_body, token

import deconflict.api.stream as stream_module
from deconflict.api import ApiSettings, create_app
from deconflict.store.notifications import SqlNotifications
from deconflict.store.retry import Retryable

pytestmark = pytest.mark.anyio

_PAGE = 3


class _Writes:
    """The app, keeping each body the event stream writes (a write per page, or per wake-up:
    the in-process client joins them)."""

    def __init__(self, app: Any) -> None:
        self.app, self.bodies = app, []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async def kept(message: dict) -> None:
            body = message.get("body") if message["type"] == "http.response.body" else None
            if body and scope.get("path") == "/v1/events":
                self.bodies.append(body)
            await send(message)

        await self.app(scope, receive, kept)


@asynccontextmanager
async def _client(db) -> AsyncIterator[tuple[httpx.AsyncClient, _Writes]]:
    app = create_app(ApiSettings(db=db))
    writes = _Writes(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=writes)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield http, writes


async def _chunks(
    http: httpx.AsyncClient, writes: _Writes, headers: dict[str, str], last: str | None = None
) -> list[list[tuple[str, dict]]]:
    """The events of a ``once`` stream, as the writes they were sent in: (id, data) each."""
    if last is not None:
        headers = {**headers, "Last-Event-ID": last}
    writes.bodies.clear()
    answer = await http.get("/v1/events", params={"once": "true"}, headers=headers)
    assert answer.status_code == 200
    chunks = []
    for body in writes.bodies:
        lines = body.decode().splitlines()
        ids = [x[4:] for x in lines if x.startswith("id: ")]
        data = [json.loads(x[6:]) for x in lines if x.startswith("data: ")]
        if ids:
            chunks.append(list(zip(ids, data, strict=True)))
    return chunks


async def _history(tmp_path, monkeypatch) -> tuple:
    monkeypatch.setattr(stream_module, "_PAGE", _PAGE)
    db = make_db(tmp_path)
    us, ru = token(db, "US"), token(db, "RU")
    return db, us, ru


async def _file_many(http: httpx.AsyncClient, us: dict, ru: dict, count: int = 8) -> list[str]:
    """US's notice met by ``count`` of RU's: a notification to US for each; their ids, listed."""
    assert (
        await http.post("/v1/notices", json=notice_body(circle("u"), id="N0"), headers=us)
    ).status_code == 201
    for k in range(count):
        body = notice_body(circle(f"r{k}", lon=39.0 + 0.001 * k), id=f"R{k}")
        assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
    await detected(http, ru)
    listed = (await http.get("/v1/notifications", params={"limit": 500}, headers=us)).json()
    assert len(listed) > 2 * _PAGE
    return [n["id"] for n in listed]


async def test_a_long_history_is_sent_a_page_at_a_time_each_once_in_order(tmp_path, monkeypatch):
    db, us, ru = await _history(tmp_path, monkeypatch)
    async with _client(db) as (http, writes):
        listed = await _file_many(http, us, ru)
        chunks = await _chunks(http, writes, us)
        assert all(len(chunk) <= _PAGE for chunk in chunks), [len(c) for c in chunks]
        sent = [data["id"] for chunk in chunks for _, data in chunk]
        assert sent == listed
        ids = [event for chunk in chunks for event, _ in chunk]
        for at, event in enumerate(ids):  # all delivered now: a resume sends what came after
            resumed = [
                data["id"] for chunk in await _chunks(http, writes, us, event) for _, data in chunk
            ]
            assert resumed == listed[at + 1 :], at


async def test_a_read_run_again_sends_nothing_twice_and_loses_nothing(tmp_path, monkeypatch):
    """The database aborts the second page's read once (as PostgreSQL does a transaction that
    raced another): the store runs it again; the stream had changed nothing meanwhile."""
    db, us, ru = await _history(tmp_path, monkeypatch)
    reads, lock = [], threading.Lock()
    real = SqlNotifications.notifications_after

    def raced_once(self, party, after, limit):
        with lock:
            reads.append(after)
            if len(reads) == 2:
                raise Retryable("serialization failure (simulated)")
        return real(self, party, after, limit)

    async with _client(db) as (http, writes):
        listed = await _file_many(http, us, ru)
        monkeypatch.setattr(SqlNotifications, "notifications_after", raced_once)
        chunks = await _chunks(http, writes, us)
        assert reads[1] == reads[2]  # the same page asked again
        assert [data["id"] for chunk in chunks for _, data in chunk] == listed


async def test_a_cursor_made_up_far_ahead_is_sent_the_undelivered_a_page_at_a_time(
    tmp_path, monkeypatch
):
    """An event id made up far ahead left the stream caught up at once, and its reading of
    the party's undelivered notifications then read, showed and wrote all of them at once: a
    webhook-only party's whole history (a twenty-sixth reader, security.md §4.2). They come a
    page at a time now, each once."""
    db, us, ru = await _history(tmp_path, monkeypatch)
    async with _client(db) as (http, writes):
        assert (
            await http.post("/v1/notices", json=notice_body(circle("u"), id="N0"), headers=us)
        ).status_code == 201
        for k in range(8):  # nothing listed or streamed: all of it undelivered
            body = notice_body(circle(f"r{k}", lon=39.0 + 0.001 * k), id=f"R{k}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        await detected(http, ru)
        far = f"{2**63 - 1}.M-{'0' * 24}"
        chunks = await _chunks(http, writes, us, far)
        sent = [data["id"] for chunk in chunks for _, data in chunk]
        assert all(len(chunk) <= _PAGE for chunk in chunks), [len(c) for c in chunks]
        assert len(sent) == len(set(sent)) > 2 * _PAGE  # every one, each once
        listed = (await http.get("/v1/notifications", params={"limit": 500}, headers=us)).json()
        assert sorted(sent) == sorted(n["id"] for n in listed)
