"""What a party may see of another's notices, and how it is told of what it may not see.

Pure functions over agreements and records: no store, no clock. The rules (security.md §3):

- A party sees its own records whole, never another party's plans, and another party's notices
  as the agreements linking the two disclose them: ``full``, ``conflicts-only`` (only the
  volumes that meet its own activity) or ``none``. Where several agreements link them, the
  widest disclosure applies (the agreement that grants more is the one that says so).
- Under ``conflicts-only`` a volume of the viewer **unlocks** the other party's volume it
  conflicts with only when it is within the agreement's ``unlock`` bounds (an area and a
  duration) and, if it is a plan's, only when the agreement lets plans unlock: one huge plan
  must not disclose everything another party does, and a party is always told of a conflict
  with its notice that discloses it (plans stay private, so a plan's unlock is told to no one).
- A relay sees what it relays: for every agreement it relays that includes the owner, what each
  other party of the agreement may see, except what that party's plans unlock (what concerns a
  party's plans is never relayed).
- Safety of flight still requires that a party be told of every conflict of its own activity
  with a notice it may not see, and given an adjustment that clears it. It is told at the
  agreement's ``resolution``: the conflict's window widened and its gaps (and so its lead time)
  rounded to the resolution's steps (:func:`masked_detail`), and the adjustment computed against
  the hidden volume's **envelope**, its window and band rounded outward to those steps
  (:func:`envelope`): an adjustment that clears the envelope clears the volume inside it, and
  says nothing finer than a step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from deconflict.engine import ConflictDetail, describe
from deconflict.geo import AltitudeBand, TimeWindow, Volume4D
from deconflict.model import (
    Agreement,
    Conflict,
    ConflictState,
    Disclosure,
    Notice,
    NoticeState,
    RecordKind,
)
from deconflict.model.parties import Resolution
from deconflict.policy.rules import disclosure, linked_parties, minima_for, relayed_by

__all__ = [
    "Sight",
    "change_cutoff",
    "coarsened",
    "envelope",
    "longest_step",
    "masked_detail",
    "relay_change_cutoff",
    "relay_told_start",
    "resolution_for",
    "resolution_told",
    "seen_conflict",
    "seen_notice",
    "sees_other_side",
    "shown_over_at",
    "sight",
    "told_detail",
    "unlocks",
    "visible_volume_ids",
]


@dataclass(frozen=True, slots=True)
class Sight:
    """What ``viewer`` may see of other parties' notices, as its agreements say.

    ``full``: the owners whose notices it sees whole (itself included). ``unlocked_by``: for an
    owner it sees under ``conflicts-only``, whose records (party, kind) disclose that owner's
    volumes they conflict with (when the conflict records that they unlock it).
    """

    viewer: str
    full: frozenset[str]
    unlocked_by: Mapping[str, frozenset[tuple[str, RecordKind]]] = field(default_factory=dict)
    #: the parties whose volumes may conflict with the viewer's across a time gap (a time
    #: minimum above zero): such a conflict's window may be empty (see :func:`change_cutoff`)
    gapped: frozenset[str] = frozenset()
    #: (owner, party) -> how finely the owner is told the party's volumes, for each owner seen
    #: in part and each party whose records unlock its volumes (see :func:`seen_notice`)
    steps: Mapping[tuple[str, str], Resolution] = field(default_factory=dict)
    #: of those pairs, the ones where the owner sees the party whole, and where the two may
    #: conflict across a time gap: with ``steps``, the owner's view of their conflicts
    owner_full: frozenset[tuple[str, str]] = frozenset()
    owner_gapped: frozenset[tuple[str, str]] = frozenset()

    def owners_sight(self, owner: str) -> Sight:
        """What ``owner`` sees of the parties whose records unlock its volumes for the viewer
        (as much as :func:`seen_conflict` asks of a sight)."""
        return Sight(
            owner,
            frozenset({owner, *(m for o, m in self.owner_full if o == owner)}),
            gapped=frozenset(m for o, m in self.owner_gapped if o == owner),
        )

    @property
    def owners(self) -> list[str]:
        """Every owner some of whose notices the viewer may see, itself first."""
        others = sorted((set(self.full) | set(self.unlocked_by)) - {self.viewer})
        return [self.viewer, *others]

    def sees_whole(self, owner: str) -> bool:
        return owner in self.full


def sight(agreements: Sequence[Agreement], viewer: str) -> Sight:
    """What ``viewer`` may see (see the module docstring)."""
    full = {viewer}
    unlocked: dict[str, set[tuple[str, RecordKind]]] = {}

    # A relay sees what the agreements it relays disclose, and nothing more: the member's
    # sight of the owner under those alone. (Under all, another agreement of the two, one it
    # does not relay, showed it the owner's notices whole: a twenty-third reader.)
    relayed = relayed_by(agreements, viewer)

    def grant(
        owner: str, member: str, kinds: Iterable[RecordKind], under: Sequence[Agreement]
    ) -> None:
        level = disclosure(under, owner, member)
        if level is Disclosure.FULL:
            full.add(owner)
        elif level is Disclosure.CONFLICTS_ONLY:
            unlocked.setdefault(owner, set()).update((member, k) for k in kinds)

    for owner in linked_parties(agreements, viewer):
        grant(owner, viewer, (RecordKind.NOTICE, RecordKind.PLAN), agreements)
    for ag in relayed:
        for owner in ag.parties:
            for member in ag.parties:
                if owner not in (member, viewer) and member != viewer:
                    grant(owner, member, (RecordKind.NOTICE,), relayed)
    gapped = frozenset(
        other
        for other in linked_parties(agreements, viewer)
        if (minima := minima_for(agreements, viewer, other)) is not None and minima.time_s > 0
    )
    in_part = {owner: frozenset(by) for owner, by in unlocked.items() if owner not in full}
    steps = {
        (owner, member): resolution_for(agreements, owner, member)
        for owner, by in in_part.items()
        for member, _ in by
    }
    owner_full = frozenset(
        (o, m) for o, m in steps if disclosure(agreements, m, o) is Disclosure.FULL
    )
    owner_gapped = frozenset(
        (o, m)
        for o, m in steps
        if (minima := minima_for(agreements, o, m)) is not None and minima.time_s > 0
    )
    return Sight(viewer, frozenset(full), in_part, gapped, steps, owner_full, owner_gapped)


def unlocks(
    agreements: Sequence[Agreement], holder: str, owner: str, kind: RecordKind, volume: Volume4D
) -> bool:
    """Whether ``holder``'s ``volume`` (of a record of ``kind``) unlocks a volume of ``owner``
    it conflicts with, under any agreement that gives ``holder`` conflicts-only sight of
    ``owner``'s notices: within that agreement's unlock bounds, and a plan's only if it lets
    plans unlock."""
    for ag in agreements:
        if not ag.links(owner, holder):
            continue
        if ag.disclosure_for(owner, holder) is not Disclosure.CONFLICTS_ONLY:
            continue
        bound = ag.unlock
        if kind is RecordKind.PLAN and not bound.plans:
            continue
        window = volume.window
        if (
            volume.footprint.area_m2 <= bound.max_area_m2
            and window.end_s - window.start_s <= bound.max_duration_s
        ):
            return True
    return False


def _unlocking(
    sight_of: Sight, notice: Notice, conflicts: Iterable[Conflict], now_s: float | None = None
) -> Iterator[tuple[str, Conflict]]:
    """(volume id, conflict) for each of ``notice``'s volumes an open conflict pairs with a
    record of the viewer's that unlocks it, the conflict naming a version of the notice at
    which that volume was as it is now (an amendment carries the conflicts of the volumes it
    leaves unchanged: ``Notice.volume_versions``). With ``now_s``: open as the notice's owner
    is shown it then (:func:`seen_conflict`), not as stored."""
    by = sight_of.unlocked_by.get(notice.party, frozenset())
    changed: dict[str, int] | None = None  # Notice.changed_since, read when first needed
    for conflict in conflicts:
        if now_s is None and conflict.state is not ConflictState.OPEN:
            continue
        if now_s is not None and not _shown_open(sight_of, notice.party, conflict, now_s):
            continue
        for mine, theirs in ((conflict.a, conflict.b), (conflict.b, conflict.a)):
            if theirs.kind is not RecordKind.NOTICE or theirs.record_key != notice.key:
                continue
            if changed is None:
                changed = notice.changed_since()
            if (
                changed.get(theirs.volume_id, notice.version) <= theirs.version <= notice.version
                and (mine.party, mine.kind) in by
                and conflict.unlocks(mine.party)
            ):
                yield theirs.volume_id, conflict


def visible_volume_ids(sight_of: Sight, notice: Notice, conflicts: Iterable[Conflict]) -> set[str]:
    """The ids of ``notice``'s volumes the viewer of ``sight_of`` may see, given the notice's
    open conflicts (others are ignored): all of them for an owner it sees whole, else those
    an open conflict at the notice's current version pairs with a record that unlocks them."""
    if sight_of.sees_whole(notice.party):
        return {v.id for v in notice.volumes}
    return {volume_id for volume_id, _ in _unlocking(sight_of, notice, conflicts)}


def seen_notice(
    sight_of: Sight, notice: Notice, conflicts: Iterable[Conflict], now_s: float
) -> Notice | None:
    """``notice`` as the viewer of ``sight_of`` is shown it at ``now_s`` (None: not at all),
    given its open conflicts. An owner it sees whole shows it whole. Seen in part, it is told
    by the volumes the viewer may see alone (security.md §3.3): only those volumes; filed when
    the first of them was unlocked (its conflict detected); ``filed`` until the first of them
    starts, then ``active``; updated when the last of them was unlocked or started; each out of
    sight once its own window has ended. The whole notice's state, times and how long it stays
    live told the timing of its hidden volumes: active an hour before the visible one started,
    seen until the hidden one ended, filed hours before anything in it could be seen."""
    if sight_of.sees_whole(notice.party):
        return notice
    # A volume is in sight while its own window lasts, and while the conflict that unlocks it
    # is shown open to its owner (``_shown_open``), not while it is open in the store.
    live = {v.id for v in notice.volumes if now_s < v.window.end_s}
    unlocked = [
        (vid, c) for vid, c in _unlocking(sight_of, notice, conflicts, now_s) if vid in live
    ]
    ids = {volume_id for volume_id, _ in unlocked}
    volumes = tuple(v for v in notice.volumes if v.id in ids)
    if not volumes:
        return None
    changed = notice.changed_since()
    since = tuple(changed[v.id] for v in volumes)
    # The version the visible volumes were last changed at: an amendment of the others is
    # not a change the viewer may see (its count and time told of the hidden volumes).
    shown = replace(notice, volumes=volumes, version=max(since), volume_versions=since)
    detected = [conflict.detected_at_s for _, conflict in unlocked]
    filed = max(notice.filed_at_s, min(detected))  # never before the true filing
    shown = replace(shown, filed_at_s=filed)
    if notice.state is NoticeState.CANCELLED:
        return shown
    start = min(v.window.start_s for v in volumes)
    started = now_s >= start
    updated = max(filed, max(detected), start if started else filed)
    state = NoticeState.ACTIVE if started else NoticeState.FILED
    return replace(shown, state=state, updated_at_s=updated)


def _shown_open(sight_of: Sight, owner: str, conflict: Conflict, now_s: float) -> bool:
    """Whether ``conflict`` is shown open to ``owner`` (the owner of the volume it unlocks) at
    ``now_s``, and its window as told to the owner has not passed (``Conflict.told_until``):
    as long as it unlocks. The store resolves a conflict at a notice's end, the last of all
    its volumes: ended there, a relay seeing the owner's counterpart in part read that
    counterpart's hidden volumes' end (a seventh reader); kept until a notice ends, the
    owner's (a sixth); and the conflicts that may unlock are found by the window as told
    (``Conflicts.unlocking_conflicts``), whatever the owner sees."""
    other = conflict.other_side(owner)
    if other is None or now_s >= conflict.told_until(owner):
        return False
    step = sight_of.steps.get((owner, other.party), Resolution())
    seen = seen_conflict(conflict, owner, sight_of.owners_sight(owner), step, now_s)
    return seen.state is ConflictState.OPEN


def told_detail(conflict: Conflict, viewer: str, resolution: Resolution) -> ConflictDetail:
    """What ``viewer`` is told of ``conflict``'s detail when it may not see the other side:
    the masked detail recorded for it, else (a conflict recorded before masked details were)
    the stored one :func:`coarsened` to ``resolution``."""
    masked = conflict.masked_for(viewer)
    return masked if masked is not None else coarsened(conflict.detail, resolution)


def longest_step(agreements: Iterable[Agreement]) -> float:
    """The coarsest time step any of ``agreements`` (or the default) tells at: at most that
    long after it was resolved may a conflict still be shown open (:func:`seen_conflict`)."""
    return max([Resolution().time_s, *(ag.resolution.time_s for ag in agreements)])


def change_cutoff(
    conflict: Conflict, viewer: str, sight_of: Sight, resolution: Resolution
) -> float:
    """Until when a change that clears ``conflict`` is told to ``viewer`` as it happens (and
    shown at its time): its window's end for a viewer that sees the other side's owner whole;
    else one time step of the ``resolution`` before the end of its window as told (the masked
    one). That is never after the true end, and depends on the hidden volume only through its
    envelope: a change after it is told to no one, and the conflict shown over when its window
    as told has passed, whether or not it truly held until then (security.md §3.6). Not
    before the window's start, so a change before a short conflict began is told; unless the
    two parties' volumes may conflict across a time gap (a time minimum above zero): the
    hidden volume may then end before the viewer's starts, and its end was shown to the
    tick."""
    other = conflict.other_side(viewer)
    if other is None or sight_of.sees_whole(other.party):
        return conflict.detail.end_s
    told = told_detail(conflict, viewer, resolution)
    if other.party in sight_of.gapped:
        return told.end_s - resolution.time_s
    return max(told.start_s, told.end_s - resolution.time_s)


def seen_conflict(
    conflict: Conflict, viewer: str, sight_of: Sight, resolution: Resolution, now_s: float
) -> Conflict:
    """``conflict`` as ``viewer``, one of its parties, is shown it at ``now_s``. With the other
    side's owner seen whole, as it is. Otherwise it is over (resolved) once its window as the
    viewer would be told it at the agreement's ``resolution`` has passed (the masked detail:
    never before the true one), unless a change cleared it before :func:`change_cutoff`, which
    is shown when it happened. A conflict stays open until a change clears it or a notice
    ends, and the end of the other party's notice, the last of all its volumes, told the
    viewer the timing of volumes it may not see (security.md §3.6)."""
    other = conflict.other_side(viewer)
    if other is None or sight_of.sees_whole(other.party):
        return conflict
    resolved = conflict.resolved_at_s
    if resolved is not None and resolved < change_cutoff(conflict, viewer, sight_of, resolution):
        return conflict  # cleared by a change while it held: told when it happened
    over = shown_over_at(conflict, viewer, resolution)
    if now_s >= over:
        return replace(conflict, state=ConflictState.RESOLVED, resolved_at_s=over)
    return replace(conflict, state=ConflictState.OPEN, resolved_at_s=None)


def resolution_told(agreements: Sequence[Agreement], conflict: Conflict, viewer: str) -> bool:
    """Whether ``viewer``, a party of ``conflict``, is told its resolution as it happened: it
    sees the other side whole, or a change cleared the conflict before :func:`change_cutoff`.
    Otherwise it is shown over when its window as told passes (:func:`seen_conflict`), and the
    store's resolution, at the end of the other party's notice, maybe at a volume the viewer
    may not see, is not the viewer's to read."""
    if conflict.resolved_at_s is None:
        return False
    other = conflict.other_side(viewer)
    sight_of = sight(agreements, viewer)
    if other is None or sight_of.sees_whole(other.party):
        return True
    resolution = resolution_for(agreements, viewer, other.party)
    return conflict.resolved_at_s < change_cutoff(conflict, viewer, sight_of, resolution)


def shown_over_at(conflict: Conflict, viewer: str, resolution: Resolution) -> float:
    """When ``conflict`` is shown over to ``viewer``, one of its parties that may not see the
    other side, unless a change cleared it before (:func:`seen_conflict`): once its window as
    told has passed, never before it was detected."""
    told = told_detail(conflict, viewer, resolution)
    return max(told.end_s, conflict.detected_at_s)


def resolution_for(agreements: Iterable[Agreement], a: str, b: str) -> Resolution:
    """The coarsest resolution of the agreements linking ``a`` and ``b`` (the default's when
    none does): what is hidden is told no finer than any of them allows."""
    found: Resolution | None = None
    for ag in agreements:
        if ag.links(a, b):
            found = ag.resolution if found is None else found.coarsest(ag.resolution)
    return found if found is not None else Resolution()


def _down(value: float, step: float) -> float:
    return math.floor(value / step) * step


def _up(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def envelope(volume: Volume4D, resolution: Resolution) -> Volume4D:
    """``volume`` with its window and band rounded outward to ``resolution``: it contains the
    volume, and its bounds say nothing finer than the resolution."""
    window, band = volume.window, volume.altitude
    start, end = _down(window.start_s, resolution.time_s), _up(window.end_s, resolution.time_s)
    lower, upper = (
        _down(band.lower_m, resolution.vertical_m),
        _up(band.upper_m, resolution.vertical_m),
    )
    return volume.with_window(TimeWindow(start, end)).with_altitude(AltitudeBand(lower, upper))


def masked_detail(mine: Volume4D, theirs: Volume4D, resolution: Resolution) -> ConflictDetail:
    """What a party may be told of its volume ``mine``'s conflict with a volume it may not see:
    the detail against the other's envelope (the window, gaps and lead time then depend on the
    other volume only through whole steps, however the party moves its own volume to probe),
    the horizontal distance rounded down to a step."""
    detail = describe(mine, envelope(theirs, resolution))
    return ConflictDetail(
        detail.start_s,
        detail.end_s,
        detail.time_gap_s,
        detail.vertical_gap_m,
        _down(detail.horizontal_m, resolution.horizontal_m),
    )


def coarsened(detail: ConflictDetail, resolution: Resolution) -> ConflictDetail:
    """A stored detail told at ``resolution`` when the volumes behind it are not at hand (a
    conflict recorded before masked details were): the overlap widened to whole steps, the
    gaps rounded down."""
    return ConflictDetail(
        _down(detail.start_s, resolution.time_s),
        _up(detail.end_s, resolution.time_s),
        _down(detail.time_gap_s, resolution.time_s),
        _down(detail.vertical_gap_m, resolution.vertical_m),
        _down(detail.horizontal_m, resolution.horizontal_m),
    )


def sees_other_side(agreements: Sequence[Agreement], conflict: Conflict, viewer: str) -> bool:
    """Whether ``viewer``, a party of ``conflict``, may see the other side's volume: a notice
    its agreements disclose whole, or under "conflicts-only" one its own side unlocks (a plan
    on the other side is never seen)."""
    other = conflict.other_side(viewer)
    if other is None or other.kind is not RecordKind.NOTICE:
        return False
    level = disclosure(agreements, other.party, viewer)
    if level is Disclosure.FULL:
        return True
    return level is Disclosure.CONFLICTS_ONLY and conflict.unlocks(viewer)


def relay_told_start(agreements: Sequence[Agreement], conflict: Conflict, relay: str) -> float:
    """The start of ``conflict`` as ``relay``, the relay of its two parties, may be told it (a
    relayed notification's lead time counts from it). The relay sees each side as the other
    side's party does under the agreements it relays: exactly where each sees the other whole,
    else the start rounded down to the time step of the agreements linking them, which depends
    on a hidden volume only through its envelope. (The relay read the recipient's lead time,
    from the true start: the start of a volume neither it nor the other party may see, to the
    second; a twelfth reader.)"""
    a, b = conflict.a.party, conflict.b.party
    start = conflict.detail.start_s
    relayed = relayed_by(agreements, relay)
    if sees_other_side(relayed, conflict, a) and sees_other_side(relayed, conflict, b):
        return start
    return _down(start, resolution_for(agreements, a, b).time_s)


def relay_change_cutoff(
    agreements: Sequence[Agreement], conflict: Conflict, viewer: str, relay: str
) -> float:
    """Until when a change that clears ``conflict`` may be told to ``viewer`` through ``relay``:
    its :func:`change_cutoff` as the relay sees the viewer's side, under the agreements it
    relays alone. The viewer may see more (it may relay another agreement itself), so be told
    later; told through the relay, the relay read that the hidden volume still held past the
    step it may be told (a thirty-first reader)."""
    other = conflict.other_side(viewer)
    resolution = resolution_for(agreements, viewer, other.party if other else viewer)
    return change_cutoff(conflict, viewer, sight(relayed_by(agreements, relay), viewer), resolution)
