"""What a party is suggested to clear one of its conflicts: the smallest time shift of its own
volume (never into the past) and the nearest altitude band, searched against what the party
knows of the other party's live notices.

Pure: the Hub reads the notices and calls :func:`search_set` once per other party, then
:func:`suggest` for each volume. What the party knows: the volumes it may see, as they are, and
the hidden volumes it is in an open conflict with, each as its envelope at the agreement's
resolution (security.md §3.6), which the conflict told it of already; a volume's suggestion is
searched against the hidden ones that volume meets, not those another of the party's volumes
meets. A hidden volume searched that the volume does not meet moved the suggestion by where it
lies, which no conflict told: one the party meets nowhere told it that it exists and roughly
where (found by a hostile probe); one its other volume meets, whether it lies within the
minimum of this one's shifts (a twentieth reader). An adjustment that meets such a volume is a
conflict like any other once made, told to both parties.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from deconflict.engine import (
    Adjustment,
    Entry,
    SeparationMinima,
    VolumeIndex,
    nearest_altitude,
    smallest_time_shift,
)
from deconflict.geo import Volume4D
from deconflict.model import Notice, RecordKind, Resolution
from deconflict.policy import need_to_know

__all__ = ["SearchSet", "Suggestion", "hidden_key", "search_set", "suggest"]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Ways for ``party`` to clear one conflict by changing its own volume ``volume_id`` of
    ``record``: a time shift and/or another altitude band (None where none is found)."""

    conflict_id: str
    record_kind: RecordKind
    record_id: str
    volume_id: str
    time: Adjustment | None
    altitude: Adjustment | None


@dataclass(frozen=True, slots=True)
class SearchSet:
    """What one party's suggestions against one other party are searched against: the index
    of what it knows of that party's live notices, and the separation to keep."""

    index: VolumeIndex
    minima: SeparationMinima
    #: The keys of the hidden volumes' envelopes in ``index`` (:func:`hidden_key`).
    hidden: frozenset[str] = frozenset()


def hidden_key(notice_key: str, volume_id: str, version: int) -> str:
    """A hidden volume's key in a search set: the volume as a conflict holds it, at that
    version of its notice."""
    return f"{notice_key}/{volume_id}@{version}"


def search_set(
    live: Sequence[Notice],
    shown: Mapping[str, set[str]],
    met: Sequence[tuple[str, str, int, Volume4D]],
    resolution: Resolution,
    minima: SeparationMinima,
) -> SearchSet:
    """The search set over ``live`` (the other party's live notices): each volume as it is if
    its id is in ``shown[notice key]``; and each of ``met`` (notice key, party, version,
    volume: a hidden volume the party is shown an open conflict with, as that conflict holds
    it, at that version; one volume may be met at two) that is not shown, as its envelope at
    ``resolution``."""
    entries = [
        Entry(f"{n.key}/{v.id}", n.party, v)
        for n in live
        for v in n.volumes
        if v.id in shown.get(n.key, ())
    ]
    visible = {entry.key for entry in entries}
    hidden = [
        Entry(hidden_key(key, v.id, version), party, need_to_know.envelope(v, resolution))
        for key, party, version, v in met
        if f"{key}/{v.id}" not in visible
    ]
    index = VolumeIndex([*entries, *hidden])  # a fresh one, of these alone
    return SearchSet(index, minima, frozenset(entry.key for entry in hidden))


def suggest(
    conflict_id: str,
    record_kind: RecordKind,
    record_id: str,
    volume: Volume4D,
    party: str,
    against: SearchSet,
    now_s: float,
    meets: Collection[str] = (),
) -> Suggestion:
    """The suggestion for ``party``'s ``volume`` of one conflict, searched ``against`` what it
    may see of the other party's notices and the hidden volumes ``meets`` names
    (:func:`hidden_key`: those the volume is in an open conflict with); no time before
    ``now_s``."""

    def among(entry: Entry) -> bool:
        return entry.key not in against.hidden or entry.key in meets

    return Suggestion(
        conflict_id=conflict_id,
        record_kind=record_kind,
        record_id=record_id,
        volume_id=volume.id,
        time=smallest_time_shift(
            against.index, volume, party, against.minima, earliest_start_s=now_s, among=among
        ),
        altitude=nearest_altitude(against.index, volume, party, against.minima, among=among),
    )
