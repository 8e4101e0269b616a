"""A party's own plans over HTTP: amended (after a suggested adjustment, say) with its current
version as If-Match, and withdrawn; either clears the conflicts it no longer meets. Another
party's plan is answered word for word as one that does not exist, whatever the body
(security.md §3.2)."""

from __future__ import annotations

import pytest
from tests.api.harness import circle, client, detected, make_db, notice_body, token

pytestmark = pytest.mark.anyio


async def _open_conflicts(http, us) -> list[dict]:
    await detected(http, us)
    return (await http.get("/v1/conflicts?open=true", headers=us)).json()


async def test_a_plan_amended_or_withdrawn_clears_its_conflicts(tmp_path):
    db = make_db(tmp_path)
    async with client(db) as http:
        ru, us = token(db, "RU"), token(db, "US")
        body = notice_body(circle("ru-1"), id="RU-N1")
        assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        for plan_id in ("US-P1", "US-P2"):
            plan = notice_body(circle(f"{plan_id}-v", lon=39.02), id=plan_id)
            assert (await http.post("/v1/plans", json=plan, headers=us)).status_code == 201
        assert len(await _open_conflicts(http, us)) == 2
        got = await http.get("/v1/plans/US-P1", headers=us)
        assert got.headers["ETag"] == '"1"'
        away = notice_body(circle("moved", lon=45.0))
        assert (await http.put("/v1/plans/US-P1", json=away, headers=us)).status_code == 428
        stale = {**us, "If-Match": '"7"'}
        assert (await http.put("/v1/plans/US-P1", json=away, headers=stale)).status_code == 412
        moved = await http.put("/v1/plans/US-P1", json=away, headers={**us, "If-Match": '"1"'})
        assert moved.status_code == 200, moved.text
        assert moved.headers["ETag"] == '"2"'
        assert moved.json()["version"] == 2
        (left,) = await _open_conflicts(http, us)
        assert left["mine"]["record_id"] == "US-P2"
        withdrawn = await http.post("/v1/plans/US-P2/withdraw", headers=us)
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["state"] == "withdrawn"
        assert await _open_conflicts(http, us) == []
        listed = (await http.get("/v1/plans", headers=us)).json()
        assert [p["id"] for p in listed] == ["US-P1"]
        again = await http.post("/v1/plans/US-P2/withdraw", headers=us)
        assert again.status_code == 409
        late = await http.put("/v1/plans/US-P2", json=away, headers={**us, "If-Match": '"1"'})
        assert late.status_code == 409


async def test_another_partys_plan_is_answered_as_a_missing_one(tmp_path):
    """RU amending or withdrawing US's plan US-P1, with a good body or a bad one, with or
    without the scope, gets what it gets for a plan no one has, word for word; the plan is
    untouched."""
    db = make_db(tmp_path)
    async with client(db) as http:
        us = token(db, "US")
        plan = notice_body(circle("us-1", lon=39.02), id="US-P1")
        assert (await http.post("/v1/plans", json=plan, headers=us)).status_code == 201
        bodies = (notice_body(circle("x", lon=44.0)), {"type": "FeatureCollection"}, {})
        for scopes in (("read", "plan"), ("read",)):
            ru = {**token(db, "RU", scopes), "If-Match": '"1"'}
            for body in bodies:
                answers = []
                for plan_id in ("US-P1", "NO-SUCH"):
                    put = await http.put(f"/v1/plans/{plan_id}", json=body, headers=ru)
                    withdraw = await http.post(f"/v1/plans/{plan_id}/withdraw", headers=ru)
                    answers.append(
                        [(a.status_code, a.text.replace(plan_id, "<id>")) for a in (put, withdraw)]
                    )
                assert answers[0] == answers[1], (scopes, body)
                if body and "features" in body:
                    assert [status for status, _ in answers[0]] == [404, 404]
        kept = await http.get("/v1/plans/US-P1", headers=us)
        assert (kept.json()["version"], kept.json()["state"]) == (1, "current")


async def test_a_body_for_a_record_not_the_callers_is_not_parsed(tmp_path, monkeypatch):
    """A body's volumes cost the pool for heavy work CPU (a 10,000-vertex star about 0.9 s):
    they are parsed only for the caller's own plan or notice, looked up first (a forty-fourth
    reader: RU's amendment of US's plan or notice, or of none, was parsed, then 404)."""
    import deconflict.api.records as records

    parsed: list[str] = []
    real = records.volumes_from

    def counted(features, party, limits):
        parsed.append(party)
        return real(features, party, limits)

    monkeypatch.setattr(records, "volumes_from", counted)
    db = make_db(tmp_path)
    async with client(db) as http:
        us = token(db, "US")
        plan = notice_body(circle("us-1", lon=39.02), id="US-P1")
        assert (await http.post("/v1/plans", json=plan, headers=us)).status_code == 201
        notice = notice_body(circle("us-n", lon=39.5), id="US-N1")
        assert (await http.post("/v1/notices", json=notice, headers=us)).status_code == 201
        parsed.clear()
        ru = {**token(db, "RU"), "If-Match": '"1"'}
        body = notice_body(circle("x", lon=44.0))
        for path in ("/v1/plans/US-P1", "/v1/plans/NO-SUCH", "/v1/notices/US-N1"):
            assert (await http.put(path, json=body, headers=ru)).status_code == 404, path
        assert parsed == []
        mine = {**us, "If-Match": '"1"'}
        assert (await http.put("/v1/plans/US-P1", json=body, headers=mine)).status_code == 200
        assert parsed == ["US"]
