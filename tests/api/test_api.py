"""The API in-process: filing, reading, amending and cancelling notices, plans, conflicts,
notifications and acknowledgement, errors as problem+json, limits and idempotency."""

from __future__ import annotations

import json
import time

import pytest
from tests.api.harness import circle, client, detected, make_db, notice_body, token

from deconflict.geo import Circle, Volume4D
from deconflict.hub import Hub

pytestmark = pytest.mark.anyio


async def test_notice_reaches_the_other_party_who_acknowledges(tmp_path):
    """RU files; US is told (via CAOC), sees it in full, and acknowledges; RU sees no US plan."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        filed = await http.post(
            "/v1/notices",
            json=notice_body(circle("ru-1"), category="hazard-area", id="RU-N1"),
            headers=ru,
        )
        assert filed.status_code == 201, filed.text
        assert filed.headers["etag"] == '"1"'
        assert filed.json()["category"] == "hazard-area"
        plan = await http.post("/v1/plans", json=notice_body(circle("us-1", lon=39.02)), headers=us)
        assert plan.status_code == 201, plan.text
        seen = await http.get("/v1/notices/RU-N1", headers=us)
        assert seen.status_code == 200
        assert len(seen.json()["volumes"]["features"]) == 1
        notes = (await http.get("/v1/notifications", headers=us)).json()
        assert {n["kind"] for n in notes} >= {"notice", "conflict"}
        conflicts = (await http.get("/v1/conflicts", headers=us)).json()
        assert len(conflicts) == 1
        assert conflicts[0]["theirs"]["record_id"] == "RU-N1"
        assert conflicts[0]["suggestion"] is not None
        first = notes[0]["id"]
        acked = await http.post(f"/v1/notifications/{first}/ack", headers=us)
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged"
        assert (await http.get(f"/v1/plans/{plan.json()['id']}", headers=ru)).status_code == 404


async def test_amendment_needs_the_current_version(tmp_path):
    """PATCH without If-Match is 428, with a stale one 412; with the ETag it makes version 2."""
    db = make_db(tmp_path)
    ru = token(db, "RU")
    async with client(db) as http:
        await http.post("/v1/notices", json=notice_body(circle("a"), id="N"), headers=ru)
        etag = (await http.get("/v1/notices/N", headers=ru)).headers["etag"]
        missing = await http.patch("/v1/notices/N", json={"category": "x"}, headers=ru)
        assert missing.status_code == 428
        stale = await http.patch(
            "/v1/notices/N", json={"category": "x"}, headers={**ru, "If-Match": '"7"'}
        )
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"
        done = await http.patch(
            "/v1/notices/N", json={"category": "x"}, headers={**ru, "If-Match": etag}
        )
        assert done.status_code == 200, done.text
        assert done.headers["etag"] == '"2"'
        assert done.json()["category"] == "x"
        put = await http.put(
            "/v1/notices/N",
            json=notice_body(circle("b", radius_m=2_000.0)),
            headers={**ru, "If-Match": '"2"'},
        )
        assert put.json()["version"] == 3
        cancelled = await http.post("/v1/notices/N/cancel", headers=ru)
        assert cancelled.json()["state"] == "cancelled"
        again = await http.post("/v1/notices/N/cancel", headers=ru)
        assert again.status_code == 409


async def test_errors_name_the_offending_field(tmp_path):
    """A bad volume names its feature and the property at fault; a malformed body names the
    missing field; a volume of another party names its party property; an id used twice, the
    feature that uses it again."""
    db = make_db(tmp_path)
    ru = token(db, "RU")
    bad = circle("b", lower_m=9_000.0, upper_m=1_000.0)
    async with client(db) as http:
        volume = await http.post("/v1/notices", json=notice_body(circle("a"), bad), headers=ru)
        assert volume.status_code == 422
        assert volume.headers["content-type"] == "application/problem+json"
        assert volume.json()["field"] == "/features/1/properties/upper_m"
        assert "'b'" in volume.json()["detail"]
        shape = await http.post("/v1/notices", json={"type": "FeatureCollection"}, headers=ru)
        assert shape.status_code == 422
        assert shape.json()["field"] == "/features"
        other = circle("c")
        other["properties"]["party"] = "US"
        forged = await http.post("/v1/notices", json=notice_body(other), headers=ru)
        assert forged.status_code == 422
        assert forged.json()["field"] == "/features/0/properties/party"
        twice = await http.post(
            "/v1/notices", json=notice_body(circle("d"), circle("d")), headers=ru
        )
        assert twice.status_code == 422
        assert twice.json()["field"] == "/features/1/properties/id"  # the second: it was the first
        window = await http.get("/v1/notices", params={"start": "yesterday"}, headers=ru)
        assert window.status_code == 422
        assert window.json()["field"] == "query:start"


async def test_idempotency_key_replays_the_first_response(tmp_path):
    """The same POST with the same key files once and answers the same; another body with that
    key is refused."""
    db = make_db(tmp_path)
    ru = {**token(db, "RU"), "Idempotency-Key": "k-1"}
    async with client(db) as http:
        first = await http.post("/v1/notices", json=notice_body(circle("a")), headers=ru)
        second = await http.post("/v1/notices", json=notice_body(circle("a")), headers=ru)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second.headers["idempotent-replayed"] == "true"
        listed = (await http.get("/v1/notices", headers=ru)).json()
        assert len(listed) == 1
        other = await http.post("/v1/notices", json=notice_body(circle("b")), headers=ru)
        assert other.status_code == 422
        assert "used for a different request" in other.json()["detail"]
        us = {**token(db, "US"), "Idempotency-Key": "k-1"}  # keys are per party
        assert (await http.post("/v1/plans", json=notice_body(circle("p")), headers=us)).is_success


async def test_a_replayed_success_needs_the_scope_its_request_needed(tmp_path):
    """An Idempotency-Key is the party's, not the token's: a cancellation or an acknowledgement
    replayed to another token of the party that lacks the scope answered the stored 200, where
    the request itself is 403 (a forty-second reader). A replay needs the scope too; with it,
    the replay stands."""
    db = make_db(tmp_path)
    async with client(db) as http:
        ru = token(db, "RU")
        body = notice_body(circle("a", lon=39.5), id="RU-C")
        assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        keyed = {**ru, "Idempotency-Key": "c-1"}
        assert (await http.post("/v1/notices/RU-C/cancel", headers=keyed)).status_code == 200
        for scopes, status in ((("read",), 403), (("read", "notice"), 200)):
            other = {**token(db, "RU", scopes), "Idempotency-Key": "c-1"}
            again = await http.post("/v1/notices/RU-C/cancel", headers=other)
            assert again.status_code == status, (scopes, again.text)
            if status == 403:
                assert "lacks the scope 'notice'" in again.json()["detail"]


async def test_a_body_that_is_not_json_is_415_naming_its_type(tmp_path):
    """Every route that takes a body takes JSON: another media type (curl's default form
    encoding, text, none at all) is 415 naming it, on the lean route and FastAPI's alike,
    before anything is read; JSON with parameters or as a +json type is taken; a POST without
    a body (an acknowledgement) needs no type."""
    db = make_db(tmp_path)
    ru = token(db, "RU")
    body = json.dumps(notice_body(circle("a"))).encode()
    async with client(db) as http:
        for path in ("/v1/notices", "/v1/plans"):
            for given in ("application/x-www-form-urlencoded", "text/plain", None):
                headers = {**ru, **({"Content-Type": given} if given else {})}
                answer = await http.post(path, content=body, headers=headers)
                assert answer.status_code == 415, (path, given)
                assert answer.headers["content-type"] == "application/problem+json"
                assert f"not {given or 'none'}" in answer.json()["detail"]
        taken = []
        for n, given in enumerate(("application/json; charset=utf-8", "application/geo+json")):
            headers = {**ru, "Content-Type": given}
            one = json.dumps(notice_body(circle("a"), id=f"J{n}")).encode()
            taken.append((await http.post("/v1/notices", content=one, headers=headers)).status_code)
        assert taken == [201, 201]
        assert (await http.get("/v1/notices/J0", headers=ru)).status_code == 200
        cancel = await http.post("/v1/notices/J1/cancel", headers=ru)
        assert cancel.status_code == 200


async def test_limits_on_body_size_and_rate(tmp_path):
    """A body over the limit is 413; past the party's bucket, 429 with Retry-After."""
    db = make_db(tmp_path)
    ru = token(db, "RU")
    async with client(db, max_body_bytes=2_000, rate_per_s=1.0, rate_burst=3.0) as http:
        big = notice_body(*[circle(f"v{i}") for i in range(30)])
        too_big = await http.post("/v1/notices", json=big, headers=ru)
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/problem+json"
        answers = [(await http.get("/v1/notices", headers=ru)).status_code for _ in range(5)]
        assert 429 in answers
        limited = await http.get("/v1/notices", headers=ru)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert (await http.get("/v1/notices", headers=token(db, "US"))).status_code == 200


async def test_events_resume_after_the_last_event_id(tmp_path):
    """The event stream sends US's notifications in order, each once; resuming after the last
    id sends only the newer ones."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        await http.post("/v1/notices", json=notice_body(circle("a"), id="N1"), headers=ru)
        await detected(http, ru)
        first = await http.get("/v1/events", params={"once": "true"}, headers=us)
        assert first.headers["content-type"].startswith("text/event-stream")
        ids = [line[4:] for line in first.text.splitlines() if line.startswith("id: ")]
        assert len(ids) == 1
        await http.post("/v1/notices", json=notice_body(circle("b"), id="N2"), headers=ru)
        await detected(http, ru)
        resumed = await http.get(
            "/v1/events", params={"once": "true"}, headers={**us, "Last-Event-ID": ids[-1]}
        )
        data = [json.loads(x[6:]) for x in resumed.text.splitlines() if x.startswith("data: ")]
        assert [d["notice_id"] for d in data] == ["N2"]
        everything = await http.get("/v1/events", params={"once": "true"}, headers=us)
        assert everything.text.count("event: notification") == 2


async def test_service_endpoints(tmp_path):
    """Health, readiness, metrics and the OpenAPI document are served; agreements need admin."""
    db = make_db(tmp_path)
    async with client(db) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).status_code == 200
        spec = (await http.get("/openapi.json")).json()
        assert {"/v1/notices", "/v1/events", "/v1/notifications/{notification_id}/ack"} <= set(
            spec["paths"]
        )
        for paged in ("/v1/notices", "/v1/notifications"):
            listing = spec["paths"][paged]["get"]
            assert {"after", "limit"} <= {p["name"] for p in listing["parameters"]}
            assert "Link" in listing["responses"]["200"]["headers"]
        await http.get("/v1/agreements", headers=token(db, "US"))
        metrics = (await http.get("/metrics", headers=token(db, "CAOC", ["metrics"]))).text
        assert 'deconflict_http_requests_total{method="GET",route="/v1/agreements"' in metrics
        assert "deconflict_detector_leading 1.0" in metrics  # one app: it holds the lease
        assert "deconflict_detection_lag_changes 0.0" in metrics  # caught up
        agreement = {"id": "NEW", "parties": ["FR", "RU"]}
        refused = await http.post(
            "/v1/agreements", json=agreement, headers=token(db, "FR", ["read"])
        )
        assert refused.status_code == 403
        made = await http.post("/v1/agreements", json=agreement, headers=token(db, "FR", ["admin"]))
        assert made.status_code == 201, made.text
        mine = (await http.get("/v1/agreements", headers=token(db, "FR", ["read"]))).json()
        assert {a["id"] for a in mine} == {"SHARE", "NEW"}


async def test_an_agreement_of_two_parties_through_another_relay_is_a_422(tmp_path):
    """US and RU talk through CAOC under "MOU": a second agreement of theirs, directly or through
    another relay, is refused with a problem naming the member at fault and both agreements;
    nothing is added."""
    db = make_db(tmp_path)
    admin = token(db, "FR", ["admin"])
    async with client(db) as http:
        for body in (
            {"id": "DIRECT", "parties": ["RU", "US"], "default_disclosure": "full"},
            {"id": "VIA-FR", "parties": ["US", "RU"], "relay": "FR"},
        ):
            refused = await http.post("/v1/agreements", json=body, headers=admin)
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["field"] == "/relay"
            assert "but agreement 'MOU' links them through relay 'CAOC'" in problem["detail"]
        listed = await http.get("/v1/agreements", headers=token(db, "US", ["read"]))
        assert {a["id"] for a in listed.json()} == {"MOU", "SHARE"}


async def test_the_lean_notice_route_is_documented_and_answers_as_the_others(tmp_path):
    """POST /v1/notices reads its caller, body and header itself (for speed); its OpenAPI says
    what FastAPI says of a route that declares them (POST /v1/plans), and a bad body, a bad
    token or a missing scope gets the answer any route gives."""
    db = make_db(tmp_path)
    async with client(db) as http:
        spec = (await http.get("/openapi.json")).json()
        notices, plans = spec["paths"]["/v1/notices"]["post"], spec["paths"]["/v1/plans"]["post"]
        assert notices["security"] == plans["security"] == [{"HTTPBearer": []}]
        assert [p["name"] for p in notices["parameters"]] == ["idempotency-key"]
        assert [p["in"] for p in notices["parameters"]] == ["header"]
        assert {p["name"] for p in plans["parameters"]} == {"idempotency-key"}
        body = notices["requestBody"]["content"]["application/json"]["schema"]
        assert {"type", "features", "category", "id"} <= set(body["properties"])
        assert body["required"] == ["type", "features"]
        assert notices["requestBody"]["required"] is True
        assert "201" in notices["responses"]
        ru = token(db, "RU")
        bad = await http.post("/v1/notices", json={"type": "FeatureCollection"}, headers=ru)
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["field"] == "/features"
        as_json = {**ru, "Content-Type": "application/json"}
        ruined = await http.post("/v1/notices", content=b"{not json", headers=as_json)
        assert (ruined.status_code, ruined.json()["field"]) == (422, "/")
        shape = await http.post(
            "/v1/notices", json={"type": "FeatureCollection", "features": [{}]}, headers=ru
        )
        assert (shape.status_code, shape.json()["field"]) == (422, "/features/0")
        anonymous = await http.post("/v1/notices", json=notice_body(circle("a")))
        assert anonymous.status_code == 401
        reader = await http.post(
            "/v1/notices", json=notice_body(circle("a")), headers=token(db, "RU", ["read"])
        )
        assert reader.status_code == 403
        key = {**ru, "Idempotency-Key": "k1"}
        first = await http.post("/v1/notices", json=notice_body(circle("a"), id="K1"), headers=key)
        again = await http.post("/v1/notices", json=notice_body(circle("a"), id="K1"), headers=key)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()


async def test_notice_list_filters(tmp_path):
    """Notices filter by state, party, time window and area (a circle around a point)."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        await http.post("/v1/notices", json=notice_body(circle("a"), id="RAQQA"), headers=ru)
        late = circle(
            "b", lon=2.35, lat=48.85, start="2099-02-01T00:00:00Z", end="2099-02-02T00:00:00Z"
        )
        await http.post("/v1/notices", json=notice_body(late, id="PARIS"), headers=ru)
        await http.post("/v1/notices/PARIS/cancel", headers=ru)

        async def ids(**params):
            answer = await http.get("/v1/notices", params=params, headers=us)
            assert answer.status_code == 200, answer.text
            return [n["id"] for n in answer.json()]

        assert await ids() == ["RAQQA", "PARIS"]
        assert await ids(state="filed") == ["RAQQA"]
        assert await ids(party="US") == []
        assert await ids(start="2099-01-15T00:00:00Z") == ["PARIS"]
        assert await ids(end="2099-01-01T06:00:00Z") == []
        assert await ids(near="39.1,35.95,5000") == ["RAQQA"]
        assert await ids(near="39.3,35.95,5000") == []
        bad = await http.get("/v1/notices", params={"near": "x"}, headers=us)
        assert bad.json()["field"] == "query:near"


async def test_one_json_log_line_per_request(tmp_path, caplog):
    """Each request logs one JSON line with method, route, status, time and party; an unknown
    path is a problem+json 404."""
    db = make_db(tmp_path)
    async with client(db) as http:
        with caplog.at_level("INFO", logger="deconflict.api"):
            await http.get("/v1/notices", headers=token(db, "US"))
            missing = await http.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "deconflict.api"]
    # serve.ready is logged once the runtime has started, which on a loaded machine may be
    # after the first request was answered.
    lines = [x for x in logged if x.get("event") != "serve.ready"]
    assert [(x["route"], x["status"], x["party"]) for x in lines] == [
        ("/v1/notices", 200, "US"),
        ("unmatched", 404, None),
    ]
    assert all(x["ms"] >= 0 for x in lines)


async def test_notifications_come_a_page_at_a_time(tmp_path):
    """``limit`` bounds a page and ``after`` continues from a notification; a full page links
    the next; the pages together are the whole list, oldest first, for the recipient and for
    the relay; a cursor the caller may not see, or a bad limit, is a 422 naming the field."""
    db = make_db(tmp_path)
    ru, us, caoc, fr = (token(db, p) for p in ("RU", "US", "CAOC", "FR"))
    async with client(db) as http:
        for k in range(5):
            body = notice_body(circle(f"v{k}", lon=39.0 + 0.2 * k), id=f"RU-N{k}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        await detected(http, ru)
        for caller in (us, caoc):
            whole = (await http.get("/v1/notifications", headers=caller)).json()
            assert len(whole) == 5
            assert "link" not in (await http.get("/v1/notifications", headers=caller)).headers
            pages, url = [], "/v1/notifications?limit=2"
            while url:
                answer = await http.get(url, headers=caller)
                assert answer.status_code == 200, answer.text
                pages.append([n["id"] for n in answer.json()])
                url = answer.links.get("next", {}).get("url")
            assert pages[:2] == [[n["id"] for n in whole[:2]], [n["id"] for n in whole[2:4]]]
            assert [i for page in pages for i in page] == [n["id"] for n in whole]
            assert pages[-1] == [whole[4]["id"]] or pages[-1] == []
            rest = await http.get(f"/v1/notifications?after={whole[1]['id']}", headers=caller)
            assert [n["id"] for n in rest.json()] == [n["id"] for n in whole[2:]]
        hidden = (await http.get("/v1/notifications", headers=us)).json()[0]["id"]
        for bad, field in (
            (f"after={hidden}", "query:after"),  # US's: FR may not see it
            ("after=nothing", "query:after"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
        ):
            refused = await http.get(f"/v1/notifications?{bad}", headers=fr)
            assert refused.status_code == 422, (bad, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert field in refused.text, (bad, refused.text)
        same = await http.get(f"/v1/notifications?after={hidden}", headers=fr)
        missing = await http.get("/v1/notifications?after=nothing", headers=fr)
        assert same.json()["detail"].replace(hidden, "X") == missing.json()["detail"].replace(
            "nothing", "X"
        )


async def test_notices_come_a_page_at_a_time(tmp_path):
    """The notices a party may see page by filing order: ``limit`` and ``after``, with the
    other filters applied before a page is cut (pages are full until the last); a notice the
    caller may not see is no cursor (422, as one that does not exist)."""
    db = make_db(tmp_path)
    ru, us, fr = (token(db, p) for p in ("RU", "US", "FR"))
    async with client(db) as http:
        for k in range(6):
            body = notice_body(circle(f"v{k}", lon=39.0 + 0.2 * k), id=f"RU-N{k}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        body = notice_body(circle("u", lon=30.0), id="US-N1")
        assert (await http.post("/v1/notices", json=body, headers=us)).status_code == 201
        whole = [n["id"] for n in (await http.get("/v1/notices", headers=us)).json()]
        assert whole == [f"RU-N{k}" for k in range(6)] + ["US-N1"]
        for query, expected in (
            ("limit=3", whole),
            ("limit=2&party=RU", whole[:6]),
            ("limit=4&party=US", ["US-N1"]),
        ):
            pages, url = [], f"/v1/notices?{query}"
            while url:
                answer = await http.get(url, headers=us)
                assert answer.status_code == 200, answer.text
                pages.append([n["id"] for n in answer.json()])
                url = answer.links.get("next", {}).get("url")
            assert [i for page in pages for i in page] == expected, query
            limit = int(query.split("&")[0].removeprefix("limit="))
            assert all(len(page) == limit for page in pages[:-1]), (query, pages)
        rest = await http.get("/v1/notices?after=RU-N3", headers=us)
        assert [n["id"] for n in rest.json()] == whole[4:]
        for bad in ("after=RU-N1", "after=nothing"):  # FR may not see RU's notices
            refused = await http.get(f"/v1/notices?{bad}", headers=fr)
            assert refused.status_code == 422, refused.text
            assert "query:after" in refused.text
        assert (await http.get("/v1/notices?limit=0", headers=us)).status_code == 422


async def test_a_page_of_notices_skips_those_hidden_however_many(tmp_path):
    """FR sees US's notices, not RU's: with hundreds of RU's filed between them (more than the
    hub reads from the store at a time), FR's pages still hold only US's, full until the last."""
    db = make_db(tmp_path)
    fr = token(db, "FR")
    with Hub.open(db) as hub:
        for k in range(450):
            if k in (0, 250, 400):  # the first two read from the store in two chunks
                hub.file_notice("US", [_volume(f"u{k}", 30.0)], "air-activity", f"US-N{k}")
            hub.file_notice("RU", [_volume(f"r{k}", 39.0)], "air-activity", f"RU-N{k}")
    async with client(db) as http:
        first = await http.get("/v1/notices?limit=2", headers=fr)
        assert [n["id"] for n in first.json()] == ["US-N0", "US-N250"]
        second = await http.get(first.links["next"]["url"], headers=fr)
        assert [n["id"] for n in second.json()] == ["US-N400"]
        assert "next" not in second.links


def _volume(volume_id: str, lon: float) -> Volume4D:
    start = time.time() + 7_200.0
    return Volume4D.build(volume_id, Circle((lon, 35.9), 2_000.0), 0.0, 3_000.0, start, start + 600)


async def test_conflicts_come_a_page_at_a_time(tmp_path):
    """A party's conflicts, oldest first, a page at a time: a full page links the next. A page
    may start after one of the caller's conflicts only: one it is not in (US's with RU, asked
    by FR) is refused word for word as one that does not exist (security.md §3.5, §4.2)."""
    db = make_db(tmp_path)
    us, fr = token(db, "US"), token(db, "FR")
    with Hub.open(db) as hub:
        hub.file_notice("US", [_volume("u", 39.0)], "air-activity", "US-N")
        for k in range(3):
            hub.file_notice("RU", [_volume(f"r{k}", 39.0)], "air-activity", f"RU-N{k}")
        hub.process()
        every = [c.id for c in hub.list_conflicts("US")]
    async with client(db) as http:
        first = await http.get("/v1/conflicts?limit=2", headers=us)
        assert [c["id"] for c in first.json()] == every[:2]
        second = await http.get(first.links["next"]["url"], headers=us)
        assert [c["id"] for c in second.json()] == every[2:]
        assert "next" not in second.links
        whole = await http.get("/v1/conflicts?open=true", headers=us)
        assert [c["id"] for c in whole.json()] == every
        assert "next" not in whole.links
        answers = []
        for after in (every[0], "C-000000000000000000000000"):
            refused = await http.get(f"/v1/conflicts?after={after}", headers=fr)
            assert refused.status_code == 422, refused.text
            answers.append(refused.text.replace(after, "<id>"))
        assert answers[0] == answers[1]
        assert "query:after" in answers[0]
        for bad in ("limit=0", "limit=201"):
            assert (await http.get(f"/v1/conflicts?{bad}", headers=fr)).status_code == 422


async def test_plans_come_a_page_at_a_time(tmp_path):
    """A party's own current plans, oldest first, a page at a time: a full page links the next,
    and a page resumes after a plan withdrawn since. A page may start after one of the caller's
    own plans only: another party's (RU's RU-P, asked by US) is refused word for word as one
    that does not exist (security.md §3.2, §4.2)."""
    db = make_db(tmp_path)
    us = token(db, "US")
    with Hub.open(db) as hub:
        for k in range(4):
            hub.add_plan("US", [_volume(f"u{k}", 39.0)], f"US-P{k}")
        hub.add_plan("RU", [_volume("r", 39.0)], "RU-P")
        every = [p.id for p in hub.list_plans("US")]
    assert sorted(every) == [f"US-P{k}" for k in range(4)]
    async with client(db) as http:
        first = await http.get("/v1/plans?limit=2", headers=us)
        assert [p["id"] for p in first.json()] == every[:2]
        with Hub.open(db) as hub:
            hub.withdraw_plan("US", every[1])  # the page's last: the next resumes after it
        second = await http.get(first.links["next"]["url"], headers=us)
        assert [p["id"] for p in second.json()] == every[2:]
        assert "next" in second.links  # a full page: the next is empty
        last = await http.get(second.links["next"]["url"], headers=us)
        assert last.json() == []
        assert "next" not in last.links
        whole = await http.get("/v1/plans", headers=us)
        assert [p["id"] for p in whole.json()] == [every[0], *every[2:]]
        assert "next" not in whole.links
        answers = []
        for after in ("RU-P", "NO-SUCH"):
            refused = await http.get(f"/v1/plans?after={after}", headers=us)
            assert refused.status_code == 422, refused.text
            answers.append(refused.text.replace(after, "<id>"))
        assert answers[0] == answers[1]
        assert "query:after" in answers[0]
        for bad in ("limit=0", "limit=1001", "after=a%2Fb", "after=%00"):
            refused = await http.get(f"/v1/plans?{bad}", headers=us)
            assert refused.status_code == 422, (bad, refused.text)


async def test_conflicts_say_when_their_records_meet_in_more_pairs_than_listed(tmp_path):
    """Two records of 11 volumes in one place meet in 121 pairs; a pair of records lists 100,
    each volume in one (``hub.pairs``, security.md §4.2), each saying that there are more, in
    the list, in the map and in the served document."""
    db = make_db(tmp_path)
    us = token(db, "US")
    with Hub.open(db) as hub:
        hub.file_notice("US", [_volume(f"u{k}", 39.0) for k in range(11)], "air-activity", "US-N")
        hub.file_notice("RU", [_volume(f"r{k}", 39.0) for k in range(11)], "air-activity", "RU-N")
        hub.file_notice("US", [_volume("w", 39.0)], "air-activity", "US-W")
        hub.process()
    async with client(db) as http:
        listed = (await http.get("/v1/conflicts?limit=200", headers=us)).json()
        assert len(listed) == 100 + 11
        more = [c["more_pairs"] for c in listed if c["mine"]["record_id"] == "US-N"]
        assert more == [True] * 100
        for side, prefix in (("mine", "u"), ("theirs", "r")):
            met = {c[side]["volume_id"] for c in listed if c["mine"]["record_id"] == "US-N"}
            assert met == {f"{prefix}{k}" for k in range(11)}
        assert not any(c["more_pairs"] for c in listed if c["mine"]["record_id"] == "US-W")
        drawn = (await http.get("/v1/map", headers=us)).json()
        features = [f for f in drawn["features"] if f["properties"]["kind"] == "conflict"]
        assert sum(f["properties"]["more_pairs"] for f in features) == 100
        document = (await http.get("/openapi.json")).json()
        assert "more_pairs" in document["components"]["schemas"]["ConflictOut"]["properties"]
