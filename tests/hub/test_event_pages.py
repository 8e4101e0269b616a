"""A party's notifications read a page at a time after a position (``runtime.events``:
``next_page``, and ``resume_at`` for a reader resuming after an event id): the event stream's
and the webhooks' reads. The notifications of one detection pass share its time; paged in the
store's order, each is read once, whatever the page size, on both databases; a reader resuming
after an event id reads on from exactly after it, even where two passes share a microsecond (the
event id keeps the time to the microsecond only); a made-up id misses nothing, whatever the
database's collation."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hub.scenario import make_hub, vol
from tests.pg import scratch_database

from deconflict.hub import Hub
from deconflict.model import Notification, NotificationKind
from deconflict.runtime.events import EventKey, event_id, event_key, next_page, resume_at
from deconflict.store import Detection


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


def _read_all(hub: Hub, party: str, cursor: EventKey | None, limit: int) -> list[str]:
    """Every id a reader resuming after ``cursor`` reads, ``limit`` a page."""
    after, leave_out = resume_at(hub, party, cursor)
    read: list[str] = []
    while True:
        page, after, rows = next_page(hub, party, after, leave_out, limit)
        read += [n.id for n in page]
        if rows < limit:
            return read


def test_pages_read_each_notification_once_and_resume_exactly(store_target: str) -> None:
    hub = _a_pass(store_target)
    try:
        for party in ("usaf", "CAOC"):
            told = hub.list_notifications(party)
            last_pass = [n for n in told if n.created_at_s == told[-1].created_at_s]
            assert len(last_pass) >= 4  # the pass's, at one time
            ids = [n.id for n in told]
            for limit in (1, 2, 3, 50):
                assert _read_all(hub, party, None, limit) == ids, (party, limit)
                for at in range(len(told)):
                    resumed = _read_all(hub, party, event_key(told[at]), limit)
                    assert resumed == ids[at + 1 :], (party, limit, at)
    finally:
        hub.close()


def test_a_reader_resumes_exactly_after_an_event_whose_microsecond_another_pass_shares(
    store_target: str,
) -> None:
    """Two passes 0.3 us apart, their ids in the other order: the event ids of both have one
    microsecond, and by it and the id the later pass's notification came first, so a reader
    resuming after the first pass's was never sent the second's (relayed: not resent as
    undelivered either). Resumed after the notification the id names, it is."""
    hub, _ = make_hub(Path(), target=store_target, relay="CAOC")
    try:
        made = [
            Notification("M-f", "usaf", NotificationKind.NOTICE, 1e9 + 1e-7, 2e9, 60.0, via="CAOC"),
            Notification("M-0", "usaf", NotificationKind.NOTICE, 1e9 + 4e-7, 2e9, 60.0, via="CAOC"),
        ]
        assert made[0].created_at_s < made[1].created_at_s
        assert event_key(made[0])[0] == event_key(made[1])[0]
        hub.store.commit_detection(Detection(1, 50.0, [], [], made))
        for party in ("usaf", "CAOC"):
            assert _read_all(hub, party, None, 1) == ["M-f", "M-0"]  # the store's order
            assert _read_all(hub, party, event_key(made[0]), 1) == ["M-0"], party
            assert _read_all(hub, party, event_key(made[1]), 1) == []
            assert event_id(made[0]).endswith(".M-f")
    finally:
        hub.close()


def test_an_id_not_the_party_s_resumes_from_its_time(tmp_path: Path) -> None:
    """An event id naming another party's notification, or none, is read as a time: nothing
    of the party's after it is missed, and the answer is the one a made-up id gets (it tells
    nothing of the other party's notifications)."""
    hub = _a_pass(str(tmp_path / "hub.db"))
    try:
        mine = hub.list_notifications("usaf")
        theirs = hub.list_notifications("faf")
        assert theirs
        for other in theirs:
            micros = event_key(other)[0]
            as_theirs = _read_all(hub, "usaf", (micros, other.id), 2)
            made_up = _read_all(hub, "usaf", (micros, other.id + "x"), 2)
            assert as_theirs == made_up
            assert as_theirs == [n.id for n in mine if event_key(n) > (micros, other.id)]
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
                    for limit in (1, 3, 50):
                        found = _read_all(hub, party, cursor, limit)
                        assert sorted(found) == sorted(expected), (party, made_up, limit)
        finally:
            hub.close()
