"""The event stream loses nothing when commits land out of created order, as with several
workers on one database: a notification created before the stream's cursor but committed after
it (by another worker) is still sent, once."""

from __future__ import annotations

import json
import time

import pytest
from tests.api.harness import circle, client, detected, make_db, notice_body, token

from deconflict.geo.geojson import parse_feature_collection
from deconflict.hub import Hub
from deconflict.hub.clock import SimulatedClock
from deconflict.model import Notification, NotificationKind
from deconflict.store import Detection

pytestmark = pytest.mark.anyio


def _events(text: str) -> list[dict]:
    return [json.loads(x[6:]) for x in text.splitlines() if x.startswith("data: ")]


async def test_a_late_commit_before_the_cursor_is_still_sent(tmp_path):
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    # This worker detects only when woken by its own writes; the other one detects N0 itself.
    async with client(db, detect_interval_s=3600.0) as http:
        await http.post("/v1/notices", json=notice_body(circle("a"), id="N1"), headers=ru)
        await detected(http, ru)
        first = await http.get("/v1/events", params={"once": "true"}, headers=us)
        ids = [line[4:] for line in first.text.splitlines() if line.startswith("id: ")]
        assert [e["notice_id"] for e in _events(first.text)] == ["N1"]
        # Another worker filed N0 a minute earlier, but its commit lands only now.
        with Hub.open(db, clock=SimulatedClock(time.time() - 60.0)) as other:
            parsed = parse_feature_collection(
                notice_body(circle("z", lon=39.3)), default_party="RU"
            )
            volumes = [p.volume for p in parsed]
            other.file_notice("RU", volumes, "air-activity", "N0")
            other.process()  # the notification to US is made with the other worker's time
        resumed = await http.get(
            "/v1/events", params={"once": "true"}, headers={**us, "Last-Event-ID": ids[-1]}
        )
        assert [e["notice_id"] for e in _events(resumed.text)] == ["N0"]
        # Its pass detected after the first's (tests/hub/test_detection_time.py), so it came
        # after the cursor. One committed dated before it (a worker of an older version, or
        # a store written otherwise) is sent by the late path, once.
        last = [line[4:] for line in resumed.text.splitlines() if line.startswith("id: ")][-1]
        with Hub.open(db) as other:
            other.file_notice("RU", volumes, "air-activity", "N9")  # a change-log row for it
            late = Notification(
                "M-late", "US", NotificationKind.NOTICE, time.time() - 3600.0, 4e9, 60.0
            )
            seq = other.store.last_change()
            other.store.commit_detection(Detection(seq, time.time(), [], [], [late]))
        late_sent = await http.get(
            "/v1/events", params={"once": "true"}, headers={**us, "Last-Event-ID": last}
        )
        assert [e["id"] for e in _events(late_sent.text)] == ["M-late"]
        again = await http.get(
            "/v1/events", params={"once": "true"}, headers={**us, "Last-Event-ID": last}
        )
        assert _events(again.text) == []  # sent once: it is delivered now
