"""State machines and validation of the model records."""

from __future__ import annotations

import pytest

from deconflict.engine import ConflictDetail, SeparationMinima
from deconflict.errors import InvalidInput, InvalidTransition
from deconflict.geo import Circle, Volume4D
from deconflict.model import (
    Agreement,
    Conflict,
    ConflictState,
    Disclosure,
    Notice,
    NoticeState,
    Notification,
    NotificationKind,
    NotificationState,
    Plan,
    RecordKind,
    Side,
)


def _vol(vid: str = "v1", start_s: float = 100.0) -> Volume4D:
    return Volume4D.build(vid, Circle((39.0, 35.9), 1000.0), 0.0, 1000.0, start_s, start_s + 60)


def _notice() -> Notice:
    return Notice("N1", "usaf", (_vol(),), "air-activity", filed_at_s=0.0)


def _notification(deadline_s: float = 50.0) -> Notification:
    return Notification(
        "M1", "faf", NotificationKind.NOTICE, 0.0, deadline_s, 100.0, "N1", notice_party="usaf"
    )


def test_notice_runs_filed_active_ended():
    """A notice goes filed -> active -> ended, keeping its version."""
    ended = _notice().activate(100.0).end(160.0)
    assert ended.state is NoticeState.ENDED
    assert ended.version == 1
    assert ended.updated_at_s == 160.0


@pytest.mark.parametrize(
    "steps",
    [("end",), ("activate", "activate"), ("cancel", "activate"), ("activate", "end", "cancel")],
)
def test_notice_rejects_bad_transitions(steps):
    """Moves the notice state machine does not allow raise InvalidTransition."""
    notice = _notice()
    for step in steps[:-1]:
        notice = getattr(notice, step)(1.0)
    with pytest.raises(InvalidTransition):
        getattr(notice, steps[-1])(2.0)


def test_notice_cancels_from_filed_and_active():
    """Cancelling is allowed while filed and while active."""
    assert _notice().cancel(1.0).state is NoticeState.CANCELLED
    assert _notice().activate(1.0).cancel(2.0).state is NoticeState.CANCELLED


def test_amendment_makes_a_new_version_and_not_after_cancel():
    """Amending bumps the version; a cancelled notice cannot be amended."""
    amended = _notice().amend([_vol("v2")], 5.0, category="survey")
    assert (amended.version, amended.category, amended.volumes[0].id) == (2, "survey", "v2")
    with pytest.raises(InvalidTransition):
        _notice().cancel(1.0).amend([_vol()], 2.0)


@pytest.mark.parametrize("volumes", [(), (_vol("a"), _vol("a")), ("not a volume",)])
def test_notice_volumes_are_validated(volumes):
    """No volumes, duplicate volume ids or non-volumes are InvalidInput."""
    with pytest.raises(InvalidInput):
        Notice("N1", "usaf", volumes, "air-activity", filed_at_s=0.0)


def test_notice_start_and_end_span_all_volumes():
    """start_s is the earliest volume start and end_s the latest end."""
    notice = Notice("N", "p", (_vol("a", 500.0), _vol("b", 100.0)), "c", filed_at_s=0.0)
    assert (notice.start_s, notice.end_s) == (100.0, 560.0)


def test_plan_withdraws_once():
    """A plan can be withdrawn once; then it can be neither withdrawn nor amended."""
    plan = Plan("P1", "faf", (_vol(),), 0.0).withdraw(1.0)
    with pytest.raises(InvalidTransition):
        plan.withdraw(2.0)
    with pytest.raises(InvalidTransition):
        plan.amend([_vol()], 2.0)


def test_notification_pending_delivered_acknowledged():
    """A notification is delivered then acknowledged, with both times kept."""
    assert _notification().undelivered
    assert not _notification().deliver(10.0).undelivered
    assert not _notification().acknowledge(10.0).undelivered  # acknowledged: received
    assert _notification(deadline_s=50.0).escalate(50.0).undelivered
    done = _notification().deliver(10.0).acknowledge(20.0)
    assert done.state is NotificationState.ACKNOWLEDGED
    assert (done.delivered_at_s, done.acknowledged_at_s) == (10.0, 20.0)
    with pytest.raises(InvalidTransition):
        done.acknowledge(30.0)
    with pytest.raises(InvalidTransition):
        done.deliver(30.0)


def test_notification_escalates_only_after_its_deadline_and_before_ack():
    """Escalation needs the deadline passed and no acknowledgement; escalated can still be acked."""
    n = _notification(deadline_s=50.0)
    with pytest.raises(InvalidTransition):
        n.escalate(49.0)
    escalated = n.escalate(50.0)
    assert escalated.state is NotificationState.ESCALATED
    assert escalated.acknowledge(60.0).state is NotificationState.ACKNOWLEDGED
    with pytest.raises(InvalidTransition):
        n.acknowledge(10.0).escalate(60.0)


def test_conflict_resolves_once_and_reports_lead_time():
    """A conflict's lead time is its start minus detection; it resolves only once."""
    side_a = Side(RecordKind.NOTICE, "N1", 1, "v1", "usaf")
    side_b = Side(RecordKind.PLAN, "P1", 1, "v1", "faf")
    conflict = Conflict("C1", side_a, side_b, ConflictDetail(100.0, 160.0, 0, 0, 0), 130.0)
    assert conflict.lead_time_s == -30.0
    assert conflict.other_side("faf") is side_a
    resolved = conflict.resolve(140.0)
    assert resolved.state is ConflictState.RESOLVED
    with pytest.raises(InvalidTransition):
        resolved.resolve(150.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"parties": ("usaf",)},
        {"parties": ("usaf", "usaf")},
        {"parties": ("usaf", "faf"), "disclosure": {("usaf", "raf"): "full"}},
        {"parties": ("usaf", "faf"), "disclosure": {("usaf", "faf"): "everything"}},
        {"parties": ("usaf", "faf"), "min_lead_time_s": -1},
        {"parties": ("usaf", "faf"), "ack_deadline_s": float("nan")},
    ],
)
def test_agreement_rejects_bad_terms(kwargs):
    """An agreement needs 2+ distinct parties, disclosures between them, sane seconds."""
    with pytest.raises(InvalidInput):
        Agreement(id="mou", **kwargs)


def test_agreement_disclosure_is_per_direction():
    """Disclosure is looked up per ordered pair, with the default for unlisted pairs."""
    ag = Agreement(
        "mou",
        ("usaf", "faf"),
        minima=SeparationMinima(1000.0),
        disclosure={("usaf", "faf"): "full"},
        default_disclosure="none",
    )
    assert ag.disclosure_for("usaf", "faf") is Disclosure.FULL
    assert ag.disclosure_for("faf", "usaf") is Disclosure.NONE
    assert ag.disclosure_for("usaf", "raf") is Disclosure.NONE
