"""Several workers on one database share the service state: an Idempotency-Key sent to two
workers files once, also when the first worker committed and never answered; a webhook set on
any worker is delivered, once, by the worker holding the lease; and when that worker stops, the
next lease holder sends what was left, with the same Webhook-Ids."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from tests.api.harness import Site, circle, client_with, notice_body, token
from tests.api.webhook_harness import Watch, receiver

import deconflict.api.service
from deconflict.api import ApiSettings, create_app

pytestmark = pytest.mark.anyio


LOOPBACK = ("127.0.0.1/32",)  # the test's webhook receivers are on this host


def _order(event_id: str) -> tuple[int, str]:
    """An event id's place in its stream."""
    micros, _, notification = event_id.partition(".")
    return int(micros), notification


def _app(site: Site, observer: Any = None):  # type: ignore[no-untyped-def]
    settings = ApiSettings(
        db=site.db, state=site.state, webhook_poll_s=0.2, webhook_allow_networks=LOOPBACK
    )
    return create_app(settings, webhook_observer=observer)


@asynccontextmanager
async def workers(
    site: Site, count: int = 2, observer: Any = None
) -> AsyncIterator[list[tuple[object, httpx.AsyncClient]]]:
    """``count`` apps on one database, each with its own hub, lifespan running (each telling
    ``observer`` of its webhook attempts)."""
    async with AsyncExitStack() as stack:
        found = []
        for _ in range(count):
            app = _app(site, observer)
            found.append((app, await stack.enter_async_context(client_with(app))))
        yield found


async def test_one_key_sent_to_two_workers_files_once(site):
    """The same request with one key, to two workers at once and then again to each, files one
    notice; every answer is the first one; another body with the key is refused on either."""
    ru = {**token(site.state, "RU"), "Idempotency-Key": "k-two"}
    body = notice_body(circle("a"))
    async with workers(site) as [(_, a), (_, b)]:
        answers = await asyncio.gather(
            a.post("/v1/notices", json=body, headers=ru),
            b.post("/v1/notices", json=body, headers=ru),
        )
        answers += [await w.post("/v1/notices", json=body, headers=ru) for w in (a, b)]
        assert [r.status_code for r in answers] == [201] * 4
        assert len({r.json()["id"] for r in answers}) == 1
        replayed = [r.headers.get("idempotent-replayed") == "true" for r in answers]
        assert replayed.count(False) == 1
        assert len((await b.get("/v1/notices", headers=ru)).json()) == 1
        other = notice_body(circle("b"))
        for w in (a, b):
            assert (await w.post("/v1/notices", json=other, headers=ru)).status_code == 422


class _Lost(Exception):
    """The connection dropped after the commit, before the answer left."""


async def test_a_retry_after_a_crash_between_commit_and_answer_is_replayed(site, monkeypatch):
    """Worker A commits the filing and dies before answering; the retry on worker B, while A
    is still wedged, gets the stored answer and files nothing."""
    ru = {**token(site.state, "RU"), "Idempotency-Key": "k-crash"}
    body = notice_body(circle("a"), id="RU-CRASH")
    async with workers(site) as [(_, a), (_, b)]:
        with monkeypatch.context() as patch:

            def crash(*args: object, **kwargs: object) -> None:
                raise _Lost

            patch.setattr(deconflict.api.service, "JSONResponse", crash)
            with pytest.raises(_Lost):
                await a.post("/v1/notices", json=body, headers=ru)
        retry = await b.post("/v1/notices", json=body, headers=ru)
        assert retry.status_code == 201, retry.text
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json()["id"] == "RU-CRASH"
        assert [n["id"] for n in (await b.get("/v1/notices", headers=ru)).json()] == ["RU-CRASH"]


async def test_a_webhook_set_on_one_worker_is_sent_once_by_the_leader(site):
    """Two workers run; US sets its webhook on the one not holding the lease; RU's notices
    reach the receiver once each, sent by the lease holder (the other never tries), and both
    workers see the cursor."""
    us, ru = token(site.state, "US"), token(site.state, "RU")
    watch = Watch()
    with receiver(watch) as inside:
        async with workers(site, observer=watch.observe) as pair:
            leading = [app.state.service.runner.leading for app, _ in pair]  # type: ignore[attr-defined]
            assert sorted(leading) == [False, True]
            standby = next(http for (_, http), lead in zip(pair, leading, strict=True) if not lead)
            hook = await standby.put("/v1/webhook", json={"url": inside.url}, headers=us)
            assert hook.status_code == 200, hook.text
            for i, (_, http) in enumerate(pair):
                body = notice_body(circle(f"v{i}"), id=f"RU-N{i}")
                assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(lambda: len(inside.taken) == 2, "both notifications taken")
            last = max(inside.taken, key=_order)
            await watch.until(lambda: watch.cursor("US") == last, "the cursor at the last")
            told = (await standby.get("/v1/notifications", headers=us)).json()
            status = [(await h.get("/v1/webhook", headers=us)).json() for _, h in pair]
    taken = inside.taken
    assert sorted(t.split(".", 1)[1] for t in taken) == sorted(n["id"] for n in told)
    assert len(taken) == len(set(taken)) == 2
    assert [s["last_delivery_id"] for s in status] == [watch.cursor("US")] * 2
    assert len(watch.outcomes("US")) == 2  # one attempt each, all by the lease holder


async def test_when_the_sending_worker_stops_the_next_leader_sends_what_was_left(site):
    """Worker A holds the lease and sends US's webhook; the receiver is down, so A's delivery
    of RU's first notice fails and waits to be retried. A stops; worker B takes the lease over
    and sends both notifications, the first with the Webhook-Id A used: the receiver can
    deduplicate across the failover, and nothing is lost."""
    us, ru = token(site.state, "US"), token(site.state, "RU")
    down = threading.Event()
    down.set()
    watch = Watch()
    settings = ApiSettings(
        db=site.db,
        state=site.state,
        webhook_poll_s=0.2,
        webhook_backoff_s=0.2,
        webhook_allow_networks=LOOPBACK,
    )
    with receiver(watch, answer=lambda _n, _r: 503 if down.is_set() else 204) as inside:
        async with AsyncExitStack() as b_stack:
            a_stack = AsyncExitStack()
            a_app = create_app(settings, webhook_observer=watch.observe)
            a = await a_stack.enter_async_context(client_with(a_app))
            b_app = create_app(settings, webhook_observer=watch.observe)
            b = await b_stack.enter_async_context(client_with(b_app))
            assert a_app.state.service.runner.leading
            assert not b_app.state.service.runner.leading
            hook = await b.put("/v1/webhook", json={"url": inside.url}, headers=us)
            assert hook.status_code == 200, hook.text
            first = notice_body(circle("v0"), id="RU-N0")
            assert (await a.post("/v1/notices", json=first, headers=ru)).status_code == 201
            await watch.until(lambda: len(inside.requests) >= 2, "A tried twice, refused")
            await a_stack.aclose()  # A stops (and gives the lease up)
            refused = [r.webhook_id for r in inside.requests]
            down.clear()  # the receiver is back
            second = notice_body(circle("v1"), id="RU-N1")
            assert (await b.post("/v1/notices", json=second, headers=ru)).status_code == 201
            await watch.until(lambda: len(inside.taken) == 2, "B sent both")
            last = max(inside.taken, key=_order)
            await watch.until(lambda: watch.cursor("US") == last, "the cursor at the last")
            told = (await b.get("/v1/notifications", headers=us)).json()
            assert b_app.state.service.runner.leading
    taken = inside.taken
    assert sorted(t.split(".", 1)[1] for t in taken) == sorted(n["id"] for n in told)
    assert len(told) == 2
    assert len(taken) == len(set(taken)) == 2  # each taken once
    assert refused[0] in taken  # the id A used is the id B delivered
    assert set(refused) == {refused[0]}  # A only ever tried that one
