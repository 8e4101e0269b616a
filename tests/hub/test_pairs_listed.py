"""A pair of records lists at most PAIRS_LISTED conflicts (security.md §4.2, ``hub.pairs``).

Two records of 1,000 volumes met in one place made a million conflicts, each detected, written,
told and entered in the ledger: one party's filing over another's record of 100 volumes held
every other party's writes 2.8 s, and a record of 1,000 over 1,000 minutes. The pairs beyond
the limit are neither described nor written; the conflicts listed when the limit was reached
say that there are more, and clearing the listed pairs lists the next."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.hub.scenario import HOUR, T0, vol

from deconflict.engine import SeparationMinima
from deconflict.hub import Hub, SimulatedClock, detector
from deconflict.hub.pairs import PAIRS_LISTED
from deconflict.hub.views import view_conflicts
from deconflict.model import Agreement, Disclosure, NotificationKind

# 11 x 11 = 121 pairs of volumes, all in one place: more than the 100 a pair of records lists.
assert PAIRS_LISTED == 100
MANY = 11


def _agreement(ident: str = "mou") -> Agreement:
    return Agreement(
        id=ident,
        parties=("X", "P"),
        minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
        default_disclosure=Disclosure.FULL,
        ack_deadline_s=900.0,
    )


@contextmanager
def _hub(path: Path, agreed: bool = True) -> Iterator[Hub]:
    hub = Hub.open(path / "hub.db", SimulatedClock(T0))
    try:
        for party in ("X", "P", "Q"):
            hub.add_party(party)
        if agreed:
            hub.add_agreement(_agreement())
        yield hub
    finally:
        hub.close()


def _volumes(prefix: str, n: int, **kwargs: float) -> list:
    return [vol(f"{prefix}{i}", **kwargs) for i in range(n)]


def _open(hub: Hub, party: str) -> list:
    return hub.list_conflicts(party, open_only=True)


def _detected_entries(hub: Hub) -> int:
    entries = [json.loads(data) for _, data in hub.store.ledger_entries()]
    return sum(1 for e in entries if e["type"] == "conflict.detected")


@contextmanager
def _described(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many pairs of volumes the detector described (the work of each pair met)."""
    calls = [0]
    real = detector.describe

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(detector, "describe", counted)
    yield calls


def test_a_pair_of_records_lists_at_most_the_limit_and_says_there_is_more(tmp_path):
    with _hub(tmp_path) as hub:
        hub.file_notice("X", _volumes("x", MANY), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", MANY), "air-activity", "PN")
        hub.process()
        for party in ("X", "P"):
            shown = _open(hub, party)
            assert len(shown) == PAIRS_LISTED
            assert all(c.more_pairs for c in shown)
            views = view_conflicts(hub, party, shown)
            assert all(v.more_pairs for v in views)
            told = [n for n in hub.list_notifications(party) if n.kind is NotificationKind.CONFLICT]
            assert len(told) == PAIRS_LISTED
        assert _detected_entries(hub) == PAIRS_LISTED
        # The pairs listed are those found first: the changed record's volumes in its order.
        listed = {(c.a.volume_id, c.b.volume_id) for c in _open(hub, "P")}
        assert {("p0", f"x{i}") for i in range(MANY)} <= listed
        assert not any(a == "p10" for a, _ in listed)
        hub.ledger.verify()


def test_pairs_under_the_limit_are_all_listed_and_say_nothing_more(tmp_path):
    with _hub(tmp_path) as hub:
        hub.file_notice("X", _volumes("x", 9), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", 9), "air-activity", "PN")
        hub.process()
        shown = _open(hub, "P")
        assert len(shown) == 81
        assert not any(c.more_pairs for c in shown)


def test_the_pairs_beyond_the_limit_cost_no_work_whatever_their_number(tmp_path, monkeypatch):
    """The hostile case: a record of n volumes over another's n, all in one place. The pairs
    beyond the limit are neither described nor written, so the filing's work and what it
    writes are the same for 11 x 11 as for 40 x 40 (1,600 pairs)."""
    seen = []
    for n in (MANY, 40):
        folder = tmp_path / str(n)
        folder.mkdir()
        with _hub(folder) as hub:
            hub.file_notice("X", _volumes("x", n), "air-activity", "XN")
            hub.process()
            with _described(monkeypatch) as described:
                hub.file_notice("P", _volumes("p", n), "air-activity", "PN")
                hub.process()
            entries = len(hub.store.ledger_entries())
            notifications = len(hub.list_notifications("X"))
            seen.append((described[0], len(_open(hub, "X")), entries, notifications))
    assert seen[0] == seen[1]
    assert seen[0][0] == PAIRS_LISTED + 1  # the one past the limit, found to be more


def test_an_amendment_counts_the_conflicts_it_keeps(tmp_path):
    """X moves one of its volumes (a new one in the same place): the conflicts of the others are
    carried over and count against the limit; the moved one's pairs fill what room is left."""
    with _hub(tmp_path) as hub:
        hub.file_notice("X", _volumes("x", MANY), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", MANY), "air-activity", "PN")
        hub.process()
        before = {c.id for c in _open(hub, "X")}
        moved = [*_volumes("x", MANY)[1:], vol("x0", lon=39.001)]
        hub.amend_notice("X", "XN", 1, moved)
        hub.process()
        after = _open(hub, "X")
        assert len(after) == PAIRS_LISTED
        carried = [c for c in after if c.id in before]
        assert len(carried) == PAIRS_LISTED - MANY + 1  # those of x0 were resolved
        assert all(c.more_pairs for c in after if c.id not in before)


def test_clearing_the_listed_pairs_lists_the_next(tmp_path):
    with _hub(tmp_path) as hub:
        hub.file_notice("X", _volumes("x", MANY), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", MANY), "air-activity", "PN")
        hub.process()
        # P moves all but its last two volumes out of the way (a day later): 22 pairs remain.
        later = {"start_s": T0 + 30 * HOUR, "end_s": T0 + 32 * HOUR}
        kept = _volumes("p", MANY)[MANY - 2 :]
        moved = [vol(f"p{i}", **later) for i in range(MANY - 2)]
        hub.amend_notice("P", "PN", 1, [*moved, *kept])
        before = {c.id for c in _open(hub, "P")}
        hub.process()
        shown = _open(hub, "P")
        assert len(shown) == 2 * MANY
        assert {c.a.volume_id if c.a.party == "P" else c.b.volume_id for c in shown} == {
            f"p{MANY - 2}",
            f"p{MANY - 1}",
        }
        # Those listed now say nothing more; the one carried over says what held when found.
        assert [c.id for c in shown if c.more_pairs] == [c.id for c in shown if c.id in before]
        assert len(before & {c.id for c in shown}) == 1  # p9 x x0, the last listed at first


def test_an_agreement_added_later_lists_at_most_the_limit_too(tmp_path, monkeypatch):
    with _hub(tmp_path, agreed=False) as hub:
        hub.file_notice("X", _volumes("x", 40), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", 40), "air-activity", "PN")
        hub.process()
        assert _open(hub, "X") == []  # nothing links them yet
        with _described(monkeypatch) as described:
            hub.add_agreement(_agreement())
            hub.process()
        shown = _open(hub, "X")
        assert len(shown) == PAIRS_LISTED
        assert all(c.more_pairs for c in shown)
        # Each of the two notices is searched from (the pair found once): the second search
        # describes only what it needs to find the pair full.
        assert described[0] <= 2 * (PAIRS_LISTED + 1)
        hub.ledger.verify()


def test_a_third_partys_records_are_listed_whatever_the_full_pair(tmp_path):
    """The limit is a pair of records': a third record meeting the same volumes is listed."""
    with _hub(tmp_path) as hub:
        hub.add_agreement(
            Agreement(
                id="xq",
                parties=("X", "Q"),
                minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
                default_disclosure=Disclosure.FULL,
            )
        )
        hub.file_notice("X", _volumes("x", MANY), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", MANY), "air-activity", "PN")
        hub.file_notice("Q", [vol("q0")], "air-activity", "QN")
        hub.process()
        theirs = [c for c in _open(hub, "Q")]
        assert len(theirs) == MANY
        assert not any(c.more_pairs for c in theirs)
