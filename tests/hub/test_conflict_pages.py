"""A party's conflicts, a page at a time (security.md §4.2): the list read every conflict the
party had ever been shown and sorted them all, so its cost grew with the hub's whole history,
and another party could add to it by filing onto the party's volumes. A page now costs what it
holds, the open ones cost what is open, and both still hold exactly what the party is shown."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import pytest
from tests.hub.scenario import HOUR, T0, vol
from tests.hub.test_hostile_need_to_know import MINIMA, _costs, _hub, _steps

from deconflict.hub import Hub
from deconflict.model import Agreement, ConflictState, Disclosure


def _history(path: Path, past: int, level: Disclosure) -> Hub:
    """``past`` conflicts of P's notices with X's, both ended since (P's history); then P's
    live notice, one of X's onto it cancelled (resolved, its window still ahead) and three X
    keeps (open)."""
    hub, clock = _hub(path, level)
    for k in range(past):  # one after the other, each in conflict with one
        at = T0 + HOUR + k * 700.0
        for party in ("P", "X"):
            volume = vol(f"{party}{k}", lon=41.0, start_s=at, end_s=at + 600.0)
            hub.file_notice(party, [volume], "air-activity", f"{party}-OLD{k}")
        hub.process()
    clock.set(T0 + 2 * HOUR + past * 700.0)
    hub.tick()  # their notices have ended: their conflicts are resolved
    hub.process()
    ahead = {"start_s": clock.now() + HOUR, "end_s": clock.now() + 3 * HOUR}
    hub.file_notice("P", [vol("p", **ahead)], "air-activity", "PN")
    hub.file_notice("X", [vol("gone", **ahead)], "air-activity", "GONE")
    hub.process()
    hub.cancel_notice("X", "GONE")
    for k in range(3):
        hub.file_notice("X", [vol(f"live{k}", **ahead)], "air-activity", f"LIVE{k}")
    hub.process()
    return hub


@pytest.mark.parametrize("level", [Disclosure.FULL, Disclosure.NONE])
def test_pages_hold_every_conflict_once_in_detection_order(tmp_path, level):
    hub = _history(tmp_path, 7, level)
    everything = hub.list_conflicts("P")
    assert len(everything) == 11
    paged, after = [], None
    while True:
        page = hub.list_conflicts("P", after=after, limit=3)
        paged += page
        if len(page) < 3:
            break
        after = page[-1]
    assert [c.id for c in paged] == [c.id for c in everything]
    assert paged == everything  # each as shown, the same whichever page holds it
    opened = hub.list_conflicts("P", open_only=True)
    assert [c.id for c in opened] == [c.id for c in everything if c.state is ConflictState.OPEN]
    assert len(opened) == 3
    first, rest = opened[:2], hub.list_conflicts("P", open_only=True, after=opened[1], limit=2)
    assert first + rest == opened


@pytest.mark.parametrize("level", [Disclosure.FULL, Disclosure.NONE])
def test_a_page_costs_what_it_holds_not_the_partys_history(tmp_path, level):
    """The steps of a page of P's conflicts and of its open ones, with 5 or 60 conflicts of
    the past behind them: they grow by a level of an index at most, not by a row a conflict
    (before, both read and sorted every conflict P had been shown)."""
    costs = {}
    for past in (5, 60):
        (tmp_path / str(past)).mkdir()
        hub = _history(tmp_path / str(past), past, level)
        reads = {
            "page": partial(hub.list_conflicts, "P", limit=4),
            "open": partial(hub.list_conflicts, "P", open_only=True),
            "met": partial(hub._adjustments._met, "P"),  # what suggestions search
        }
        for name, cost in zip(reads, _costs(hub, reads.values()), strict=True):
            costs[name, past] = cost
        hub.close()
    for name in ("page", "open", "met"):
        grown = costs[name, 60] - costs[name, 5]
        assert grown < 40, (name, costs)  # a row read costs more than 40 steps


def test_the_open_ones_with_an_owner_seen_whole_are_those_the_store_keeps_open(tmp_path):
    """A conflict with a party P sees whole is shown as the store keeps it: open after its
    window has passed, while the other's notice lasts (a later volume of it, not in conflict).
    The open read finds it although its window as told is over."""
    hub, clock = _hub(tmp_path, Disclosure.FULL)
    start = vol("p").window.start_s
    mine = [
        vol("p1", lon=39.0, end_s=start + HOUR),
        vol("p2", lon=50.0, start_s=start + 4 * HOUR, end_s=start + 6 * HOUR),
    ]
    hub.file_notice("P", mine, "air-activity", "PN")
    theirs = [
        vol("x1", lon=39.0),
        vol("x2", lon=45.0, start_s=start + 5 * HOUR, end_s=start + 6 * HOUR),
    ]
    hub.file_notice("X", theirs, "air-activity", "XN")
    hub.process()
    clock.set(start + 3 * HOUR)  # the conflict's window is over; both notices are not
    hub.process()
    (conflict,) = hub.list_conflicts("P")
    assert conflict.state is ConflictState.OPEN
    assert conflict.told_until("P") <= clock.now()
    assert [c.id for c in hub.list_conflicts("P", open_only=True)] == [conflict.id]


def test_the_notices_of_a_window_cost_what_it_holds_not_the_history(tmp_path):
    """The map's read of the notices active in its window (and ``/v1/notices?start=``) stepped
    over every notice of the owners P sees, ended ones too (security.md §4.2): with 5 or 60 of
    X's ended notices behind, the same steps but for an index level."""
    costs = []
    for past in (5, 60):
        (tmp_path / str(past)).mkdir()
        hub, clock = _hub(tmp_path / str(past), Disclosure.FULL)
        for k in range(past):
            at = T0 + HOUR + k * 700.0
            volume = vol(f"x{k}", lon=41.0, start_s=at, end_s=at + 600.0)
            hub.file_notice("X", [volume], "air-activity", f"OLD{k}")
        clock.set(T0 + 2 * HOUR + past * 700.0)
        ahead = {"start_s": clock.now() + HOUR, "end_s": clock.now() + 3 * HOUR}
        for k in range(3):
            hub.file_notice("X", [vol(f"x{k}", **ahead)], "air-activity", f"LIVE{k}")
        hub.tick()
        with _steps(hub) as steps:
            found = hub.list_notices("P", active=(clock.now(), math.inf))
        assert [n.id for n in found] == ["LIVE0", "LIVE1", "LIVE2"]
        costs.append(steps[0])
        hub.close()
    assert costs[1] - costs[0] < 40, costs


@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_a_page_costs_the_same_whichever_side_the_party_is_on(tmp_path, level):
    """security.md §3.5, found by a thirteenth reader: read a side at a time, a page of
    ``limit`` cost up to ``limit`` rows of each side, so its steps told how P's conflicts split
    between the sides: within one detection pass, whether X's hidden notice was filed before
    P's probe or after, which linked X's filing entry to the conflict. Two hubs where only that
    order differs: P's pages cost the same (Z's conflicts with X are neighbours in both, so no
    read reaches an index's very end)."""
    costs = []
    for x_first in (True, False):
        path = tmp_path / str(x_first)
        path.mkdir()
        hub, clock = _hub(path, level)
        hub.add_party("Z")
        hub.add_agreement(Agreement("xz", ("X", "Z"), minima=MINIMA))
        for party, notice_id in (("Z", "Z0"), ("X", "XZ"), ("Z", "Z1")):
            hub.file_notice(party, [vol(notice_id, lon=33.0)], "air-activity", notice_id)
            hub.process()
        hub.file_notice("X", [vol("old", lon=36.0)], "air-activity", "XOLD")
        hub.process()
        clock.set(T0 + 10.0)
        hub.file_notice("P", [vol("p0", lon=36.0)], "air-activity", "P0")
        hub.process()
        clock.set(T0 + 20.0)
        filings = [("X", "XN"), ("P", "PM")]
        for party, notice_id in filings if x_first else filings[::-1]:
            hub.file_notice(party, [vol(notice_id, lon=39.0)], "air-activity", notice_id)
        hub.process()
        first = hub.list_conflicts("P")[0]
        reads = [
            partial(hub.list_conflicts, "P", limit=1),
            partial(hub.list_conflicts, "P", after=first, limit=1),
            partial(hub.store.a_seen_conflict, "P"),
        ]
        costs.append(_costs(hub, reads))
        hub.close()
    assert costs[0] == costs[1]
