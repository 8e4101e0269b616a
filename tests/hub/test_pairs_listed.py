"""A pair of records lists, for each volume of either, the pair that starts first and the one
that ends last, then the earliest up to PAIRS_LISTED (security.md §4.2, ``hub.pairs``).

Two records of 1,000 volumes met in one place made a million conflicts, each detected, written,
told and entered in the ledger: one party's filing over another's record of 100 volumes held
every other party's writes 2.8 s, and a record of 1,000 over 1,000 minutes. The pairs beyond
are neither described nor written; the conflicts listed when there were more say so, and
clearing the listed pairs lists the next."""

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


def _volumes_listed(conflicts: list, party: str) -> set[str]:
    """The volumes of ``party``'s that are in one of ``conflicts``."""
    return {side.volume_id for c in conflicts for side in c.sides if side.party == party}


def _every_volume_listed(hub: Hub, n: int) -> list:
    """X's and P's n volumes each, all in one place: each in a listed conflict, and no more
    listed than the limit, or what it takes to list each volume. The open conflicts."""
    shown = _open(hub, "X")
    assert _volumes_listed(shown, "X") == {f"x{i}" for i in range(n)}
    assert _volumes_listed(shown, "P") == {f"p{i}" for i in range(n)}
    assert PAIRS_LISTED <= len(shown) <= max(PAIRS_LISTED, 2 * n) + 2
    return shown


def _detected_entries(hub: Hub) -> int:
    entries = [json.loads(data) for _, data in hub.store.ledger_entries()]
    return sum(1 for e in entries if e["type"] == "conflict.detected")


def _resolved(hub: Hub, ids: list[str]) -> list:
    return [hub.store.get_conflict(i) for i in ids]


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
        listed = len(_every_volume_listed(hub, MANY))
        assert listed == PAIRS_LISTED
        for party in ("X", "P"):
            shown = _open(hub, party)
            assert len(shown) == listed
            assert all(c.more_pairs for c in shown)
            views = view_conflicts(hub, party, shown)
            assert all(v.more_pairs for v in views)
            told = [n for n in hub.list_notifications(party) if n.kind is NotificationKind.CONFLICT]
            assert len(told) == listed
        assert _detected_entries(hub) == listed
        # Each volume's pair with the other record's first (all alike: by place in the record),
        # then the earliest, by the changed record's volumes in their order.
        pairs = {(c.a.volume_id, c.b.volume_id) for c in _open(hub, "P")}
        assert {(f"p{i}", "x0") for i in range(MANY)} <= pairs
        assert {("p0", f"x{i}") for i in range(MANY)} <= pairs
        assert [x for p, x in pairs if p == "p10"] == ["x0"]
        hub.ledger.verify()


def test_pairs_under_the_limit_are_all_listed_and_say_nothing_more(tmp_path):
    with _hub(tmp_path) as hub:
        hub.file_notice("X", _volumes("x", 9), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", 9), "air-activity", "PN")
        hub.process()
        shown = _open(hub, "P")
        assert len(shown) == 81
        assert not any(c.more_pairs for c in shown)


def test_the_pairs_beyond_the_limit_cost_no_work(tmp_path, monkeypatch):
    """The hostile case: a record of n volumes over another's n, all in one place. The pairs
    beyond those listed are neither described nor written: for 11 x 11 (121 pairs) as for
    60 x 60 (3,600), what is written grows with the volumes (a conflict each, beyond the
    limit), not with the pairs."""
    for n in (MANY, 60):
        folder = tmp_path / str(n)
        folder.mkdir()
        with _hub(folder) as hub:
            hub.file_notice("X", _volumes("x", n), "air-activity", "XN")
            hub.process()
            with _described(monkeypatch) as described:
                hub.file_notice("P", _volumes("p", n), "air-activity", "PN")
                hub.process()
            listed = len(_every_volume_listed(hub, n))
            assert listed == max(PAIRS_LISTED, 2 * n - 1)  # all alike: one pair a volume
            assert described[0] == listed  # none described beyond what is listed
            told = [c for c in hub.list_notifications("X") if c.kind is NotificationKind.CONFLICT]
            assert len(told) == listed


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
        after = _every_volume_listed(hub, MANY)
        carried = [c for c in after if c.id in before]
        gone = [c for c in before if c not in {c.id for c in after}]
        assert gone
        assert all("x0" in (c.a.volume_id, c.b.volume_id) for c in _resolved(hub, gone))
        assert len(carried) == len(before) - len(gone)
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
        # Those listed now say nothing more; those carried over say what held when found.
        assert [c.id for c in shown if c.more_pairs] == [c.id for c in shown if c.id in before]
        assert len(before & {c.id for c in shown}) == 2  # p9 x x0, p10 x x0


def test_an_agreement_added_later_lists_at_most_the_limit_too(tmp_path, monkeypatch):
    with _hub(tmp_path, agreed=False) as hub:
        hub.file_notice("X", _volumes("x", 40), "air-activity", "XN")
        hub.file_notice("P", _volumes("p", 40), "air-activity", "PN")
        hub.process()
        assert _open(hub, "X") == []  # nothing links them yet
        with _described(monkeypatch) as described:
            hub.add_agreement(_agreement())
            hub.process()
        shown = _every_volume_listed(hub, 40)
        assert all(c.more_pairs for c in shown)
        # Each of the two notices is searched from, the pair of records found once: the
        # second search finds every volume listed already, and describes nothing.
        assert described[0] == len(shown)
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


@pytest.mark.parametrize("order", ["P first", "X first", "X amends later"])
def test_a_volumes_later_meeting_is_listed_whatever_fills_the_room(tmp_path, order):
    """A forty-seventh reader: X's 100 ten-minute volumes over P's long volume pa, and one
    more, xlate, that meets pa and P's pb hours later. Listing one pair a volume listed pa
    with a short one and xlate with pb: once the short ones were over, P was shown nothing
    open for pa, which still met X's record. Each volume's last pair is listed."""
    short = {"start_s": T0 + HOUR, "end_s": T0 + HOUR + 600}
    late = {"start_s": T0 + 5 * HOUR, "end_s": T0 + 6 * HOUR}
    pb = vol("pb", lon=39.2, radius_m=2_000.0, **late)
    pa = vol("pa", radius_m=2_000.0, start_s=T0 + HOUR, end_s=T0 + 6 * HOUR)
    shorts = [vol(f"xs{i:03d}", **short) for i in range(PAIRS_LISTED + 20)]
    xlate = vol("xlate", radius_m=30_000.0, **late)
    with _hub(tmp_path) as hub:
        if order != "P first":
            hub.file_notice("P", [pb, pa], "air-activity", "PN")
            hub.process()
        if order == "X amends later":
            hub.file_notice("X", shorts, "air-activity", "XN")
            hub.process()
            hub.clock.set(T0 + 2 * HOUR)  # type: ignore[attr-defined]
            hub.amend_notice("X", "XN", 1, [*shorts, xlate])
        else:
            hub.file_notice("X", [*shorts, xlate], "air-activity", "XN")
        if order == "P first":
            hub.process()
            hub.file_notice("P", [pb, pa], "air-activity", "PN")
        hub.process()
        hub.clock.set(T0 + 2 * HOUR)  # type: ignore[attr-defined]
        shown = {
            (c.a.volume_id, c.b.volume_id) if c.a.party == "P" else (c.b.volume_id, c.a.volume_id)
            for c in hub.list_conflicts("P", open_only=True)
        }
        assert {("pa", "xlate"), ("pb", "xlate")} <= shown
        hub.ledger.verify()


def test_pairs_already_over_are_neither_described_nor_listed(tmp_path, monkeypatch):
    """A forty-seventh reader: X's volumes in the past over P's live ones were described one by
    one before they were dropped (1,000 over 1,000: a million, 16 s of the pass). A pair's
    window is the two volumes' windows': one over is dropped before anything costly."""
    with _hub(tmp_path) as hub:
        live = {"start_s": T0 - 3 * HOUR, "end_s": T0 + 5 * HOUR}
        hub.file_notice("P", _volumes("p", 40, **live), "air-activity", "PN")
        hub.process()
        past = {"start_s": T0 - 2 * HOUR, "end_s": T0 - HOUR}
        with _described(monkeypatch) as described:
            hub.file_notice("X", _volumes("x", 40, **past), "air-activity", "XN")
            hub.process()
        assert described[0] == 0
        assert _open(hub, "P") == []


def test_what_is_listed_does_not_depend_on_hidden_records_nearby(tmp_path):
    """A forty-seventh reader: the pairs listed were the first the index found, in an order
    every live volume shapes: Q's private plan nearby (Q has no agreement with anyone) changed
    which pairs P was shown once the index was loaded from the store. They are chosen by their
    windows and places in their records."""
    shown = []
    for plan in (False, True):
        folder = tmp_path / str(plan)
        folder.mkdir()
        with _hub(folder, agreed=True) as hub:
            if plan:
                far = {"start_s": T0 + 100 * HOUR, "end_s": T0 + 101 * HOUR}
                near = [
                    vol(
                        f"q{i}",
                        lon=39.0 + 0.01 * (i % 30),
                        lat=35.95 + 0.01 * (i // 30),
                        radius_m=200.0,
                        **far,
                    )
                    for i in range(600)
                ]
                hub.add_plan("Q", near, "QP")
            hub.file_notice("X", [vol(f"x{i:02d}") for i in range(MANY)], "air-activity", "XN")
            hub.process()
        with Hub.open(folder / "hub.db", SimulatedClock(T0)) as hub:  # the index bulk-loaded
            hub.file_notice("P", [vol(f"p{i:02d}") for i in range(MANY)], "air-activity", "PN")
            hub.process()
            shown.append(sorted((c.a.volume_id, c.b.volume_id) for c in _open(hub, "P")))
    assert shown[0] == shown[1]


def test_amendments_do_not_pile_conflicts_up(tmp_path):
    """A forty-eighth reader: X amended its notice again and again, each time adding a volume
    that starts a minute before the last, and so a new first pair for each of P's 100 volumes;
    the conflicts carried over stayed open, 100 more with each amendment (2,100 after 20).
    One carried over that is no longer a volume's first or last, or among those listed, is
    listed no more: the pair of records stays within its bound."""
    with _hub(tmp_path) as hub:
        long = {"start_s": T0 + 2 * HOUR, "end_s": T0 + 12 * HOUR}
        hub.file_notice("P", _volumes("p", 100, **long), "air-activity", "PN")
        xs = [vol("x0")]
        hub.file_notice("X", xs, "air-activity", "XN")
        hub.process()
        for k in range(1, 21):
            start = T0 + 6 * HOUR - 60 * k
            xs = [*xs, vol(f"x{k}", start_s=start, end_s=start + 600)]
            hub.amend_notice("X", "XN", k, xs)
            hub.process()
        shown = _open(hub, "P")
        assert len(shown) <= 2 * (100 + len(xs)) + PAIRS_LISTED
        assert _volumes_listed(shown, "P") == {f"p{i}" for i in range(100)}
        # Each of P's volumes still told from its first meeting to its last.
        for i in range(100):
            mine = [c.detail for c in shown if f"p{i}" in (c.a.volume_id, c.b.volume_id)]
            assert min(d.start_s for d in mine) == T0 + 6 * HOUR - 60 * 20
            assert max(d.end_s for d in mine) == T0 + 8 * HOUR  # x0's, the default window
        hub.ledger.verify()
