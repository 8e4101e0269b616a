"""Webhook secrets at rest: every worker and every restart signs with the secret the party was
given (the key file, 0600, shared); a lost key file suspends the webhooks set before it until
their parties set them again, losing no notification; secrets an older hub kept in clear are
sealed at start and still sign; a sealed secret opens for its own party only."""

from __future__ import annotations

import stat
from contextlib import AsyncExitStack

import pytest
import sqlalchemy as sa
from tests.api.harness import Site, circle, client_with, make_db, notice_body, token
from tests.api.webhook_harness import Received, Watch, receiver

from deconflict.api import ApiSettings, create_app
from deconflict.runtime.webhooks import SecretLost, WebhookKey, sign
from deconflict.store import open_store
from deconflict.store.service_state import webhooks

pytestmark = pytest.mark.anyio

LOOPBACK = ("127.0.0.1/32",)


def _signed_with(secret: str, got: Received) -> bool:
    stamp = int(got.headers["Webhook-Timestamp"])
    return got.headers["Webhook-Signature"] == sign(secret, got.webhook_id, stamp, got.body)


def _settings(site: Site) -> ApiSettings:
    return ApiSettings(db=site.db, state=site.state, webhook_allow_networks=LOOPBACK)


async def test_every_worker_and_every_restart_signs_with_the_party_s_secret(site: Site):
    """US sets its webhook on the worker on standby; the lease holder's deliveries verify with
    the secret US was given, and so do those after both restart; the key file is 0600."""
    us, ru = token(site.state, "US", ["read"]), token(site.state, "RU")
    watch = Watch()
    with receiver(watch) as inside:
        async with AsyncExitStack() as stack:
            pair = []
            for _ in range(2):
                app = create_app(_settings(site), webhook_observer=watch.observe)
                pair.append((app, await stack.enter_async_context(client_with(app))))
            standby = next(h for a, h in pair if not a.state.service.runner.leading)
            hook = await standby.put("/v1/webhook", json={"url": inside.url}, headers=us)
            assert hook.status_code == 200, hook.text
            body = notice_body(circle("a"), id="RU-N1")
            assert (await standby.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(lambda: len(inside.taken) == 1, "the first delivered")
        async with client_with(create_app(_settings(site))) as http:
            body = notice_body(circle("b"), id="RU-N2")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(lambda: len(inside.taken) == 2, "the second, after a restart")
    secret = hook.json()["secret"]
    assert [_signed_with(secret, got) for got in inside.requests] == [True, True]
    key_file = site.state.with_name(site.state.name + ".webhook-key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def test_a_lost_key_file_suspends_webhooks_until_set_again_and_loses_nothing(tmp_path):
    """The webhook key file is lost between two runs: the new run makes a new key, cannot open
    US's secret, sends nothing (and says so: ``secret_lost``); US sets its webhook again and
    gets, signed with its new secret, the notification filed meanwhile."""
    db = make_db(tmp_path)
    us, ru = token(db, "US", ["read"]), token(db, "RU")
    settings = ApiSettings(db=db, webhook_allow_networks=LOOPBACK)
    watch = Watch()
    with receiver(watch) as inside:
        async with client_with(create_app(settings)) as http:
            assert (await http.put("/v1/webhook", json={"url": inside.url}, headers=us)).is_success
        db.with_name(db.name + ".webhook-key").unlink()
        async with client_with(create_app(settings, webhook_observer=watch.observe)) as http:
            await watch.until(lambda: "suspended" in watch.outcomes("US"), "US's suspended")
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            shown = (await http.get("/v1/webhook", headers=us)).json()
            assert shown["secret_lost"] is True
            again = await http.put("/v1/webhook", json={"url": inside.url}, headers=us)
            assert again.status_code == 200, again.text
            await watch.until(lambda: len(inside.taken) == 1, "delivered once set again")
            assert (await http.get("/v1/webhook", headers=us)).json()["secret_lost"] is False
    [got] = inside.requests
    assert _signed_with(again.json()["secret"], got)


async def test_a_secret_an_older_hub_kept_in_clear_is_sealed_at_start_and_still_signs(tmp_path):
    """A row as migration 0014 leaves an older hub's webhook (its secret in clear): the service
    seals it at start, erases the clear one, and signs with the same secret."""
    db = make_db(tmp_path)
    ru = token(db, "RU")
    watch = Watch()
    old = "an-old-clear-secret-0123456789"
    with receiver(watch) as inside:
        store = open_store(str(db))
        try:
            with store.write_connection("an older hub's webhook") as c:
                c.execute(sa.insert(webhooks).values(party="US", url=inside.url, secret=old))
        finally:
            store.close()
        app = create_app(ApiSettings(db=db, webhook_allow_networks=LOOPBACK))
        async with client_with(app) as http:
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(lambda: len(inside.taken) == 1, "delivered")
    store = open_store(str(db))
    try:
        with store.read_connection("reading the webhook") as c:
            row = c.execute(sa.select(webhooks.c.secret, webhooks.c.sealed)).one()
    finally:
        store.close()
    assert row.secret is None
    assert row.sealed is not None
    assert old not in row.sealed
    [got] = inside.requests
    assert _signed_with(old, got)


def test_a_sealed_secret_opens_for_its_own_party_with_its_own_key_only():
    """Copied into another party's row, or opened with another key, a sealed secret is
    SecretLost, saying which key sealed it."""
    key, other = WebhookKey.generate(), WebhookKey.generate()
    sealed = key.seal("US", "the-secret-of-US-0123")
    assert key.open("US", sealed) == "the-secret-of-US-0123"
    with pytest.raises(SecretLost, match="does not open"):
        key.open("RU", sealed)
    with pytest.raises(SecretLost, match=key.key_id):
        other.open("US", sealed)
