"""A record's conflicts by the pair of volumes they hold, and how many a pair of records lists.

A conflict joins one volume of a record to one volume of another party's record, so two records
of up to ``ranges.MAX_VOLUMES`` (1,000) volumes each, met in one place, made up to a million
conflicts: each detected, written, told and kept in the ledger. One party's filing over
another's record held every other party's writes for as long (100 volumes over 100: 10,000
conflicts, 2.8 s of the detector's pass and its commit; security.md §4.2), and a party could
do it again with each amendment of its own record.

So a pair of records lists a conflict for each volume of either record that meets the other
(the first pair found with it: the changed record's volumes in their order, each one's in the
index's), then any others up to :data:`PAIRS_LISTED`; the pairs met beyond them are neither
described nor written, and the conflicts the change lists of that pair say that more pairs meet
than are listed (``Conflict.more_pairs``). Safety of flight is kept: each party is told of every
volume of its own that meets the other's record, where and when (at the resolution their
agreement sets), and that more pairs meet; a change that clears the listed pairs (an amendment
moving those volumes) lists the next ones it meets. Listing the first pairs alone let a record's
owner fill the room with pairs about to end, and leave another party's volume meeting it later
out of every listed conflict. A pair of records lists at most the two records' volumes and
:data:`PAIRS_LISTED` more (2,100). A party learns no more than before: it was told each of
those conflicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from deconflict.model import Conflict, RecordKind, Side

__all__ = ["PAIRS_LISTED", "Held", "Pair", "Room", "by_pair"]

#: How many conflicts a pair of records lists, at least, when they meet in more pairs of volumes
#: (their open conflicts, whichever side changed); more where it takes more to list every volume.
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


class _Listed:
    """What a pair of records lists: how many conflicts, and the volumes of each side in one."""

    __slots__ = ("count", "mine", "theirs")

    def __init__(self) -> None:
        self.count = 0
        self.mine: set[str] = set()
        self.theirs: set[str] = set()

    def add(self, mine: str, theirs: str) -> None:
        self.count += 1
        self.mine.add(mine)
        self.theirs.add(theirs)


class Room:
    """What one detection of a record may still list of each pair of records it meets: a
    conflict for each volume of either side that is in none listed yet, then any up to
    :data:`PAIRS_LISTED`. What the record holds (``held``, by the pair of volumes, read when
    first asked, before any is taken out of it) and what the change found already (``found``,
    the same) count as listed."""

    def __init__(self, held: Mapping[Pair, Conflict], found: Iterable[Pair] = ()) -> None:
        self._held = held
        self._found = found
        self._listed: dict[_Record, _Listed] | None = None
        self._more: set[_Record] = set()

    def count(self) -> None:
        """Count what is held: before the detection first takes a conflict out of it."""
        if self._listed is None:
            self._listed = {}
            for held in (self._held, self._found):
                for mine, kind, key, theirs in held:
                    self._of((kind, key)).add(mine, theirs)

    def _of(self, record: _Record) -> _Listed:
        assert self._listed is not None
        listed = self._listed.get(record)
        if listed is None:
            listed = self._listed[record] = _Listed()
        return listed

    def wants(self, mine: Side, other: Side) -> bool:
        """Whether a conflict of ``mine`` with ``other`` would be listed: one of the two volumes
        is in none listed yet, or the pair of records has room. If not, the pair of records is
        remembered as meeting in more pairs than it lists; nothing more is asked of this one
        (it is neither described nor written)."""
        self.count()
        listed = self._of((other.kind, other.record_key))
        if (
            listed.count < PAIRS_LISTED
            or mine.volume_id not in listed.mine
            or other.volume_id not in listed.theirs
        ):
            return True
        self._more.add((other.kind, other.record_key))
        return False

    def take(self, mine: Side, other: Side) -> None:
        """List a conflict of ``mine`` with ``other`` (one :meth:`wants`)."""
        self._of((other.kind, other.record_key)).add(mine.volume_id, other.volume_id)

    def more(self, other: Side) -> bool:
        """Whether the pair with ``other``'s record met in more pairs than it lists."""
        return (other.kind, other.record_key) in self._more
