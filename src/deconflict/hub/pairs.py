"""A record's conflicts by the pair of volumes they hold, and which of them a pair of records lists.

A conflict joins one volume of a record to one volume of another party's record, so two records
of up to ``ranges.MAX_VOLUMES`` (1,000) volumes each, met in one place, made up to a million
conflicts: each detected, written, told and kept in the ledger. One party's filing over
another's record held every other party's writes for as long (100 volumes over 100: 10,000
conflicts, 2.8 s of the detector's pass and its commit; security.md §4.2), and a party could
do it again with each amendment of its own record.

So a pair of records lists, of the pairs of volumes that meet (their windows not yet over):

- for each volume of either record, the pair that starts first and the pair that ends last
  (the same pair, as a rule): each party is told every volume of its own that meets the other
  record, and from when to when it does;
- then those listed already, then the earliest others, up to :data:`PAIRS_LISTED` in all.

The open conflicts a record holds already count; one carried over from an earlier version of
its own that is none of these any more is listed no more (resolved, untold: the new listing
tells it all). The pairs beyond are neither described nor written, and the conflicts a change
lists of a pair of records that meets in more pairs say so (``Conflict.more_pairs``). A
change that clears the listed pairs (an amendment moving those volumes) lists the next. After
a change, a pair of records lists the larger of twice the two records' volumes and
:data:`PAIRS_LISTED`, at most, and what it held at the same versions (a notice's start, which
keeps its version, may list a volume's new first once its first has passed).

What is listed is chosen by the pairs' windows and the volumes' places in their records, never
by the order the index finds them in, which every live volume shapes (a party's private plan
nearby changed which pairs another was shown: a forty-seventh reader). Listing the first pairs
found alone let a record's owner fill the room with pairs about to end, and leave another
party's volume that meets it later out of every listed conflict; listing one pair a volume let
it hide a volume's later meeting behind an earlier one (the same reader). A party learns no
more than before: it was told each of those conflicts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from deconflict.geo import Volume4D
from deconflict.model import Conflict, RecordKind, Side

__all__ = ["PAIRS_LISTED", "Candidate", "Held", "Pair", "Room", "by_pair"]

#: How many conflicts a pair of records lists, at least, when they meet in more pairs of volumes;
#: more where it takes more to list each volume's first and last (see the module).
PAIRS_LISTED = 100

Pair = tuple[str, RecordKind, str, str]  # a volume, the other's kind, record and volume
_Record = tuple[RecordKind, str]  # a kind and a record key


def by_pair(
    kind: RecordKind, record_key: str, conflicts: Iterable[Conflict]
) -> Iterator[tuple[Pair, Side, Conflict]]:
    """Each of a record's ``conflicts`` by the pair it holds (the record's volume, the other
    side's kind, record and volume), with the record's side. A notice and a plan of one party
    may share an id: a record is known by its kind."""
    for conflict in conflicts:
        a, b = conflict.a, conflict.b
        mine, theirs = (a, b) if (a.kind is kind and a.record_key == record_key) else (b, a)
        yield (mine.volume_id, theirs.kind, theirs.record_key, theirs.volume_id), mine, conflict


class Held(dict[Pair, Conflict]):
    """A record's open conflicts by the pair they hold, read when first asked for (most
    volumes checked again meet none)."""

    def __init__(self, read: Callable[[], dict[Pair, Conflict]]) -> None:
        super().__init__()
        self._read: Callable[[], dict[Pair, Conflict]] | None = read

    def pop(self, key: Pair, default: Conflict | None = None) -> Conflict | None:  # type: ignore[override]
        if self._read is not None:
            self.update(self._read())
            self._read = None
        return super().pop(key, default)


class Candidate(NamedTuple):
    """A pair of volumes that meet: the changed record's side (its ``place`` in the record) and
    volume, the other's, and the window in which both are up (``engine.describe``'s, from the
    windows alone); whether a conflict of theirs is told already, and the one the record held
    from an earlier version of its own (carried over: see :meth:`_Meeting.chosen`)."""

    place: int
    mine: Side
    volume: Volume4D
    other: Side
    theirs: Volume4D
    start_s: float
    end_s: float
    told: bool
    carried: Conflict | None

    @property
    def ids(self) -> tuple[str, str]:
        return (self.mine.volume_id, self.other.volume_id)

    @property
    def order(self) -> tuple[float, int, str]:
        """Earliest first; then by the volumes' places (never the order the index finds them)."""
        return (self.start_s, self.place, self.other.volume_id)


class _Meeting:
    """What one detection found of one pair of records: how many pairs meet, and the
    candidates to list: by volume of either record, the first to start and the last to end
    (one told already first, among equals); and the earliest, :data:`PAIRS_LISTED` at most.
    (A record of 1,000 volumes over another's meets in a million pairs: each costs a few
    comparisons here, and a candidate is made only for what may be listed.)"""

    __slots__ = ("earliest", "firsts", "lasts", "latest", "live", "told")

    def __init__(self) -> None:
        self.live = 0
        self.told: list[Candidate] = []  # the pairs met with a conflict told already
        self.firsts: dict[tuple[int, str], tuple[tuple[float, bool, int, str], Candidate]] = {}
        self.lasts: dict[tuple[int, str], tuple[tuple[float, bool, int, str], Candidate]] = {}
        self.earliest: list[tuple[tuple[float, int, str], Candidate]] = []
        self.latest: tuple[float, int, str] | None = None  # of the earliest, once trimmed

    def meet(
        self,
        made: Callable[[], Candidate],
        place: int,
        ids: tuple[str, str],
        window: tuple[float, float],
        told: bool,
    ) -> None:
        self.live += 1
        start_s, end_s = window
        new, theirs = not told, ids[1]
        first = (start_s, new, place, theirs)
        last = (-end_s, new, place, theirs)
        pair: Candidate | None = None
        if told:
            pair = made()
            self.told.append(pair)
        for volume in ((0, ids[0]), (1, theirs)):
            held = self.firsts.get(volume)
            if held is None or first < held[0]:
                pair = pair or made()
                self.firsts[volume] = (first, pair)
            held = self.lasts.get(volume)
            if held is None or last < held[0]:
                pair = pair or made()
                self.lasts[volume] = (last, pair)
        order = (start_s, place, theirs)
        if self.latest is None or order < self.latest:
            self.earliest.append((order, pair or made()))
            if len(self.earliest) >= 4 * PAIRS_LISTED:  # keep the earliest, in bounded memory
                self.earliest = heapq.nsmallest(PAIRS_LISTED, self.earliest, key=_first)
                self.latest = self.earliest[-1][0]

    def chosen(self) -> tuple[list[Candidate], list[Conflict], bool]:
        """The pairs to list that are not told already, earliest first; the conflicts carried
        over from an earlier version that are listed no more; and whether more pairs meet than
        the pair of records then lists.

        A conflict carried over (its volumes as they were) stays listed only if it is still a
        volume's first or last, or among the earliest: kept whatever became of them, the
        conflicts of a pair of records grew with each amendment that added a pair to list (an
        earlier first for each of another's volumes: 100 a time, 2,100 after 20; a
        forty-eighth reader). Those found by the same change (an agreement searched from each
        of its notices in turn) are listed as they are."""
        picked = {p.ids: p for p in self.told if p.carried is None}
        picked.update({p.ids: p for _, p in (*self.firsts.values(), *self.lasts.values())})
        # Then those listed already (a change of one volume re-lists only its own pairs), then
        # the earliest, while there is room.
        earliest = heapq.nsmallest(PAIRS_LISTED, self.earliest, key=_first)
        for pair in (*sorted(self.told, key=_order), *(pair for _, pair in earliest)):
            if len(picked) >= PAIRS_LISTED:
                break
            picked.setdefault(pair.ids, pair)
        listed = sorted((p for p in picked.values() if not p.told), key=_order)
        dropped = [p.carried for p in self.told if p.carried is not None and p.ids not in picked]
        return listed, dropped, self.live > len(picked)


def _first(item: tuple[tuple[float, int, str], Candidate]) -> tuple[float, int, str]:
    return item[0]


def _order(pair: Candidate) -> tuple[float, int, str]:
    return pair.order


class Room:
    """Which pairs of volumes one detection of a record lists, of each pair of records it meets
    (see the module): each pair met is told to it (:meth:`meet`), with whether a conflict of
    it is held (``held``: the record's open conflicts by the pair they hold) or was found
    already by the change (``found``, the same)."""

    def __init__(self, found: Iterable[Pair] = ()) -> None:
        self._found = set(found)
        self._meetings: dict[_Record, _Meeting] = {}

    def found(self, pair: Pair) -> bool:
        """Whether the change found a conflict of ``pair`` already."""
        return pair in self._found

    def meet(
        self,
        record: _Record,
        place: int,
        mine: tuple[Side, Volume4D],
        other: tuple[Side, Volume4D],
        window: tuple[float, float],
        told: bool,
        carried: Conflict | None = None,
    ) -> None:
        """Two volumes that meet in ``window``: ``mine``, at ``place`` in the changed record,
        and ``other``'s, of ``record`` (its kind and key); ``told``: a conflict of theirs is
        told already, ``carried`` if it is one of an earlier version of the changed record."""
        side, theirs = other
        meeting = self._meetings.get(record)
        if meeting is None:
            meeting = self._meetings[record] = _Meeting()

        def made() -> Candidate:
            return Candidate(place, mine[0], mine[1], side, theirs, *window, told, carried)

        meeting.meet(made, place, (mine[0].volume_id, side.volume_id), window, told)

    def chosen(self) -> tuple[list[tuple[Candidate, bool]], list[Conflict]]:
        """Each pair to list, with whether its pair of records meets in more pairs than it
        lists (a pair of records after another, in the order the records were first met); and
        the carried conflicts listed no more."""
        listed: list[tuple[Candidate, bool]] = []
        dropped: list[Conflict] = []
        for meeting in self._meetings.values():
            new, gone, more = meeting.chosen()
            listed += [(pair, more) for pair in new]
            dropped += gone
        return listed, dropped
