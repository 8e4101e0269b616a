"""The Hub end to end on a temp SQLite file in simulated time."""

from __future__ import annotations

import json

import pytest
from tests.hub.scenario import HOUR, T0, make_hub, vol

from deconflict.errors import (
    InvalidInput,
    InvalidTransition,
    NotFound,
    StoreError,
    VersionConflict,
)
from deconflict.hub import Hub, SimulatedClock
from deconflict.hub.ledger_access import entries_about
from deconflict.model import (
    ConflictState,
    Disclosure,
    NoticeState,
    NotificationKind,
    NotificationState,
    Unlock,
)


def test_late_notice_is_accepted_and_flagged(tmp_path):
    """A notice filed with less than the agreed lead time is filed, flagged late with shortfall."""
    hub, _ = make_hub(tmp_path, lead_s=8 * HOUR)
    filing = hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    assert filing.late
    assert filing.shortfall_s == 2 * HOUR
    assert hub.get_notice("usaf", "N1").state is NoticeState.FILED
    on_time = hub.file_notice(
        "usaf", [vol("b", start_s=T0 + 9 * HOUR, end_s=T0 + 10 * HOUR)], "air-activity"
    )
    assert not on_time.late
    hub.close()


def test_plan_conflict_is_told_only_to_the_plan_owner(tmp_path):
    """A notice meeting another party's plan makes a conflict that only the plan owner sees."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.add_plan("faf", [vol("p", lon=39.05)], "P1")
    report = hub.process()
    assert len(report.new_conflicts) == 1
    conflict = report.new_conflicts[0]
    assert hub.list_conflicts("faf") == [conflict]
    assert hub.list_conflicts("usaf") == []
    with pytest.raises(NotFound):
        hub.get_conflict("usaf", conflict.id)
    kinds = [(n.recipient, n.kind) for n in hub.list_notifications("faf")]
    assert ("faf", NotificationKind.CONFLICT) in kinds
    assert all(n.recipient != "usaf" for n in report.notifications)
    assert conflict.lead_time_s == 6 * HOUR
    hub.close()


def test_notice_against_notice_tells_both_parties(tmp_path):
    """Two parties' conflicting notices each get a conflict notification."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    report = hub.process()
    told = {n.recipient for n in report.notifications if n.kind is NotificationKind.CONFLICT}
    assert told == {"usaf", "faf"}
    assert len(hub.list_conflicts("usaf")) == len(hub.list_conflicts("faf")) == 1
    hub.close()


def test_the_change_log_holds_inputs_and_the_ledger_everything(tmp_path):
    """The detector reads the change log: parties, agreements, notices, plans. What it finds
    (conflicts, notifications) and what becomes of that (delivery, acknowledgement) are not
    its inputs: they are in the ledger, not in the change log."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    hub.process()
    delivered = hub.deliver("faf")
    assert delivered
    hub.acknowledge("faf", delivered[0].id)
    kinds = [c.kind for c in hub.store.changes_after(0)]
    assert {k.split(".")[0] for k in kinds} == {"party", "agreement", "notice"}
    assert kinds[-2:] == ["notice.filed", "notice.filed"]
    entries = [json.loads(body)["type"] for _, body in hub.store.ledger_entries()]
    for kind in ("conflict.detected", "notification.created", "notifications.delivered"):
        assert kind in entries
    assert entries[-1] == "notification.acknowledged"
    assert hub.process().changes == 0  # nothing new for the detector
    hub.close()


def test_far_apart_activity_does_not_conflict(tmp_path):
    """Volumes further apart than the minima give no conflict."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.add_plan("faf", [vol("p", lon=40.5)], "P1")
    assert hub.process().new_conflicts == []
    hub.close()


@pytest.mark.parametrize(
    ("level", "visible"),
    [(Disclosure.FULL, ["a", "b"]), (Disclosure.CONFLICTS_ONLY, ["a"]), (Disclosure.NONE, None)],
)
def test_notices_are_filtered_by_disclosure(tmp_path, level, visible):
    """Full shows every volume, conflicts-only those meeting the viewer's plan (where the
    agreement lets plans unlock), none nothing."""
    hub, _ = make_hub(tmp_path, disclosure=level, unlock=Unlock(plans=True))
    far = vol("b", lon=41.0)
    hub.file_notice("usaf", [vol("a"), far], "air-activity", "N1")
    hub.add_plan("faf", [vol("p", lon=39.05)], "P1")
    hub.process()
    if visible is None:
        with pytest.raises(NotFound):
            hub.get_notice("faf", "N1")
        assert hub.list_notices("faf") == []
    else:
        assert [v.id for v in hub.get_notice("faf", "N1").volumes] == visible
        assert [[v.id for v in n.volumes] for n in hub.list_notices("faf")] == [visible]
    assert [v.id for v in hub.get_notice("usaf", "N1").volumes] == ["a", "b"]
    hub.close()


def test_plans_are_never_visible_to_others(tmp_path):
    """Another party, even with full disclosure or as relay, cannot read a plan."""
    hub, _ = make_hub(tmp_path, relay="caoc")
    hub.add_plan("faf", [vol("p")], "P1")
    assert hub.get_plan("faf", "P1").id == "P1"
    for other in ("usaf", "caoc"):
        with pytest.raises(NotFound):
            hub.get_plan(other, "P1")
        assert hub.list_plans(other) == []
    hub.close()


def test_relay_routes_and_sees_what_it_relays(tmp_path):
    """Notifications go via the relay, which lists and sees them but cannot acknowledge them;
    under conflicts-only it sees the volume a notice of the other party unlocks."""
    hub, _ = make_hub(tmp_path, relay="caoc", disclosure=Disclosure.CONFLICTS_ONLY)
    hub.file_notice("usaf", [vol("a"), vol("b", lon=41.0)], "air-activity", "N1")
    hub.file_notice("faf", [vol("p", lon=39.05)], "air-activity", "F1")
    report = hub.process()
    assert {n.recipient for n in report.notifications} == {"faf", "usaf"}
    assert all(n.via == "caoc" for n in report.notifications)
    relayed = hub.list_notifications("caoc")
    assert {n.id for n in relayed} == {n.id for n in report.notifications}
    assert [v.id for v in hub.get_notice("caoc", "N1").volumes] == ["a"]
    to_faf = next(n for n in relayed if n.recipient == "faf")
    with pytest.raises(NotFound):
        hub.acknowledge("caoc", to_faf.id)
    assert hub.acknowledge("faf", to_faf.id).state is NotificationState.ACKNOWLEDGED
    hub.close()


def test_amendment_needs_the_current_version_and_the_owner(tmp_path):
    """A stale expected version is VersionConflict; another party's notice is NotFound."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    filing = hub.amend_notice("usaf", "N1", 1, [vol("a", lon=39.1)])
    assert filing.notice.version == 2
    with pytest.raises(VersionConflict):
        hub.amend_notice("usaf", "N1", 1, [vol("a", lon=39.2)])
    with pytest.raises(NotFound):
        hub.amend_notice("faf", "N1", 2, [vol("a")])
    with pytest.raises(NotFound):
        hub.cancel_notice("faf", "N1")
    hub.cancel_notice("usaf", "N1")
    with pytest.raises(InvalidTransition):
        hub.cancel_notice("usaf", "N1")
    hub.close()


def test_cancelled_notice_leaves_the_index_and_resolves_its_conflicts(tmp_path):
    """Cancelling drops the notice's volumes from the index and resolves its conflicts."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.add_plan("faf", [vol("p")], "P1")
    hub.process()
    assert hub.indexed == 2
    hub.cancel_notice("usaf", "N1")
    report = hub.process()
    assert hub.indexed == 1
    assert [c.state for c in report.resolved_conflicts] == [ConflictState.RESOLVED]
    assert hub.list_conflicts("faf", open_only=True) == []
    hub.add_plan("faf", [vol("q")], "P2")
    assert hub.process().new_conflicts == []
    hub.close()


def test_a_conflict_found_and_cleared_in_one_pass_is_stored_cleared(tmp_path):
    """A pass is one commit (security.md §3.4): a change in it that reads open conflicts (a
    cancellation, an amendment) reads those found earlier in the pass too. Filed and cancelled
    in one pass, faf's notice leaves its conflict with usaf's resolved in the store, detected
    then resolved in the ledger, and the store and its ledger agree; amended in the same pass,
    a conflict its unchanged volume holds is carried, not found twice."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "U")
    hub.process()
    hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
    hub.file_notice("faf", [vol("g", lon=39.01), vol("h", lon=50.0)], "air-activity", "G")
    hub.cancel_notice("faf", "F")
    hub.amend_notice("faf", "G", 1, [vol("g", lon=39.01), vol("h", lon=51.0)])
    report = hub.process()
    conflicts = {
        c.b.record_id if c.a.party == "usaf" else c.a.record_id: c
        for c in hub.list_conflicts("usaf")
    }
    assert sorted(conflicts) == ["F", "G"]
    assert conflicts["F"].state is ConflictState.RESOLVED
    assert conflicts["G"].state is ConflictState.OPEN
    assert len(report.new_conflicts) == 2  # G's conflict found once, then carried
    kinds = [e["type"] for _, e in entries_about(hub, "usaf", conflicts["F"].id)]
    assert kinds.index("conflict.detected") < kinds.index("conflict.resolved")
    audit = hub.ledger.audit()
    assert audit.log_problem is None
    assert audit.findings == []
    hub.close()


def test_a_conflict_found_and_cleared_in_one_pass_is_logged_in_order(tmp_path):
    """Found a second reader of the one-commit pass: its detections come in a keyed order, and
    when the one that resolved a conflict came first, its notification of the change was
    written before the conflict's ``conflict.detected`` entry. In every one of eight hubs
    (eight secrets, eight orders), the entries about such a conflict come as they happened:
    detected, the parties told, resolved, told of the change."""
    for trial in range(8):
        (tmp_path / str(trial)).mkdir()
        hub, _ = make_hub(tmp_path / str(trial))
        hub.file_notice("usaf", [vol("a")], "air-activity", "U")
        hub.process()
        hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
        hub.cancel_notice("faf", "F")
        hub.process()
        (conflict,) = hub.list_conflicts("usaf")
        about = [
            (entry["type"], entry.get("kind"))
            for entry in (hub.ledger.entry(i) for i in range(hub.ledger.size))
            if entry.get("conflict") == conflict.id
        ]
        told = ("notification.created", "conflict")
        assert about[0] == ("conflict.detected", None)
        assert about[1:3] == [told, told]
        assert about[3] == ("conflict.resolved", None)
        assert set(about[4:]) <= {("notification.created", "change")}
        hub.close()


def test_tick_moves_notices_by_time(tmp_path):
    """tick() activates a notice at its first volume start and ends it after its last end."""
    hub, clock = make_hub(tmp_path)
    hub.file_notice(
        "usaf",
        [vol("a"), vol("b", start_s=T0 + 7 * HOUR, end_s=T0 + 9 * HOUR)],
        "air-activity",
        "N1",
    )
    assert hub.tick().activated == []
    clock.set(T0 + 6 * HOUR)
    assert [n.id for n in hub.tick().activated] == ["N1"]
    clock.set(T0 + 8.5 * HOUR)
    assert hub.tick().ended == []
    clock.set(T0 + 9 * HOUR)
    assert [n.state for n in hub.tick().ended] == [NoticeState.ENDED]
    hub.process()
    assert hub.indexed == 0
    hub.close()


def test_tick_escalates_unacknowledged_notifications_after_the_deadline(tmp_path):
    """Past its deadline an unacknowledged notification escalates; an acknowledged one does not."""
    hub, clock = make_hub(tmp_path, ack_s=900.0)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("usaf", [vol("b", lon=42.0)], "air-activity", "N2")
    notes = hub.process().notifications
    assert len(notes) == 2
    assert [n.state for n in hub.deliver("faf")] == [NotificationState.DELIVERED] * 2
    hub.acknowledge("faf", notes[0].id)
    clock.advance(899.0)
    assert hub.tick().escalated == []
    clock.advance(1.0)
    assert [n.id for n in hub.tick().escalated] == [notes[1].id]
    assert hub.tick().escalated == []
    with pytest.raises(NotFound):
        hub.acknowledge("usaf", notes[1].id)
    hub.close()


def test_told_late_gives_negative_lead_time(tmp_path):
    """A conflict detected after it started has a negative lead time on its notification."""
    hub, clock = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.process()
    clock.set(T0 + 6.5 * HOUR)
    hub.add_plan("faf", [vol("p")], "P1")
    report = hub.process()
    (note,) = [n for n in report.notifications if n.kind is NotificationKind.CONFLICT]
    assert note.lead_time_s == -0.5 * HOUR
    hub.close()


def test_adjustment_suggestion_clears_the_conflict(tmp_path):
    """Applying the suggested time shift to the plan resolves the conflict with no new one."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.add_plan("faf", [vol("p", lon=39.05), vol("q", lon=42.0)], "P1")
    (conflict,) = hub.process().new_conflicts
    suggestion = hub.suggest_adjustment("faf", conflict.id)
    assert suggestion.time is not None
    assert suggestion.altitude is not None
    assert suggestion.volume_id == "p"
    plan = hub.get_plan("faf", "P1")
    moved = [suggestion.time.volume if v.id == "p" else v for v in plan.volumes]
    hub.amend_plan("faf", "P1", plan.version, moved)
    report = hub.process()
    assert [c.id for c in report.resolved_conflicts] == [conflict.id]
    assert report.new_conflicts == []
    assert hub.list_conflicts("faf", open_only=True) == []
    with pytest.raises(NotFound):
        hub.suggest_adjustment("usaf", conflict.id)
    hub.close()


def _scenario(hub: Hub, clock: SimulatedClock) -> None:
    hub.file_notice("usaf", [vol("a"), vol("b", lon=39.3)], "air-activity", "N1")
    hub.add_plan("faf", [vol("p", lon=39.05)], "P1")
    clock.advance(60)
    hub.file_notice("faf", [vol("c", lon=39.28)], "air-activity", "N2")
    hub.amend_notice("usaf", "N1", 1, [vol("a", lon=39.02)])
    hub.add_plan("usaf", [vol("q", lon=39.3)], "P2")
    hub.cancel_notice("faf", "N2")


def _outcome(
    hub: Hub,
) -> tuple[set[tuple[object, ConflictState, object]], list[tuple[object, ...]]]:
    """What the hub found, by what each record refers to (ids are keyed by each store's own
    secret, so two stores name the same conflict differently), with what each conflict says of
    the two volumes (a restarted hub's index makes them from the arrays it read)."""
    conflicts = {
        (
            frozenset({c.a, c.b}),
            c.state,
            (c.detail, c.a_masked, c.b_masked, c.a_unlocks, c.b_unlocks),
        )
        for p in ("usaf", "faf")
        for c in hub.list_conflicts(p)
    }
    told = [n for p in ("usaf", "faf") for n in hub.list_notifications(p)]
    assert len({n.id for n in told}) == len(told)  # none twice
    notes = [
        (
            n.recipient,
            n.kind,
            n.notice_party,
            n.notice_id,
            round(n.created_at_s, 3),  # a pass after one that told is two microseconds after it
            None
            if n.conflict_id is None
            else frozenset(hub.store.get_conflict(n.conflict_id).sides),
        )
        for n in told
    ]
    return conflicts, notes


def test_restart_resumes_after_the_last_processed_change(tmp_path):
    """Closed mid-way and reopened, the hub rebuilds its index and ends where one run ends:
    the same conflicts and notifications, nothing twice, nothing skipped."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    hub, clock = make_hub(tmp_path / "one")
    _scenario(hub, clock)
    hub.process()
    expected_conflicts, expected_notes = _outcome(hub)
    expected_indexed = hub.indexed
    hub.close()
    assert len(expected_conflicts) == 4
    states = {state for _, state, _ in expected_conflicts}
    assert states == {ConflictState.OPEN, ConflictState.RESOLVED}

    hub, clock = make_hub(tmp_path / "two")
    _scenario(hub, clock)
    first = hub.process(limit=7)
    assert first.changes == 7
    hub.close()
    reopened = Hub.open(tmp_path / "two" / "hub.db", clock)
    assert reopened.indexed == 0  # built when it first detects, not as it opens
    reopened.resync()
    assert reopened.indexed == 3  # N1 v1 (a, b) and P1, as at the cursor
    reopened.process()
    assert reopened.process().changes == 0
    conflicts, notes = _outcome(reopened)
    assert conflicts == expected_conflicts
    assert sorted(notes, key=repr) == sorted(expected_notes, key=repr)
    assert reopened.indexed == expected_indexed
    reopened.close()
    again = Hub.open(tmp_path / "two" / "hub.db", clock)
    assert again.process().changes == 0
    assert again.indexed == expected_indexed
    again.close()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda hub: hub.file_notice("nobody", [vol("a")], "air-activity"), InvalidInput),
        (lambda hub: hub.file_notice("usaf", [], "air-activity"), InvalidInput),
        (lambda hub: hub.file_notice("usaf", ["x"], "air-activity"), InvalidInput),
        (lambda hub: hub.file_notice("usaf", [vol("a")], ""), InvalidInput),
        (lambda hub: hub.add_party("usaf", "again"), InvalidInput),
        (lambda hub: hub.get_notice("usaf", "nope"), NotFound),
        (lambda hub: hub.acknowledge("usaf", "nope"), NotFound),
        (lambda hub: hub.suggest_adjustment("usaf", "nope"), NotFound),
    ],
)
def test_bad_input_gives_deconflict_errors(tmp_path, call, error):
    """Bad calls raise deconflict errors, never raw sqlite3 or SQLAlchemy ones."""
    hub, _ = make_hub(tmp_path)
    with pytest.raises(error):
        call(hub)
    hub.close()


def test_duplicate_notice_id_and_bad_path_are_deconflict_errors(tmp_path):
    """Filing an existing notice id is InvalidInput; a store path in no directory is StoreError."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    with pytest.raises(InvalidInput):
        hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.close()
    with pytest.raises(StoreError):
        Hub.open(tmp_path / "no" / "such" / "hub.db", SimulatedClock(T0))


def test_ended_notice_resolves_its_conflicts_without_new_warnings(tmp_path):
    """When a notice ends, its conflicts are resolved and nobody is warned about it."""
    hub, clock = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.add_plan("faf", [vol("p")], "P1")
    hub.process()
    clock.set(T0 + 8 * HOUR)
    hub.tick()
    report = hub.process()
    assert len(report.resolved_conflicts) == 1
    assert report.notifications == []
    assert hub.list_conflicts("faf", open_only=True) == []
    hub.close()
