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
- then the earliest others, up to :data:`PAIRS_LISTED` in all.

The open conflicts a record holds already count, and are listed again only by a change; the
pairs beyond are neither described nor written, and the conflicts a change lists of a pair of
records that meets in more pairs say so (``Conflict.more_pairs``). A change that clears the
listed pairs (an amendment moving those volumes) lists the next. A pair of records lists at
most twice the two records' volumes and :data:`PAIRS_LISTED` more.

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
    windows alone), and whether a conflict of theirs is told already."""

    place: int
    mine: Side
    volume: Volume4D
    other: Side
    theirs: Volume4D
    start_s: float
    end_s: float
    told: bool

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
        self.told = 0  # of those, the pairs with a conflict told already
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
        self.told += told
        start_s, end_s = window
        new, theirs = not told, ids[1]
        first = (start_s, new, place, theirs)
        last = (-end_s, new, place, theirs)
        pair: Candidate | None = None
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

    def chosen(self) -> tuple[list[Candidate], bool]:
        """The pairs to list that are not told already, earliest first; and whether more pairs
        meet than the pair of records then lists."""
        ends = (*self.firsts.values(), *self.lasts.values())
        new = {(p.mine.volume_id, p.other.volume_id): p for _, p in ends if not p.told}
        for _, pair in heapq.nsmallest(PAIRS_LISTED, self.earliest, key=_first):
            if self.told + len(new) >= PAIRS_LISTED:
                break
            if not pair.told:
                new.setdefault((pair.mine.volume_id, pair.other.volume_id), pair)
        listed = sorted(new.values(), key=_order)
        return listed, self.live > len(listed) + self.told


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
        self._found = {(mine, kind, key, theirs) for mine, kind, key, theirs in found}
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
    ) -> None:
        """Two volumes that meet in ``window``: ``mine``, at ``place`` in the changed record,
        and ``other``'s, of ``record`` (its kind and key)."""
        side, theirs = other
        meeting = self._meetings.get(record)
        if meeting is None:
            meeting = self._meetings[record] = _Meeting()

        def made() -> Candidate:
            return Candidate(place, mine[0], mine[1], side, theirs, *window, told)

        meeting.meet(made, place, (mine[0].volume_id, side.volume_id), window, told)

    def chosen(self) -> Iterator[tuple[Candidate, bool]]:
        """Each pair to list, and whether its pair of records meets in more pairs than it
        lists: a pair of records after another, in the order the records were first met."""
        for meeting in self._meetings.values():
            listed, more = meeting.chosen()
            for pair in listed:
                yield pair, more
