"""An event stream's read after its cursor (``runtime.events.read_after``, then
``Hub.notifications_since``): the notifications of one detection pass share its time, and a
stream woken again read them all again at every wake-up (decoded, then dropped by the cursor: at
500 notices a second, a notification's CPU several times over). The store now leaves out those
of the cursor's time up to its id, on both databases, and nothing after the cursor is missed,
whatever the cursor and the database's collation."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hub.scenario import make_hub, vol
from tests.pg import scratch_database

from deconflict.hub import Hub
from deconflict.runtime.events import EventKey, event_key, read_after


def _a_pass(target: str) -> Hub:
    """usaf's four notices, each met by faf's one: one pass, its notifications at one time,
    to usaf and through the relay CAOC."""
    hub, _ = make_hub(Path(), target=target, relay="CAOC")
    for k in range(4):
        hub.file_notice("usaf", [vol(f"u{k}", lon=39.0 + 0.001 * k)], "air", f"U{k}")
    hub.process()
    hub.file_notice("faf", [vol("f")], "air", "F")
    hub.process()
    return hub


def _after(hub: Hub, party: str, cursor: EventKey) -> list[str]:
    read = hub.notifications_since(party, *read_after(cursor))
    return [n.id for n in sorted(read, key=event_key) if event_key(n) > cursor]


def test_a_read_after_a_cursor_leaves_out_the_cursor_s_pass_up_to_it(store_target: str) -> None:
    hub = _a_pass(store_target)
    try:
        for party in ("usaf", "CAOC"):
            told = sorted(hub.list_notifications(party), key=event_key)
            last_pass = [n for n in told if n.created_at_s == told[-1].created_at_s]
            assert len(last_pass) >= 4  # the pass's, at one time
            for at in range(len(told)):
                cursor = event_key(told[at])
                assert _after(hub, party, cursor) == [n.id for n in told[at + 1 :]]
                read = hub.notifications_since(party, *read_after(cursor))
                assert len(read) - len(told[at + 1 :]) <= 1  # the pass's before it: not read
    finally:
        hub.close()


@pytest.mark.postgres
def test_a_made_up_cursor_misses_nothing_on_a_database_of_another_collation() -> None:
    """A nineteenth reader: on an ICU database "M-a..." orders before "M-G", so a stream resumed
    after a made-up id "M-G" of the pass's microsecond was read none of the pass's ids with a
    letter: the party's own notifications, relayed ones and delivered ones lost to it."""
    with scratch_database("en-US") as url:
        hub = _a_pass(url)
        try:
            for party in ("usaf", "CAOC"):
                told = sorted(hub.list_notifications(party), key=event_key)
                micros = event_key(told[-1])[0]
                for made_up in ("M-G", "M-Z", "M-", "M-0", "~"):
                    cursor = (micros, made_up)
                    expected = [n.id for n in told if event_key(n) > cursor]
                    assert _after(hub, party, cursor) == expected, (party, made_up)
        finally:
            hub.close()
