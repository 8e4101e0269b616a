"""A party that may not see another's notice whole learns nothing of the volumes it may not see
from what it is shown over time (security.md §3.3, §3.6): the notice's state and times, how long
it stays in sight, its conflicts' resolution, and the ledger's entries about them.

Each test is a differential: two hubs where X's notice differs only in a volume P may not see
(far from P, starting hours before and ending hours after the one P meets), driven through the
same steps; everything P can observe must be equal at every step."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.hub.scenario import HOUR, T0, make_hub, vol
from tests.hub.test_hostile_need_to_know import _hub as _relayed_hub

from deconflict.engine import SeparationMinima
from deconflict.errors import NotFound
from deconflict.geo import Volume4D
from deconflict.hub import Hub, SimulatedClock
from deconflict.hub.ledger_access import entries_about, visible_entry
from deconflict.hub.views import view_conflicts, view_notifications
from deconflict.model import Agreement, Disclosure, Notice, NoticeState

MINIMA = SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0)

#: The hidden volume: far from P's, from an hour after T0 to ten (the one P meets: 6 to 8).
HIDDEN = vol("early", lon=41.0, start_s=T0 + 1 * HOUR, end_s=T0 + 10 * HOUR)

#: The moments P looks: before anything starts, once the hidden volume started, once the one it
#: meets started, after that one ended and after the hidden one ended too.
STEPS = [0.5, 1.5, 5.0, 6.5, 8.5, 10.5, 12.0]

WINDOWS = [(1 * HOUR, 2 * HOUR), (6 * HOUR, 7 * HOUR), (8.5 * HOUR, 10 * HOUR)]


def _hub(
    path: Path, level: Disclosure, minima: SeparationMinima = MINIMA
) -> tuple[Hub, SimulatedClock]:
    clock = SimulatedClock(T0)
    path.mkdir(parents=True, exist_ok=True)
    hub = Hub.open(path / "hub.db", clock)
    for party in ("X", "P"):
        hub.add_party(party)
    hub.add_agreement(Agreement("mou", ("X", "P"), minima=minima, disclosure={("X", "P"): level}))
    return hub, clock


def _notice(hub: Hub) -> Any:
    try:
        n = hub.get_notice("P", "XN", party="X")
    except NotFound:
        return "not found"
    return (n.state, n.version, n.filed_at_s, n.updated_at_s, [v.id for v in n.volumes])


def _listed(hub: Hub, **asked: Any) -> list[tuple[str, str]]:
    return [(n.key, n.state) for n in hub.list_notices("P", **asked)]


def _observed(hub: Hub) -> dict[str, Any]:
    """Everything P can observe of X's notice and its conflicts with it (ids differ between
    hubs, which key them each with their own secret: they are left out, the rest compared),
    and what each read cost SQLite (``costs``: its steps, fetches included)."""
    from tests.hub.test_hostile_need_to_know import _steps

    costs: dict[str, int] = {}

    def costed(name: str, read: Callable[[], Any]) -> Any:
        with _steps(hub) as steps:
            answer = read()
        costs[name] = steps[0]
        return answer

    conflicts = costed("conflicts", lambda: hub.list_conflicts("P"))
    views = costed("views", lambda: view_conflicts(hub, "P", conflicts))
    conflict_entries = [
        (e["type"], e["at"])
        for k, c in enumerate(conflicts)
        for _, e in costed(f"conflict entries {k}", lambda c=c: entries_about(hub, "P", c.id))
    ]
    return {
        "notice": costed("notice", lambda: _notice(hub)),
        "listed": costed("listed", lambda: _listed(hub)),
        "by state": {
            str(state): costed(
                f"by state {state}", lambda state=state: _listed(hub, states=[state])
            )
            for state in (NoticeState.FILED, NoticeState.ACTIVE, NoticeState.ENDED)
        },
        "by window": [
            costed(f"by window {lo}", lambda lo=lo, hi=hi: _listed(hub, active=(T0 + lo, T0 + hi)))
            for lo, hi in WINDOWS
        ],
        "conflicts": [
            (
                v.state,
                v.resolved_at_s,
                v.detected_at_s,
                v.detail,
                v.theirs.volume_id,
                v.theirs.version,
                v.lead_time_s,
                repr(v.suggestion and replace(v.suggestion, conflict_id="-")),  # shapes by value
            )
            for v in views
        ],
        "open": len(costed("open", lambda: hub.list_conflicts("P", open_only=True))),
        "notice entries": [
            (e["type"], e["at"])
            for _, e in costed("notice entries", lambda: entries_about(hub, "P", "XN", "X"))
        ],
        "conflict entries": conflict_entries,
        "notifications": [
            (n.kind, n.created_at_s, n.lead_time_s, n.notice_id, n.discloses_notice)
            for n in costed(
                "notifications",
                lambda: view_notifications(hub, "P", hub.list_notifications("P")),
            )
        ],
        "sees": costed("sees", lambda: hub.sees_notice("P", "X/XN")),
        "costs": costs,
    }


#: P's notice: it meets "near" and outlives every volume of X's.
PROBE = vol("probe", lon=39.02, start_s=T0 + 5 * HOUR, end_s=T0 + 11 * HOUR)


def _drive(
    path: Path,
    level: Disclosure,
    volumes: list[Volume4D],
    steps: list[float],
    act: Callable[[Hub, float], object] | None = None,
    minima: SeparationMinima = MINIMA,
    probe: Volume4D = PROBE,
) -> list[dict[str, Any]]:
    """What P observes at each of ``steps`` (hours after T0) of a hub where X filed
    ``volumes`` as XN and P filed ``probe``; ``act(hub, at)``: what X does at each step, first."""
    hub, clock = _hub(path, level, minima)
    try:
        hub.file_notice("X", volumes, "air-activity", "XN")
        hub.file_notice("P", [probe], "air-activity", "PN")
        hub.process()
        seen = []
        for at in steps:
            clock.set(T0 + at * HOUR)
            if act is not None:
                act(hub, at)
            hub.tick()
            hub.process()
            seen.append({"at": at, **_observed(hub)})
        return seen
    finally:
        hub.close()


def _run(path: Path, level: Disclosure, hidden: bool) -> list[dict[str, Any]]:
    return _drive(path, level, [vol("near"), *([HIDDEN] if hidden else [])], STEPS)


@pytest.mark.parametrize(
    ("probe_h", "ends_h"),
    [
        (8.0, (7 + 40 / 60, 7 + 44 / 60)),  # P's starts after the step the hidden one ends in
        # ... inside it (a sixth reader's): the step is 7:18:20 to 7:33:20 after T0 (its
        # steps are the epoch's), P starts at 7:25:20, the hidden one ends 7:19:20 or 7:23:20.
        (7 + 25 / 60 + 20 / 3600, (7 + 19 / 60 + 20 / 3600, 7 + 23 / 60 + 20 / 3600)),
    ],
)
def test_a_conflict_of_the_time_minimum_alone_tells_nothing_of_the_hidden_end(
    tmp_path, probe_h, ends_h
):
    """Under a time minimum, X's volume ending before P's starts still conflicts with it: the
    window is empty (its start after its end). The cut-off for telling a change as it happens
    was its start, after the hidden volume's true end, so the conflict was shown resolved
    when X's notice ended, to the tick (a fifth reader found it; a sixth, where P's start is
    inside the step the hidden volume ends in). Two hubs where that end differs within one
    step of the resolution: P observes the same."""
    minima = SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=1_800.0)
    probe = vol("probe", lon=39.01, start_s=T0 + probe_h * HOUR, end_s=T0 + 10 * HOUR)
    steps = [7.3, 7.35, 7.4, 7.45, 7.5, 7.55, 7.6, 7.7, 7.72, 7.75, 7.9, 8.1, 10.5]

    def run(name: str, end_h: float) -> list[dict[str, Any]]:
        hidden = vol("h", start_s=T0 + 5 * HOUR, end_s=T0 + end_h * HOUR)
        return _drive(tmp_path / name, Disclosure.NONE, [hidden], steps, None, minima, probe)

    first, second = run("a", ends_h[0]), run("b", ends_h[1])
    assert first[0]["conflicts"], "the time minimum alone makes the conflict"
    for a, b in zip(first, second, strict=True):
        assert a == b, a["at"]


@pytest.mark.parametrize("level", [Disclosure.CONFLICTS_ONLY, Disclosure.NONE])
def test_what_a_party_sees_over_time_tells_nothing_of_a_hidden_volume(tmp_path, level):
    """The notice seen in part was shown ``active`` (and its ``updated_at`` moved) when the
    hidden volume started, was in sight until the hidden volume ended, and the conflict with
    it resolved only then, all of which P could read, with the ``notice.*`` and
    ``conflict.resolved`` entries' times; under ``none``, the conflict's resolution alone."""
    with_hidden = _run(tmp_path / "with", level, hidden=True)
    without = _run(tmp_path / "without", level, hidden=False)
    for seen, twin in zip(with_hidden, without, strict=True):
        assert seen == twin, f"at T0+{seen['at']}h"


def test_what_a_party_sees_in_part_is_told_by_its_visible_volumes(tmp_path):
    """The differential's fixed points: shown ``filed`` until the volume it meets starts, then
    ``active`` from its start, gone once it has ended; the conflict over then, not when X's
    notice ends."""
    seen = {s["at"]: s for s in _run(tmp_path, Disclosure.CONFLICTS_ONLY, hidden=True)}
    assert seen[1.5]["notice"][0] == NoticeState.FILED
    assert seen[1.5]["by window"][0] == []  # the hidden volume's hours show nothing
    assert seen[6.5]["notice"][0] == NoticeState.ACTIVE
    assert seen[6.5]["notice"][3] == T0 + 6 * HOUR
    assert seen[8.5]["notice"] == "not found"
    assert seen[8.5]["open"] == 0
    (conflict,) = seen[8.5]["conflicts"]
    # Over when its window as P would be told it at the resolution (15 min) has passed.
    assert conflict[1] == math.ceil((T0 + 8 * HOUR) / 900) * 900
    assert [kind for kind, _ in seen[12.0]["notice entries"]] == []  # out of sight, no entries
    assert seen[6.5]["notice entries"] == []  # the whole notice's, none told in part


def test_an_entry_withheld_in_part_is_refused_by_index_as_a_missing_one(tmp_path):
    """By index too: the ``notice.activated`` entry of a notice P sees in part is refused with
    the words an index past the end gets, while the owner reads it."""
    hub, clock = _hub(tmp_path, Disclosure.CONFLICTS_ONLY)
    try:
        hub.file_notice("X", [vol("near"), HIDDEN], "air-activity", "XN")
        hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")
        hub.process()
        clock.set(T0 + 1.5 * HOUR)
        hub.tick()
        hub.process()
        (index,) = [i for i, e in entries_about(hub, "X", "XN") if e["type"] == "notice.activated"]
        assert visible_entry(hub, "X", index)["type"] == "notice.activated"
        with pytest.raises(NotFound) as hidden:
            visible_entry(hub, "P", index)
        with pytest.raises(NotFound) as missing:
            visible_entry(hub, "P", hub.ledger.size + 5)
        assert str(hidden.value).replace(str(index), "N") == str(missing.value).replace(
            str(hub.ledger.size + 5), "N"
        )
        assert hub.get_notice("P", "XN", party="X").state == NoticeState.FILED
    finally:
        hub.close()


def _amending(path: Path, level: Disclosure, amend: str | None) -> list[dict[str, Any]]:
    """P's observations while X amends its notice at T0+2h (``amend``: what it changes, or
    None: nothing) in ways P may not see."""

    def act(hub: Hub, at: float) -> None:
        if at != 2.0:
            return
        if amend == "category":
            hub.amend_notice("X", "XN", 1, [vol("near"), HIDDEN], category="training")
        elif amend == "hidden volume":
            moved = vol("early", lon=41.5, start_s=T0 + 1 * HOUR, end_s=T0 + 10 * HOUR)
            hub.amend_notice("X", "XN", 1, [vol("near"), moved])
        elif amend == "twice":
            hub.amend_notice("X", "XN", 1, [vol("near")])
            hub.amend_notice("X", "XN", 2, [vol("near"), HIDDEN])

    seen = _drive(path, level, [vol("near"), HIDDEN], [1.0, 2.0, 3.0, 6.5], act)
    for observed in seen:
        if observed["notice"] != "not found":  # the category is X's to show
            observed["notice"] = observed["notice"][:1] + observed["notice"][2:]
    return seen


@pytest.mark.parametrize("amend", ["category", "hidden volume", "twice"])
@pytest.mark.parametrize("level", [Disclosure.CONFLICTS_ONLY, Disclosure.NONE])
def test_an_amendment_of_what_a_party_may_not_see_tells_it_nothing(tmp_path, level, amend):
    """security.md §3.6: X amending its notice without touching the volume P meets showed P
    its conflict resolved and a new one detected (the conflict's id names the version), and
    under ``conflicts-only`` the notice's version move: when and how often X amended. The
    conflict is carried across the amendment; P sees the same as if X had not amended."""
    amended = _amending(tmp_path / "amended", level, amend)
    still = _amending(tmp_path / "still", level, None)
    for seen, twin in zip(amended, still, strict=True):
        assert seen == twin, f"at T0+{seen['at']}h"
    if level is Disclosure.CONFLICTS_ONLY:  # and P still sees the volume it meets
        assert [s["notice"][-1] for s in amended] == [["near"]] * 4


def test_an_amendment_of_the_volume_a_party_meets_is_told_to_it(tmp_path):
    """The other side of the rule: moving the volume P meets (still meeting it) resolves the
    conflict and detects a new one, which P is told of, and P sees the volume as it is now."""
    hub, clock = _hub(tmp_path, Disclosure.CONFLICTS_ONLY)
    try:
        hub.file_notice("X", [vol("near"), HIDDEN], "air-activity", "XN")
        hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")
        hub.process()
        (before,) = hub.list_conflicts("P", open_only=True)
        clock.set(T0 + 2 * HOUR)
        hub.amend_notice("X", "XN", 1, [vol("near", upper_m=6_000.0), HIDDEN])
        hub.process()
        (after,) = hub.list_conflicts("P", open_only=True)
        assert after.id != before.id
        assert hub.get_conflict("P", before.id).state == "resolved"
        told = [n.conflict_id for n in hub.list_notifications("P")]
        assert before.id in told
        assert after.id in told
        seen = hub.get_notice("P", "XN", party="X")
        assert [(v.id, v.altitude.upper_m) for v in seen.volumes] == [("near", 6_000.0)]
        assert seen.version == 2
    finally:
        hub.close()


def _cancelling(path: Path, level: Disclosure, cancel: bool) -> list[dict[str, Any]]:
    def act(hub: Hub, at: float) -> None:
        if at == 9.0 and cancel:
            hub.cancel_notice("X", "XN")

    return _drive(path, level, [vol("near"), HIDDEN], [6.5, 9.0, 9.5, 10.5], act)


@pytest.mark.parametrize("level", [Disclosure.CONFLICTS_ONLY, Disclosure.NONE])
def test_a_cancellation_once_the_conflict_is_over_is_not_told(tmp_path, level):
    """X cancelling its notice after the volume P meets has ended (its hidden volume still to
    come) told P, by the conflict's resolution, that the notice was still live then. P, shown
    the conflict over already, is not told; it sees the same as if X had not cancelled."""
    cancelled = _cancelling(tmp_path / "cancelled", level, cancel=True)
    kept = _cancelling(tmp_path / "kept", level, cancel=False)
    for seen, twin in zip(cancelled, kept, strict=True):
        assert seen == twin, f"at T0+{seen['at']}h"


def test_a_notice_and_a_plan_of_one_id_keep_one_conflict_each_across_amendments(tmp_path):
    """Found by a second reader: P's notice and plan of one id, both meeting X's volume, were
    one pair to the detector carrying conflicts across X's amendment, so each amendment of a
    hidden volume left a duplicate open conflict and told P of it."""
    hub, clock = _hub(tmp_path, Disclosure.CONFLICTS_ONLY)
    try:
        hub.add_agreement(
            Agreement(
                "plans",
                ("P", "X"),
                minima=MINIMA,
                disclosure={("X", "P"): Disclosure.CONFLICTS_ONLY},
            )
        )
        hub.file_notice("X", [vol("near"), HIDDEN], "air-activity", "XN")
        hub.file_notice("P", [vol("v", lon=39.02)], "air-activity", "N")
        hub.add_plan("P", [vol("v", lon=39.02)], "N")
        hub.process()
        before = sorted((c.a.kind, c.b.kind) for c in hub.store.list_conflicts(state="open"))
        told = len(hub.list_notifications("P"))
        moved = vol("early", lon=41.5, start_s=T0 + 1 * HOUR, end_s=T0 + 10 * HOUR)
        for version, hidden in ((1, moved), (2, HIDDEN)):
            clock.advance(600)
            hub.amend_notice("X", "XN", version, [vol("near"), hidden])
            hub.process()
        after = sorted((c.a.kind, c.b.kind) for c in hub.store.list_conflicts(state="open"))
        assert after == before
        assert len(before) == 2
        assert len(hub.list_notifications("P")) == told
    finally:
        hub.close()


def test_a_probe_over_a_window_already_past_meets_nothing(tmp_path):
    """Found by a second reader: P filing a notice over hours already past was told of a
    conflict with X's ended volume only while a hidden volume kept X's notice live. A pair
    whose window has passed when first checked is no conflict, whatever else is live."""
    seen = []
    for hidden in (True, False):
        hub, clock = _hub(tmp_path / str(hidden), Disclosure.CONFLICTS_ONLY)
        try:
            late = vol("h", lon=41.0, end_s=T0 + 12 * HOUR)
            hub.file_notice("X", [vol("near"), *([late] if hidden else [])], "air-activity", "XN")
            clock.set(T0 + 9 * HOUR)
            hub.tick()
            hub.process()
            hub.file_notice("P", [vol("probe", lon=39.02)], "air-activity", "PN")  # 6h to 8h
            hub.process()
            seen.append((hub.list_conflicts("P"), len(hub.list_notifications("P"))))
        finally:
            hub.close()
    assert seen == [([], 0), ([], 0)]


def test_a_relay_loses_sight_of_a_volume_when_it_ends(tmp_path):
    """Found by a second reader: the relay, seeing P's notice as X may, saw P's volume that
    had ended for as long as the conflict that unlocked it stayed open, that is as long as X's
    hidden volume kept X's notice live: the relay read when X's hidden volume ended."""

    def relayed(hidden_end_h: float) -> list[list[str]]:
        path = tmp_path / str(hidden_end_h)
        path.mkdir()
        level = Disclosure.CONFLICTS_ONLY
        hub, clock = _relayed_hub(path, level, relay="R", back=level)
        try:
            early = vol("n0", start_s=T0 + 3 * HOUR, end_s=T0 + 4 * HOUR)
            hidden = vol("h", lon=41.0, start_s=T0 + HOUR, end_s=T0 + hidden_end_h * HOUR)
            hub.file_notice("X", [early, vol("n1"), hidden], "air-activity", "XN")
            later = vol("m", start_s=T0 + 9 * HOUR, end_s=T0 + 11 * HOUR)  # keeps p0 in sight
            hub.file_notice("X", [later], "air-activity", "XM")
            long = vol("p0", lon=39.02, start_s=T0 + 5 * HOUR, end_s=T0 + 11 * HOUR)
            short = vol("p1", lon=39.02, start_s=T0 + 3 * HOUR, end_s=T0 + 4 * HOUR)
            hub.file_notice("P", [long, short], "air-activity", "PN")
            hub.process()
            out = []
            for at in (3.5, 5.0, 8.5):
                clock.set(T0 + at * HOUR)
                hub.tick()
                hub.process()
                out.append([v.id for v in hub.get_notice("R", "PN", party="P").volumes])
            return out
        finally:
            hub.close()

    assert relayed(4.5) == relayed(9.0) == [["p0", "p1"], ["p0"], ["p0"]]


def _twin(
    path: Path,
    level: Disclosure,
    x_volumes: list[Volume4D],
    steps: list[float],
    act: Callable[[Hub, float], object] | None = None,
) -> list[dict[str, Any]]:
    """P's observations of a hub where X filed ``x_volumes`` and P one volume meeting the
    first of them (4h to 9h), at ``steps``; ``act``: X's doing at a step, detected then."""
    hub, clock = _hub(path, level)
    try:
        hub.file_notice("X", x_volumes, "air-activity", "XN")
        probe = vol("p", lon=39.005, start_s=T0 + 4 * HOUR, end_s=T0 + 9 * HOUR)
        hub.file_notice("P", [probe], "air-activity", "PN")
        hub.process()
        seen = []
        for at in steps:
            clock.set(T0 + at * HOUR)
            hub.tick()
            hub.process()
            if act is not None:
                act(hub, at)
                hub.process()
            seen.append({"at": at, **_observed(hub)})
        return seen
    finally:
        hub.close()


@pytest.mark.parametrize("level", [Disclosure.NONE])
def test_a_change_inside_the_last_step_tells_nothing_of_the_true_end(tmp_path, level):
    """Found by a second reader: a cancellation was told as it happened while the conflict
    truly held, so X cancelling inside the last step of the window as told showed P whether
    the hidden volume had ended before then. Two hidden volumes with the same envelope (ending
    at 7.10 h and 7.25 h, both told as ending at 7.31 h) show P the same. (Under
    conflicts-only P's conflict unlocks that volume, its end is P's to see, and P sees the
    cancelled notice for as long as the conflict is shown open to X.)"""
    far = vol("later", lon=41.0, start_s=T0 + 5 * HOUR, end_s=T0 + 12 * HOUR)

    def cancel(hub: Hub, at: float) -> None:
        if at == 7.2:
            hub.cancel_notice("X", "XN")

    def run(end_h: float) -> list[dict[str, Any]]:
        met = vol("h", start_s=T0 + 5 * HOUR, end_s=T0 + end_h * HOUR)
        return _twin(tmp_path / str(end_h), level, [met, far], [7.2, 7.28, 7.32], cancel)

    for seen, twin in zip(run(7.1), run(7.25), strict=True):
        assert seen == twin, f"at T0+{seen['at']}h"


@pytest.mark.parametrize("level", [Disclosure.CONFLICTS_ONLY, Disclosure.NONE])
def test_the_suggestion_for_a_conflict_shown_open_tells_nothing_of_the_store(tmp_path, level):
    """Found by a second reader: a conflict shown open after the store resolved it (X's notice
    ended with the volume P met) got a suggestion that no longer avoided that volume, unlike
    the same conflict where a far hidden volume kept X's notice live."""
    far = vol("later", lon=41.0, start_s=T0 + 5 * HOUR, end_s=T0 + 12 * HOUR)
    met = vol("h", start_s=T0 + 5 * HOUR, end_s=T0 + 7.1 * HOUR)
    alone = _twin(tmp_path / "alone", level, [met], [7.0, 7.2])
    kept = _twin(tmp_path / "kept", level, [met, far], [7.0, 7.2])
    for seen, twin in zip(alone, kept, strict=True):
        assert seen == twin, f"at T0+{seen['at']}h"


def test_a_cancelled_notice_seen_in_part_names_no_version_in_the_ledger(tmp_path):
    """Found by a second reader: between X's cancellation and its detection, P could read the
    ``notice.cancelled`` entry of a notice it saw in part, which names the version it ends: it
    counted X's amendments of volumes P may not see. P reads none of them (a fifth reader
    found the filing's told that the notice existed before anything in it could be seen)."""
    seen = []
    for amendments in (0, 3):
        hub, _ = _hub(tmp_path / str(amendments), Disclosure.CONFLICTS_ONLY)
        try:
            hub.file_notice("X", [vol("near"), HIDDEN], "air-activity", "XN")
            hub.file_notice("P", [PROBE], "air-activity", "PN")
            hub.process()
            for k in range(amendments):
                moved = vol("early", lon=41.0 + 0.1 * (k + 1), end_s=T0 + 10 * HOUR)
                hub.amend_notice("X", "XN", k + 1, [vol("near"), moved])
            hub.process()
            hub.cancel_notice("X", "XN")  # not detected yet: P may still see the notice
            entries = entries_about(hub, "P", "XN", "X")
            seen.append([(e["type"], e.get("version")) for _, e in entries])
        finally:
            hub.close()
    assert seen == [[], []]


@pytest.mark.parametrize("amend", ["remove", "move"])
@pytest.mark.parametrize("level", [Disclosure.CONFLICTS_ONLY, Disclosure.NONE])
def test_an_amendment_past_the_cutoff_tells_nothing_through_the_suggestion(tmp_path, level, amend):
    """Found by a third reader: X amending away (or moving) the volume P met, past the
    conflict's cutoff, left the conflict shown open as it should, but its suggestion was
    searched against X's notice as it is now, so it moved: P learned that X's notice was
    still live and changed. A suggestion searches each hidden volume as its conflict holds it."""
    far = vol("later", lon=41.0, start_s=T0 + 5 * HOUR, end_s=T0 + 12 * HOUR)
    met = vol("h", start_s=T0 + 5 * HOUR, end_s=T0 + 7.1 * HOUR)
    moved = vol("h", lon=43.0, start_s=T0 + 5 * HOUR, end_s=T0 + 7.1 * HOUR)

    def act(hub: Hub, at: float) -> None:
        if at == 7.2:
            hub.amend_notice("X", "XN", 1, [far] if amend == "remove" else [moved, far])

    ended = _twin(tmp_path / "ended", level, [met], [7.0, 7.2, 7.3])
    amended = _twin(tmp_path / "amended", level, [met, far], [7.0, 7.2, 7.3], act)
    for seen, twin in zip(ended, amended, strict=True):
        assert seen == twin, f"at T0+{seen['at']}h"


@pytest.mark.parametrize("level", list(Disclosure))
def test_a_cancellation_before_a_short_conflict_begins_is_told(tmp_path, level):
    """Found by a third reader: a conflict shorter than one resolution step had its cutoff
    before its start, so X cancelling before the conflict began was told to P only under
    ``full``. The cutoff is never before the window as told starts: P is told at every level."""
    hub, clock = _hub(tmp_path, level)
    try:
        hub.file_notice("X", [vol("h", end_s=T0 + 12 * HOUR)], "air-activity", "XN")
        short = vol("p", lon=39.005, start_s=T0 + 6 * HOUR, end_s=T0 + 6 * HOUR + 600)
        hub.file_notice("P", [short], "air-activity", "PN")
        hub.process()
        clock.set(T0 + 6 * HOUR - 180)  # three minutes before the conflict starts
        hub.cancel_notice("X", "XN")
        hub.process()
        (conflict,) = hub.list_conflicts("P")
        assert conflict.state == "resolved"
        assert [str(n.kind) for n in hub.list_notifications("P")].count("change") >= 1
    finally:
        hub.close()


@pytest.mark.parametrize("level", [Disclosure.CONFLICTS_ONLY, Disclosure.NONE])
def test_one_hidden_volume_met_at_two_versions_is_searched_for_both(tmp_path, level):
    """Found by a fourth reader: X moved the volume P met a little, past the cutoff, so P was
    shown two open conflicts with it, at versions 1 and 2; both went into the suggestions'
    search under one key and the list of P's conflicts failed. Each is searched."""
    far = vol("later", lon=41.0, start_s=T0 + 5 * HOUR, end_s=T0 + 12 * HOUR)
    hub, clock = _hub(tmp_path, level)
    try:
        hub.file_notice("X", [vol("h", end_s=T0 + 7.1 * HOUR), far], "air-activity", "XN")
        hub.file_notice("P", [PROBE], "air-activity", "PN")
        hub.process()
        clock.set(T0 + 7.2 * HOUR)
        moved = vol("h", lon=39.001, start_s=T0 + 5 * HOUR, end_s=T0 + 9 * HOUR)
        hub.amend_notice("X", "XN", 1, [moved, far])
        hub.tick()
        hub.process()
        views = view_conflicts(hub, "P", hub.list_conflicts("P"))
        assert [str(v.state) for v in views] == ["open", "open"]
        assert all(v.suggestion is not None for v in views)
    finally:
        hub.close()


def test_a_notice_seen_in_part_is_filed_when_it_was_first_seen(tmp_path):
    """Found by a fifth reader: X's notice, filed hours before the volume P meets was added to
    it, showed P its true filing time, its ``notice.filed`` entry and its place in P's lists by
    that time: P learned the notice had held volumes it may not see before. Two hubs: X files
    the notice early with a far volume and later amends it to the one P meets, or files that
    one at once then; P sees the same, its lists and their pages in the same order."""

    def run(name: str, early: bool) -> list[Any]:
        hub, clock = _hub(tmp_path / name, Disclosure.CONFLICTS_ONLY)
        try:
            if early:
                hub.file_notice("X", [HIDDEN], "air-activity", "XN")
            clock.set(T0 + 0.5 * HOUR)
            hub.file_notice("P", [PROBE], "air-activity", "PN")
            hub.process()
            clock.set(T0 + 2 * HOUR)
            if early:
                hub.amend_notice("X", "XN", 1, [vol("near")])
            else:
                hub.file_notice("X", [vol("near")], "air-activity", "XN")
            hub.process()
            seen = []
            for at in (2.5, 6.5):
                clock.set(T0 + at * HOUR)
                hub.tick()
                hub.process()
                notice = hub.get_notice("P", "XN", party="X")
                pages, after = [], None
                while page := hub.list_notices("P", after=after, limit=1):
                    pages.append(page[0].key)
                    after = page[0]
                seen.append(
                    (
                        (notice.state, notice.filed_at_s, notice.updated_at_s),
                        [(n.key, n.filed_at_s) for n in hub.list_notices("P")],
                        pages,
                        [e["type"] for _, e in entries_about(hub, "P", "XN", "X")],
                    )
                )
            return seen
        finally:
            hub.close()

    early, late = run("early", True), run("late", False)
    assert early == late
    (_, filed, _), listed, pages, entries = early[0]
    assert filed >= T0 + 2 * HOUR
    assert pages == [key for key, _ in listed] == ["P/PN", "X/XN"]
    assert entries == []


def _relayed(path: Path, **terms: Any) -> tuple[Hub, SimulatedClock]:
    """O and V under one agreement of ``terms`` that R relays, on a hub of their own."""
    clock = SimulatedClock(T0)
    path.mkdir()
    hub = Hub.open(path / "hub.db", clock)
    for party in ("O", "V", "R"):
        hub.add_party(party)
    hub.add_agreement(Agreement("mou", ("O", "V"), minima=MINIMA, relay="R", **terms))
    return hub, clock


def test_a_relay_does_not_see_the_other_party_s_notice_live_on(tmp_path):
    """Found by a sixth reader: a relay sees V's volume as O may see it, unlocked by its
    conflict with O's. That conflict stays open in the store until a notice ends, and O's ends
    with its last volume: the relay, seeing O in part, saw V's volume for as long as O's hidden
    volume lasted, and V's and the relay's reads ran more statements meanwhile. A conflict now
    unlocks only while its window, as the unlocked volume's owner is told it, lasts. Two hubs
    where O's notice differs only in a volume neither V nor the relay may see: they observe the
    same, statements included."""
    from tests.hub.test_hostile_need_to_know import _statements, _steps

    def run(name: str, hidden: bool) -> list[Any]:
        hub, clock = _relayed(tmp_path / name, default_disclosure=Disclosure.CONFLICTS_ONLY)
        far = vol("h", lon=44.0, start_s=T0 + 6 * HOUR, end_s=T0 + 12 * HOUR)
        try:
            hub.file_notice("O", [vol("x"), *([far] if hidden else [])], "air-activity", "ON")
            long = vol("p", lon=39.01, start_s=T0 + 5 * HOUR, end_s=T0 + 20 * HOUR)
            hub.file_notice("V", [long], "air-activity", "VN")
            hub.process()
            seen = []
            for at in (7.0, 9.0, 11.9, 12.1):
                clock.set(T0 + at * HOUR)
                hub.tick()
                hub.process()
                for viewer in ("R", "V"):
                    with _statements(hub) as statements, _steps(hub) as steps:
                        listed = [
                            (n.key, [v.id for v in n.volumes]) for n in hub.list_notices(viewer)
                        ]
                        of_o = [n.key for n in hub.list_notices(viewer, party="O")]
                    seen.append((at, viewer, listed, of_o, len(statements), steps[0]))
            return seen
        finally:
            hub.close()

    hidden, plain = run("hidden", True), run("plain", False)
    assert hidden == plain
    assert ("V/VN", ["p"]) in hidden[0][2]  # the relay sees it while the conflict holds
    assert all(
        ("V/VN", ["p"]) not in listed for _, viewer, listed, *_ in hidden[2:] if viewer == "R"
    )


def test_a_relay_does_not_see_when_the_unlocking_party_s_hidden_volume_ends(tmp_path):
    """Found by a seventh reader: the relay sees O's volume as V may see it, unlocked by V's
    volume, which the relay may not see (V discloses nothing to O, so nothing to the relay
    for O). The store resolves their conflict when V's notice ends, at the true end of V's
    volume, and the unlocking stopped there: the relay read that end to the tick. A conflict
    now unlocks while it is shown open to the unlocked volume's owner (O, told V's volume by
    its envelope). Two hubs where V's volume ends at 7:40 or 7:44 (one step): the relay, and
    O, observe the same, statements and SQLite's steps included (an eighth reader: a row the
    store had resolved cost the relay's read steps more than an open one)."""
    from tests.hub.test_hostile_need_to_know import _statements, _steps

    def run(name: str, end_min: int) -> list[Any]:
        levels = {("O", "V"): Disclosure.CONFLICTS_ONLY, ("V", "O"): Disclosure.NONE}
        hub, clock = _relayed(tmp_path / name, disclosure=levels)
        try:
            x = vol("x", start_s=T0 + 6 * HOUR, end_s=T0 + 10 * HOUR)
            hub.file_notice("O", [x], "air-activity", "ON")
            p = vol("p", lon=39.01, start_s=T0 + 5 * HOUR, end_s=T0 + 7 * HOUR + end_min * 60)
            hub.file_notice("V", [p], "air-activity", "VN")
            hub.process()
            seen = []
            for minute in (35, 41, 43, 45, 47, 49, 55):
                clock.set(T0 + 7 * HOUR + minute * 60)
                hub.tick()
                hub.process()
                with _statements(hub) as statements, _steps(hub) as steps:
                    relayed = [(n.key, [v.id for v in n.volumes]) for n in hub.list_notices("R")]
                    one = hub.sees_notice("R", "O/ON")
                shown = [(c.state, c.resolved_at_s) for c in hub.list_conflicts("O")]
                seen.append((minute, relayed, one, shown, len(statements), steps[0]))
            return seen
        finally:
            hub.close()

    early, late = run("early", 40), run("late", 44)
    assert early == late
    assert early[1][1] == [("O/ON", ["x"])]  # at 7:41, after V's volume truly ended


def test_an_amendment_reads_which_volumes_changed_once_not_once_a_conflict(tmp_path, monkeypatch):
    """Each open conflict of an amended notice asks whether its volume changed: each asked by
    scanning the notice's volumes, an amendment of 1,000 volumes holding 20,000 conflicts took
    1.15 s of the hub's thread (a thirty-fifth reader); read once (``Notice.changed_since``),
    0.7 s. Each volume's answer is the version it last changed at."""
    hub, clock = make_hub(tmp_path)
    try:
        hub.file_notice("faf", [vol("big", radius_m=20_000.0)], "air-activity", "F")
        mine = [vol(f"o{i}", lon=39.0 + i * 1e-3, radius_m=200.0) for i in range(40)]
        hub.file_notice("usaf", mine, "air-activity", "U")
        hub.process()
        assert len(hub.list_conflicts("usaf")) == 40
        clock.advance(60.0)
        mine[-1] = vol("o39", lon=38.5, radius_m=200.0)  # away from F
        hub.amend_notice("usaf", "U", 1, mine)
        asked = []
        read_once = Notice.changed_since
        monkeypatch.setattr(
            Notice, "changed_since", lambda self: asked.append(self.key) or read_once(self)
        )
        hub.process()
        assert asked == ["usaf/U"]  # once for the 40 conflicts it held
        assert len(hub.list_conflicts("usaf", open_only=True)) == 39
        monkeypatch.undo()
        notice = hub.get_notice("usaf", "U", party="usaf")
        assert notice.changed_since() == {**{f"o{i}": 1 for i in range(39)}, "o39": 2}
        assert notice.changed_since()["o39"] == 2
        assert notice.changed_since()["o0"] == 1
    finally:
        hub.close()


@pytest.mark.parametrize("level", [Disclosure.CONFLICTS_ONLY, Disclosure.NONE])
def test_a_read_of_conflicts_reads_each_hidden_volume_met_not_its_whole_notice(
    tmp_path, monkeypatch, level
):
    """A party's suggestions search each hidden volume it meets as its conflict holds it, and
    under conflicts-only its lists show the notice with the volumes its conflicts unlock: each
    read them from the notice version's whole list, so that another party's hidden notice of n
    volumes all meeting one of V's cost V's every read of its conflicts n lookups of n volumes
    (1,000: 0.4 s, and a third party's read waited on the shared thread: a thirty-fifth
    reader), and the CPU time of V's reads grew with the size of volumes it may not see (a
    thirty-fourth). Each volume is now its own row too (migration 0034): the text read is the
    met volumes', none of the far ones' the notice holds besides."""
    from deconflict.store import codec, notices

    hub, _ = make_hub(tmp_path, disclosure=level)
    try:
        hub.file_notice("usaf", [vol("mine", radius_m=5_000.0)], "air-activity", "V")
        met = [vol(f"m{i}", lon=39.0 + i * 1e-4, radius_m=100.0) for i in range(40)]
        far = [vol(f"far{i}", lon=44.0 + i * 0.01, radius_m=100.0) for i in range(200)]
        hub.file_notice("faf", met + far, "air-activity", "X")
        hub.process()
        conflicts = hub.list_conflicts("usaf")
        assert len(conflicts) == len(met)
        read: list[str] = []
        for module in (codec, notices):
            decode = module.volumes_from_json
            monkeypatch.setattr(
                module, "volumes_from_json", lambda text, d=decode: read.append(text) or d(text)
            )
        found = hub.suggest_adjustments("usaf", conflicts)
        listed = hub.list_notices("usaf", party="faf")
        monkeypatch.undo()
        assert len(found) == len(met)
        if level is Disclosure.CONFLICTS_ONLY:
            assert [[v.id for v in n.volumes] for n in listed] == [sorted(v.id for v in met)]
        else:
            assert listed == []
        assert not any("far" in text for text in read)
        one = len(codec.volumes_to_json(met[:1]))
        assert sum(map(len, read)) <= 4 * one * len(met)  # three reads: met, seen, listed
    finally:
        hub.close()


def test_a_met_volume_moved_away_costs_what_one_dropped_does(tmp_path, monkeypatch):
    """While P's conflict with X's volume is still shown open (until its window as told has
    passed), X moves that volume far away under the same id, or drops it: P is shown the same,
    and its reads decode the same text. Looked up as the newest version holds it, the moved
    volume's new geometry, hidden from P, was decoded on every read of P's, and its CPU time
    told P a large hidden volume from none (a thirty-eighth reader: 11.4 ms a list against 2.5
    with 19 moved to 10,000-vertex stars)."""
    from deconflict.store import codec

    def run(moved: bool) -> tuple[list[int], list[str]]:
        hub, clock = _hub(tmp_path / str(moved), Disclosure.CONFLICTS_ONLY)
        try:
            near = vol("near", start_s=T0 + 5 * HOUR, end_s=T0 + 9 * HOUR)
            hub.file_notice("X", [near, HIDDEN], "air-activity", "XN")
            hub.file_notice("P", [PROBE], "air-activity", "PN")
            hub.process()
            clock.set(T0 + 1 * HOUR)
            away = [vol("near", lon=44.0, radius_m=40_000.0)] if moved else []
            hub.amend_notice("X", "XN", 1, [*away, HIDDEN])
            hub.process()
            read: list[str] = []
            decode = codec.volumes_from_json
            monkeypatch.setattr(
                codec, "volumes_from_json", lambda text: read.append(text) or decode(text)
            )
            listed = hub.list_notices("P", party="X")
            monkeypatch.undo()
            return [len(text) for text in read], [v.id for n in listed for v in n.volumes]
        finally:
            hub.close()

    assert run(moved=True) == run(moved=False)
