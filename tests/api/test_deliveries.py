"""What a stream sent is marked delivered after it was sent, in batches
(deconflict.runtime.deliveries): the event shows it delivered, the store and the ledger record when,
and a batch whose write fails is written with the next one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from tests.api.harness import circle, client, detected, make_db, notice_body, token

from deconflict.errors import StoreError
from deconflict.hub import Hub
from deconflict.model import NotificationState
from deconflict.runtime.deliveries import DeliveryMarks

pytestmark = pytest.mark.anyio


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(x[6:]) for x in text.splitlines() if x.startswith("data: ")]


async def test_a_streamed_notification_is_marked_delivered_when_sent(tmp_path):
    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    async with client(db) as http:
        await http.post("/v1/notices", json=notice_body(circle("a"), id="N1"), headers=ru)
        await detected(http, ru)
        before = time.time()
        sent = _events((await http.get("/v1/events", params={"once": "true"}, headers=us)).text)
        after = time.time()
        # The relay's copy is shown to CAOC too, and only the recipient's copy is marked.
        relayed = _events(
            (await http.get("/v1/events", params={"once": "true"}, headers=token(db, "CAOC"))).text
        )
    assert [e["state"] for e in sent] == ["delivered"]
    assert sent[0]["delivered_at"] is not None
    assert [e["id"] for e in relayed] == [sent[0]["id"]]
    with Hub.open(db) as hub:
        (stored,) = hub.get_notifications("US", [sent[0]["id"]])
        assert stored.state is NotificationState.DELIVERED
        assert stored.delivered_at_s is not None
        assert before <= stored.delivered_at_s <= after
        assert hub.undelivered_after("US", None, 10) == []
        entries = [hub.ledger.entry(i) for i in range(hub.ledger.size)]
    (batch,) = [e for e in entries if e["type"] == "notifications.delivered"]
    assert (batch["recipient"], batch["via"]) == ("US", "CAOC")
    (entry,) = batch["notifications"]
    assert entry["notification"] == sent[0]["id"]
    assert entry["delivered_at"] == batch["at"]  # the API shows milliseconds, the ledger micros
    assert entry["delivered_at"].startswith(sent[0]["delivered_at"][:-1])


class _Hub:
    """Queues what was sent; its first ``failures`` calls fail as a store would."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.marked: list[list[tuple[str, float]]] = []
        self.written = asyncio.Event()  # set by the first write that succeeds

    def queue_deliveries(self, sent: Sequence[tuple[str, float]]) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("the database is locked")
        self.marked.append(list(sent))
        self.written.set()


class _Runner:
    def __init__(self, hub: _Hub) -> None:
        self.hub = hub
        self.ready = True
        self.grouped: list[bool] = []

    async def run_write(
        self,
        fn: Callable[[Any], Any],
        *,
        party: str | None,
        group: bool = False,
        detects: bool = True,
    ) -> Any:
        self.grouped.append(group and not detects)
        return fn(self.hub)


async def test_marks_are_batched_and_a_failed_batch_is_kept_for_the_next():
    hub = _Hub(failures=1)
    runner = _Runner(hub)
    marks = DeliveryMarks(runner, every_s=0.01)  # type: ignore[arg-type]
    marks.add([("M1", 1.0), ("M2", 2.0)])
    marks.add([("M1", 5.0), ("M3", 3.0)])  # a second send of M1 keeps its first time
    assert not await marks.flush()  # the store failed: nothing lost
    assert hub.marked == []
    await marks.stop()  # what is left is written on the way out
    assert hub.marked == [[("M1", 1.0), ("M2", 2.0), ("M3", 3.0)]]
    # Sent as grouped writes the detector need not run after: they share the filings' commit.
    assert runner.grouped == [True, True]  # the failed batch, then the one that was written


async def test_marks_are_written_in_the_background_after_a_failure():
    hub = _Hub(failures=2)
    marks = DeliveryMarks(_Runner(hub), every_s=0.01)  # type: ignore[arg-type]
    marks.add([("M1", 1.0)])
    async with asyncio.timeout(5.0):  # a bound on a hang: the write is waited for, not time
        await hub.written.wait()
    assert hub.marked == [[("M1", 1.0)]]
    await marks.stop()


async def test_a_list_shows_a_delivery_marked_meanwhile_as_stored(tmp_path, monkeypatch):
    """``GET /v1/notifications`` shows an undelivered notification delivered now, then marks
    it so. If another mark reaches the store first (the party's event stream sent it, and the
    detector marked it, while the list was read beside the writes), the page shows what is
    stored, not the time it would have written: a second read gives the same page."""
    from deconflict.store import SqlStore

    db = make_db(tmp_path)
    ru, us = token(db, "RU"), token(db, "US")
    real = SqlStore.mark_delivered
    earlier: list[float] = []

    def stream_first(self: Any, sent: Sequence[tuple[str, float]]) -> Any:
        if sent and not earlier:
            earlier.append(sent[0][1] - 5.0)
            real(self, [(notification_id, earlier[0]) for notification_id, _ in sent])
        return real(self, sent)

    async with client(db) as http:
        await http.post("/v1/notices", json=notice_body(circle("a"), id="N1"), headers=ru)
        await detected(http, ru)
        monkeypatch.setattr(SqlStore, "mark_delivered", stream_first)
        first = (await http.get("/v1/notifications", headers=us)).json()
        monkeypatch.undo()
        second = (await http.get("/v1/notifications", headers=us)).json()
    assert earlier  # the other mark did come first
    assert [n["state"] for n in first] == ["delivered"]
    assert first == second
    with Hub.open(db) as hub:
        (stored,) = hub.get_notifications("US", [first[0]["id"]])
    assert stored.delivered_at_s == pytest.approx(earlier[0])
