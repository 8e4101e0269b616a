"""The adjustments a party is suggested for its conflicts, worked out from what the store holds.

:mod:`deconflict.hub.suggestions` is the search, pure; this is what it is fed: the party's own
volume in each conflict as its record holds it now, and, once per other party, the search set
of what the party knows of that party's live notices (the volumes it may see, and the hidden
ones it is in an open conflict with). Read from the store, not from the detector's index: in a
hub process that is not the detector (see :class:`~deconflict.hub.worker.DetectorWorker`) that
index is as old as the process's last turn as leader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from deconflict import policy
from deconflict.errors import NotFound
from deconflict.geo import Volume4D
from deconflict.hub.clock import Clock
from deconflict.hub.sight import SightStore, open_conflicts, seen_notices
from deconflict.hub.suggestions import SearchSet, Suggestion, hidden_key, search_set, suggest
from deconflict.model import (
    Agreement,
    Conflict,
    Notice,
    NoticeState,
    Plan,
    RecordKind,
    Side,
)
from deconflict.policy import need_to_know
from deconflict.store import Plans

__all__ = ["Adjustments"]


class _Store(SightStore, Plans, Protocol):
    """What a suggestion reads: the conflicts, both sides' records, others' notices as seen."""


_LIVE_NOTICES = [state for state in NoticeState if state.live]


@dataclass(frozen=True, slots=True)
class _Met:
    """The other parties' notice volumes a party is shown an open conflict with: by party,
    (notice key, volume id, version) one a conflict; by the party's own volume (kind, record
    key, volume id) and the other party, the hidden keys of those it meets
    (:func:`~deconflict.hub.suggestions.hidden_key`)."""

    by_party: dict[str, list[tuple[str, str, int]]]
    by_volume: dict[tuple[RecordKind, str, str, str], set[str]]


class Adjustments:
    """Suggestions over one store and one clock; ``agreements`` reads the agreements as stored
    now (the Hub's list, updated in place)."""

    def __init__(
        self, store: _Store, clock: Clock, agreements: Callable[[], list[Agreement]]
    ) -> None:
        self._store = store
        self._clock = clock
        self._agreements = agreements

    def suggest(self, party: str, conflicts: Sequence[Conflict]) -> dict[str, Suggestion]:
        """The suggestion for each of ``party``'s ``conflicts`` (by id; none for a conflict
        whose volume was amended away before detection closed it). A list costs what it
        shows: the search set against each other party is built once, and conflicts of one
        volume against one party share one search (a party's many volumes meeting one of
        another's made a list of N conflicts cost N squared: found by a hostile probe)."""
        searches: dict[str, SearchSet] = {}
        # A notice and a plan of one party may share an id, so a record is known by its kind.
        found: dict[tuple[RecordKind, str, str, str], Suggestion | None] = {}
        # Each own record's volumes by id: found by scanning, a record of n volumes in as
        # many conflicts cost a list n squared steps.
        records: dict[tuple[RecordKind, str], dict[str, Volume4D]] = {}
        met: _Met | None = None
        out = {}
        for conflict in conflicts:
            mine, other = conflict.side_of(party), conflict.other_side(party)
            if mine is None or other is None:  # pragma: no cover - the party's own only
                raise NotFound(f"no conflict {conflict.id!r}")
            record = (mine.kind, mine.record_key)
            key = (*record, mine.volume_id, other.party)
            if key not in found:
                if record not in records:
                    records[record] = {v.id: v for v in self._own_record(mine).volumes}
                volume = records[record].get(mine.volume_id)
                if volume is not None and other.party not in searches:
                    if met is None:
                        met = self._met(party)
                    searches[other.party] = self._search_set(
                        party, other.party, met.by_party.get(other.party, [])
                    )
                found[key] = (
                    None
                    if volume is None
                    else suggest(
                        "",
                        mine.kind,
                        mine.record_id,
                        volume,
                        party,
                        searches[other.party],
                        self._clock.now(),
                        met.by_volume.get(key, set()) if met is not None else (),
                    )
                )
            suggestion = found[key]
            if suggestion is not None:
                out[conflict.id] = replace(suggestion, conflict_id=conflict.id)
        return out

    def _own_record(self, mine: Side) -> Notice | Plan:
        """The record of a party's own side of a conflict, as it is now."""
        if mine.kind is RecordKind.NOTICE:
            return self._store.get_notice(mine.record_key)
        return self._store.get_plan(mine.record_key)

    def _met(self, party: str) -> _Met:
        """The other parties' notice volumes ``party`` is shown an open conflict with: read
        once for a list, whatever the parties it meets. As it is shown them: one resolved in
        the store may still be shown open (``Hub.list_conflicts``) and is searched all the
        same, or its suggestion told whether the store had resolved it, that is whether the
        other's notice was still live (found by a second reader)."""
        met = _Met({}, {})
        for conflict in open_conflicts(self._store, party, self._agreements(), self._clock.now()):
            mine, theirs = conflict.side_of(party), conflict.other_side(party)
            if mine is None or theirs is None:  # pragma: no cover - the party's own only
                continue
            volume = (theirs.record_key, theirs.volume_id, theirs.version)
            met.by_party.setdefault(theirs.party, []).append(volume)
            own = (mine.kind, mine.record_key, mine.volume_id, theirs.party)
            met.by_volume.setdefault(own, set()).add(hidden_key(*volume))
        return met

    def _search_set(self, party: str, other: str, met: list[tuple[str, str, int]]) -> SearchSet:
        """What ``party`` knows of ``other``'s live notices, to search its adjustments
        against (:func:`~deconflict.hub.suggestions.search_set`), from the store (see the
        module docstring); ``met``: the hidden volumes of ``other`` it is in open conflict with."""
        agreements = self._agreements()
        sight = need_to_know.sight(agreements, party)
        # What it may see, found by the query that finds only that (each cut to the volumes it
        # may see), and the notices of the hidden volumes it meets, read by key: never all of
        # the other's live notices, whose number and cost would tell it how many it may not see.
        seen = seen_notices(
            self._store, sight, now_s=self._clock.now(), party=other, states=_LIVE_NOTICES
        )
        shown = {n.key: {v.id for v in n.volumes} for n in seen}
        minima = policy.minima_for(agreements, party, other)
        if minima is None:
            minima = policy.search_minima(agreements)
        resolution = need_to_know.resolution_for(agreements, party, other)
        return search_set(list(seen), shown, self._met_volumes(met, other), resolution, minima)

    def _met_volumes(
        self, met: list[tuple[str, str, int]], other: str
    ) -> list[tuple[str, str, int, Volume4D]]:
        """Each volume ``met`` names (notice key, volume id, version) as the conflict holds it,
        at that version: the notice as it is now told whether it changed or ended since (a
        volume moved or amended away, or a notice no longer live, moved the suggestion of a
        conflict still shown open; found by a second reader). Read at once, whatever their
        number (a list costs what it shows: security.md §4.2), one lookup a conflict of the
        volume it names alone: looked up once a notice and version, the reads told how the
        hidden volumes met are grouped in the other's notices (a twentieth reader), and read
        from the version's list, they cost what its hidden volumes number (a thirty-fifth)."""
        if not met:
            return []
        at = self._store.notice_volumes_at(met)
        return [
            (key, other, version, at[key, volume_id, version])
            for key, volume_id, version in sorted(set(met))
            if (key, volume_id, version) in at
        ]
