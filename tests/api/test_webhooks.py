"""Webhooks: notifications POSTed in order, signed, retried with backoff under the same delivery
id until the receiver takes them; every one delivered to a receiver that refuses some; URLs
checked when set (public addresses, or the networks the operator allows)."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.api.harness import circle, client_with, detected, make_db, notice_body, token
from tests.api.webhook_harness import PUBLIC, Names, Watch, receiver

from deconflict.api import ApiSettings, create_app
from deconflict.hub import Hub
from deconflict.model import Notification, NotificationKind
from deconflict.runtime.events import event_id
from deconflict.runtime.webhooks import sign
from deconflict.store import Detection

pytestmark = pytest.mark.anyio


def _mock_app(db, receive, watch: Watch, **settings):  # type: ignore[no-untyped-def]
    """The app at ``db``, its webhooks sent to ``receive`` (names under example resolving to a
    public address), ``watch`` told of every attempt."""
    return create_app(
        ApiSettings(db=db, **settings),
        webhook_transport=httpx.MockTransport(receive),
        webhook_resolver=Names({"us.example": [PUBLIC], "fr.example": [PUBLIC]}),
        webhook_observer=watch.observe,
    )


async def test_webhook_deliveries_are_signed_ordered_and_retried(tmp_path):
    """The receiver refuses twice; the third attempt carries the same id and a valid signature;
    the next notice follows in order, and each is taken exactly once."""
    db = make_db(tmp_path)
    attempts: list[httpx.Request] = []
    taken: list[str] = []
    watch = Watch()

    def receive(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) <= 2:
            return httpx.Response(503)
        taken.append(request.headers["webhook-id"])
        return httpx.Response(204)

    app = _mock_app(db, receive, watch, webhook_backoff_s=0.05)
    ru, us = token(db, "RU"), token(db, "US")
    async with client_with(app) as http:
        hook = await http.put("/v1/webhook", json={"url": "https://us.example/hook"}, headers=us)
        assert hook.status_code == 200, hook.text
        secret = hook.json()["secret"]
        await http.post("/v1/notices", json=notice_body(circle("a"), id="N1"), headers=ru)
        await watch.until(lambda: len(taken) == 1, "N1 delivered")
        await http.post("/v1/notices", json=notice_body(circle("b"), id="N2"), headers=ru)
        await watch.until(lambda: len(taken) == 2, "N2 delivered")
        await watch.until(lambda: watch.cursor("US") == taken[-1], "the cursor moved to N2")
        status = (await http.get("/v1/webhook", headers=us)).json()
    assert watch.outcomes("US") == ["failed", "failed", "delivered", "delivered"]
    assert attempts[0].headers["webhook-id"] == attempts[2].headers["webhook-id"] == taken[0]
    for request in attempts:
        expected = sign(
            secret,
            request.headers["webhook-id"],
            int(request.headers["webhook-timestamp"]),
            request.content,
        )
        assert request.headers["webhook-signature"] == expected
    bodies = [json.loads(r.content) for r in attempts[2:]]
    assert [b["notice_id"] for b in bodies] == ["N1", "N2"]
    assert status["last_delivery_id"] == taken[-1]
    assert status["secret"] is None
    assert status["secret_lost"] is False


async def test_a_receiver_refusing_one_in_ten_gets_every_notification(tmp_path):
    """Every tenth request is refused; every notification is still taken, each once (a retry
    only follows a refusal), and the cursor ends at the last one."""
    db = make_db(tmp_path)
    taken: list[str] = []
    requests: list[str] = []
    watch = Watch()

    def receive(request: httpx.Request) -> httpx.Response:
        requests.append(request.headers["webhook-id"])
        if len(requests) % 10 == 0:
            return httpx.Response(500)
        taken.append(request.headers["webhook-id"])
        return httpx.Response(200)

    app = _mock_app(db, receive, watch, webhook_backoff_s=0.01)
    ru, us = token(db, "RU"), token(db, "US")
    async with client_with(app) as http:
        hook = await http.put("/v1/webhook", json={"url": "https://us.example/h"}, headers=us)
        assert hook.status_code == 200, hook.text
        for i in range(30):
            body = notice_body(circle(f"v{i}"), id=f"RU-N{i}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        await detected(http, ru)  # US's read waits for its own writes only
        told = (await http.get("/v1/notifications", headers=us)).json()
        await watch.until(lambda: len(set(taken)) == 30, "all 30 taken")
        last = max(taken, key=lambda t: (int(t.split(".", 1)[0]), t.split(".", 1)[1]))
        await watch.until(lambda: watch.cursor("US") == last, "the cursor at the last one")
        status = (await http.get("/v1/webhook", headers=us)).json()
    assert len(taken) == len(set(taken)) == 30
    assert sorted(t.split(".", 1)[1] for t in taken) == sorted(n["id"] for n in told)
    assert len(requests) - len(taken) == watch.outcomes("US").count("failed") >= 3
    assert status["last_delivery_id"] == last


async def test_webhook_urls_must_be_http(tmp_path):
    """A non-HTTP webhook URL is refused naming the field; no webhook is 404."""
    db = make_db(tmp_path)
    us = token(db, "US")
    async with client_with(create_app(ApiSettings(db=db))) as http:
        bad = await http.put("/v1/webhook", json={"url": "file:///etc/passwd"}, headers=us)
        assert bad.status_code == 422
        assert bad.json()["field"] == "/url"
        assert (await http.get("/v1/webhook", headers=us)).status_code == 404
        assert (await http.delete("/v1/webhook", headers=us)).status_code == 404


@pytest.mark.parametrize(
    ("url", "allowed", "accepted"),
    [
        (f"https://{PUBLIC}/hook", (), True),
        ("https://[2606:4700:4700::1111]/hook", (), True),
        ("https://us.example./hook?x=1", (), True),  # a public name, trailing dot and all
        ("https://xn--bcher-kva.example/hook", (), False),  # IDNA, resolves nowhere here
        ("http://10.1.2.3:8443/hook", ("10.0.0.0/8",), True),  # a private receiver, allowed
        ("http://[::ffff:10.1.2.3]/hook", ("10.0.0.0/8",), True),
        ("http://10.1.2.3/hook", ("192.168.0.0/16",), False),
        ("http://169.254.169.254/latest/", ("169.254.0.0/16",), False),  # metadata: never
    ],
)
async def test_public_and_allowed_destinations_are_accepted(tmp_path, url, allowed, accepted):
    """Public addresses and names that resolve only to them are accepted, and so are the
    networks the operator allows; a metadata address is refused even in an allowed network."""
    db = make_db(tmp_path)
    us = token(db, "US", ["read"])
    app = create_app(
        ApiSettings(db=db, webhook_allow_networks=allowed),
        webhook_resolver=Names({"us.example": [PUBLIC]}),
    )
    async with client_with(app) as http:
        answer = await http.put("/v1/webhook", json={"url": url}, headers=us)
    assert answer.status_code == (200 if accepted else 422), answer.text


async def test_a_receiver_on_an_allowed_network_gets_its_notifications(tmp_path):
    """With 127.0.0.1 allowed by the operator, a receiver on it gets US's notification over a
    real connection, signed, and the cursor moves to it."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    watch = Watch()
    app = create_app(
        ApiSettings(db=db, webhook_allow_networks=("127.0.0.1/32",)),
        webhook_observer=watch.observe,
    )
    with receiver(watch) as inside:
        async with client_with(app) as http:
            hook = await http.put("/v1/webhook", json={"url": inside.url}, headers=us)
            assert hook.status_code == 200, hook.text
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(lambda: watch.cursor("US") is not None, "delivered")
            status = (await http.get("/v1/webhook", headers=us)).json()
    [got] = inside.requests
    secret = hook.json()["secret"]
    stamp = int(got.headers["Webhook-Timestamp"])
    assert got.headers["Webhook-Signature"] == sign(secret, got.webhook_id, stamp, got.body)
    assert json.loads(got.body)["notice_id"] == "RU-N1"
    assert status["last_delivery_id"] == got.webhook_id


async def test_a_lane_started_again_resumes_exactly_after_its_cursor(tmp_path):
    """Two notifications of passes 0.3 us apart, their ids in the other order than their times:
    by the event id's microsecond and id, the second came first. A lane started again from a
    cursor at the first (a restart) read from the cursor's time and left out what its key put
    at or before it, the second among them: never delivered. It resumes after the notification
    the cursor names."""
    db = make_db(tmp_path)
    us = token(db, "US", ["read"])
    made = [
        Notification("M-f", "US", NotificationKind.NOTICE, 2e9 + 1e-7, 3e9, 60.0),
        Notification("M-0", "US", NotificationKind.NOTICE, 2e9 + 4e-7, 3e9, 60.0),
    ]
    ids = [event_id(n) for n in made]
    assert ids[0].split(".")[0] == ids[1].split(".")[0]
    with Hub.open(db) as hub:
        hub.store.commit_detection(Detection(1, 2e9, [], [], made))
    taken: list[str] = []
    watch = Watch()

    def first_only(request: httpx.Request) -> httpx.Response:
        if request.headers["webhook-id"] != ids[0]:
            return httpx.Response(503)
        taken.append(request.headers["webhook-id"])
        return httpx.Response(204)

    app = _mock_app(db, first_only, watch, webhook_backoff_s=30.0)
    async with client_with(app) as http:
        hook = await http.put("/v1/webhook", json={"url": "https://us.example/hook"}, headers=us)
        assert hook.status_code == 200, hook.text
        await watch.until(lambda: watch.cursor("US") == ids[0], "the cursor at the first")

    def any_one(request: httpx.Request) -> httpx.Response:
        taken.append(request.headers["webhook-id"])
        return httpx.Response(204)

    async with client_with(_mock_app(db, any_one, watch)):
        await watch.until(lambda: watch.cursor("US") == ids[1], "the second delivered")
    assert taken == ids
