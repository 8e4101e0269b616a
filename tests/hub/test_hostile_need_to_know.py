"""Hostile parties against need-to-know, at the hub: what a party may learn of another is what
the agreements disclose, through every channel (security.md §3). Each test plays the hostile
party and names the section it checks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from tests.hub.scenario import HOUR, T0, vol

from deconflict.engine import SeparationMinima
from deconflict.errors import NotFound
from deconflict.geo import Circle, Volume4D
from deconflict.hub import Hub, SimulatedClock
from deconflict.hub.ledger_access import entries_about
from deconflict.hub.views import known_parties, view_notifications
from deconflict.model import Agreement, Disclosure, NoticeState, Resolution

MINIMA = SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0)


def _hub(
    path: Path,
    level: Disclosure,
    *,
    relay: str | None = None,
    back: Disclosure = Disclosure.FULL,
    resolution: Resolution | None = None,
) -> tuple[Hub, SimulatedClock]:
    """X (the victim) and P (the prober) under one agreement: X -> P ``level``, P -> X
    ``back``; a relay if given; and Q, a party with no agreement at all."""
    clock = SimulatedClock(T0)
    hub = Hub.open(path / "hub.db", clock)
    for party in ("X", "P", "Q", *([relay] if relay else [])):
        hub.add_party(party)
    hub.add_agreement(
        Agreement(
            "mou",
            ("X", "P"),
            minima=MINIMA,
            relay=relay,
            disclosure={("X", "P"): level, ("P", "X"): back},
            resolution=resolution if resolution is not None else Resolution(),
        )
    )
    return hub, clock


def _odd(vid: str, **kwargs: Any) -> Volume4D:
    """X's volume with bounds that are on no round step."""
    values = {
        "lon": 39.0,
        "lower_m": 1_234.0,
        "upper_m": 7_777.0,
        "start_s": T0 + 6 * HOUR + 433.0,
        "end_s": T0 + 8 * HOUR + 77.0,
    }
    values.update(kwargs)
    return vol(vid, **values)


def test_one_huge_plan_does_not_unlock_every_volume(tmp_path):
    """security.md §3.3: under conflicts-only, P's one private plan of 1,260 km radius over 366
    days met every volume of X and so disclosed them all, and X was never told. Plans unlock
    nothing by default, and no volume beyond the agreement's unlock bounds does."""
    hub, _ = _hub(tmp_path, Disclosure.CONFLICTS_ONLY)
    for k, lon in enumerate((36.0, 38.0, 40.0, 42.0)):
        hub.file_notice("X", [vol(f"x{k}", lon=lon)], "air-activity", f"XN{k}")
    huge = Volume4D.build(
        "everything", Circle((39.0, 35.9), 1_260_000.0), 0.0, 20_000.0, T0, T0 + 366 * 86_400
    )
    hub.add_plan("P", [huge], "PP")
    hub.file_notice("P", [huge], "air-activity", "PN")  # a huge notice does not either
    report = hub.process()
    assert report.new_conflicts  # the conflicts are found, and P is told of them
    assert hub.list_notices("P") == [n for n in hub.list_notices("P") if n.party == "P"]
    for k in range(4):
        with pytest.raises(NotFound):
            hub.get_notice("P", f"XN{k}")
    hub.close()


def test_a_small_notice_still_unlocks_what_it_meets(tmp_path):
    """security.md §3.3, the rule's other side: a notice within the bounds discloses exactly
    the volume it meets, and X is told of that conflict."""
    hub, _ = _hub(tmp_path, Disclosure.CONFLICTS_ONLY)
    hub.file_notice("X", [vol("near"), vol("far", lon=41.0)], "air-activity", "XN")
    hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")
    hub.process()
    assert [v.id for v in hub.get_notice("P", "XN").volumes] == ["near"]
    assert any(n.kind == "conflict" for n in hub.list_notifications("X"))
    hub.close()


def _probe_picture(tmp_path: Path, with_plan: bool) -> list[object]:
    """Everything P can observe after filing probe notices, in a hub where X has (or has not)
    a private plan under one of them."""
    hub, clock = _hub(tmp_path, Disclosure.CONFLICTS_ONLY, relay="R")
    if with_plan:
        hub.add_plan("X", [vol("secret", lon=39.0)], "XP")
        hub.process()
    seen: list[object] = []
    for k, lon in enumerate((39.0, 40.0)):  # the first meets the plan, if there is one
        hub.file_notice("P", [vol(f"probe{k}", lon=lon)], "air-activity", f"PR{k}")
        hub.process()
        clock.advance(600)
        for party in ("X", "R"):  # X and the relay receive what they are sent
            hub.deliver(party)
        for n in hub.list_notifications("X"):
            if n.recipient == "X" and n.state != "acknowledged":
                hub.acknowledge("X", n.id)
        hub.tick()
        seen.append(hub.ledger.size)
        seen.append(hub.ledger.receipt_index("P", f"PR{k}"))
        seen.append([(n.recipient, n.kind) for n in hub.list_notifications("R")])
        seen.append(len(hub.list_conflicts("P")))
    hub.close()
    return seen


def test_the_ledger_grows_alike_whether_a_probe_meets_a_hidden_plan(tmp_path):
    """security.md §3.4: P swept probe notices and watched the ledger grow by more where one met
    X's private plan, locating it within a few km. What concerns a plan is X's private entry,
    committed to by X's digest, one a period whatever happened: the ledger's size, P's entries'
    indexes, P's conflicts and the relay's notifications are the same with the plan or
    without."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _probe_picture(tmp_path / "a", True) == _probe_picture(tmp_path / "b", False)


def test_the_relay_learns_nothing_of_a_partys_plans(tmp_path):
    """security.md §3.6: the relay read the notifications it relayed and so learned where a
    party had private plans. What concerns a plan goes to its owner directly."""
    hub, _ = _hub(tmp_path, Disclosure.FULL, relay="R")
    hub.add_plan("X", [vol("secret")], "XP")
    hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")
    hub.process()
    told = [n for n in hub.list_notifications("X") if n.conflict_id is not None]
    assert told
    assert all(n.via is None and n.private for n in told)
    assert all(n.conflict_id is None for n in hub.list_notifications("R"))
    hub.close()


def _masked_view(path: Path, hidden: Volume4D, *others: Volume4D) -> object:
    """What P is told of its notice's conflict with X's hidden volume (and of the adjustment
    that clears it): the conflict view's detail and lead time, and the suggestion."""
    from deconflict.hub.views import view_conflict

    hub, _ = _hub(path, Disclosure.NONE)
    hub.file_notice("X", [hidden, *others], "air-activity", "XN")
    hub.file_notice("P", [vol("mine", lon=39.02, lower_m=3_000.0, upper_m=5_000.0)], "a", "PN")
    hub.process()
    (conflict,) = hub.list_conflicts("P")
    view = view_conflict(hub, "P", conflict)
    suggestion = view.suggestion
    assert suggestion is not None
    picture = (
        view.detail,
        view.lead_time_s,
        view.theirs,
        [(a.kind, a.delta, a.describe()) for a in (suggestion.time, suggestion.altitude) if a],
    )
    hub.close()
    return picture


def test_a_hidden_volume_is_told_only_to_the_agreements_resolution(tmp_path):
    """security.md §3.6: under none, the conflict view and the adjustment gave away the hidden
    volume's upper altitude and start exactly. Two hidden volumes whose bounds round to the same
    steps (15 min, 150 m) now tell P exactly the same thing."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    a = _odd("h")
    b = _odd(
        "h",
        lower_m=1_201.0,
        upper_m=7_651.0,
        start_s=T0 + 6 * HOUR + 201.0,  # the same 15 min steps as 433 s and 77 s (T0 is 700 s in)
        end_s=T0 + 8 * HOUR + 199.0,
    )
    assert _masked_view(one, a) == _masked_view(two, b)


def test_a_suggestion_counts_other_hidden_volumes_as_their_envelopes(tmp_path):
    """security.md §3.6: the adjustment was computed against volumes the party may not see,
    exactly. A second hidden volume of X, moved within its steps, changes nothing P sees."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    # h0 blocks the earlier shifts; h2, just after h, is what a later shift must clear.
    h0 = _odd("h0", lon=39.03, start_s=T0 + 3 * HOUR + 100.0, end_s=T0 + 5 * HOUR + 333.0)
    after = {"start_s": T0 + 8 * HOUR + 150.0, "end_s": T0 + 9 * HOUR + 333.0}
    a = _masked_view(one, _odd("h"), h0, _odd("h2", lon=39.03, **after))
    moved = {"start_s": T0 + 8 * HOUR + 190.0, "end_s": T0 + 9 * HOUR + 1_000.0}  # same steps
    b = _masked_view(two, _odd("h"), h0, _odd("h2", lon=39.03, **moved))
    assert a == b


def _old_conflict_id(*sides: tuple[str, str, int, str]) -> str:
    """How conflict ids were made: a hash of what any party could guess (kind, record id,
    version, volume id of each side)."""
    one, two = sorted(sides)
    return "C-" + hashlib.sha256("|".join(map(str, (*one, *two))).encode()).hexdigest()[:20]


def test_a_conflict_id_names_nothing_a_party_could_guess(tmp_path):
    """security.md §3.2: a conflict's id was a hash of its sides' ids, so a party told of a
    conflict with a hidden notice could test a guess of that notice's id against it. Ids are
    keyed by the store's secret: the same records give other ids in another store."""
    ids = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        hub, _ = _hub(tmp_path / name, Disclosure.NONE)
        hub.file_notice("X", [vol("x1")], "air-activity", "XN")
        hub.file_notice("P", [vol("p1", lon=39.02)], "air-activity", "PN")
        hub.process()
        (conflict,) = hub.list_conflicts("P")
        ids.append(conflict.id)
        guess = _old_conflict_id(("notice", "XN", 1, "x1"), ("notice", "PN", 1, "p1"))
        assert conflict.id != guess
        hub.close()
    assert ids[0] != ids[1]


@contextmanager
def _statements(hub: Hub) -> Iterator[list[str]]:
    """The SQL statements the hub's store runs meanwhile."""
    engine: sa.Engine = hub.store._engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_a_hidden_notice_is_looked_up_as_a_missing_one(tmp_path, level):
    """security.md §3.5: GET of a hidden notice took measurably longer than of a missing one
    (it was read, then its disclosure worked out). Both are now the same statements, so the
    time they take tells nothing: shown by the statements, not by a clock."""
    hub, _ = _hub(tmp_path, level)
    hub.file_notice("X", [vol("x", lon=41.0)], "air-activity", "HIDDEN")
    hub.process()
    runs = {}
    for name in ("HIDDEN", "MISSING"):
        with _statements(hub) as seen, pytest.raises(NotFound) as refused:
            hub.get_notice("P", name)
        runs[name] = (seen, str(refused.value).replace(name, "?"))
    assert runs["HIDDEN"] == runs["MISSING"]
    hub.close()


def test_a_list_costs_what_it_shows_not_the_hidden_history(tmp_path):
    """security.md §4: a conflicts-only party's list read every notice of the hub and then the
    conflicts of each (582 ms at 1,500 notices; twenty such lists stalled everyone for 14 s).
    The store finds what the party may see in one query: the statements a page runs do not
    grow with what is hidden."""
    hub, _ = _hub(tmp_path, Disclosure.CONFLICTS_ONLY)
    hub.file_notice("X", [vol("x", lon=41.0)], "air-activity", "X0")
    hub.process()
    with _statements(hub) as few:
        assert hub.list_notices("P", limit=100) == []
    for k in range(1, 60):
        hub.file_notice("X", [vol("x", lon=41.0)], "air-activity", f"X{k}")
    hub.process()
    with _statements(hub) as many:
        assert hub.list_notices("P", limit=100) == []
    assert len(many) == len(few)
    hub.close()


def test_a_plan_owner_proves_what_it_was_told_of_its_plan_privately(tmp_path):
    """security.md §3.4: what concerns X's plan is kept out of the shared log, yet X can still
    prove it was told, and when: a private receipt (its private entry, the receipt of the
    digest that commits to it, the digest's opening) verifies with the hub's key alone. Before
    the digest the hub says when to ask again; no other party gets one."""
    from deconflict.errors import NotYetCommitted
    from deconflict.ledger import Verifier, verify_receipt

    hub, clock = _hub(tmp_path, Disclosure.FULL)
    hub.tick()  # this period's digests
    hub.add_plan("X", [vol("secret")], "XP")
    hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")
    hub.process()
    (told,) = [n for n in hub.list_notifications("X") if n.private]
    (conflict,) = hub.list_conflicts("X")
    with pytest.raises(NotYetCommitted) as later:
        hub.ledger.receipt("X", told.id)
    assert 1 <= later.value.retry_after_s <= hub.ledger.digest_period_s
    clock.advance(hub.ledger.digest_period_s)
    hub.acknowledge("X", told.id)
    hub.tick()
    verifier = Verifier.parse(hub.ledger.public_key)
    for record, kind in (
        (told.id, "notification.acknowledged"),
        (conflict.id, "conflict.detected"),
    ):
        proven = verify_receipt(hub.ledger.receipt("X", record), verifier)
        assert proven.private
        assert proven.entry["type"] == kind
        with pytest.raises(NotFound):
            hub.ledger.receipt("P", record)
    hub.close()


@contextmanager
def _steps(hub: Hub) -> Iterator[list[int]]:
    """The virtual-machine steps SQLite runs for the hub's statements meanwhile (one count
    for all), their rows' fetches included: what a read costs, computed, not timed. (Counted
    until each statement was executed only, they left out the rows fetched after its first,
    and a second reader found reads whose cost was all in those.)"""
    engine: sa.Engine = hub.store._engine  # type: ignore[attr-defined]
    count = [0]
    counted: list[Any] = []

    def step() -> int:
        count[0] += 1
        return 0

    def start(conn: Any, cursor: Any, *args: Any) -> None:
        cursor.connection.set_progress_handler(step, 1)
        counted.append(cursor.connection)

    event.listen(engine, "before_cursor_execute", start)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", start)
        for connection in counted:
            connection.set_progress_handler(None, 1)


def _costs(hub: Hub, reads: Iterable[Callable[[], object]]) -> list[int]:
    """What each of ``reads`` costs SQLite on ``hub`` (steps), in turn."""
    costs = []
    for read in reads:
        with _steps(hub) as steps:
            read()
        costs.append(steps[0])
    return costs


def _read_costs(path: Path, hidden: int) -> dict[str, int]:
    from deconflict.hub.views import view_conflicts

    path.mkdir()
    hub, _ = _hub(path, Disclosure.CONFLICTS_ONLY)
    try:
        hub.file_notice("X", [vol("near")], "air-activity", "XN")
        for k in range(hidden):  # live notices of X that P meets nowhere, and of Q
            for owner in ("X", "Q"):
                hidden_volume = vol(f"h{k}", lon=20.0 + k * 0.1)
                hub.file_notice(owner, [hidden_volume], "air-activity", f"H{k}")
        hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")
        hub.process()
        filed, window = [NoticeState.FILED], (T0, T0 + 9 * HOUR)
        reads = {
            "list": lambda: hub.list_notices("P"),
            "list of X's": lambda: hub.list_notices("P", party="X"),
            "list of the filed": lambda: hub.list_notices("P", states=filed),
            "list of a window": lambda: hub.list_notices("P", active=window),
            # By state and window: read by state and end, every party's (a seventeenth reader).
            "the filed of a window": lambda: hub.list_notices("P", states=filed, active=window),
            "its own filed of a window": lambda: hub.list_notices(
                "P", party="P", states=filed, active=window
            ),
            "a page of them": lambda: hub.list_notices("P", states=filed, active=window, limit=1),
            "one": lambda: hub.get_notice("P", "XN", party="X"),
            "conflicts": lambda: view_conflicts(hub, "P", hub.list_conflicts("P")),
        }
        costs = {}
        for name, read in reads.items():
            with _steps(hub) as steps:
                read()
            costs[name] = steps[0]
        return costs
    finally:
        hub.close()


def test_what_a_read_costs_does_not_grow_with_notices_it_may_not_see(tmp_path):
    """security.md §3.5: under conflicts-only the store found X's notices P may see some of by
    asking, of every notice of X, whether an open conflict unlocked it: a list read the ones
    P may not see too, and took longer the more there were (1.3 against 2.4 ms with 3,000), as
    did the suggestions of P's conflicts. They are found from P's own conflicts now: every read
    costs SQLite the same steps with 0 or 150 notices of X hidden from P (and of Q, a party
    with no agreement), a list by state within a window too (a seventeenth reader: it read
    every party's notices in the state that ended after the window's start)."""
    assert _read_costs(tmp_path / "none", 0) == _read_costs(tmp_path / "many", 150)


def test_what_a_read_runs_tells_nothing_of_hidden_volumes_or_their_changes(tmp_path):
    """security.md §3.5, conflicts-only: two hubs where X's notice differs only in a volume P's
    conflicts do not unlock (far away, amended twice there). P's lists by window and by state
    found the notice through that volume and dropped it, running fewer statements than when
    nothing was found; its ledger entries were each read and judged, so their number counted
    X's hidden amendments (both found by a second reader). The same statements now, and the
    same answers."""
    from deconflict.hub.ledger_access import entries_about

    def run(name: str, hidden: bool) -> dict[str, tuple[object, list[str]]]:
        (tmp_path / name).mkdir()
        hub, clock = _hub(tmp_path / name, Disclosure.CONFLICTS_ONLY)

        def far(k: int) -> Volume4D:
            return vol("far", lon=41.0 + 0.1 * k, start_s=T0 + HOUR, end_s=T0 + 3 * HOUR)

        hub.file_notice("X", [vol("near"), *([far(0)] if hidden else [])], "air", "XN")
        hub.file_notice("P", [vol("probe", lon=39.01)], "air", "PN")
        hub.process()
        if hidden:
            for k in (1, 2):
                hub.amend_notice("X", "XN", k, [vol("near"), far(k)])
                hub.process()
        clock.set(T0 + 2 * HOUR)
        hub.tick()
        hub.process()
        reads = {
            "window": lambda: [
                n.key for n in hub.list_notices("P", active=(T0 + HOUR, T0 + 2.5 * HOUR))
            ],
            "active": lambda: [n.key for n in hub.list_notices("P", states=[NoticeState.ACTIVE])],
            "entries": lambda: [
                (e["type"], e["at"]) for _, e in entries_about(hub, "P", "XN", "X")
            ],
        }
        out = {}
        for read, look in reads.items():
            with _statements(hub) as seen:
                out[read] = (look(), seen)
        hub.close()
        return out

    assert run("hidden", True) == run("plain", False)


def test_a_conflict_s_entries_cost_what_is_shown_of_it(tmp_path):
    """security.md §3.5: P's conflict with X's visible volume stays open in the store until X's
    whole notice ends, when a ``conflict.resolved`` entry is appended. P's lookup of the
    conflict's entries read and judged every entry found, so the statements it ran counted that
    entry from the moment it existed, though P is shown the conflict resolved at its own masked
    time and never reads it: polled, it told the end of X's hidden volume to the tick (found by
    a seventh reader). Two hubs where that end differs by minutes: the same statements."""
    from deconflict.hub.ledger_access import entries_about

    def run(name: str, end_min: int) -> list[tuple[object, list[str]]]:
        (tmp_path / name).mkdir()
        hub, clock = _hub(tmp_path / name, Disclosure.CONFLICTS_ONLY)
        hidden = vol("h", lon=44.0, start_s=T0 + 6 * HOUR, end_s=T0 + 11 * HOUR + end_min * 60)
        hub.file_notice("X", [vol("x"), hidden], "air", "XN")
        long = vol("p", lon=39.01, start_s=T0 + 5 * HOUR, end_s=T0 + 20 * HOUR)
        hub.file_notice("P", [long], "air", "PN")
        hub.process()
        seen = []
        for minute in (45, 51, 53, 55, 57):
            clock.set(T0 + 11 * HOUR + minute * 60)
            hub.tick()
            hub.process()
            (conflict,) = hub.list_conflicts("P")
            with _statements(hub) as statements:
                entries = [e["type"] for _, e in entries_about(hub, "P", conflict.id)]
            seen.append(((conflict.state, conflict.resolved_at_s, entries), statements))
        hub.close()
        return seen

    assert run("early", 50) == run("late", 56)


@pytest.mark.parametrize("level", list(Disclosure))
def test_what_a_read_costs_does_not_tell_where_another_s_private_plan_lies(tmp_path, level):
    """security.md §3.5: P's conflicts were read by an index on party and state, so the read
    touched the conflict of P's probe notice with X's private plan, which P is not shown: the
    SQLite steps of P's list of conflicts (and of the open ones, their view, and its list of
    notices under conflicts-only) grew by it, under every disclosure, and a party sweeping
    probe notices located the plan. Two hubs that differ only in X's plan cost P the same."""
    from deconflict.hub.views import view_conflicts

    def run(name: str, planned: bool) -> dict[str, tuple[int, object]]:
        (tmp_path / name).mkdir()
        hub, _ = _hub(tmp_path / name, level)
        try:
            hub.file_notice("X", [vol("near")], "air-activity", "XN")
            if planned:
                hub.add_plan("X", [vol("secret", lon=39.02)], "XP")
            hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")
            # X's change meeting another of P's notices: the index holds entries after P's, as
            # any hub's does (reading to an index's very end costs a step less: §3.5).
            hub.file_notice("P", [vol("p2", lon=35.0)], "air-activity", "PN2")
            hub.file_notice("X", [vol("x2", lon=35.0)], "air-activity", "XN2")
            hub.process()

            def met(open_only: bool) -> list[tuple[str, str, str]]:
                found = hub.list_conflicts("P", open_only=open_only)
                return sorted((c.a.record_id, c.b.record_id, str(c.state)) for c in found)

            reads = {
                "conflicts": lambda: met(False),
                "open": lambda: met(True),
                "view": lambda: len(view_conflicts(hub, "P", hub.list_conflicts("P"))),
                "notices": lambda: [n.key for n in hub.list_notices("P")],
                "filed": lambda: [n.key for n in hub.list_notices("P", states=[NoticeState.FILED])],
                "own": lambda: hub.get_notice("P", "PN").key,
                "told": lambda: sorted(str(n.kind) for n in hub.list_notifications("P")),
            }
            costs = {}
            for read_name, read in reads.items():
                with _steps(hub) as steps:
                    shown = read()
                costs[read_name] = (steps[0], shown)
            return costs
        finally:
            hub.close()

    assert run("plain", False) == run("planned", True)


def _reads_of_x(hub: Hub) -> list[tuple[int, object]]:
    """What P's reads that may find X's notice XN cost SQLite (steps) and show: its list, its
    list of X's, whether it sees XN."""
    reads = (
        lambda: [(n.key, n.state) for n in hub.list_notices("P")],
        lambda: [n.key for n in hub.list_notices("P", party="X")],
        lambda: hub.sees_notice("P", "X/XN"),
    )
    seen = []
    for read in reads:
        with _steps(hub) as steps:
            shown = read()
        seen.append((steps[0], shown))
    return seen


def test_a_read_does_not_touch_a_conflict_once_its_window_as_told_has_passed(tmp_path):
    """security.md §3.5, found by a seventh reader: under conflicts-only, the notices P's
    conflicts unlock were found from the conflicts open in the store, and the store keeps one
    open until a notice ends. Past the window P was told (P's volume had ended), X's notice was
    still read and dropped, until X's last volume, one P may not see, ended: the steps of P's
    reads told when. Two hubs where X's notice differs only in such a volume, ending at 9 h or
    not there: after the unlocked volume's window, P's reads cost the same."""

    def run(name: str, hidden: bool) -> list[tuple[int, object]]:
        (tmp_path / name).mkdir()
        hub, clock = _hub(tmp_path / name, Disclosure.CONFLICTS_ONLY)
        late = vol("late", lon=44.0, start_s=T0 + 7 * HOUR, end_s=T0 + 9 * HOUR)
        try:
            hub.file_notice("X", [vol("near"), *([late] if hidden else [])], "air", "XN")
            short = vol("probe", lon=39.01, start_s=T0 + 6 * HOUR, end_s=T0 + 6.5 * HOUR)
            other = vol("other", lon=30.0, end_s=T0 + 12 * HOUR)  # P's notice lives on
            hub.file_notice("P", [short, other], "air", "PN")
            hub.process()
            seen = []
            for at in (6.2, 7.5, 8.5):
                clock.set(T0 + at * HOUR)
                hub.tick()
                hub.process()
                seen += _reads_of_x(hub)
            return seen
        finally:
            hub.close()

    hidden, plain = run("hidden", True), run("plain", False)
    assert hidden == plain
    assert hidden[0][1] == [("P/PN", NoticeState.ACTIVE), ("X/XN", NoticeState.ACTIVE)]
    assert hidden[-3][1] == [("P/PN", NoticeState.ACTIVE)]  # X's is out of sight


def test_a_plan_that_unlocks_nothing_reads_no_end_of_what_it_meets(tmp_path):
    """security.md §3.5, found by an eighth reader: the conflicts that may unlock were read by
    a range ending with until when the other side is shown the conflict open, which for X's
    side is the end of X's own volume; P's private plan, which unlocks nothing, met X's
    volumes, and the steps of P's list fell at the end of each, to the second. The range now
    holds only the conflicts that unlock: two hubs where the volume P's plan meets ends five
    minutes apart cost P the same between the two ends."""
    huge = Volume4D.build(
        "everything", Circle((39.0, 35.9), 1_260_000.0), 0.0, 20_000.0, T0, T0 + 366 * 86_400
    )

    def run(name: str, end_s: float) -> list[tuple[int, object]]:
        (tmp_path / name).mkdir()
        hub, clock = _hub(tmp_path / name, Disclosure.CONFLICTS_ONLY)
        try:
            x = vol("x", lon=36.0, start_s=T0 + HOUR, end_s=end_s)
            hub.file_notice("X", [x], "air-activity", "XN")
            hub.add_plan("P", [huge], "PP")
            # Neighbours in the index, as any hub has (§3.5).
            hub.file_notice("P", [vol("p", lon=25.0, end_s=T0 + 20 * HOUR)], "air-activity", "PN")
            hub.file_notice("X", [vol("y", lon=25.0, end_s=T0 + 20 * HOUR)], "air-activity", "XY")
            hub.process()
            seen = []
            for at in (T0 + 2 * HOUR + 60, T0 + 2 * HOUR + 400, T0 + 2 * HOUR + 700):
                clock.set(at)
                seen += _reads_of_x(hub)
            return seen
        finally:
            hub.close()

    early, late = run("early", T0 + 2 * HOUR + 17), run("late", T0 + 2 * HOUR + 617)
    assert early == late
    # X's XN is never shown: the plan unlocks nothing.
    assert [key for key, _ in early[0][1]] == ["P/PN", "X/XY"]


def _strangers(hub: Hub, count: int) -> None:
    """``count`` agreements between parties P has nothing to do with."""
    for k in range(count):
        hub.add_party(f"S{k}")
        hub.add_party(f"T{k}")
        hub.add_agreement(Agreement(f"strangers-{k}", (f"S{k}", f"T{k}"), minima=MINIMA))


def test_a_read_costs_the_same_however_many_agreements_others_have(tmp_path):
    """security.md §3.5, found by a ninth reader: every read read every agreement, so its
    steps grew with agreements P has no part in. The store reads them whole only when one was
    added since it last did (a version it asks first): past that, P's reads cost the same
    with 1 or 40 agreements between strangers."""
    costs = []
    for count in (1, 40):
        (tmp_path / str(count)).mkdir()
        hub, _ = _hub(tmp_path / str(count), Disclosure.CONFLICTS_ONLY)
        _strangers(hub, count)
        hub.file_notice("X", [vol("x", lon=39.0)], "air-activity", "XN")
        hub.file_notice("P", [vol("p", lon=39.0)], "air-activity", "PN")
        hub.process()
        hub.list_notices("P")  # the first read after the last addition reads them all
        reads = [
            partial(hub.list_notices, "P"),
            partial(hub.list_conflicts, "P"),
            partial(hub.get_notice, "P", "PN"),
        ]
        costs.append(_costs(hub, reads))
        hub.close()
    assert costs[0] == costs[1]


def test_an_agreement_another_process_adds_is_read_at_the_next_read(tmp_path):
    """The version the store asks first moves with an agreement added by another hub process
    on the same store: the next read reads them all again, and P sees X's notice at once."""
    clock = SimulatedClock(T0)
    hub = Hub.open(tmp_path / "hub.db", clock)
    for party in ("X", "P"):
        hub.add_party(party)
    hub.file_notice("X", [vol("x")], "air-activity", "XN")
    assert hub.list_notices("P") == []
    with Hub.open(tmp_path / "hub.db", clock) as other:
        other.add_agreement(
            Agreement("late", ("X", "P"), minima=MINIMA, default_disclosure=Disclosure.FULL)
        )
    assert [n.id for n in hub.list_notices("P")] == ["XN"]
    hub.close()


def test_the_parties_a_party_knows_cost_the_same_however_many_others_there_are(tmp_path):
    """security.md §3.5: the parties a party may know of (``GET /v1/parties``) were read from
    all of them: their steps told how many parties the hub held. Each is read by its id."""
    costs = []
    for count in (1, 40):
        (tmp_path / str(count)).mkdir()
        hub, _ = _hub(tmp_path / str(count), Disclosure.NONE)
        _strangers(hub, count)
        known_parties(hub, "P")  # the first read after the last addition reads them all
        with _steps(hub) as steps:
            known = [p.id for p in known_parties(hub, "P")]
        assert known == ["P", "X"]
        costs.append(steps[0])
        hub.close()
    assert costs[0] == costs[1]


def test_a_relay_reads_no_lead_time_finer_than_it_may_be_told(tmp_path):
    """security.md §3.6, found by a twelfth reader: the relay R of an agreement under which X's
    notices are hidden from P read, in the conflict notification it relays to X, X's lead time
    from the true start of X's volume, which neither P nor R may see: 300 s or 500 s past 5 h
    (one envelope) read as 18,300 s and 18,500 s. Every relayed notification's lead time now
    counts from the start as the relay may be told it: R's view and its ledger entries are the
    same in both hubs, and no lead time is later than the recipient's own."""

    def run(offset: float) -> tuple[object, ...]:
        (tmp_path / str(offset)).mkdir()
        hub, _ = _hub(tmp_path / str(offset), Disclosure.NONE, relay="R")
        x_start = T0 + 5 * HOUR + offset
        hub.file_notice("X", [vol("m", start_s=x_start)], "air-activity", "XN")
        hub.file_notice("P", [vol("p", start_s=T0 + 5 * HOUR)], "air-activity", "PN")
        hub.process()
        relayed = hub.list_notifications("R")
        shown = sorted((n.recipient, n.lead_time_s) for n in view_notifications(hub, "R", relayed))
        entries = sorted(
            (e["recipient"], e["lead_time_s"])
            for n in relayed
            for _, e in entries_about(hub, "R", n.id)
            if e["type"] == "notification.created"
        )
        (to_x,) = [n for n in relayed if n.recipient == "X" and n.kind == "conflict"]
        assert to_x.lead_time_s <= x_start - T0  # never later than X's own
        hub.close()
        return shown, entries

    first, second = run(300.0), run(500.0)
    assert first == second
    assert len(first[0]) == 3  # of the conflict to X and P, of P's notice to X
