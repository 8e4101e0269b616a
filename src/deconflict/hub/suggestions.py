"""What a party is suggested to clear one of its conflicts: the smallest time shift of its own
volume (never into the past) and the nearest altitude band, searched against the other party's
live notices as the party may see them.

Pure: the Hub reads the conflict, the volume and the notices and calls :func:`suggest`. A
volume the party may not see is searched as its envelope at the agreement's resolution
(security.md §3.6), so a suggestion tells no more of a hidden volume than the conflict does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deconflict.engine import (
    Adjustment,
    Entry,
    SeparationMinima,
    nearest_altitude,
    smallest_time_shift,
)
from deconflict.geo import Volume4D
from deconflict.hub.detector import live_entries
from deconflict.model import Notice, RecordKind, Resolution
from deconflict.policy import need_to_know

__all__ = ["Suggestion", "suggest"]


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


def suggest(
    conflict_id: str,
    record_kind: RecordKind,
    record_id: str,
    volume: Volume4D,
    party: str,
    live: Sequence[Notice],
    shown: Mapping[str, set[str]],
    resolution: Resolution,
    minima: SeparationMinima,
    now_s: float,
) -> Suggestion:
    """The suggestion for ``party``'s ``volume``: against ``live`` (the other party's live
    notices), each volume as it is if its id is in ``shown[notice key]``, else its envelope at
    ``resolution``; ``minima`` the separation to keep; no time before ``now_s``."""
    index = live_entries(
        Entry(
            f"{n.key}/{v.id}",
            n.party,
            v if v.id in shown.get(n.key, ()) else need_to_know.envelope(v, resolution),
        )
        for n in live
        for v in n.volumes
    )
    return Suggestion(
        conflict_id=conflict_id,
        record_kind=record_kind,
        record_id=record_id,
        volume_id=volume.id,
        time=smallest_time_shift(index, volume, party, minima, earliest_start_s=now_s),
        altitude=nearest_altitude(index, volume, party, minima),
    )
