"""The event stream reads the store a page at a time (security.md §4.2): a party's history, which
another party can grow (each notice it files that the party may see, each conflict with it, is
a notification to the party), is sent in pages, each a short read of the reader all parties
share, and every notification is still sent once, in order, resumed or not (a twentieth reader:
read whole, 2,000 notifications one filing and its cancellation made cost every stream of the
party 438,001 SQLite steps and 1.8 MB in one read)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from tests.api.harness import circle, client, detected, make_db, notice_body, token

from deconflict.api import stream
from deconflict.geo.geojson import parse_feature_collection
from deconflict.hub import Hub
from deconflict.hub.clock import SimulatedClock

pytestmark = pytest.mark.anyio

PAGE = 3


def _events(text: str) -> list[tuple[str, str]]:
    """Each event's id and notice, in the order sent."""
    ids = [x[4:] for x in text.splitlines() if x.startswith("id: ")]
    data = [json.loads(x[6:]) for x in text.splitlines() if x.startswith("data: ")]
    return [(i, d["notice_id"]) for i, d in zip(ids, data, strict=True)]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The stream's page made small; how many notifications each of its store reads gave."""
    monkeypatch.setattr(stream, "_PAGE", PAGE)
    counted: list[int] = []
    since = Hub.notifications_since

    def counting(self: Hub, *args: Any, **kwargs: Any) -> Any:
        found = since(self, *args, **kwargs)
        counted.append(len(found))
        return found

    monkeypatch.setattr(Hub, "notifications_since", counting)
    return counted


async def test_a_history_is_sent_whole_a_page_a_read(tmp_path, reads):
    """RU's eight notices are eight notifications to US: a stream without a cursor sends all
    of them (``once``), in order, each once, and no read of the store gives more than a page;
    resumed from the third, the five after it."""
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        for k in range(8):
            body = notice_body(circle(f"v{k}", lon=20.0 + k), id=f"N{k}")
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await detected(http, ru)
        reads.clear()
        sent = _events((await http.get("/v1/events", params={"once": "true"}, headers=us)).text)
        assert [notice for _, notice in sent] == [f"N{k}" for k in range(8)]
        assert reads
        assert max(reads) <= PAGE
        assert len(reads) >= 8 // PAGE
        reads.clear()
        resumed = await http.get(
            "/v1/events", params={"once": "true"}, headers={**us, "Last-Event-ID": sent[2][0]}
        )
        assert [notice for _, notice in _events(resumed.text)] == [f"N{k}" for k in range(3, 8)]
        assert max(reads) <= PAGE


async def test_pages_of_what_the_cursor_passed_do_not_stall_the_stream(tmp_path, reads):
    """Six notifications of one detection pass share its time; a cursor at that microsecond
    with an id of its own (not one the hub gives: the store is asked by time alone) passes all
    of them, so whole pages read hold nothing to send: the stream reads on, and sends the
    notification made after them in the same ``once`` read (it stopped at the first page)."""
    db = make_db(tmp_path)
    us = token(db, "US")
    at = time.time() - 60.0
    with Hub.open(db, clock=SimulatedClock(at)) as hub:  # one pass: one time for all six
        for k in range(6):
            body = notice_body(circle(f"v{k}", lon=20.0 + k))
            volumes = [p.volume for p in parse_feature_collection(body, default_party="RU")]
            hub.file_notice("RU", volumes, "air-activity", f"P{k}")
        hub.process()
    async with client(db) as http:
        later = notice_body(circle("w", lon=30.0), id="LATER")
        assert (
            await http.post("/v1/notices", json=later, headers=token(db, "RU"))
        ).status_code == 201
        await detected(http, token(db, "RU"))
        first = _events((await http.get("/v1/events", params={"once": "true"}, headers=us)).text)
        micros = {event_id.split(".")[0] for event_id, notice in first if notice.startswith("P")}
        assert len(micros) == 1  # the pass's six share a time
        cursor = f"{micros.pop()}.M-zzzz"  # after each of them in code points
        reads.clear()
        resumed = await http.get(
            "/v1/events", params={"once": "true"}, headers={**us, "Last-Event-ID": cursor}
        )
        assert [notice for _, notice in _events(resumed.text)] == ["LATER"]
        assert reads[0] == PAGE
        assert max(reads) <= PAGE
