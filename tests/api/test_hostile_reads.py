"""Whatever the hub accepts, every party that may see it can read (security.md §4.1).

A hostile party (a valid token with the ``read notice plan ack`` scopes) files, amends and cancels
records with values anywhere in the accepted ranges (``deconflict.ranges``), edges included, to
break the reads of everyone who may see them. The property: every read route answers 2xx to each
party in the scenario, whatever was accepted. And what lies outside the ranges is refused at
intake with a 422 that names the field, where before it was committed and then broke every read.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.api.harness import Site, circle, detected, make_db, notice_body, token
from tests.strategies import accepted_features, accepted_terms, rfc3339

from deconflict import ranges
from deconflict.api import ApiSettings, create_app
from deconflict.geo import AltitudeBand, Circle, GeoLimits, TimeWindow, Volume4D
from deconflict.hub import Hub
from deconflict.hub.clock import SimulatedClock
from deconflict.model import Notice

HOSTILE = ("read", "notice", "plan", "ack")
OWNER, FULL, ONLY, NONE, RELAY, STRANGER = "O", "F", "C", "N", "R", "S"
EVERYONE = (OWNER, FULL, ONLY, NONE, RELAY, STRANGER)
_MICRO = 1_000_000


@asynccontextmanager
async def _served(site: Site, clock: SimulatedClock) -> AsyncIterator[httpx.AsyncClient]:
    """The app on ``site`` in-process, its hubs on ``clock``; an app error is a 500 answer
    (as a client would see it), not an exception in the test."""
    # No rate limit: the scene reads every route as every party at once, and the limiter's
    # bucket runs on the wall clock (a fast machine would see 429s this test is not about).
    settings = ApiSettings(db=site.db, rate_per_s=0)
    app = create_app(settings, hub_factory=lambda: Hub.open(site.db, clock))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield http


def _add_parties(site: Site) -> None:
    """Six parties: O files; under the agreement it is party to with F, C and N (relayed by R),
    F sees O's notices in full, C only what meets its own activity, N nothing; S has no
    agreement with anyone. The agreement itself is added through the API by the scene."""
    with Hub.open(site.db) as hub:
        for party in EVERYONE:
            hub.add_party(party)


def _agreement(terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "EDGE",
        "parties": [OWNER, FULL, ONLY, NONE],
        "relay": RELAY,
        **terms,
        "disclosure": [
            {"from": OWNER, "to": FULL, "level": "full"},
            {"from": OWNER, "to": ONLY, "level": "conflicts-only"},
            {"from": OWNER, "to": NONE, "level": "none"},
        ],
    }


async def _read_everything(
    http: httpx.AsyncClient, party: str, headers: dict[str, str]
) -> list[str]:
    """Every read route for one party, and each record the lists name: what did not answer
    as it should (``route status``); empty when every read worked."""
    failed: list[str] = []

    async def get(path: str, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        answer = await http.get(path, headers=headers)
        if answer.status_code not in ok:
            failed.append(f"{path} {answer.status_code} {answer.text[:300]}")
        return answer

    notices = await get("/v1/notices")
    await get("/v1/notices?state=ended&state=cancelled")
    await get("/v1/map")
    conflicts = await get("/v1/conflicts")
    notifications = await get("/v1/notifications")
    await get("/v1/agreements")
    await get("/v1/parties")
    plans = await get("/v1/plans")
    stream = await get("/v1/events?once=true")
    for line in stream.text.splitlines():
        if line.startswith("data: "):
            json.loads(line[len("data: ") :])
    if failed:
        return failed
    for notice in notices.json():
        # Another's notice may leave the caller's sight meanwhile (a conflict it was shown for
        # resolved by the clock): then 404, as for any notice it may not see.
        mine = notice["party"] == party
        await get(f"/v1/notices/{notice['id']}", (200,) if mine else (200, 404))
        await get(f"/v1/ledger/entries?record={notice['id']}")
        if mine:  # 202 until a kept checkpoint holds its filing (security.md §3.4)
            await get(f"/v1/ledger/receipts/{notice['id']}", (200, 202))
            await get(f"/v1/ledger/openings/{notice['id']}")
    for plan in plans.json():
        await get(f"/v1/plans/{plan['id']}")
    for conflict in conflicts.json():
        await get(f"/v1/conflicts/{conflict['id']}")
    for notification in notifications.json():
        await get(f"/v1/notifications/{notification['id']}")
        await get(f"/v1/ledger/entries?record={notification['id']}")
        # 202 until a kept checkpoint holds its entry, or for one about the party's own plan
        # until its next digest (security.md §3.4)
        await get(f"/v1/ledger/receipts/{notification['id']}", (200, 202))
    return failed


#: An amendment or cancellation is done, or refused as the notice has ended meanwhile (the
#: hub's clock moves notices along in the background: a notice whose window is past ends).
_CHANGED = (200, 409)


@dataclass(frozen=True)
class Scene:
    """What a hostile owner does, drawn: the hub's clock (microseconds), the agreement's terms,
    its notice's volumes, the other parties that meet them (party, "plan" or "notice", whether
    with the amended volumes), the amendment, how far the clock then moves, and a cancellation."""

    now_us: int
    terms: dict[str, Any]
    filed: list[dict[str, Any]]
    others: list[tuple[str, str, bool]]
    amended: list[dict[str, Any]] | None
    later_s: float
    cancel: bool


async def _play(site: Site, scene: Scene) -> dict[str, list[str]]:
    """Play ``scene`` through the API on ``site`` and read everything as every party: what
    did not read as it should, by party."""
    _add_parties(site)
    clock = SimulatedClock(scene.now_us / _MICRO)
    async with _served(site, clock) as http:
        admin = token(site.state, OWNER, ["admin"])
        made = await http.post("/v1/agreements", json=_agreement(scene.terms), headers=admin)
        assert made.status_code == 201, made.text
        who = {party: token(site.state, party, HOSTILE) for party in EVERYONE}
        first = await http.post(
            "/v1/notices", json=notice_body(*scene.filed, id="O-N1"), headers=who[OWNER]
        )
        assert first.status_code == 201, first.text
        # Each other party meets O's volumes with a plan or a notice of its own (a copy).
        for party, kind, shifted in scene.others:
            copies = [
                {**f, "properties": {**f["properties"], "id": f"{party}-{i}"}}
                for i, f in enumerate(scene.amended if shifted and scene.amended else scene.filed)
            ]
            path = "/v1/plans" if kind == "plan" else "/v1/notices"
            answer = await http.post(path, json=notice_body(*copies), headers=who[party])
            assert answer.status_code == 201, answer.text
        if scene.amended is not None:
            answer = await http.put(
                "/v1/notices/O-N1",
                json=notice_body(*scene.amended),
                headers={**who[OWNER], "If-Match": '"1"'},
            )
            assert answer.status_code in _CHANGED, answer.text
        clock.advance(scene.later_s)
        if scene.cancel:
            answer = await http.post("/v1/notices/O-N1/cancel", headers=who[OWNER])
            assert answer.status_code in _CHANGED, answer.text
        return {party: await _read_everything(http, party, who[party]) for party in EVERYONE}


_NOW_US = st.one_of(
    st.sampled_from(
        [round(ranges.EARLIEST_S * _MICRO), round(ranges.LATEST_S * _MICRO), 1_447_700_000 * _MICRO]
    ),
    st.integers(round(ranges.EARLIEST_S * _MICRO), round(ranges.LATEST_S * _MICRO)),
)
_OTHERS = st.lists(
    st.tuples(
        st.sampled_from([FULL, ONLY, NONE]), st.sampled_from(["plan", "notice"]), st.booleans()
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)


def _features(prefix: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.integers(1, 3).flatmap(
        lambda n: st.tuples(*(accepted_features(f"{prefix}{i}") for i in range(n))).map(list)
    )


def _year_long(volume_id: str) -> dict[str, Any]:
    """A 365-day volume (the longest windows are accepted) over Raqqa."""
    return circle(volume_id, start="2099-01-01T00:00:00Z", end="2100-01-01T00:00:00Z")


_DEFAULT_TERMS = {
    "min_lead_time_s": 0.0,
    "ack_deadline_s": 1800.0,
    "separation": {"horizontal_m": 0.0, "vertical_m": 0.0, "time_s": 0.0},
}
_LONGEST_TERMS = {
    "min_lead_time_s": ranges.MAX_LEAD_TIME_S,
    "ack_deadline_s": ranges.MAX_ACK_DEADLINE_S,
    "separation": {
        "horizontal_m": ranges.MAX_HORIZONTAL_M,
        "vertical_m": ranges.MAX_VERTICAL_M,
        "time_s": ranges.MAX_TIME_SEPARATION_S,
    },
}
_LAST_US = round(ranges.LATEST_S * _MICRO)


_SCENES = st.builds(
    Scene,
    now_us=_NOW_US,
    terms=accepted_terms(),
    filed=_features("o"),
    others=_OTHERS,
    amended=st.none() | _features("a"),
    later_s=st.sampled_from([0.0, 3_600.0, ranges.MAX_ACK_DEADLINE_S]),
    cancel=st.booleans(),
)
#: A year-long volume met by another's plan and notice (the conflicts view was 422 for its owner).
_YEAR_LONG = Scene(
    now_us=1_447_700_000 * _MICRO,
    terms=_DEFAULT_TERMS,
    filed=[_year_long("o0")],
    others=[(FULL, "plan", False), (ONLY, "notice", False)],
    amended=None,
    later_s=0.0,
    cancel=False,
)
#: The span's last moment, with the longest terms, amended to its first moment, cancelled.
_EDGES = Scene(
    now_us=_LAST_US,
    terms=_LONGEST_TERMS,
    filed=[
        circle("o0", start=rfc3339(_LAST_US - 3_600 * _MICRO, -300), end=rfc3339(_LAST_US, -300))
    ],
    others=[(FULL, "notice", False), (ONLY, "plan", True), (NONE, "notice", False)],
    amended=[circle("a0", start=rfc3339(0, 300), end=rfc3339(3_600 * _MICRO, 300))],
    later_s=ranges.MAX_ACK_DEADLINE_S,
    cancel=True,
)


@pytest.mark.slow
@settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scene=_SCENES)
@example(scene=_YEAR_LONG).via("the 365-day case of issue 18")
@example(scene=_EDGES).via("the span's edges")
def test_every_party_reads_whatever_was_accepted(scene: Scene) -> None:
    """security.md §4.1: for any notices, plans, agreement terms, amendment and cancellation
    within the accepted ranges, every read route (notices, map, conflicts, notifications, the
    event stream, ledger entries, receipts and openings, agreements, parties, plans) answers 2xx
    to the owner, a full, a conflicts-only and a none party, the relay and a stranger."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "hub.db"
        failed = asyncio.run(_play(Site(str(db), db), scene))
    assert failed == {party: [] for party in EVERYONE}


@pytest.mark.parametrize("scene", [_YEAR_LONG, _EDGES], ids=["year-long", "edges"])
def test_every_party_reads_the_edges_on_either_database(site: Site, scene: Scene) -> None:
    """security.md §4.1: the year-long window and the span's edges read for every party on
    SQLite and on PostgreSQL."""
    assert asyncio.run(_play(site, scene)) == {party: [] for party in EVERYONE}


# outside the ranges: refused at intake, naming the field -------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("9999-12-31T22:00-05:00", "9999-12-31T23:00-05:00", "start"),  # year 10000 in UTC
        ("0001-01-01T00:00+05:00", "0001-01-01T02:00+05:00", "start"),  # year 0 in UTC
        ("1969-12-31T23:00:00Z", "1970-01-01T01:00:00Z", "start"),  # before the span
        ("2199-12-31T23:00:00Z", "2200-01-01T00:00:01Z", "end"),  # after the span
        ("2099-01-01T00:00:00Z", "2100-01-02T00:00:01Z", "end"),  # longer than 366 days
    ],
)
async def test_a_time_outside_the_span_is_refused_naming_it(tmp_path, start, end, field):
    """security.md §4.1: a notice timed outside the accepted span (the issue's year 10000 and
    year 0 among them) is 422 naming the feature's time, and nothing is committed: every party
    that would have seen it still lists and maps its notices."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU", HOSTILE), token(db, "US", HOSTILE)
    async with _plain_client(db) as http:
        body = notice_body(circle("v1", start=start, end=end), id="RU-FAR")
        filed = await http.post("/v1/notices", json=body, headers=ru)
        assert filed.status_code == 422, filed.text
        assert filed.json()["field"] == f"/features/0/properties/{field}"
        plan = await http.post("/v1/plans", json=body | {"id": "US-FAR"}, headers=us)
        assert plan.status_code == 422, plan.text
        for headers in (ru, us):
            for path in ("/v1/notices", "/v1/map", "/v1/notices/RU-FAR"):
                answer = await http.get(path, headers=headers)
                assert answer.status_code in (200, 404), (path, answer.text)


@pytest.mark.anyio
async def test_an_amendment_outside_the_span_is_refused_and_the_notice_still_reads(tmp_path):
    """security.md §4.1: amending a notice to year 10000 is 422 naming the field; the notice
    stays at its version, readable by its owner and by the party it is disclosed to."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU", HOSTILE), token(db, "US", HOSTILE)
    async with _plain_client(db) as http:
        made = await http.post("/v1/notices", json=notice_body(circle("v1"), id="N"), headers=ru)
        assert made.status_code == 201
        far = circle("v1", start="9999-12-31T22:00-05:00", end="9999-12-31T23:00-05:00")
        patched = await http.patch(
            "/v1/notices/N", json={"features": [far]}, headers={**ru, "If-Match": '"1"'}
        )
        assert patched.status_code == 422, patched.text
        assert patched.json()["field"] == "/features/0/properties/start"
        for headers in (ru, us):
            seen = await http.get("/v1/notices/N", headers=headers)
            assert seen.status_code == 200
            assert seen.json()["version"] == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lower_m": -1_000_001.0}, "lower_m"),
        ({"upper_m": 1_000_001.0}, "upper_m"),
        ({"radius_m": 0.5}, "radius_m"),
    ],
)
async def test_a_size_outside_its_range_is_refused_naming_it(tmp_path, changes, field):
    """security.md §4.1: an altitude beyond 1,000 km or a circle narrower than a metre (whose
    outline the map cannot draw) is 422 naming the feature's property."""
    db = make_db(tmp_path)
    async with _plain_client(db) as http:
        feature = circle("v1")
        feature["properties"].update(changes)
        answer = await http.post(
            "/v1/notices", json=notice_body(feature), headers=token(db, "RU", HOSTILE)
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == f"/features/0/properties/{field}"


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["radius_m", "lower_m", "upper_m", "longitude"])
@pytest.mark.parametrize("sign", ["", "-"])
async def test_a_number_of_hundreds_of_digits_is_refused_naming_it(tmp_path, name, sign):
    """security.md §4.1: an integer no float can hold (JSON allows 400 digits) in a volume is
    422 naming the property or geometry, not a 500."""
    db = make_db(tmp_path)
    huge = sign + "1" + "0" * 400
    text = json.dumps(notice_body(circle("v1")))
    if name == "longitude":
        text = text.replace("[39.0, 35.95]", f"[{huge}, 35.95]")
        field = "geometry/coordinates"
    else:
        number = json.dumps(circle("v1")["properties"][name])
        text = text.replace(f'"{name}": {number}', f'"{name}": {huge}')
        field = f"properties/{name}"
    async with _plain_client(db) as http:
        answer = await http.post(
            "/v1/notices",
            content=text,
            headers={**token(db, "RU", HOSTILE), "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == f"/features/0/{field}"
        assert len(answer.json()["detail"]) < 200


@pytest.mark.anyio
async def test_a_narrow_corridor_is_refused_naming_its_width(tmp_path):
    """security.md §4.1: a corridor half a millimetre wide (accepted before, and then the
    map answered 500 to everyone who could see it) is 422 naming half_width_m."""
    db = make_db(tmp_path)
    feature = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[39.0, 35.9], [39.1, 35.9]]},
        "properties": {
            "id": "c",
            "half_width_m": 1e-300,
            "lower_m": 0.0,
            "upper_m": 100.0,
            "start": "2099-01-01T00:00:00Z",
            "end": "2099-01-01T01:00:00Z",
        },
    }
    async with _plain_client(db) as http:
        answer = await http.post(
            "/v1/notices", json=notice_body(feature), headers=token(db, "RU", HOSTILE)
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "/features/0/properties/half_width_m"


@pytest.mark.anyio
async def test_too_many_volumes_are_refused(tmp_path):
    """security.md §4.1: a notice of more volumes than a record may hold is 422 naming the
    features."""
    db = make_db(tmp_path)
    features = [circle(f"v{i}") for i in range(ranges.MAX_VOLUMES + 1)]
    async with _plain_client(db) as http:
        answer = await http.post(
            "/v1/notices", json=notice_body(*features), headers=token(db, "RU", HOSTILE)
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "/features"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"ack_deadline_s": 1e12}, "/ack_deadline_s"),
        ({"min_lead_time_s": 1e12}, "/min_lead_time_s"),
        ({"separation": {"horizontal_m": 1e308}}, "/separation/horizontal_m"),
        ({"separation": {"vertical_m": 1e9}}, "/separation/vertical_m"),
        ({"separation": {"time_s": 1e308}}, "/separation/time_s"),
    ],
)
async def test_agreement_terms_outside_their_range_are_refused(tmp_path, terms, field):
    """security.md §4.1: an agreement whose deadline, lead time or minima lie outside their
    range (``ack_deadline_s: 1e12`` made its recipients' notifications 500) is 422 naming
    the field, and nothing is stored."""
    db = make_db(tmp_path)
    admin = token(db, "US", ["admin", "read"])
    body = {"id": "BIG", "parties": ["FR", "RU"], **terms}
    async with _plain_client(db) as http:
        answer = await http.post("/v1/agreements", json=body, headers=admin)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field
        listed = await http.get("/v1/agreements", headers=token(db, "FR", HOSTILE))
        assert [a["id"] for a in listed.json()] == ["SHARE"]


@pytest.mark.anyio
async def test_the_longest_deadline_accepted_still_reads(tmp_path):
    """security.md §4.1: with the longest acknowledgement deadline and lead time an agreement
    may have, the recipient's notifications, stream and map answer 200."""
    db = make_db(tmp_path)
    admin = token(db, "US", ["admin"])
    body = {
        "id": "LONG",
        "parties": ["FR", "RU"],
        "min_lead_time_s": ranges.MAX_LEAD_TIME_S,
        "ack_deadline_s": ranges.MAX_ACK_DEADLINE_S,
        "disclosure": [{"from": "RU", "to": "FR", "level": "full"}],
    }
    async with _plain_client(db) as http:
        assert (await http.post("/v1/agreements", json=body, headers=admin)).status_code == 201
        last = circle("v1", start="2199-12-31T23:00:00Z", end="2200-01-01T00:00:00Z")
        ru = token(db, "RU", HOSTILE)
        filed = await http.post("/v1/notices", json=notice_body(last), headers=ru)
        assert filed.status_code == 201, filed.text
        await detected(http, ru)
        fr = token(db, "FR", HOSTILE)
        for path in ("/v1/notifications", "/v1/events?once=true", "/v1/map", "/v1/notices"):
            answer = await http.get(path, headers=fr)
            assert answer.status_code == 200, (path, answer.text)
        told = (await http.get("/v1/notifications", headers=fr)).json()
        assert told
        assert told[0]["ack_deadline"].endswith("Z")


@asynccontextmanager
async def _plain_client(db: Path, **extra: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app on ``db`` on the system clock; an app error is a 500 answer."""
    app = create_app(ApiSettings(db=db, **extra))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield http


# accepted before, or under wider caps: still read --------------------------------------------


def _year_10000_notice() -> Notice:
    """A notice of RU's in year 10000, as an older version accepted and committed it."""
    start = 253_402_315_200.0  # 10000-01-01T04:00:00Z
    volume = Volume4D(
        "far",
        Circle((39.0, 35.95), 5_000.0),
        AltitudeBand(0.0, 100.0),
        TimeWindow(start, start + 3600),
    )
    return Notice(id="RU-FAR", party="RU", volumes=(volume,), category="x", filed_at_s=0.0)


@pytest.mark.anyio
async def test_a_record_stored_before_the_ranges_still_reads_and_cancels(tmp_path):
    """security.md §4.1: a notice in year 10000, committed by a version that accepted it (then
    every read of it was 500, and cancelling did not help), is listed, fetched and mapped by
    its owner and the party it is disclosed to, its time written as an expanded year, and its
    owner can cancel it."""
    db = make_db(tmp_path)
    with Hub.open(db) as hub:
        hub.store.add_notice(_year_10000_notice())
    ru, us = token(db, "RU", HOSTILE), token(db, "US", HOSTILE)
    async with _plain_client(db) as http:
        for headers in (ru, us):
            for path in ("/v1/notices", "/v1/map", "/v1/notices/RU-FAR", "/v1/notifications"):
                answer = await http.get(path, headers=headers)
                assert answer.status_code == 200, (path, answer.text)
        seen = (await http.get("/v1/notices/RU-FAR", headers=us)).json()
        assert seen["start"] == "+010000-01-01T04:00:00Z"
        cancelled = await http.post("/v1/notices/RU-FAR/cancel", headers=ru)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"


@pytest.mark.anyio
async def test_a_footprint_accepted_under_wider_caps_still_reads(tmp_path):
    """security.md §4.1: a circle of 7,000,000 km2, accepted by a hub whose operator raised the
    area cap, is read back by every party that may see it, also by a process that did not
    file it (the store built it again under the default caps: every read of it failed)."""
    db = make_db(tmp_path)
    wide = GeoLimits(max_area_m2=1e13)
    big = circle("big", radius_m=1_500_000.0)
    async with _plain_client(db, geo_limits=wide) as http:
        ru = token(db, "RU", HOSTILE)
        filed = await http.post("/v1/notices", json=notice_body(big, id="RU-BIG"), headers=ru)
        assert filed.status_code == 201, filed.text
    listing = [sys.executable, "-m", "deconflict.cli.main", "notice", "list", "--json"]
    for party in ("RU", "US"):
        done = subprocess.run(
            [*listing, "--as", party, "--db", str(db)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert [n["id"] for n in json.loads(done.stdout)] == ["RU-BIG"]
