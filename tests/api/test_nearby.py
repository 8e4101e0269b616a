"""The ``near`` filter of the notice list (security.md §4.2): the cheap test on the hub thread
drops only what the exact test would, and a page filtered on the pool after the read is filled
batch by batch and links the next page where it stopped."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.api.harness import circle, client, make_db, notice_body, token
from tests.api.test_hostile_heavy import star

from deconflict.api import nearby, records
from deconflict.geo import GEOD, Circle, Corridor, Footprint, Polygon
from deconflict.geo.separation import separation_m
from deconflict.geo.sphere import to_lonlat
from deconflict.hub import Hub

pytestmark = pytest.mark.anyio

_CENTRE = (39.0, 35.95)


def _east(distance_m: float, bearing: float = 90.0) -> tuple[float, float]:
    """The point ``distance_m`` from the centre along ``bearing`` (degrees)."""
    lon, lat, _ = GEOD.fwd(*_CENTRE, bearing, distance_m)
    return lon, lat


_FOOTPRINTS = {
    "circle": Circle(_CENTRE, 3_000.0),
    "corridor": Corridor([_CENTRE, _east(40_000.0, 30.0)], 1_500.0),
    "star": Polygon([tuple(p) for p in star(200, *_CENTRE, outer=0.2)]),
    "polar square": Polygon([(0.0, 89.0), (90.0, 89.0), (180.0, 89.0), (-90.0, 89.0)]),
}


def _beyond(footprint: Footprint, gap_m: float, radius_m: float = 2_000.0) -> Circle:
    """A circle whose edge is ``gap_m`` beyond the footprint, past the core's vertex farthest
    from its centre (where the footprint comes closest to the edge of its bounding cap)."""
    (clon,), (clat,) = to_lonlat(footprint.centre[None, :])
    reach = GEOD.inv(
        np.full(len(footprint.core_lons), clon),
        np.full(len(footprint.core_lons), clat),
        footprint.core_lons,
        footprint.core_lats,
    )
    far = int(np.argmax(reach[2]))
    lon, lat, _ = GEOD.fwd(
        footprint.core_lons[far],
        footprint.core_lats[far],
        reach[1][far],  # the back azimuth points back to the centre: go on the other way
        footprint.radius_m + radius_m + gap_m,
    )
    return Circle((lon, lat), radius_m)


@pytest.mark.parametrize("kind", sorted(_FOOTPRINTS))
@pytest.mark.parametrize("gap_m", [-500.0, -1.0, -0.01, 0.01, 1.0, 150.0, 400.0])
def test_the_cheap_test_drops_only_what_the_exact_test_would_drop(kind, gap_m):
    """Circles at ``gap_m`` beyond a footprint's farthest vertex (overlapping, by a centimetre,
    apart by a centimetre, farther): ``reaches`` keeps every one that ``separation_m`` says
    meets it."""
    footprint: Footprint = _FOOTPRINTS[kind]
    area = _beyond(footprint, gap_m)
    meets = separation_m(footprint, area) <= 0.0
    assert meets or gap_m > 0.0  # not vacuous: the overlapping ones do meet
    if meets:
        assert nearby.reaches(footprint, area)


def test_the_cheap_test_drops_a_far_footprint():
    """A footprint hundreds of kilometres from the circle is dropped without the exact test."""
    assert not nearby.reaches(_FOOTPRINTS["star"], _beyond(_FOOTPRINTS["star"], 500_000.0))


#: The circle the ``near`` tests list around: 10 km about the centre.
_NEAR = f"{_CENTRE[0]},{_CENTRE[1]},10000"


async def _file_around(http: Any, headers: Any, count: int, missing: Any) -> list[str]:
    """``count`` notices of 1 km circles around ``_NEAR``'s edge, 40 degrees apart: notice
    ``k`` misses it by 5 m when ``missing(k)`` (its cap, which bounds the geodesic by the
    ellipsoid's smallest radius of curvature, reaches it: only the exact test drops it), else
    meets it by 100 m; the ids of those that meet it, in filing order."""
    meeting = []
    for k in range(count):
        miss = missing(k)
        where = _east(10_000.0 + 1_000.0 + (5.0 if miss else -100.0), 40.0 * k)
        notice_id = f"RU-{'X' if miss else 'M'}{k}"
        body = notice_body(circle(f"v{k}", *where, radius_m=1_000.0), id=notice_id)
        assert (await http.post("/v1/notices", json=body, headers=headers)).status_code == 201
        if not miss:
            meeting.append(notice_id)
    return meeting


def _counting_exact_tests(monkeypatch: Any) -> list[object]:
    """A list that grows by the footprint of each exact test a ``near`` page runs."""
    tested: list[object] = []

    def counted(a: Any, b: Any) -> float:
        tested.append(a)
        return separation_m(a, b)

    monkeypatch.setattr(nearby, "separation_m", counted)
    return tested


async def _pages(http: Any, headers: Any, url: str) -> list[list[str]]:
    """The ids of each page from ``url`` on, following the next links to the last."""
    pages = []
    while url:
        answer = await http.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        pages.append([n["id"] for n in answer.json()])
        url = answer.links.get("next", {}).get("url")
    return pages


@pytest.mark.parametrize("job_points", [nearby.JOB_POINTS, 1])
async def test_a_near_page_is_filled_past_notices_the_exact_test_drops(
    tmp_path, monkeypatch, job_points
):
    """Notices whose caps reach the circle but which miss it by 5 m (dropped by the exact test,
    after the read) between notices that meet it: pages of 2 are full until the last, link the
    next, and together are exactly the meeting notices in filing order; every notice was tested
    exactly, none on the hub thread's cheap test alone; the same in a job a notice."""
    monkeypatch.setattr(nearby, "JOB_POINTS", job_points)
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        meeting = await _file_around(http, ru, 7, lambda k: k % 3 != 0)  # two of three miss
        tested = _counting_exact_tests(monkeypatch)
        whole = await http.get("/v1/notices", params={"near": _NEAR}, headers=us)
        assert [n["id"] for n in whole.json()] == meeting == ["RU-M0", "RU-M3", "RU-M6"]
        assert len(tested) == 7
        pages = await _pages(http, us, f"/v1/notices?near={_NEAR}&limit=2")
    assert pages == [["RU-M0", "RU-M3"], ["RU-M6"]]


async def test_a_near_page_ends_short_when_its_exact_work_is_spent_and_links_where_it_stopped(
    tmp_path, monkeypatch
):
    """security.md §4.2: with a budget of one notice's points a page (and a job a notice),
    each request tests exactly one notice, pages end short where the budget ran out with a
    next link after the last notice tested, and following the links gives exactly the
    meeting notices, each once, in filing order."""
    monkeypatch.setattr(nearby, "JOB_POINTS", 1)
    monkeypatch.setattr(nearby, "PAGE_POINTS", 1)
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        meeting = await _file_around(http, ru, 5, lambda k: k % 2 == 1)
        tested = _counting_exact_tests(monkeypatch)
        found, url, requests = [], f"/v1/notices?near={_NEAR}&limit=3", 0
        while url:
            before = len(tested)
            answer = await http.get(url, headers=us)
            assert answer.status_code == 200, answer.text
            assert len(tested) - before <= 1  # one notice of one volume a request
            requests += 1
            found += [n["id"] for n in answer.json()]
            url = answer.links.get("next", {}).get("url")
    assert found == meeting == ["RU-M0", "RU-M2", "RU-M4"]
    assert len(tested) == 5
    assert requests >= 5


async def test_a_near_page_whose_exact_work_is_spent_reads_no_batch_it_will_not_test(
    tmp_path, monkeypatch
):
    """A first batch of 3 notices, one job, spends the page's budget without filling it: the
    page ends there, without reading (on the hub thread every party shares) a second batch
    that it would throw away untested, and the next page starts after the batch."""
    monkeypatch.setattr(nearby, "PAGE_POINTS", 1)
    monkeypatch.setattr(nearby, "BATCH_FIRST", 3)
    monkeypatch.setattr(nearby, "BATCH_MOST", 3)
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        await _file_around(http, ru, 5, lambda k: k % 2 == 1)
        reads: list[int] = []
        real = Hub.list_notices

        def list_notices(self: Hub, *args: Any, **kwargs: Any) -> Any:
            reads.append(kwargs["limit"])
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Hub, "list_notices", list_notices)
        pages = await _pages(http, us, f"/v1/notices?near={_NEAR}&limit=3")
    assert pages == [["RU-M0", "RU-M2"], ["RU-M4"]]
    assert reads == [3, 3]  # one batch a page


async def test_a_circle_that_reaches_nothing_looks_at_a_bounded_batch_a_request(
    tmp_path, monkeypatch
):
    """A ``near`` circle whose cap reaches none of the notices the caller may see read them all
    in one read on the hub thread every party shares, the page never filling (30,000: 2.3 s,
    and another party's read waited as long: a forty-first reader). A request now looks at
    ``PAGE_VOLUMES`` volumes at most, a batch at a time, and ends short with a next link after
    the last notice it looked at; followed, the pages find the one notice that meets it."""
    for name, value in (("BATCH_FIRST", 3), ("BATCH_MOST", 3), ("PAGE_VOLUMES", 6)):
        monkeypatch.setattr(nearby, name, value, raising=False)  # (the code before had none)
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        for k in range(12):  # far from the circle: no cap reaches it
            body = notice_body(circle(f"v{k}", 45.0 + k * 0.1, 30.0), id=f"RU-F{k}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        meeting = await _file_around(http, ru, 1, lambda k: False)
        looked: list[int] = []
        cheap = records.reaches
        monkeypatch.setattr(
            records, "reaches", lambda footprint, area: looked.append(1) or cheap(footprint, area)
        )
        found, url, counts = [], f"/v1/notices?near={_NEAR}&limit=1", []
        while url:
            before = len(looked)
            answer = await http.get(url, headers=us)
            assert answer.status_code == 200, answer.text
            counts.append(len(looked) - before)
            found += [n["id"] for n in answer.json()]
            url = answer.links.get("next", {}).get("url")
    assert found == meeting
    assert max(counts) <= 6
    assert len(counts) >= 3
