"""The operations view's session cookie cannot be used by another site (security.md §6): a
request that changes something and is authenticated by the cookie alone must carry
``X-Deconflict-CSRF: 1`` (which no cross-site form or simple request can send) and, when the
browser says where it comes from (``Origin``, ``Sec-Fetch-Site``), come from the hub's own
origin; else it is a 403 problem naming the header, and nothing changes. Signing in and out
obey the same rule (no one signs a victim in as another party, or out). A bearer token in
``Authorization`` works as before, for every other client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.api.harness import circle, make_db, notice_body, token

from deconflict.api import ApiSettings, create_app, issue_local_token

pytestmark = pytest.mark.anyio

ORIGIN = "http://hub"
CSRF = {"X-Deconflict-CSRF": "1"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SESSION = "/v1/session"


@pytest.fixture
async def hub(tmp_path: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any, str]]:
    """The app in-process, a client with no cookie yet, and US's token (every scope)."""
    db = make_db(tmp_path)
    app = create_app(ApiSettings(db=db))
    app.state.db = db
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
            yield http, app, issue_local_token(db, "US", ["read", "notice", "plan", "ack", "admin"])


async def sign_in(http: httpx.AsyncClient, bearer: str) -> None:
    answer = await http.post(SESSION, json={"token": bearer}, headers={**CSRF, "Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    assert http.cookies, "signed in: the client holds the session cookie"


def unsafe_routes(app: Any) -> list[tuple[str, str]]:
    """Every route of the API that changes something (as its OpenAPI document lists them), with
    a value in each path parameter."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        if path != SESSION:
            filled = re.sub(r"\{[^}]+\}", "x", path)
            found += [(m.upper(), filled) for m in sorted(operations) if m.upper() in UNSAFE]
    return found


def assert_refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field, answer.text


async def test_no_route_changes_anything_for_a_cookie_without_the_csrf_header(
    hub: tuple[httpx.AsyncClient, Any, str],
) -> None:
    """security.md §6: on every route that changes something (filing, amending, cancelling,
    plans, acknowledgements, webhooks, agreements, parties, checkpoints), a request the cookie
    alone authenticates, without X-Deconflict-CSRF (a cross-site form's POST, a simple fetch),
    is a 403 naming the header, before anything else is looked at; and nothing is filed."""
    http, app, bearer = hub
    await sign_in(http, bearer)
    routes = unsafe_routes(app)
    assert ("POST", "/v1/notices") in routes
    assert ("POST", "/v1/notifications/x/ack") in routes
    for method, path in routes:
        answer = await http.request(method, path, json={}, headers={"Origin": ORIGIN})
        assert_refused(answer, "header:X-Deconflict-CSRF")
    filed = await http.post("/v1/notices", json=notice_body(circle("N-1")))
    assert_refused(filed, "header:X-Deconflict-CSRF")
    assert (await http.get("/v1/notices")).json() == [], "nothing was filed"


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Origin": "http://evil.example"}, "header:Origin"),
        ({"Origin": "null"}, "header:Origin"),  # a sandboxed frame, a file
        ({"Origin": "http://hub:8081"}, "header:Origin"),  # same site, another origin
        ({"Origin": "https://hub"}, "header:Origin"),  # another scheme
        ({"Sec-Fetch-Site": "cross-site"}, "header:Sec-Fetch-Site"),
        ({"Sec-Fetch-Site": "same-site"}, "header:Sec-Fetch-Site"),
        ({"Origin": ORIGIN, "Sec-Fetch-Site": "same-site"}, "header:Sec-Fetch-Site"),
    ],
)
async def test_a_cookie_request_from_another_origin_is_refused(
    hub: tuple[httpx.AsyncClient, Any, str], headers: dict[str, str], field: str
) -> None:
    """security.md §6: with the header, but from another origin as the browser tells it (Origin,
    or Sec-Fetch-Site, each when sent), a cookie request is a 403 naming what
    gave it away, and nothing is filed."""
    http, _, bearer = hub
    await sign_in(http, bearer)
    answer = await http.post(
        "/v1/notices", json=notice_body(circle("N-1")), headers={**CSRF, **headers}
    )
    assert_refused(answer, field)
    assert (await http.get("/v1/notices")).json() == []


async def test_the_same_origin_with_the_header_may_change_things(
    hub: tuple[httpx.AsyncClient, Any, str],
) -> None:
    """The view's own requests (the header, its origin, or no Origin at all) go through."""
    http, _, bearer = hub
    await sign_in(http, bearer)
    for extra in ({"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}, {}):
        body = notice_body(circle(f"N-{len(extra)}-1"))
        answer = await http.post("/v1/notices", json=body, headers={**CSRF, **extra})
        assert answer.status_code == 201, answer.text
    assert len((await http.get("/v1/notices")).json()) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": ORIGIN},
        {**CSRF, "Origin": "http://evil.example"},
        {**CSRF, "Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_signing_in_or_out_from_another_site_is_refused(
    hub: tuple[httpx.AsyncClient, Any, str], headers: dict[str, str]
) -> None:
    """security.md §6: another site cannot sign the victim's browser in as a party of its
    choosing (a login CSRF: the victim would then file as that party), nor sign it out: both
    need the header and the hub's origin; a refused sign-in sets no cookie, a refused sign-out
    clears none."""
    http, _, bearer = hub
    answer = await http.post(SESSION, json={"token": bearer}, headers=headers)
    assert answer.status_code == 403, answer.text
    assert "set-cookie" not in answer.headers
    assert not http.cookies
    await sign_in(http, bearer)
    answer = await http.delete(SESSION, headers=headers)
    assert answer.status_code == 403, answer.text
    assert "set-cookie" not in answer.headers
    assert (await http.get(SESSION)).status_code == 200, "still signed in"


async def test_bearer_clients_need_no_header_and_no_origin(
    hub: tuple[httpx.AsyncClient, Any, str],
) -> None:
    """A bearer token in Authorization (scripts, the CLI, other hubs) is not a cookie the
    browser adds by itself: it works without the header and whatever Origin says, as before;
    and it wins over a cookie."""
    http, app, bearer = hub
    for headers in ({}, {"Origin": "http://elsewhere.example", "Sec-Fetch-Site": "cross-site"}):
        answer = await http.post(
            "/v1/notices",
            json=notice_body(circle(f"B-{len(headers)}-1")),
            headers={"Authorization": f"Bearer {bearer}", **headers},
        )
        assert answer.status_code == 201, answer.text
    await sign_in(http, bearer)
    fr = await http.get(SESSION, headers=token(app.state.db, "FR", ["read"]))
    assert fr.json()["party"] == "FR", "the Authorization header is what is checked"
    answer = await http.get(SESSION, headers={"Authorization": "Bearer not-a-token"})
    assert answer.status_code == 401, "a bad Authorization is not saved by a good cookie"
