"""A hostile party with a valid token and the ``read notice plan ack`` scopes probing the API for
what the threat model promises it cannot do (security.md §3, §4): each test plays one attack
found by a probe of the code and names the section it checks."""

from __future__ import annotations

import asyncio

import pytest
from tests.api.harness import client, make_db, token
from tests.api.test_hostile_heavy import _GIVE_UP_S, Hold, polygon_feature, star

from deconflict.api import nearby

pytestmark = pytest.mark.anyio

PARTY = ("read", "notice", "plan", "ack")


async def test_a_near_filter_over_heavy_footprints_does_not_hold_another_partys_read(
    tmp_path, monkeypatch
):
    """security.md §4.2: ``GET /v1/notices?near=lon,lat,radius_m`` tested every volume the caller
    sees against the circle (``separation_m``) inside the read that runs on the hub thread, where
    every party's reads and writes run. RU files valid 10,000-vertex stars (0.25-0.5 s each
    against a circle they do not meet; a record holds several, a page up to 1,000 records) and
    lists its own notices near a circle that reaches to 1.5 km of them, inside their bounding
    caps, so the cheap test on the hub thread keeps them and the exact test must run; were it
    on the hub thread, US's list would wait for it. It runs on the pool for heavy work."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU", PARTY), token(db, "US", PARTY)
    async with client(db) as http:
        body = {
            "type": "FeatureCollection",
            "category": "air-activity",
            "id": "RU-STAR",
            "features": [polygon_feature("star", star(10_000))],
        }
        filed = await http.post("/v1/notices", json=body, headers=ru)
        assert filed.status_code == 201, filed.text
        hold = Hold(nearby.separation_m)
        monkeypatch.setattr(nearby, "separation_m", hold)
        heavy = asyncio.create_task(
            http.get("/v1/notices", params={"near": "45,35.95,484000"}, headers=ru)
        )
        assert await asyncio.to_thread(hold.entered.wait, 2 * _GIVE_UP_S)
        read = await http.get("/v1/notices", headers=us)
        hold.release()
        listed = await heavy
    assert read.status_code == 200
    assert listed.status_code == 200
    assert listed.json() == []
    assert hold.in_time == [True], "US's read waited for RU's near filter on the hub thread"
