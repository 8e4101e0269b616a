"""Hostile values at the edge of every route (security.md §3.1): integers past 64 bits in a
query, a path or If-Match, a NUL or a control character in any query or path value, a malformed
Last-Event-ID or stream cursor, a bad Idempotency-Key, a body that is not JSON. Each is 422
``application/problem+json`` naming the field, on SQLite and PostgreSQL alike: never a 500 (as
SQLite's integer overflow was), a 503 quoting the SQL and its parameters (as PostgreSQL's NUL and
overflow were), or a 200 stream cut short (as a bad Last-Event-ID was)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.api.harness import circle, client, detected, notice_body, token

pytestmark = pytest.mark.anyio

HUGE = str(2**64 + 5)
#: Words that only a driver, a traceback or SQL would put in an answer.
LEAKS = ("SQL", "SELECT", "psycopg", "sqlite", "Traceback", "bigint", "out of range", "NUL (0x00")


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, (field, answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field, answer.text
    assert not any(word in answer.text for word in LEAKS), answer.text


#: (method, path with {}, field) of every integer a route takes in its query.
INTEGERS = [
    ("GET", "/v1/notices?limit={}", "query:limit"),
    ("GET", "/v1/notifications?limit={}", "query:limit"),
    ("GET", "/v1/ledger/checkpoints?since={}", "query:since"),
    ("GET", "/v1/ledger/checkpoints?limit={}", "query:limit"),
    ("GET", "/v1/ledger/proofs/inclusion?index={}", "query:index"),
    ("GET", "/v1/ledger/proofs/inclusion?index=0&size={}", "query:size"),
    ("GET", "/v1/ledger/proofs/consistency?first={}", "query:first"),
    ("GET", "/v1/ledger/proofs/consistency?first=1&second={}", "query:second"),
    ("GET", "/v1/ledger/openings/N1?version={}", "query:version"),
]

#: (method, path with {}, field) of every text value of a query or a path.
TEXTS = [
    ("GET", "/v1/notices/{}", "path:notice_id"),
    ("GET", "/v1/notices?party={}", "query:party"),
    ("GET", "/v1/notices?after={}", "query:after"),
    ("GET", "/v1/notices?near={}", "query:near"),
    ("GET", "/v1/notices?start={}", "query:start"),
    ("GET", "/v1/notices/N1?party={}", "query:party"),
    ("PATCH", "/v1/notices/{}", "path:notice_id"),
    ("POST", "/v1/notices/{}/cancel", "path:notice_id"),
    ("GET", "/v1/plans/{}", "path:plan_id"),
    ("GET", "/v1/plans?after={}", "query:after"),
    ("PUT", "/v1/plans/{}", "path:plan_id"),
    ("POST", "/v1/plans/{}/withdraw", "path:plan_id"),
    ("GET", "/v1/conflicts/{}", "path:conflict_id"),
    ("GET", "/v1/notifications/{}", "path:notification_id"),
    ("GET", "/v1/notifications?after={}", "query:after"),
    ("POST", "/v1/notifications/{}/ack", "path:notification_id"),
    ("GET", "/v1/ledger/entries?record={}", "query:record"),
    ("GET", "/v1/ledger/entries?record=N1&party={}", "query:party"),
    ("GET", "/v1/ledger/receipts/{}", "path:record_id"),
    ("GET", "/v1/ledger/openings/{}", "path:notice_id"),
    ("GET", "/v1/map?party={}", "query:party"),
]


async def _filed(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    filed = await http.post("/v1/notices", json=notice_body(circle("v1"), id="N1"), headers=headers)
    assert filed.status_code == 201, filed.text


async def _ask(http: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body = {"category": "x"} if method == "PATCH" else None
    if method == "PUT":
        body = notice_body(circle("v2"))
    extra = {"If-Match": '"1"'} if method in ("PATCH", "PUT") else {}
    return await http.request(method, url, json=body, headers={**headers, **extra})


async def test_integers_past_64_bits_are_refused_naming_the_field(site):
    """security.md §3.1: 2**64 + 5 in any integer of a query is 422 naming it (it was a 500 on
    SQLite and a 503 quoting the SQL on PostgreSQL); also past a version's 32 bits."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        await _filed(http, ru)
        for method, template, field in INTEGERS:
            _refused(await _ask(http, method, template.format(HUGE), ru), field)
            _refused(await _ask(http, method, template.format("-" + HUGE), ru), field)
            # as FastAPI reads an integer too: they passed the edge and overflowed (500)
            grouped = f"{2**64 + 5:_}"
            for lax in (f"{HUGE}.0", f"%2B{HUGE}.000", grouped, f"-{grouped}.0"):
                _refused(await _ask(http, method, template.format(lax), ru), field)
            # digits to str.isdigit, not to int(): they answered 500, before any token check
            for odd in ("--1", "+-1", "%C2%B9", "1%C2%B2"):
                _refused(await _ask(http, method, template.format(odd), ru), field)
        version = f"/v1/ledger/openings/N1?version={2**31}"
        _refused(await http.get(version, headers=ru), "query:version")


@pytest.mark.parametrize("name", ["start", "end"])
@pytest.mark.parametrize("year", ["+" + "9" * 400, "-" + "9" * 400, "+" + "9" * 303])
async def test_a_time_past_any_float_is_refused_naming_it(site, name, year):
    """An expanded year of hundreds of digits is a time past any float: it overflowed in the
    reading (500), or read as infinity and was refused naming the other bound (a thirtieth
    reader)."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        answer = await http.get("/v1/map", params={name: f"{year}-01-01T00:00:00Z"}, headers=ru)
        _refused(answer, f"query:{name}")


@pytest.mark.parametrize("name", ["start", "end"])
@pytest.mark.parametrize("text", ["20990101T000000Z", "2099-W01-1T00:00Z", "2099-001T00:00Z"])
async def test_a_map_bound_in_another_iso_8601_form_is_refused_naming_it(site, name, text):
    """Python reads ISO 8601's basic, week and ordinal forms; the map's bounds took them with
    a 200 (a thirtieth reader): every time the hub reads is RFC 3339, refused otherwise."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        answer = await http.get("/v1/map", params={name: text}, headers=ru)
        _refused(answer, f"query:{name}")
        assert "is not RFC 3339" in answer.json()["detail"]


async def test_a_nul_or_control_character_in_a_query_or_path_is_refused(site):
    """security.md §3.1: a NUL, a line break or a bidirectional override in any query value or
    path parameter is 422 naming it (PostgreSQL answered 503 quoting the statement)."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        await _filed(http, ru)
        for method, template, field in TEXTS:
            for bad in ("a%00b", "a%0Ab", "a%E2%80%AEb"):
                _refused(await _ask(http, method, template.format(bad), ru), field)
        _refused(await http.get("/v1/notices?party=" + "x" * 2000, headers=ru), "query:party")


@pytest.mark.parametrize(
    "etag",
    [f'"{HUGE}"', f'W/"{HUGE}"', f'"{2**31}"', '"1\\u0000"', '"-1"', "garbage", '"\u00b9"'],
)
async def test_if_match_that_is_no_version_is_refused(site, etag):
    """security.md §3.1: an If-Match past a version's range or not a version at all is 422
    naming the header (2**64 + 5 answered 500), and the notice is unchanged."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        await _filed(http, ru)
        plan = await http.post("/v1/plans", json=notice_body(circle("p"), id="P1"), headers=ru)
        assert plan.status_code == 201, plan.text
        headers = {**ru, "If-Match": etag.encode("latin-1")}  # as a header's bytes
        for method, url in (
            ("PATCH", "/v1/notices/N1"),
            ("PUT", "/v1/notices/N1"),
            ("PUT", "/v1/plans/P1"),
        ):
            body = {"category": "x"} if method == "PATCH" else notice_body(circle("v2"))
            answer = await http.request(method, url, json=body, headers=headers)
            _refused(answer, "header:If-Match")
        assert (await http.get("/v1/notices/N1", headers=ru)).json()["version"] == 1
        assert (await http.get("/v1/plans/P1", headers=ru)).json()["version"] == 1


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "12.", ".N-1", f"{HUGE}{HUGE}.N-1", "-5.N-1", "1.a b\u202e", "\u00b9.N-1"],
)
async def test_a_malformed_event_cursor_is_a_422_not_a_cut_stream(site, cursor):
    """security.md §3.1: a Last-Event-ID or ?after= that is not an event id of the stream is
    422 naming it, before any of the stream is sent (it was a 200 cut after `retry:`)."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        sent = [*ru.items(), (b"Last-Event-ID", cursor.encode())]
        answer = await http.get("/v1/events?once=true", headers=sent)
        _refused(answer, "header:Last-Event-ID")
        answer = await http.get("/v1/events", params={"once": "true", "after": cursor}, headers=ru)
        _refused(answer, "query:after")


async def test_a_good_event_cursor_still_resumes(site):
    """The check refuses no event id the stream itself sends: resuming after one works."""
    ru, us = token(site.state, "RU"), token(site.state, "US")
    async with client(site.db) as http:
        await _filed(http, ru)
        await detected(http, ru)
        first = await http.get("/v1/events?once=true", headers=us)
        assert first.status_code == 200
        ids = [line[4:] for line in first.text.splitlines() if line.startswith("id: ")]
        assert ids, first.text
        again = await http.get("/v1/events?once=true", headers={**us, "Last-Event-ID": ids[-1]})
        assert again.status_code == 200
        assert "id: " not in again.text


@pytest.mark.parametrize("key", ["", "k" * 256, "a\u00e9b", "tab\there"])
async def test_a_bad_idempotency_key_is_refused_naming_it(site, key):
    """security.md §3.1: an Idempotency-Key must be 1 to 255 visible ASCII characters; any
    other is 422 naming the header (it was a 400 naming nothing), and nothing is filed."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        body = notice_body(circle("v1"), id="N1")
        raw = key.encode()
        answer = await http.post(
            "/v1/notices", json=body, headers=[*ru.items(), (b"Idempotency-Key", raw)]
        )
        _refused(answer, "header:Idempotency-Key")
        assert (await http.get("/v1/notices", headers=ru)).json() == []


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/v1/notices", "POST"),
        ("/v1/plans", "POST"),
        ("/v1/notices/N1", "PUT"),
        ("/v1/plans/P1", "PUT"),
        ("/v1/webhook", "PUT"),
        ("/v1/parties", "POST"),
        ("/v1/agreements", "POST"),
    ],
)
@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe{}", b'{"a": 1'])
async def test_a_body_that_is_not_json_is_422_naming_the_whole_body(site, path, method, body):
    """security.md §3.1: a body that is not JSON (or not UTF-8) is 422 naming ``/``: it was
    400 "There was an error parsing the body" with no field, or a field ``/1`` that is a
    character's position, not a member."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        headers = {**ru, "Content-Type": "application/json", "If-Match": '"1"'}
        _refused(await http.request(method, path, content=body, headers=headers), "/")


async def test_an_agreement_naming_no_party_names_the_member(site):
    """security.md §3.1: an agreement naming a party or relay that does not exist is 422
    naming the member (it named nothing)."""
    us = token(site.state, "US")
    async with client(site.db) as http:
        for body, field in [
            ({"id": "A2", "parties": ["US", "ZZ"]}, "/parties/1"),
            ({"id": "A3", "parties": ["US", "FR"], "relay": "ZZ"}, "/relay"),
        ]:
            _refused(await http.post("/v1/agreements", json=body, headers=us), field)


async def test_a_member_named_with_a_slash_or_a_tilde_is_pointed_at_escaped(tmp_path):
    """RFC 6901: the ``field`` of a 422 names the member at fault even when its name holds
    ``/`` or ``~`` (escaped ``~1`` and ``~0``): ``a/b`` was ``/separation/a/b``, a member ``b``
    of a member ``a`` that is not there."""
    from tests.api.harness import make_db

    db = make_db(tmp_path)
    admin = token(db, "US", ["admin"])
    async with client(db) as http:
        for extra, field in [
            ({"separation": {"a/b": 1}}, "/separation/a~1b"),
            ({"m~n": 1}, "/m~0n"),
            (
                {"disclosure": [{"from": "US", "to": "FR", "level": "full", "~1": 0}]},
                "/disclosure/0/~01",
            ),
        ]:
            body = {"id": "A9", "parties": ["US", "FR"], **extra}
            _refused(await http.post("/v1/agreements", json=body, headers=admin), field)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    return [
        (method.upper(), path, operation.get("parameters", []))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


async def test_every_parameter_of_every_route_is_checked_at_the_edge(tmp_path, monkeypatch):
    """security.md §3.1, for the routes nobody listed: every path and query parameter the
    served document names refuses a NUL, and every integer one 2**64 + 5, with 422 naming it,
    whatever the route and before its body is read."""
    from tests.api.harness import make_db

    from deconflict.api import ApiSettings, create_app

    monkeypatch.setenv("DECONFLICT_STATE_DIR", str(tmp_path / "state"))
    db = make_db(tmp_path)
    ru = token(db, "RU")
    document = create_app(ApiSettings(db=db)).openapi()
    checked = 0
    async with client(db) as http:
        for method, path, parameters in _operations(document):
            names = {p["name"]: p for p in parameters if p["in"] in ("path", "query")}
            for name, parameter in names.items():
                schema = parameter["schema"]
                kinds = {one.get("type") for one in schema.get("anyOf", [schema])}
                bads = ["a%00b"] + ([HUGE] if "integer" in kinds else [])
                for bad in bads:
                    url = path
                    for other in (n for n, p in names.items() if p["in"] == "path"):
                        url = url.replace("{" + other + "}", bad if other == name else "N1")
                    if parameter["in"] == "query":
                        url = f"{url}?{name}={bad}"
                    answer = await http.request(method, url, headers=ru)
                    _refused(answer, f"{parameter['in']}:{name}")
                    checked += 1
    assert checked >= 30


async def test_a_refusal_quotes_a_huge_value_cut_to_a_kilobyte(tmp_path):
    """security.md §4.2: a value the hub refuses is quoted in the 422, cut to
    ``MAX_QUOTED_CHARS``: 900 KB of digits as a start time (or as a member's name, which the
    field points at) answer a few kilobytes, still naming the field; a body with thousands of
    faults lists the first ``MAX_ERRORS``."""
    from tests.api.harness import make_db

    from deconflict.api.problems import MAX_ERRORS, MAX_QUOTED_CHARS

    db = make_db(tmp_path)
    ru, admin = token(db, "RU"), token(db, "US", ["admin"])
    huge = "9" * 900_000
    async with client(db) as http:
        body = notice_body(circle("v1", start=huge), id="RU-HUGE")
        answer = await http.post("/v1/notices", json=body, headers=ru)
        assert answer.status_code == 422
        assert len(answer.content) < 4 * MAX_QUOTED_CHARS
        assert answer.json()["field"] == "/features/0/properties/start"
        detail = answer.json()["detail"]
        assert detail.startswith("features[0].properties.start: ")
        assert detail.endswith(" more characters)")
        named = {"id": "A9", "parties": ["US", "FR"], "separation": {huge: 1}}
        answer = await http.post("/v1/agreements", json=named, headers=admin)
        assert answer.status_code == 422
        assert len(answer.content) < 8 * MAX_QUOTED_CHARS
        assert answer.json()["field"].startswith("/separation/999")
        many = {"id": "A9", "parties": ["US", "FR"], **{f"x{i}": 1 for i in range(3_000)}}
        answer = await http.post("/v1/agreements", json=many, headers=admin)
        assert answer.status_code == 422
        assert len(answer.json().get("errors", [])) <= MAX_ERRORS


def test_an_error_response_lists_at_most_max_errors_each_cut():
    import json

    from deconflict.api.problems import MAX_ERRORS, MAX_QUOTED_CHARS, problem

    errors = [{"field": f"/x{i}", "message": "m" * 5_000} for i in range(MAX_ERRORS + 100)]
    body = json.loads(problem(422, "d", field="/x0", errors=errors).body)
    assert [e["field"] for e in body["errors"]] == [f"/x{i}" for i in range(MAX_ERRORS)]
    assert all(len(e["message"]) < MAX_QUOTED_CHARS + 40 for e in body["errors"])
