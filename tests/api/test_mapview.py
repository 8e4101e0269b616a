"""GET /v1/map: the caller's picture as GeoJSON (outlines computed by the hub, conflicts where
the volumes meet, the caller's alert on each), only what the caller may see; and the page and
its locally served files."""

from __future__ import annotations

import time

import pytest
import shapely
from shapely.geometry import shape
from tests.api.harness import circle, client, make_db, notice_body, token

from deconflict.geo.footprint import Circle
from deconflict.geo.units import epoch_to_rfc3339

pytestmark = pytest.mark.anyio

DAY = 86_400.0


async def _file_both(http, db):
    ru, us = token(db, "RU"), token(db, "US")
    filed = await http.post("/v1/notices", json=notice_body(circle("ru-1"), id="RU-N1"), headers=ru)
    assert filed.status_code == 201, filed.text
    plan = await http.post(
        "/v1/plans", json=notice_body(circle("us-1", lon=39.05), id="US-P1"), headers=us
    )
    assert plan.status_code == 201, plan.text
    return ru, us


async def test_map_draws_outlines_conflicts_and_alerts_for_the_caller(tmp_path):
    db = make_db(tmp_path)
    async with client(db) as http:
        _, us = await _file_both(http, db)
        picture = (await http.get("/v1/map", headers=us)).json()
        assert picture["type"] == "FeatureCollection"
        assert picture["party"] == "US"
        by_id = {f["properties"]["id"]: f for f in picture["features"]}
        assert {"ru-1", "us-1"} <= by_id.keys()
        ru = by_id["ru-1"]["properties"]
        assert (ru["party"], ru["kind"], ru["owner"]) == ("RU", "notice", "RU-N1")
        assert ru["alert"] in ("pending", "delivered")  # US was told of RU's notice
        assert ru["window"].endswith("08:00Z")
        assert ru["start"] == "2099-01-01T06:00:00Z"
        assert by_id["us-1"]["properties"]["kind"] == "plan"
        # The outline is the hub's geodesic circle: its area is the circle's, to 1%.
        outline = shape(by_id["ru-1"]["geometry"])
        hub_ring = shapely.Polygon(Circle((39.0, 35.95), 5_000.0).outline())
        assert outline.symmetric_difference(hub_ring).area < 1e-9 * hub_ring.area
        conflicts = [f for f in picture["features"] if f["properties"]["kind"] == "conflict"]
        assert len(conflicts) == 1
        meet = conflicts[0]
        assert set(meet["properties"]["parties"]) == {"US", "RU"}
        assert meet["properties"]["lead_time"].endswith("ahead")
        assert meet["properties"]["alert"] in ("pending", "delivered")
        # Where they meet lies inside both outlines.
        assert shape(meet["geometry"]).buffer(-1e-9).within(outline)
        note = meet["properties"]["notification"]
        acked = await http.post(f"/v1/notifications/{note}/ack", headers=us)
        assert acked.status_code == 200, acked.text
        again = (await http.get("/v1/map", headers=us)).json()
        meet = next(f for f in again["features"] if f["id"] == conflicts[0]["id"])
        assert meet["properties"]["alert"] == "acknowledged"


async def test_map_shows_only_what_the_caller_may_see(tmp_path):
    db = make_db(tmp_path)
    async with client(db) as http:
        ru, _ = await _file_both(http, db)
        picture = (await http.get("/v1/map", headers=ru)).json()
        assert {f["properties"].get("party") for f in picture["features"]} == {"RU"}
        assert not [f for f in picture["features"] if f["properties"]["kind"] == "plan"]
        fr = (await http.get("/v1/map", headers=token(db, "FR"))).json()
        assert fr["features"] == []  # FR has no agreement with RU


async def test_map_window_and_bad_input(tmp_path):
    db = make_db(tmp_path)
    async with client(db) as http:
        _, us = await _file_both(http, db)
        before = await http.get("/v1/map?end=2099-01-01T05:00:00Z", headers=us)
        assert before.status_code == 200
        assert before.json()["features"] == []
        bad = await http.get("/v1/map?start=yesterday", headers=us)
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["field"] == "query:start"
        backwards = await http.get(
            "/v1/map?start=2099-01-02T00:00:00Z&end=2099-01-01T00:00:00Z", headers=us
        )
        assert backwards.status_code == 422
        assert backwards.json()["field"] == "query:end"
        unread = await http.get("/v1/map", headers=token(db, "US", ["ack"]))
        assert unread.status_code == 403
        assert (await http.get("/v1/map")).status_code == 401


async def test_page_and_vendor_files_are_served_locally(tmp_path):
    db = make_db(tmp_path)
    async with client(db) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert "operations view" in page.text
        for path in (
            "/ui/app.js",
            "/ui/app.css",
            "/vendor/leaflet/leaflet.js",
            "/vendor/leaflet/leaflet.css",
            "/vendor/topojson-client/topojson-client.min.js",
        ):
            assert (await http.get(path)).status_code == 200, path
        countries = await http.get("/vendor/world-atlas/countries.json")
        assert countries.status_code == 200
        assert countries.json()["type"] == "Topology"
        assert "/v1/map" in (await http.get("/openapi.json")).json()["paths"]


async def test_the_map_reaches_back_a_day_and_no_further(tmp_path):
    """Without a window the map read every notice the caller may see, and every current plan
    of its own, whatever their age: its read grew with the hub's history, on the reader every
    party shares (security.md §4.2); and a window in the past, however short, read all that
    ended after its start (a fiftieth reader). It reaches back ``map-history-days`` (a day),
    and no further."""
    db = make_db(tmp_path)
    now = time.time()

    def at(offset_s: float) -> str:
        return epoch_to_rfc3339(now + offset_s)

    async with client(db) as http:
        ru, us = token(db, "RU"), token(db, "US")
        old = notice_body(
            circle("ru-old", start=at(-10 * DAY), end=at(-10 * DAY + 3_600)), id="RU-OLD"
        )
        new = notice_body(circle("ru-new", start=at(-3_600), end=at(3_600)), id="RU-NEW")
        for body in (old, new):
            filed = await http.post("/v1/notices", json=body, headers=ru)
            assert filed.status_code == 201, filed.text

        def drawn(picture: dict) -> set[str]:
            return {f["properties"]["id"] for f in picture["features"]}

        assert drawn((await http.get("/v1/map", headers=us)).json()) == {"ru-new"}
        today = {"start": at(-DAY + 600), "end": at(DAY)}
        assert drawn((await http.get("/v1/map", params=today, headers=us)).json()) == {"ru-new"}
        for far in (
            {"start": at(-11 * DAY), "end": at(-9 * DAY)},
            {"start": "1970-01-01T00:00:00Z", "end": "1970-01-31T00:00:00Z"},
            {"start": at(-11 * DAY)},
        ):
            refused = await http.get("/v1/map", params=far, headers=us)
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "query:start"
            assert "reaches back 1 day " in refused.json()["detail"]
        before = await http.get("/v1/map", params={"end": at(-2 * DAY)}, headers=us)
        assert before.status_code == 422
        assert before.json()["field"] == "query:end"
    async with client(db, map_history_s=0.0) as http:  # no limit: a replay, the demo's
        assert drawn((await http.get("/v1/map", headers=us)).json()) == {"ru-old", "ru-new"}
        back = {"start": at(-11 * DAY), "end": at(-9 * DAY)}
        assert drawn((await http.get("/v1/map", params=back, headers=us)).json()) == {"ru-old"}
