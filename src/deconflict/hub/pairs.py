"""A record's conflicts by the pair of volumes they hold, and how many a pair of records lists.

A conflict joins one volume of a record to one volume of another party's record, so two records
of up to ``ranges.MAX_VOLUMES`` (1,000) volumes each, met in one place, made up to a million
conflicts: each detected, written, told and kept in the ledger. One party's filing over
another's record held every other party's writes for as long (100 volumes over 100: 10,000
conflicts, 2.8 s of the detector's pass and its commit; security.md §4.2), and a party could
do it again with each amendment of its own record.

So a pair of records lists at most :data:`PAIRS_LISTED` conflicts, those found first (the
changed record's volumes in its order, each one's in the index's); the pairs met beyond them
are not written, and the conflicts the change lists of that pair say that more pairs meet than
are listed (``Conflict.more_pairs``). Safety of flight is kept: both parties are told that their
records meet, where and when (at the resolution their agreement sets), and that there is more;
a change that clears the listed pairs (an amendment moving those volumes) lists the next ones
it meets. A party learns no more than before: it was told each of those conflicts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping

from deconflict.model import Conflict, RecordKind, Side

__all__ = ["PAIRS_LISTED", "Held", "Pair", "Room", "by_pair"]

#: The most conflicts a pair of records lists (their open conflicts, whichever side changed).
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

    def _ensure(self) -> None:
        if self._read is not None:
            self.update(self._read())
            self._read = None

    def pop(self, key: Pair, default: Conflict | None = None) -> Conflict | None:  # type: ignore[override]
        self._ensure()
        return super().pop(key, default)

    def __iter__(self) -> Iterator[Pair]:
        self._ensure()
        return super().__iter__()


class Room:
    """What one detection of a record may still list of each pair of records: the record's
    open conflicts it holds (``held``, by the pair they hold, counted when first asked, before
    any is taken out of it) and those the change found already (``found``: the other record
    of each) count against :data:`PAIRS_LISTED`."""

    def __init__(self, held: Mapping[Pair, Conflict], found: Iterable[_Record] = ()) -> None:
        self._held = held
        self._found = found
        self._listed: Counter[_Record] | None = None
        self._more: set[_Record] = set()

    def count(self) -> None:
        """Count what is held: before the detection first takes a conflict out of it."""
        if self._listed is None:
            self._listed = Counter((kind, key) for _, kind, key, _ in self._held)
            self._listed.update(self._found)

    def more(self, other: Side) -> bool:
        """Whether the pair with ``other``'s record met more pairs than it lists (none taken
        any more: the rest is neither described nor written)."""
        return (other.kind, other.record_key) in self._more

    def take(self, other: Side) -> bool:
        """List one more conflict with ``other``'s record, if there is room; else remember that
        the pair meets in more pairs than it lists."""
        self.count()
        assert self._listed is not None
        record = (other.kind, other.record_key)
        if self._listed[record] >= PAIRS_LISTED:
            self._more.add(record)
            return False
        self._listed[record] += 1
        return True
