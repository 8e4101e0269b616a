"""A party sending input that is valid and costly in CPU (a 10,000-vertex star polygon) cannot
hold up the others (security.md §4.2): its validation and its map run off the event loop and off
the hub thread, what one record may ask is bounded, and the exact stage has a budget.

The heavy work is made slow deterministically: a hook inside it waits for a signal that another
party's request has been answered (at most a few seconds). Where the heavy work holds the loop or
the hub thread, that request cannot be answered meanwhile, the hook gives up, and the test sees
the wrong order. No clock is read."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
import shapely
from tests.api.harness import client, make_db, token
from tests.calls import counted

from deconflict.api import heavy, records
from deconflict.api.heavy import HeavyWork
from deconflict.geo import GeoLimits, Polygon
from deconflict.geo import separation as separation_module
from deconflict.geo.separation import MAX_EDGE_PAIRS, separated_by, separation_m
from deconflict.web import features as map_features

pytestmark = pytest.mark.anyio

_GIVE_UP_S = 5.0  # how long a hook waits for the other party's answer


def star(n: int, lon: float = 39.0, lat: float = 35.95, outer: float = 0.5) -> list[list[float]]:
    """A valid star polygon of ``n`` vertices (spikes ``outer`` degrees out): simple, and the
    shape that makes every edge's bounding box overlap every other's."""
    points = []
    for k in range(n):
        angle = 2 * math.pi * k / n
        radius = outer if k % 2 == 0 else outer / 10
        points.append(
            [
                lon + radius * math.cos(angle) / math.cos(math.radians(lat)),
                lat + radius * math.sin(angle),
            ]
        )
    return [*points, points[0]]


def polygon_feature(fid: str, ring: list[list[float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "id": fid,
            "lower_m": 1_000.0,
            "upper_m": 8_000.0,
            "start": "2099-01-01T06:00:00Z",
            "end": "2099-01-01T08:00:00Z",
        },
    }


class Hold:
    """A hook for heavy work: runs it, then holds until :meth:`release` (or ``_GIVE_UP_S``),
    noting whether it was released in time, i.e. whether the other request was answered
    while the heavy one was still being worked on."""

    def __init__(self, work: Callable[..., Any]) -> None:
        self.work = work
        self.entered = threading.Event()
        self.released = threading.Event()
        self.in_time: list[bool] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.work(*args, **kwargs)
        self.entered.set()
        self.in_time.append(self.released.wait(_GIVE_UP_S))
        return result

    def release(self) -> None:
        self.released.set()


async def test_a_heavy_filing_does_not_hold_another_partys_read(tmp_path, monkeypatch):
    """security.md §4.2: while RU's 10,000-vertex star is being validated, US's list of
    notices is answered (before RU's filing is); RU's filing then succeeds."""
    db = make_db(tmp_path)
    hold = Hold(records.volumes_from)
    monkeypatch.setattr(records, "volumes_from", hold)
    async with client(db) as http:
        body = {
            "type": "FeatureCollection",
            "category": "hazard-area",
            "id": "RU-STAR",
            "features": [polygon_feature("star", star(10_000))],
        }
        heavy = asyncio.create_task(http.post("/v1/notices", json=body, headers=token(db, "RU")))
        assert await asyncio.to_thread(hold.entered.wait, 2 * _GIVE_UP_S)
        read = await http.get("/v1/notices", headers=token(db, "US"))
        hold.release()
        filed = await heavy
    assert read.status_code == 200
    assert filed.status_code == 201, filed.text
    assert hold.in_time == [True], "US's read waited for RU's heavy filing"


async def test_a_heavy_map_does_not_hold_another_partys_read(tmp_path, monkeypatch):
    """security.md §4.2: while US's map of two conflicting 10,000-vertex stars is drawn, FR's
    list of notices is answered; the map is then served, the conflict drawn as US's own
    volume (where the two meet is past the exact stage's budget)."""
    db = make_db(tmp_path)
    async with client(db) as http:
        for party, lon in (("RU", 39.0), ("US", 39.02)):
            body = {
                "type": "FeatureCollection",
                "category": "air-activity",
                "id": f"{party}-S",
                "features": [polygon_feature(f"{party.lower()}-star", star(10_000, lon))],
            }
            filed = await http.post("/v1/notices", json=body, headers=token(db, party))
            assert filed.status_code == 201, filed.text
        assert len((await http.get("/v1/conflicts", headers=token(db, "US"))).json()) == 1
        hold = Hold(map_features.outline_geometry)
        monkeypatch.setattr(map_features, "outline_geometry", hold)
        heavy = asyncio.create_task(http.get("/v1/map", headers=token(db, "US")))
        assert await asyncio.to_thread(hold.entered.wait, 2 * _GIVE_UP_S)
        read = await http.get("/v1/notices", headers=token(db, "FR"))
        hold.release()
        drawn = await heavy
    assert read.status_code == 200
    assert drawn.status_code == 200
    assert hold.in_time[0], "FR's read waited for US's map"
    features = drawn.json()["features"]
    conflict = next(f for f in features if f["properties"]["kind"] == "conflict")
    own = next(f for f in features if f["properties"].get("id") == "us-star")
    assert conflict["geometry"] == own["geometry"]


async def test_a_token_that_may_not_amend_puts_no_heavy_work_on_the_pool(tmp_path, monkeypatch):
    """security.md §4.2: an amendment's volumes are validated only for a token that may amend:
    a read-only token's PUT of a 10,000-vertex star is refused (403) without any of it."""
    db = make_db(tmp_path)
    validated: list[str] = []
    real = records.volumes_from

    def counting(*args: Any, **kwargs: Any) -> Any:
        validated.append("volumes")
        return real(*args, **kwargs)

    monkeypatch.setattr(records, "volumes_from", counting)
    async with client(db) as http:
        filed = await http.post(
            "/v1/notices",
            json={"type": "FeatureCollection", "category": "x", "id": "N1",
                  "features": [polygon_feature("v1", star(8))]},
            headers=token(db, "RU"),
        )  # fmt: skip
        assert filed.status_code == 201, filed.text
        validated.clear()
        body = {"type": "FeatureCollection", "features": [polygon_feature("v1", star(10_000))]}
        headers = {**token(db, "RU", ["read"]), "If-Match": '"1"'}
        answer = await http.put("/v1/notices/N1", json=body, headers=headers)
        assert answer.status_code == 403, answer.text
        assert validated == []


async def test_a_record_past_the_point_budget_is_refused_naming_the_field(tmp_path):
    """security.md §4.2: a notice whose footprints have more points in all than the budget
    (as given, or once long edges are densified) is refused with 422 naming ``/features``,
    before any per-vertex work; one within it is filed."""
    db = make_db(tmp_path)
    limits = GeoLimits(max_vertices=4_000, max_record_points=5_000)
    async with client(db, geo_limits=limits) as http:
        us = token(db, "US")

        def notice(*features: dict[str, Any]) -> dict[str, Any]:
            return {
                "type": "FeatureCollection",
                "category": "air-activity",
                "features": list(features),
            }

        given = notice(
            polygon_feature("a", star(3_000)), polygon_feature("b", star(3_000, lon=41.0))
        )
        refused = await http.post("/v1/notices", json=given, headers=us)
        assert refused.status_code == 422
        assert refused.json()["field"] == "/features"
        assert "6,002 positions in all, more than the limit of 5,000" in refused.json()["detail"]
        # 1,042 positions as given; over 5,000 points once the corridor's forty 1,100 km legs
        # are densified every 10 km
        zigzag = [[30.0 + 0.25 * k, 30.0 if k % 2 == 0 else 40.0] for k in range(41)]
        corridor = {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": zigzag},
            "properties": {**polygon_feature("d", [])["properties"], "half_width_m": 1_000.0},
        }
        densified = notice(polygon_feature("c", star(1_000, outer=0.05)), corridor)
        refused = await http.post("/v1/notices", json=densified, headers=us)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "/features/1/geometry/coordinates"
        assert "more than 5,000 points in all" in refused.json()["detail"]
        fits = notice(
            polygon_feature("e", star(2_000, outer=0.05)),
            polygon_feature("f", star(2_000, 41.0, outer=0.05)),
        )
        assert (await http.post("/v1/notices", json=fits, headers=us)).status_code == 201


def test_the_exact_stage_keeps_to_its_budget_on_the_safe_side(monkeypatch):
    """security.md §4.2: two overlapping stars whose points' product is past
    ``MAX_EDGE_PAIRS`` are taken to overlap (a conflict) without the exact overlap test, whose
    cost grows with that product; two small ones still get the exact test."""
    big = [Polygon(star(2_000, lon)) for lon in (39.0, 39.02)]
    assert len(big[0].core_lons) * len(big[1].core_lons) > MAX_EDGE_PAIRS
    calls: list[int] = []
    relate = shapely.relate_pattern

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return relate(*args, **kwargs)

    monkeypatch.setattr(separation_module.shapely, "relate_pattern", counted)
    assert not separated_by(big[0], big[1], 0.0)
    assert separation_m(big[0], big[1]) == -math.inf
    assert calls == []
    small = [Polygon(star(100, lon)) for lon in (39.0, 39.02)]
    assert not separated_by(small[0], small[1], 0.0)
    assert calls == [1]


def _polygon(ring: list[list[float]]) -> list[dict[str, Any]]:
    return [polygon_feature("p", ring)]


def _with(name: str, value: object) -> list[dict[str, Any]]:
    """A light triangle whose property ``name`` is ``value``."""
    features = _polygon([[0, 0], [1, 0], [1, 1], [0, 0]])
    features[0]["properties"][name] = value
    return features


@pytest.mark.parametrize(
    ("features", "light"),
    [
        (_polygon([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]), True),
        (_polygon([[0, 0], [5, 0], [5, 5], [0, 5], [0, 0]]), True),
        (_polygon([[0, 0], [5.5, 0], [5.5, 1], [0, 1], [0, 0]]), False),  # too wide
        (_polygon([[0, 0], [1, 0], [1, 6], [0, 6], [0, 0]]), False),  # too tall
        (_polygon(star(8)), False),  # 9 positions
        (_polygon([[0, 0], [1, 0], [1, "1"], [0, 0]]), False),  # malformed: the pool says so
        ([{"geometry": {"type": "Point", "coordinates": [3, 4]}}], True),
        ([{"geometry": {"type": "Point", "coordinates": [3, 4]}}] * 9, False),
        ([{"geometry": {"type": "Polygon", "coordinates": [[[0, 0]], [[0, 0]]]}}], False),
        ([{"geometry": {"type": "LineString", "coordinates": [[0, 0], [True, 1]]}}], False),
        ("features", False),
        # What validation reads of the properties is small too: a long text or a list there
        # costs its parsing (a regular expression over it) and its quoting in the error.
        (_with("start", "2099-01-01T06:00:00.5Z"), True),
        (_with("colour", [0] * 1_000), True),  # not read
        (_with("start", "+" + "1" * 100_000), False),
        (_with("end", ["2099-01-01T08:00:00Z"] * 1_000), False),
        (_with("lower_m", [0] * 1_000), False),
        (_with("upper_m", {"m": 8_000}), False),
        (_with("radius_m", "9" * 1_000), False),
        (_with("half_width_m", [[[0]]]), False),
        (_with("id", "V" * 1_000), False),
        (_with("party", "P" * 1_000), False),
    ],
)
def test_only_a_few_positions_close_together_are_light(features, light):
    assert heavy.is_light(features) is light


#: The most points a light footprint densifies to (security.md §4.2): 7 legs (8 positions) of at
#: most 784 km, the 5-degree square's diagonal at the equator, a point each 10 km.
_LIGHT_DENSIFIED = 7 * 79 + 1


def test_the_widest_light_footprint_densifies_to_a_few_hundred_points():
    """The bound the inline validation rests on (security.md §4.2): 8 positions within 5
    degrees, zigzagging to make the outline as long as it can be, densify to at most
    _LIGHT_DENSIFIED points (one each 10 km) in all."""
    ring = [[0, 0], [5, 0], [5, 5], [4.8, 5], [4.8, 0.2], [0, 0.2], [0, 0]]
    features = _polygon(ring)
    assert heavy.is_light(features)
    volume = records.volumes_from(features, "US", GeoLimits())[0]
    assert len(volume.footprint.core_lons) <= _LIGHT_DENSIFIED


def test_a_zigzag_corridor_is_the_longest_light_outline():
    """A corridor need not be simple: 7 legs each across the 5-degree square's diagonal at the
    equator (784 km, 79 points each) make the longest outline 8 light positions can give (a
    ring's 8 positions include its closing one: 7 edges, and a simple ring cannot zigzag on all
    of them). Said to be 445 points (8 * 5 / 0.09), which it exceeds."""
    corridor = polygon_feature("z", [])
    corridor["geometry"] = {"type": "LineString", "coordinates": [[0, 0], [5, 5]] * 4}
    corridor["properties"]["half_width_m"] = 1_000.0
    assert heavy.is_light([corridor])
    volume = records.volumes_from([corridor], "US", GeoLimits())[0]
    assert len(volume.footprint.core_lons) == _LIGHT_DENSIFIED


async def test_a_light_filing_is_validated_without_the_pool_and_a_heavier_one_on_it(
    tmp_path, monkeypatch
):
    db = make_db(tmp_path)
    pooled = counted(HeavyWork, "run", monkeypatch)
    async with client(db) as http:
        for fid, ring in (("LIGHT", [[0, 0], [1, 0], [1, 1], [0, 0]]), ("FULL", star(8))):
            body = {"type": "FeatureCollection", "category": "x", "id": fid}
            body["features"] = [polygon_feature("v", ring)]
            filed = await http.post("/v1/notices", json=body, headers=token(db, "RU"))
            assert filed.status_code == 201, filed.text
            assert len(pooled) == (0 if fid == "LIGHT" else 1)


async def test_a_light_footprint_with_a_long_time_is_validated_on_the_pool(tmp_path, monkeypatch):
    """A triangle whose ``start`` is 900 KB of digits: parsing it and quoting it in the error
    took 9 ms on the event loop (every party's requests wait on it); on the pool it takes
    none of the loop's time, and the answer is the same 422."""
    db = make_db(tmp_path)
    pooled = counted(HeavyWork, "run", monkeypatch)
    body = {"type": "FeatureCollection", "category": "x", "id": "LONG"}
    body["features"] = _with("start", "+" + "1" * 900_000)
    async with client(db) as http:
        filed = await http.post("/v1/notices", json=body, headers=token(db, "RU"))
    assert filed.status_code == 422, filed.text
    assert filed.json()["field"] == "/features/0/properties/start"
    assert len(pooled) == 1
