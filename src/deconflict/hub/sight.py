"""The notices a viewer may see, read from the store as its sight (``policy.need_to_know``)
shows them: the store finds only the notices the viewer may see some of, and each is shown as
the viewer may see it (under "conflicts-only", the volumes its open conflicts unlock, read at
once, and the notice told by those alone).
The Hub's reads of others' notices all come through :func:`seen_notices`; which conflicts a
party sees, through :func:`sees_conflict`; how it is shown them, through
:func:`shown_conflicts`, and which are open, through :func:`open_conflicts`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from deconflict.model import Agreement, Conflict, ConflictState, Notice, NoticeState, RecordKind
from deconflict.model.ids import split_key
from deconflict.policy import need_to_know
from deconflict.store import Conflicts, Notices, Seen

__all__ = [
    "SeenPage",
    "SightStore",
    "open_conflicts",
    "seen_notices",
    "sees_conflict",
    "shown_conflicts",
]


class SightStore(Notices, Conflicts, Protocol):
    """What a sight reads: the notices, and the open conflicts that unlock some of them."""


@dataclass(frozen=True, slots=True)
class SeenPage:
    """Notices a store read found (``read`` of them, the last at ``cursor``), as the viewer
    may see them (``shown``)."""

    shown: list[Notice]
    read: int
    cursor: tuple[float, str] | None

    def __iter__(self) -> Iterator[Notice]:
        return iter(self.shown)


def seen_notices(
    store: SightStore,
    sight: need_to_know.Sight,
    *,
    now_s: float,
    keys: Sequence[str] | None = None,
    party: str | None = None,
    states: Sequence[NoticeState] | None = None,
    active: tuple[float, float] | None = None,
    after: tuple[float, str] | None = None,
    limit: int | None = None,
) -> SeenPage:
    """The notices ``store`` finds that ``sight``'s viewer may see some of, as it is shown them
    at ``now_s`` (``need_to_know.seen_notice``: the open conflicts that unlock them read at
    once), in the order of what is shown (filing time, then key), after ``after`` in it.
    ``states`` and ``active`` are asked of what is shown: of a notice seen in part, its state,
    filing time and the windows of its visible volumes, never the whole notice's. The owners
    seen whole are paged by the store; the notices seen in part (a few: what the viewer's own
    records meet) are read every time, each with the volumes its unlocking conflicts name and
    none else (``Notices.notices_in_part``), and placed among them here."""
    # Of the keys asked, those of owners seen whole: looked up by a key another's, hidden
    # from the viewer, its row was found and dropped, and cost steps more than a missing one.
    whole_keys = None if keys is None else [k for k in keys if split_key(k)[0] in sight.full]
    whole = (
        store.list_notices(
            party,
            states,
            active=active,
            after=after,
            limit=limit,
            keys=whole_keys,
            seen=Seen(sight.full, {}),
        )
        if party is None or sight.sees_whole(party)
        else []
    )
    unlocks = {
        owner: frozenset((p, str(kind)) for p, kind in by)
        for owner, by in sight.unlocked_by.items()
        if by and party in (None, owner) and not sight.sees_whole(owner)
    }
    partly: list[Notice] = []
    about: dict[str, list[Conflict]] = {}
    if unlocks:
        # The conflicts that unlock a volume while it lasts, read whether or not one is found,
        # and the notices they unlock whatever their state, window and filing time (the whole
        # notice's tell of its hidden volumes): what the reads touch is what the viewer's own
        # conflicts unlock, asked of what it is shown here (security.md §3.5). All of them
        # whatever keys were asked: read only those asked, the reads of one named by a hidden
        # side (a notification's, a conflict's) told whether it was a notice seen in part (a
        # twentieth reader).
        wanted = set(keys) if keys is not None else None
        unlocking = store.unlocking_conflicts(Seen(sight.full, unlocks), now_s=now_s)
        for conflict, side in unlocking:
            about.setdefault(side.record_key, []).append(conflict)
        asked = [(side.record_key, side.volume_id, side.version) for _, side in unlocking]
        partly = [
            notice
            for notice in store.notices_in_part(asked).values()
            if wanted is None or notice.key in wanted
        ]
    shown_in_part = []
    for notice in partly:
        seen_as = need_to_know.seen_notice(sight, notice, about.get(notice.key, ()), now_s)
        if seen_as is None or (states is not None and seen_as.state not in states):
            continue
        if after is not None and (seen_as.filed_at_s, seen_as.key) <= after:
            continue
        if active is not None and not any(
            v.window.start_s < active[1] and v.window.end_s > active[0] for v in seen_as.volumes
        ):
            continue
        shown_in_part.append(seen_as)
    shown = whole  # in the store's order: filing time, then key in code points
    if shown_in_part:  # placed among them, in the same order
        shown = sorted([*whole, *shown_in_part], key=lambda n: (n.filed_at_s, n.key))[:limit]
    cursor = None if not shown else (shown[-1].filed_at_s, shown[-1].key)
    return SeenPage(shown, len(shown), cursor)


def sees_conflict(party: str, conflict: Conflict) -> bool:
    """A party sees a conflict it is in, unless its side is a notice meeting another's plan."""
    other = conflict.other_side(party)
    return other is not None and other.kind is RecordKind.NOTICE


def shown_conflicts(
    conflicts: Iterable[Conflict], party: str, agreements: Sequence[Agreement], now_s: float
) -> list[Conflict]:
    """Each of ``party``'s ``conflicts`` as it is shown them at ``now_s`` under ``agreements``
    (``need_to_know.seen_conflict``: over once its window as told has passed, when the other
    side's owner is not seen whole)."""
    sight = need_to_know.sight(agreements, party)
    shown = []
    for conflict in conflicts:
        other = conflict.other_side(party)
        owner = other.party if other is not None else party
        resolution = need_to_know.resolution_for(agreements, party, owner)
        shown.append(need_to_know.seen_conflict(conflict, party, sight, resolution, now_s))
    return shown


def open_conflicts(
    store: Conflicts, party: str, agreements: Sequence[Agreement], now_s: float
) -> list[Conflict]:
    """``party``'s conflicts shown open to it at ``now_s``, in detection order. Read by what
    it is told: those it is told open past ``now_s`` (``Conflict.told_until``), and those
    the store keeps open whose other side's owner it sees whole (shown as the store keeps
    them); never one whose window as told has passed and whose other side it may not see
    whole, so the read tells nothing of the hidden volume's end (security.md §3.5), and
    its cost grows with the conflicts open, not with the party's history (§4.2)."""
    whole = need_to_know.sight(agreements, party).full
    found = {c.id: c for c in store.told_conflicts(party, after_s=now_s)}
    found.update((c.id, c) for c in store.open_conflicts_with(party, whole))
    ordered = sorted(found.values(), key=lambda c: (c.detected_at_s, c.id))
    shown = shown_conflicts(ordered, party, agreements, now_s)
    return [c for c in shown if c.state is ConflictState.OPEN]
