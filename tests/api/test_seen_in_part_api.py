"""A notice seen in part, through the API: no version, no ETag, and notifications that do not
name it (security.md §3.6). Its versions are its owner's and count changes to volumes the
viewer may not see: a jump in the number when a visible volume changed told the viewer how
many amendments of hidden volumes came before (found by a second reader)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.api.harness import client, detected, token
from tests.hub.scenario import vol

from deconflict.engine import SeparationMinima
from deconflict.hub import Hub
from deconflict.model import Agreement, Disclosure

pytestmark = pytest.mark.anyio

START, END = 4_070_930_400.0, 4_070_937_600.0  # 2099-01-01, 06:00 to 08:00 UTC


def _hub(tmp_path: Path) -> Path:
    """X's notice XN: a volume P's PN meets, and one far from it; P sees X conflicts-only."""
    db = tmp_path / "hub.db"
    with Hub.open(db) as hub:
        for party in ("X", "P"):
            hub.add_party(party)
        hub.add_agreement(
            Agreement(
                "mou",
                ("X", "P"),
                minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
                disclosure={("X", "P"): Disclosure.CONFLICTS_ONLY},
            )
        )
        window = {"start_s": START, "end_s": END}
        far = vol("far", lon=41.0, **window)
        hub.file_notice("X", [vol("near", **window), far], "air-activity", "XN")
        hub.amend_notice("X", "XN", 1, [vol("near", **window), vol("far", lon=41.5, **window)])
        hub.file_notice("P", [vol("probe", lon=39.02, **window)], "air-activity", "PN")
        hub.process()
    return db


async def test_a_notice_seen_in_part_shows_no_version(tmp_path):
    db = _hub(tmp_path)
    p, x = token(db, "P"), token(db, "X")
    async with client(db) as http:
        await detected(http, p)
        one = await http.get("/v1/notices/XN", params={"party": "X"}, headers=p)
        assert one.status_code == 200
        assert one.json()["version"] is None
        assert [f["properties"]["id"] for f in one.json()["volumes"]["features"]] == ["near"]
        assert "etag" not in one.headers
        listed = {n["id"]: n["version"] for n in (await http.get("/v1/notices", headers=p)).json()}
        assert listed == {"XN": None, "PN": 1}
        (conflict,) = (await http.get("/v1/conflicts", headers=p)).json()
        assert conflict["theirs"]["volume_id"] == "near"  # seen, its version not
        assert conflict["theirs"]["version"] is None
        told = (await http.get("/v1/notifications", headers=p)).json()
        assert told
        assert all(n["notice_id"] is None for n in told)
        own = await http.get("/v1/notices/XN", headers=x)  # its owner sees it all
        assert (own.json()["version"], own.headers["etag"]) == (2, '"2"')


async def test_a_next_page_resumes_where_the_last_ended_though_its_notice_moved(tmp_path):
    """Found by a sixth reader: a notice seen in part is placed by what is shown of it (filed
    when the first of its visible volumes was unlocked), which moves when one of them ends. A
    next page resumed after its last notice re-read, so from its new place: W's notice, seen
    whole and filed between, was on no page. The next page's link gives the place the page
    ended (``after=<party>/<id>@<time>``): no notice is skipped (one that moved later may be
    on two pages)."""
    from contextlib import asynccontextmanager

    import httpx
    from tests.hub.scenario import HOUR, T0

    from deconflict.api import ApiSettings, create_app
    from deconflict.hub import SimulatedClock

    db = tmp_path / "hub.db"
    clock = SimulatedClock(T0)
    minima = SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0)
    with Hub.open(db, clock) as hub:
        for party in ("O", "V", "W"):
            hub.add_party(party)
        only = {("O", "V"): Disclosure.CONFLICTS_ONLY}
        hub.add_agreement(Agreement("ov", ("O", "V"), minima=minima, disclosure=only))
        whole = {("W", "V"): Disclosure.FULL}
        hub.add_agreement(Agreement("wv", ("W", "V"), minima=minima, disclosure=whole))
        probe = vol("p", lon=39.01, start_s=T0 + 5 * HOUR, end_s=T0 + 11 * HOUR)
        hub.file_notice("V", [probe], "air-activity", "VN")
        clock.set(T0 + HOUR)
        x1 = vol("x1", start_s=T0 + 6 * HOUR, end_s=T0 + 7 * HOUR)
        hub.file_notice("O", [x1], "air-activity", "N")
        hub.process()
        clock.set(T0 + 2 * HOUR)
        hub.file_notice("W", [vol("w", lon=44.0)], "air-activity", "W1")
        clock.set(T0 + 3 * HOUR)
        x2 = vol("x2", start_s=T0 + 6 * HOUR, end_s=T0 + 10 * HOUR)
        hub.amend_notice("O", "N", 1, [x1, x2])
        hub.process()
    clock.set(T0 + 6.5 * HOUR)
    v = token(db, "V")

    @asynccontextmanager
    async def served():  # type: ignore[no-untyped-def]
        app = create_app(ApiSettings(db=db, rate_per_s=0), hub_factory=lambda: Hub.open(db, clock))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
                yield http

    async with served() as http:
        unpaged = [n["id"] for n in (await http.get("/v1/notices", headers=v)).json()]
        assert unpaged == ["VN", "N", "W1"]
        first = await http.get("/v1/notices", params={"limit": 2}, headers=v)
        assert [n["id"] for n in first.json()] == ["VN", "N"]
        clock.set(T0 + 7.5 * HOUR)  # x1 ends: N is now shown filed when x2 was unlocked
        following = first.links["next"]["url"]
        rest = await http.get(following, headers=v)
        # W1 is not skipped; N, moved after it, is on this page again (moved, not lost).
        assert [n["id"] for n in rest.json()] == ["W1", "N"]
        for place in ("O/N@soon", "O/N@1_0", "O/N@ 1 ", "O/N@\u0661", "O/N@nan", "O/N@1e999"):
            bad = await http.get("/v1/notices", params={"after": place}, headers=v)
            assert bad.status_code == 422, place
            assert bad.json()["field"] == "query:after"
