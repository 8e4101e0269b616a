"""What a party is shown of conflicts and notifications: the other side of a conflict, and the
notice a notification is about, named only as far as the party's agreements disclose them; and
the records a party may act on, refused alike whether they are missing, hidden or another's.

The API's documents (``api.schemas``) and the CLI's local backend are both made from these views,
so a party sees the same whichever way it connects. The hub decides what is disclosed
(``Hub.get_notice``, ``Hub.visible_volumes``); this module only applies it to what is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from deconflict.engine import ConflictDetail
from deconflict.errors import NotFound
from deconflict.hub.service import Hub, Suggestion
from deconflict.model import (
    Conflict,
    ConflictState,
    Notice,
    Notification,
    Party,
    RecordKind,
    Side,
)
from deconflict.policy.need_to_know import told_detail

__all__ = [
    "ConflictView",
    "SideView",
    "find_notification",
    "known_parties",
    "own_notice",
    "own_notification",
    "seen_details",
    "view_conflict",
    "view_conflicts",
    "view_notifications",
]


@dataclass(frozen=True, slots=True)
class SideView:
    """The other side of a conflict as a party may see it: whose and what kind of record; which
    record and volume only when the party may see that volume, and its version only when it
    sees the other's notices whole (else None)."""

    party: str
    kind: RecordKind
    record_id: str | None
    volume_id: str | None
    version: int | None


@dataclass(frozen=True, slots=True)
class ConflictView:
    """A conflict as one party sees it: its own side in full, the other's as disclosed, and for
    an open conflict the ways found to clear it."""

    id: str
    state: ConflictState
    mine: Side
    theirs: SideView
    detail: ConflictDetail
    detected_at_s: float
    resolved_at_s: float | None
    lead_time_s: float
    suggestion: Suggestion | None
    #: The two records met in more pairs of volumes than their conflicts list (``hub.pairs``).
    more_pairs: bool = False


def _theirs_seen(hub: Hub, party: str, conflicts: Sequence[Conflict]) -> set[str]:
    """The ids of those of ``party``'s ``conflicts`` whose other side it may see (that volume
    of that notice, as ``Hub.get_notice`` would show it): the notices read once for them all,
    so a list costs a few statements however long it is (it cost a notice's read per conflict,
    on the hub thread where every party's work runs; security.md §4)."""
    others = [(c.id, c.other_side(party)) for c in conflicts]
    keys = sorted({other.record_key for _, other in others if other is not None})
    shown = hub.visible_volumes(party, keys) if keys else {}
    return {
        conflict_id
        for conflict_id, other in others
        if other is not None and other.volume_id in shown.get(other.record_key, ())
    }


def _shown(hub: Hub, party: str, conflict: Conflict, visible: bool) -> ConflictDetail:
    if visible:
        return conflict.detail
    other = conflict.other_side(party)
    if other is None:  # pragma: no cover - the hub only shows a party's own
        return conflict.masked_for(party) or conflict.detail
    return told_detail(conflict, party, hub.resolution_for(party, other.party))


def seen_details(hub: Hub, party: str, conflicts: Sequence[Conflict]) -> list[ConflictDetail]:
    """What ``party`` is shown of each of its ``conflicts``' detail (as :func:`view_conflicts`),
    without working out the ways to clear them."""
    seen = _theirs_seen(hub, party, conflicts)
    return [_shown(hub, party, c, c.id in seen) for c in conflicts]


def view_conflicts(hub: Hub, party: str, conflicts: Sequence[Conflict]) -> list[ConflictView]:
    """``party``'s view of some of its conflicts (as ``Hub.list_conflicts`` gives them): with
    a volume it may not see on the other side, the detail and lead time at the agreement's
    resolution; for an open one, the suggestion (``Hub.suggest_adjustments``: worked out for
    the list at once, so a list costs what it shows)."""
    opened = [c for c in conflicts if c.state is ConflictState.OPEN]
    suggestions = hub.suggest_adjustments(party, opened) if opened else {}
    seen = _theirs_seen(hub, party, conflicts)
    return [_view(hub, party, c, c.id in seen, suggestions.get(c.id)) for c in conflicts]


def view_conflict(hub: Hub, party: str, conflict: Conflict) -> ConflictView:
    """``party``'s view of one of its conflicts (see :func:`view_conflicts`)."""
    return view_conflicts(hub, party, [conflict])[0]


def _view(
    hub: Hub, party: str, conflict: Conflict, visible: bool, suggestion: Suggestion | None
) -> ConflictView:
    mine, other = conflict.side_of(party), conflict.other_side(party)
    if mine is None or other is None:  # pragma: no cover - the hub only shows a party's own
        raise NotFound(f"no conflict {conflict.id!r}")
    detail = _shown(hub, party, conflict, visible)
    return ConflictView(
        id=conflict.id,
        state=conflict.state,
        mine=mine,
        theirs=SideView(
            party=other.party,
            kind=other.kind,
            record_id=other.record_id if visible else None,
            volume_id=other.volume_id if visible else None,
            # Versions count the other's changes to volumes the party may not see (§3.6).
            version=other.version if visible and hub.sees_whole(party, other.party) else None,
        ),
        detail=detail,
        detected_at_s=conflict.detected_at_s,
        resolved_at_s=conflict.resolved_at_s,
        lead_time_s=detail.start_s - conflict.detected_at_s,
        suggestion=suggestion,
        more_pairs=conflict.more_pairs,
    )


def view_notifications(
    hub: Hub, party: str, notifications: Sequence[Notification]
) -> list[Notification]:
    """``party``'s view of notifications it may see (its own and those relayed through it): a
    notice its agreements do not disclose (say, the other side of a conflict it is told of) is
    not named (``notice_id`` None); nor one the notification was made without disclosing
    (``discloses_notice``: the conflict it tells of is with a volume the recipient may not
    see), though the notice be visible for another of its volumes: the name told that the
    notice holds a hidden volume there (security.md §3.6), to the recipient and to its relay.
    To the relay, only a notice it sees whole under the agreements it relays: made to disclose
    it under another agreement of the two, one it does not relay, the notification named to
    the relay a notice it sees only in part (a twenty-third reader)."""
    # The notices of owners the party sees whole (itself among them) it sees without a read.
    whole = hub.owners_seen_whole_by(party)
    keys = [
        key
        for n in notifications
        if (key := n.notice_key) is not None
        and n.notice_party not in whole
        and n.recipient == party
        and n.discloses_notice
    ]
    visible = hub.visible_volumes(party, keys) if keys else {}
    return [
        n
        if n.notice_key is None
        or (
            n.discloses_notice
            and (n.notice_party in whole or (n.recipient == party and n.notice_key in visible))
        )
        else replace(n, notice_id=None, notice_party=None)
        for n in notifications
    ]


def find_notification(hub: Hub, party: str, notification_id: str) -> Notification:
    """A notification ``party`` may see (sent to it, or relayed through it), else NotFound
    (the same whether it is missing or someone else's)."""
    try:
        found = hub.store.get_notification(notification_id)
    except NotFound:
        found = None
    if found is None or party not in (found.recipient, found.via):
        raise NotFound(f"no notification {notification_id!r}")
    return found


def own_notification(hub: Hub, party: str, notification_id: str) -> Notification:
    """A notification sent to ``party``, the one it may acknowledge; NotFound otherwise (a
    relay does not acknowledge for the recipient)."""
    found = find_notification(hub, party, notification_id)
    if found.recipient != party:
        raise NotFound(f"no notification {notification_id!r}")
    return found


def known_parties(hub: Hub, party: str) -> list[Party]:
    """``party`` and those it shares an agreement with (as a party or the relay), by id: each
    read by its key (read from all, the cost grew with parties it may not know of: security.md
    §3.5)."""
    known = {party}
    for agreement in hub.list_agreements(party):
        known.update(agreement.parties)
        if agreement.relay:
            known.add(agreement.relay)
    return [hub.store.get_party(each) for each in sorted(known)]


def own_notice(hub: Hub, party: str, notice_id: str) -> Notice:
    """One of ``party``'s own notices, the ones it may amend or cancel; NotFound otherwise, the
    same whether the notice is missing, hidden from it or another's it may see."""
    return hub.get_notice(party, notice_id, party=party)
