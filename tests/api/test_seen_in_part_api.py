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
