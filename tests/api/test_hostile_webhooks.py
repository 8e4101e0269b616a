"""A hostile party's webhooks: it cannot make the hub reach inside (loopback, link-local, private,
metadata addresses, in any notation, by a name or a rebinding name), cannot learn from the
delivery status what listens there, cannot stall other parties' webhooks with a slow or refusing
receiver, and its long history does not make a send cost more; a reader of the database cannot
sign as the hub. Each test plays the party (a valid token, the read scope) probing on purpose."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.api.harness import Site, circle, client_with, detected, make_db, notice_body, token
from tests.api.webhook_harness import PUBLIC, Names, Watch, closed_port, receiver

from deconflict.api import ApiSettings, create_app
from deconflict.runtime.webhooks import sign
from deconflict.store.engines import postgres_url

pytestmark = pytest.mark.anyio

LOOPBACK_ONLY = ("127.0.0.1/32",)  # what an operator allows for receivers on this host

# Each names loopback, link-local, a private, shared, multicast, broadcast, unspecified,
# reserved, documentation or cloud metadata address, or is no http(s) URL to a host at all.
REFUSED_URLS = [
    "http://127.0.0.1/hook",
    "http://127.0.0.1./hook",  # trailing dot
    "http://127.1/hook",  # short form
    "http://127.0.1/hook",
    "http://2130706433/hook",  # decimal
    "http://0x7f000001/hook",  # hex
    "http://0x7f.0.0.1/hook",  # hex part
    "http://017700000001/hook",  # octal
    "http://0177.0.0.1/hook",  # octal part
    "http://0/hook",  # unspecified, as one number
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://[::1]/hook",
    "http://[0:0:0:0:0:0:0:1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "http://[::ffff:7f00:1]/hook",
    "http://[::127.0.0.1]/hook",  # IPv4-compatible
    "http://[64:ff9b::127.0.0.1]/hook",  # NAT64 of loopback
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata address
    "http://[::ffff:169.254.169.254]/hook",
    "http://[2002:7f00:1::1]/hook",  # 6to4 of loopback
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://169.254.170.2/v2/credentials",  # ECS task metadata
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS IPv6 metadata
    "http://100.100.100.200/latest/meta-data/",  # Alibaba metadata
    "http://168.63.129.16/machine",  # Azure wire server (a public address)
    "http://192.0.0.192/opc/v2/instance/",  # Oracle metadata
    "http://169.254.1.1/hook",  # link-local
    "http://[fe80::1]/hook",
    "http://[fe80::1%25eth0]/hook",  # with a zone
    "http://10.0.0.1/hook",  # RFC 1918
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://[fc00::1]/hook",  # RFC 4193 ULA
    "http://[fd12:3456:789a::1]/hook",
    "http://100.64.0.1/hook",  # shared (RFC 6598)
    "http://224.0.0.1/hook",  # multicast
    "http://[ff02::1]/hook",
    "http://255.255.255.255/hook",  # broadcast
    "http://240.0.0.1/hook",  # reserved
    "http://198.18.0.1/hook",  # benchmarking
    "http://192.0.2.1/hook",  # documentation
    "http://[2001:db8::1]/hook",
    "http://127。0。0。1/hook",  # IDNA full stops
    "http://localhost/hook",  # a name that resolves to loopback
    "http://LOCALHOST./hook",
    "http://user:secret@example.com/hook",  # userinfo
    "http://%31%32%37.0.0.1/hook",  # percent-encoded host
    "http://example.com:99999/hook",  # no such port
    "http:///hook",  # no host
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "http://example.com/" + "a" * 2100,  # too long
]


def _app(db, names: Names | None = None, watch: Watch | None = None, **settings):  # type: ignore[no-untyped-def]
    return create_app(
        ApiSettings(db=db, **settings),
        webhook_resolver=names,
        webhook_observer=None if watch is None else watch.observe,
    )


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_a_webhook_url_that_reaches_inside_is_refused_when_set(tmp_path, url):
    """security.md §4.3: every notation of an address inside, and every URL that is not
    plain http(s) to a host, is refused with 422 naming /url, and nothing is stored."""
    db = make_db(tmp_path)
    us = token(db, "US", ["read"])
    async with client_with(_app(db)) as http:
        answer = await http.put("/v1/webhook", json={"url": url}, headers=us)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "/url"
        assert (await http.get("/v1/webhook", headers=us)).status_code == 404


async def test_a_name_resolving_inside_is_refused_when_set_as_one_that_does_not_resolve(tmp_path):
    """security.md §4.3: a name that resolves to loopback, metadata or private
    addresses (all of them or one among public ones) is refused when set, with the very answer
    a name that does not resolve gets: the answer tells nothing of the hub's internal DNS."""
    db = make_db(tmp_path)
    us = token(db, "US", ["read"])
    names = Names(
        {
            "loop.evil.example": ["127.0.0.1"],
            "meta.evil.example": ["169.254.169.254"],
            "mixed.evil.example": [PUBLIC, "10.0.0.1"],
            "six.evil.example": ["::ffff:192.168.0.1"],
        }
    )
    async with client_with(_app(db, names)) as http:
        answers = []
        for host in ("loop", "meta", "mixed", "six", "nowhere"):
            url = f"https://{host}.evil.example/hook"
            answers.append(await http.put("/v1/webhook", json={"url": url}, headers=us))
        assert [a.status_code for a in answers] == [422] * 5
        assert {a.json()["field"] for a in answers} == {"/url"}
        assert len({a.json()["detail"] for a in answers}) == 1
        assert (await http.get("/v1/webhook", headers=us)).status_code == 404


async def test_an_address_refused_since_the_webhook_was_set_is_refused_at_delivery(tmp_path):
    """security.md §4.3: a webhook set while the operator allowed its address is
    checked again at every delivery: once the operator no longer allows it, the hub refuses to
    send, and the receiver listening there gets nothing."""
    db = make_db(tmp_path)
    us, ru = token(db, "US", ["read"]), token(db, "RU")
    watch = Watch()
    with receiver(watch) as inside:
        async with client_with(_app(db, webhook_allow_networks=LOOPBACK_ONLY)) as http:
            hook = await http.put("/v1/webhook", json={"url": inside.url}, headers=us)
            assert hook.status_code == 200, hook.text
        async with client_with(_app(db, watch=watch)) as http:
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(
                lambda: "refused" in watch.outcomes("US") or bool(inside.requests),
                "the hub refused the delivery, or the receiver got it",
            )
            assert (await http.get("/v1/webhook", headers=us)).json()["last_delivery_id"] is None
    assert inside.requests == []


async def test_a_name_rebound_to_loopback_is_refused_at_delivery(tmp_path):
    """security.md §4.3: a name that resolved to a public address when set and resolves
    to loopback at delivery (DNS rebinding) is refused at delivery, and nothing connects to the
    receiver listening there. (The name is ``localhost``, so that a hub that ignores its
    resolver and asks the system's DNS connects to loopback too.)"""
    db = make_db(tmp_path)
    us, ru = token(db, "US", ["read"]), token(db, "RU")
    watch = Watch()
    names = Names({"localhost": [PUBLIC]})
    with receiver(watch) as inside:
        async with client_with(_app(db, names, watch)) as http:
            url = f"http://localhost:{inside.port}/hook"
            hook = await http.put("/v1/webhook", json={"url": url}, headers=us)
            assert hook.status_code == 200, hook.text
            names.table["localhost"] = ["127.0.0.1"]  # rebound
            set_lookups = len(names.lookups)
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(
                lambda: "refused" in watch.outcomes("US") or bool(inside.requests),
                "the hub refused the delivery, or the receiver got it",
            )
    assert inside.requests == []
    assert len(names.lookups) > set_lookups  # looked up again at delivery, and refused


async def test_the_delivery_status_tells_nothing_of_what_listens_at_a_refused_address(tmp_path):
    """security.md §4.3: US's webhook names a loopback port a server listens on, the
    relay CAOC's a loopback port nothing listens on (both names rebound after they were set);
    after the hub's attempts, each party reads the same status of its webhook: no delivery,
    and nothing connected to the listening port."""
    db = make_db(tmp_path)
    us, caoc, ru = token(db, "US", ["read"]), token(db, "CAOC", ["read"]), token(db, "RU")
    watch = Watch()
    names = Names({"localhost": [PUBLIC]})
    with receiver(watch) as listening:
        async with client_with(_app(db, names, watch)) as http:
            for who, port in ((us, listening.port), (caoc, closed_port())):
                url = f"http://localhost:{port}/hook"
                assert (await http.put("/v1/webhook", json={"url": url}, headers=who)).is_success
            names.table["localhost"] = ["127.0.0.1"]
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(
                lambda: (
                    bool(listening.requests)
                    or all("refused" in watch.outcomes(p) for p in ("US", "CAOC"))
                ),
                "both deliveries refused, or the listening receiver reached",
            )
            status = [(await http.get("/v1/webhook", headers=who)).json() for who in (us, caoc)]
    assert listening.requests == []
    for shown in status:
        shown.pop("url")
    assert status[0] == status[1]


async def test_a_slow_loris_receiver_delays_no_other_party(tmp_path):
    """security.md §4.3: the relay CAOC's receiver answers a byte at a time and never
    finishes; US's receiver gets its notification while CAOC's is still being trickled to."""
    db = make_db(tmp_path)
    us, caoc, ru = token(db, "US", ["read"]), token(db, "CAOC", ["read"]), token(db, "RU")
    watch = Watch()
    settings = {"webhook_allow_networks": LOOPBACK_ONLY, "webhook_timeout_s": 120.0}
    with receiver(watch, trickle=True) as slow, receiver(watch) as good:
        async with client_with(_app(db, watch=watch, **settings)) as http:
            for who, url in ((caoc, slow.url), (us, good.url)):
                assert (await http.put("/v1/webhook", json={"url": url}, headers=who)).is_success
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(lambda: slow.trickling > 0, "the slow receiver was reached")
            await watch.until(lambda: len(good.taken) == 1, "US's receiver got its notification")
            assert slow.trickling == 1  # still stuck on CAOC's delivery
            assert slow.hung_up == 0
            slow.release.set()


async def test_a_slow_loris_receiver_is_cut_off_at_the_total_timeout(tmp_path):
    """security.md §4.3: a receiver that answers one byte at a time (every read within
    any per-read timeout) is hung up on when the delivery's total time is up, and the delivery
    counts as failed (to be retried)."""
    db = make_db(tmp_path)
    caoc, ru = token(db, "CAOC", ["read"]), token(db, "RU")
    watch = Watch()
    settings = {"webhook_allow_networks": LOOPBACK_ONLY, "webhook_timeout_s": 0.5}
    with receiver(watch, trickle=True) as slow:
        async with client_with(_app(db, watch=watch, **settings)) as http:
            assert (await http.put("/v1/webhook", json={"url": slow.url}, headers=caoc)).is_success
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(lambda: slow.hung_up > 0, "the hub hung up on the slow receiver")
            await watch.until(lambda: "failed" in watch.outcomes("CAOC"), "a failed attempt")
            assert slow.taken == []


async def test_a_refused_notification_holds_up_none_after_it(tmp_path):
    """security.md §4.3: US's receiver refuses the first and every tenth notification
    (once each); the hub's retry of those is an hour away, and meanwhile every other one is
    delivered; the cursor never passes the first, still undelivered."""
    db = make_db(tmp_path)
    us, ru = token(db, "US", ["read"]), token(db, "RU")
    refused: set[str] = set()
    taken: list[str] = []
    order: list[str] = []
    watch = Watch()

    def receive(request: httpx.Request) -> httpx.Response:
        delivery = request.headers["webhook-id"]
        if delivery not in order:
            order.append(delivery)
        if order.index(delivery) % 10 == 0 and delivery not in refused:
            refused.add(delivery)
            return httpx.Response(503)
        taken.append(delivery)
        watch.poke()
        return httpx.Response(204)

    app = create_app(
        ApiSettings(db=db, webhook_backoff_s=3600.0),
        webhook_transport=httpx.MockTransport(receive),
        webhook_resolver=Names({"us.example": [PUBLIC]}),
        webhook_observer=watch.observe,
    )
    async with client_with(app) as http:
        hook = await http.put("/v1/webhook", json={"url": "https://us.example/h"}, headers=us)
        assert hook.status_code == 200, hook.text
        for i in range(20):
            body = notice_body(circle(f"v{i}"), id=f"RU-N{i}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        await detected(http, ru)  # US's read waits for its own writes only
        told = [n["id"] for n in (await http.get("/v1/notifications", headers=us)).json()]
        assert len(told) == 20
        await watch.until(lambda: len(taken) == 18, "the 18 not refused delivered")
        status = (await http.get("/v1/webhook", headers=us)).json()
    assert len(refused) == 2
    assert sorted(t.split(".", 1)[1] for t in taken + sorted(refused)) == sorted(told)
    assert status["last_delivery_id"] is None  # the first is not delivered yet


async def test_a_send_reads_a_bounded_batch_however_long_the_history(tmp_path, monkeypatch):
    """security.md §4.3: with 60 notifications delivered to US's receiver, the next one
    costs reads of a bounded batch from the cursor, not of US's whole history."""
    from deconflict.store import notifications as stored

    db = make_db(tmp_path)
    us, ru = token(db, "US", ["read"]), token(db, "RU")
    taken: list[str] = []
    watch = Watch()

    def receive(request: httpx.Request) -> httpx.Response:
        taken.append(request.headers["webhook-id"])
        watch.poke()
        return httpx.Response(204)

    read_rows: list[int] = []
    original = stored.SqlNotifications.notifications_after

    def counting(self, party, after, limit):  # type: ignore[no-untyped-def]
        found = original(self, party, after, limit)
        if party == "US":
            read_rows.append(len(found))
        return found

    monkeypatch.setattr(stored.SqlNotifications, "notifications_after", counting)
    app = create_app(
        ApiSettings(db=db, webhook_window=8),
        webhook_transport=httpx.MockTransport(receive),
        webhook_resolver=Names({"us.example": [PUBLIC]}),
        webhook_observer=watch.observe,
    )
    async with client_with(app) as http:
        hook = await http.put("/v1/webhook", json={"url": "https://us.example/h"}, headers=us)
        assert hook.status_code == 200, hook.text
        for i in range(60):
            body = notice_body(circle(f"v{i}"), id=f"RU-N{i}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        await watch.until(lambda: len(taken) >= 60, "the first 60 delivered", timeout_s=60)
        read_rows.clear()
        body = notice_body(circle("last"), id="RU-LAST")
        assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        await watch.until(lambda: len(taken) >= 61, "the 61st delivered")
    assert read_rows, "the sender read nothing?"
    assert max(read_rows) <= 8
    assert sum(read_rows) <= 16


def _stored_texts(site_db: str) -> list[str]:
    """Every value of every column of every table of the hub's database, as text."""
    url = postgres_url(site_db) if site_db.startswith("postgresql") else f"sqlite:///{site_db}"
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        found: list[str] = []
        with engine.connect() as connection:
            for table in meta.sorted_tables:
                for row in connection.execute(sa.select(table)):
                    found.extend(str(v) for v in row if v is not None)
        return found
    finally:
        engine.dispose()


async def test_a_reader_of_the_database_cannot_sign_as_the_hub(site: Site, tmp_path):
    """security.md §5.2: after US sets a webhook with a secret of its own and
    CAOC one with a secret the hub made, no value stored in the database (nor, on SQLite, any
    byte of its files) holds either secret, and none of them signs a delivery as the secret
    does."""
    us, caoc = token(site.state, "US", ["read"]), token(site.state, "CAOC", ["read"])
    names = Names({"us.example": [PUBLIC], "caoc.example": [PUBLIC]})
    own = "us-own-secret-0123456789abcdef"
    async with client_with(_app(site.db, names)) as http:
        hook = {"url": "https://us.example/hook", "secret": own}
        assert (await http.put("/v1/webhook", json=hook, headers=us)).status_code == 200
        made = await http.put("/v1/webhook", json={"url": "https://caoc.example/"}, headers=caoc)
        assert made.status_code == 200, made.text
        secrets_ = [own, made.json()["secret"]]
    stored = _stored_texts(site.db)
    body = json.dumps({"id": "ntf-1"}).encode()
    for secret in secrets_:
        assert not [text for text in stored if secret in text]
        wanted = sign(secret, "1.ntf-1", 1_700_000_000, body)
        forged = [sign(text, "1.ntf-1", 1_700_000_000, body) for text in stored]
        assert not [f for f in forged if hmac.compare_digest(f, wanted)]
    if not site.db.startswith("postgresql"):
        files = [p for p in Path(site.db).parent.iterdir() if p.name.startswith(Path(site.db).name)]
        for path in files:
            raw = path.read_bytes()
            assert not [s for s in secrets_ if s.encode() in raw], path.name


async def test_a_redirect_to_an_address_inside_is_not_followed(tmp_path):
    """security.md §4.3: a receiver the hub may reach answers 307 with a Location
    inside; the hub does not follow it (the delivery failed, to be retried), so the address
    behind the redirect is never reached."""
    db = make_db(tmp_path)
    us, ru = token(db, "US", ["read"]), token(db, "RU")
    watch = Watch()
    with receiver(watch) as inside:

        def redirect(_n, _request):  # type: ignore[no-untyped-def]
            return 307

        with receiver(watch, answer=redirect, headers={"Location": inside.url}) as outside:
            app = _app(db, watch=watch, webhook_allow_networks=("127.0.0.1/32",))
            async with client_with(app) as http:
                assert (
                    await http.put("/v1/webhook", json={"url": outside.url}, headers=us)
                ).is_success
                body = notice_body(circle("a"), id="RU-N1")
                assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
                await watch.until(
                    lambda: "failed" in watch.outcomes("US") or bool(inside.requests),
                    "the redirected delivery failed, or the redirect was followed",
                )
    assert inside.requests == []


async def test_a_proxy_in_the_environment_does_not_carry_webhooks_past_the_check(
    tmp_path, monkeypatch
):
    """security.md §4.3: with HTTP_PROXY set in the hub's environment, webhooks do not
    go through that proxy (which would reach any address for the hub, past every check): the
    receiver gets its delivery directly, and the proxy gets nothing."""
    db = make_db(tmp_path)
    us, ru = token(db, "US", ["read"]), token(db, "RU")
    watch = Watch()
    with receiver(watch) as proxy, receiver(watch) as direct:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "")
        app = _app(db, watch=watch, webhook_allow_networks=LOOPBACK_ONLY)
        async with client_with(app) as http:
            assert (await http.put("/v1/webhook", json={"url": direct.url}, headers=us)).is_success
            body = notice_body(circle("a"), id="RU-N1")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await watch.until(
                lambda: bool(direct.requests) or bool(proxy.requests), "a delivery made"
            )
    assert proxy.requests == []
    assert len(direct.requests) == 1
