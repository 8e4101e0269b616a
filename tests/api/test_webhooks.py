"""Webhooks: notifications POSTed in order, signed, retried with backoff under the same delivery
id until the receiver takes them."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from tests.api.harness import circle, client_with, make_db, notice_body, token

from deconflict.api import ApiSettings, create_app
from deconflict.api.webhooks import sign

pytestmark = pytest.mark.anyio


async def test_webhook_deliveries_are_signed_ordered_and_retried(tmp_path):
    """The receiver refuses twice; the third attempt carries the same id and a valid signature;
    the next notice follows in order, and each is taken exactly once."""
    db = make_db(tmp_path)
    attempts: list[httpx.Request] = []
    taken: list[str] = []

    def receive(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) <= 2:
            return httpx.Response(503)
        taken.append(request.headers["webhook-id"])
        return httpx.Response(204)

    app = create_app(
        ApiSettings(db=db, webhook_backoff_s=0.05), webhook_transport=httpx.MockTransport(receive)
    )
    ru, us = token(db, "RU"), token(db, "US")
    async with client_with(app) as http:
        hook = await http.put("/v1/webhook", json={"url": "https://us.example/hook"}, headers=us)
        assert hook.status_code == 200, hook.text
        secret = hook.json()["secret"]
        await http.post("/v1/notices", json=notice_body(circle("a"), id="N1"), headers=ru)
        for _ in range(100):
            if taken:
                break
            await asyncio.sleep(0.05)
        await http.post("/v1/notices", json=notice_body(circle("b"), id="N2"), headers=ru)
        for _ in range(100):
            if len(taken) == 2:
                break
            await asyncio.sleep(0.05)
        status = (await http.get("/v1/webhook", headers=us)).json()
    assert len(taken) == 2
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
