"""security.md §3.8: every wake-up (any detection that made notifications) runs the read of
every open event stream of the process, so a party holding hundreds of idle streams made each
wake-up that many reads, and a third party's deliveries waited (a thirty-sixth reader: 96 ms
against 21 at 1,200 streams). A party holds at most ``streams_per_party`` open at once in a
process; the next is a 429 naming the cap, for that party alone, and a stream gives its slot
back however it ends: run out, closed, or dropped before it started."""

from __future__ import annotations

import asyncio
import gc

import pytest
from tests.api.harness import client_with, make_db, token

from deconflict.api import ApiSettings, create_app
from deconflict.api.limits import StreamSlots
from deconflict.api.problems import ApiError

pytestmark = pytest.mark.anyio


async def test_a_party_holding_its_streams_is_refused_another_and_others_are_not(tmp_path):
    db = make_db(tmp_path)
    app = create_app(ApiSettings(db=db, streams_per_party=2))
    slots: StreamSlots = app.state.service.streams
    ru, fr = token(db, "RU"), token(db, "FR")
    async with client_with(app) as http:
        held = [slots.hold("RU", _idle()) for _ in range(2)]  # two streams RU holds open
        refused = await http.get("/v1/events?once=true", headers=ru)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert "too many open event streams: 2 a party" in refused.json()["detail"]
        assert (await http.get("/v1/events?once=true", headers=fr)).status_code == 200
        await held.pop().aclose()  # one closed: its slot is given back
        assert slots.open("RU") == 1
        answered = await http.get("/v1/events?once=true", headers=ru)
        assert answered.status_code == 200, answered.text
        assert slots.open("RU") == 1  # the once=true stream ran out and gave its slot back
        assert slots.open("FR") == 0
        del held


async def _idle():  # type: ignore[no-untyped-def]
    yield b": open\n\n"


async def test_a_slot_is_given_back_however_its_stream_ends() -> None:
    slots = StreamSlots(per_party=1)
    # Run out.
    chunks = [chunk async for chunk in slots.hold("X", _idle())]
    assert chunks == [b": open\n\n"]
    assert slots.open("X") == 0
    # Closed while open.
    running = slots.hold("X", _idle())
    assert await running.__anext__() == b": open\n\n"
    with pytest.raises(ApiError):
        slots.hold("X", _idle())
    await running.aclose()
    assert slots.open("X") == 0

    # Failed.
    async def failing():  # type: ignore[no-untyped-def]
        yield b"x"
        raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError):
        async for _ in slots.hold("X", failing()):
            pass
    assert slots.open("X") == 0
    # Dropped before it started (the client gone before its first byte).
    never = slots.hold("X", _idle())
    assert slots.open("X") == 1
    del never
    gc.collect()
    assert slots.open("X") == 0
    # Closed before it started.
    unstarted = slots.hold("X", _idle())
    await unstarted.aclose()
    assert slots.open("X") == 0
    # No cap.
    unbounded = StreamSlots(per_party=0)
    kept = [unbounded.hold("X", _idle()) for _ in range(100)]
    assert unbounded.open("X") == 100
    await asyncio.gather(*(stream.aclose() for stream in kept))
    assert unbounded.open("X") == 0
