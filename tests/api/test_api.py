"""The API in-process: filing, reading, amending and cancelling notices, plans, conflicts,
notifications and acknowledgement, errors as problem+json, limits and idempotency."""

from __future__ import annotations

import pytest
from tests.api.harness import circle, client, make_db, notice_body, token

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
