"""Every response the service sends carries its protective headers (security.md §6): a strict
Content-Security-Policy (with Trusted Types), ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: no-referrer``, and API answers ``Cache-Control: no-store``: the page, its
files, what npm installed, API answers, every kind of error (401, 403, 404, 405, 413, 415, 422,
an unexpected 500), the event stream, health, metrics and the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from tests.api.harness import make_db, token

from deconflict.api import ApiSettings, create_app

pytestmark = pytest.mark.anyio

#: Sources a strict policy never allows, in any directive.
NEVER = {
    "'unsafe-inline'",
    "'unsafe-eval'",
    "'unsafe-hashes'",
    "'wasm-unsafe-eval'",
    "'strict-dynamic'",
    "*",
    "data:",
    "blob:",
    "http:",
    "https:",
    "filesystem:",
}

REQUIRED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

#: Where the operations view's own files are: they may be cached; everything else may not.
VIEW_FILES = ("/ui/", "/vendor/")


def policy(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def problems_with(path: str, response: httpx.Response) -> list[str]:
    """What is wrong with ``response``'s headers (nothing: an empty list)."""
    found = []
    csp = response.headers.get("content-security-policy")
    if csp is None:
        return [f"{path}: no Content-Security-Policy"]
    directives = policy(csp)
    for name, sources in REQUIRED.items():
        if directives.get(name) != sources:
            found.append(f"{path}: {name} is {directives.get(name)}, not {sources}")
    if directives.get("require-trusted-types-for") != ["'script'"]:
        found.append(f"{path}: no Trusted Types for script sinks")
    if directives.get("trusted-types") != ["default"]:
        found.append(f"{path}: policies other than the view's one may be made")
    for name, sources in directives.items():
        if name in ("require-trusted-types-for", "trusted-types"):
            continue
        if set(sources) & NEVER or not set(sources) <= {"'self'", "'none'"}:
            found.append(f"{path}: {name} allows {sources} (self only)")
    if response.headers.get("x-content-type-options") != "nosniff":
        found.append(f"{path}: X-Content-Type-Options is not nosniff")
    if response.headers.get("referrer-policy") != "no-referrer":
        found.append(f"{path}: Referrer-Policy is not no-referrer")
    cache = response.headers.get("cache-control", "")
    if path == "/":
        if "no-cache" not in cache and "no-store" not in cache:
            found.append(f"{path}: the page is cached without revalidation ({cache!r})")
    elif not path.startswith(VIEW_FILES) and "no-store" not in cache:
        found.append(f"{path}: Cache-Control is {cache!r}, not no-store")
    return found


@pytest.fixture
def app(tmp_path: Any) -> Any:
    db = make_db(tmp_path)
    made = create_app(ApiSettings(db=db, max_body_bytes=4096))

    async def boom() -> None:
        raise RuntimeError("an internal failure with /secret/path and SELECT * FROM plans")

    made.add_api_route("/v1/test-boom", boom, methods=["GET"])
    made.state.test_db = db
    return made


async def test_every_kind_of_response_carries_the_protective_headers(app: Any) -> None:
    """security.md §6: a strict CSP (self only, no inline or eval, no framing, no base, forms to
    self), nosniff and no-referrer on every kind of response, and no-store on every answer that
    is not one of the view's files; the 500's body says nothing of the failure."""
    db = app.state.test_db
    us = token(db, "US")
    json_type = {"Content-Type": "application/json"}
    requests: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
        ("GET", "/", {}, None, 200),
        ("HEAD", "/", {}, None, 405),
        ("GET", "/ui/app.js", {}, None, 200),
        ("GET", "/ui/app.css", {}, None, 200),
        ("GET", "/ui/no-such-file.js", {}, None, 404),
        ("GET", "/vendor/leaflet/leaflet.js", {}, None, 200),
        ("GET", "/vendor/leaflet/leaflet.css", {}, None, 200),
        ("GET", "/vendor/topojson-client/topojson-client.min.js", {}, None, 200),
        ("GET", "/vendor/world-atlas/countries.json", {}, None, 200),
        ("GET", "/docs", {}, None, 200),
        ("GET", "/ui/docs.js", {}, None, 200),
        ("GET", "/vendor/swagger-ui/swagger-ui-bundle.js", {}, None, 200),
        ("GET", "/vendor/no-such-package/x.js", {}, None, 404),
        ("GET", "/no/such/route", {}, None, 404),
        ("GET", "/v1/notices", us, None, 200),
        ("GET", "/v1/map", us, None, 200),
        ("GET", "/v1/notices", {}, None, 401),
        ("POST", "/v1/ledger/checkpoint", token(db, "US", ["read"]), None, 403),
        ("GET", "/v1/notices/no-such-notice", us, None, 404),
        ("DELETE", "/v1/notices", us, None, 405),
        ("POST", "/v1/notices", {**us, **json_type}, b"{}", 422),
        ("POST", "/v1/notices", {**us, "Content-Type": "text/plain"}, b"x", 415),
        ("POST", "/v1/notices", {**us, **json_type}, b"[" * 5000, 413),
        ("GET", "/v1/events?once=true", us, None, 200),
        ("GET", "/v1/test-boom", us, None, 500),
        ("GET", "/healthz", {}, None, 200),
        ("GET", "/readyz", {}, None, 200),
        ("GET", "/metrics", token(db, "US", ["metrics"]), None, 200),
        ("GET", "/metrics", {}, None, 401),
        ("GET", "/openapi.json", {}, None, 200),
    ]
    found: list[str] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            for method, path, headers, body, status in requests:
                answer = await http.request(method, path, headers=headers, content=body)
                where = f"{method} {path}"
                if answer.status_code != status:
                    found.append(f"{where}: {answer.status_code}, not {status}")
                found += problems_with(where.split(" ", 1)[1].split("?")[0], answer)
                if status == 500:
                    assert answer.json()["detail"] == "internal error"
                    assert "secret" not in answer.text
                    assert "SELECT" not in answer.text
    assert found == []


async def test_the_served_page_needs_nothing_its_policy_refuses(app: Any) -> None:
    """security.md §6: the page has no inline script or style, no style attribute and no
    resource that is not its own (the favicon included), so the strict policy costs it
    nothing."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            page = (await http.get("/")).text
    lowered = page.lower()
    assert "<style" not in lowered
    assert " style=" not in lowered
    assert not re.search(r"\son[a-z]+\s*=", lowered), "no event handler attributes"
    assert "data:" not in lowered
    assert "javascript:" not in lowered
    scripts = [part.split(">", 1)[0] for part in lowered.split("<script")[1:]]
    assert scripts, "the page loads its scripts"
    assert all(" src=" in s for s in scripts), "every script is a file"
