"""Map features: volumes and conflicts as the operations view draws them.

One builder for the served map (``GET /v1/map``) and the demo's report (``volumes.geojson`` and
the ``map.html`` that opens from disk), so the page finds the same properties in both: a volume's
party, kind, owner record, footprint kind, altitude band and window (RFC 3339 UTC, and as people
say it); a conflict's parties, volumes, window and lead time. Each caller adds what only it knows
(the hub's alert states and suggestions; the demo's told and cleared) as extra properties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deconflict.geo import Volume4D
from deconflict.geo.units import epoch_to_rfc3339
from deconflict.timefmt import format_lead, format_window
from deconflict.web.outline import outline_geometry

__all__ = ["Ring", "conflict_feature", "volume_feature"]

Ring = list[tuple[float, float]]


def volume_feature(
    volume: Volume4D,
    ring: Ring,
    *,
    feature_id: str,
    party: str,
    kind: str,
    owner: str,
    volume_id: str | None = None,
    **extra: object,
) -> dict[str, Any]:
    """``volume`` drawn as ``ring`` (its outline, computed by the hub), of ``party``'s record
    ``owner`` (a notice or a plan: ``kind``), shown as ``volume_id`` (by default its own id;
    the demo names an adjusted copy apart, "US-P1-1 v2")."""
    window = volume.window
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": outline_geometry(ring),
        "properties": {
            "id": volume.id if volume_id is None else volume_id,
            "party": party,
            "kind": kind,
            "owner": owner,
            "footprint": volume.footprint.kind,
            "lower_m": volume.altitude.lower_m,
            "upper_m": volume.altitude.upper_m,
            "start": epoch_to_rfc3339(window.start_s),
            "end": epoch_to_rfc3339(window.end_s),
            "window": format_window(window.start_s, window.end_s),
            **extra,
        },
    }


def conflict_feature(
    feature_id: str,
    rings: Sequence[Ring],
    *,
    parties: Sequence[str],
    volumes: Sequence[str | None],
    window: tuple[float, float],
    lead_time_s: float,
    **extra: object,
) -> dict[str, Any]:
    """A conflict drawn where its volumes meet: ``rings`` holds both outlines (their overlap, or
    the shortest line between them), one (the other side is not shown to the viewer: its own
    volume alone) or none (no geometry). ``window`` is the overlap in seconds, as the viewer
    may know it."""
    geometry = outline_geometry(*rings) if rings else None
    start_s, end_s = window
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": geometry,
        "properties": {
            "id": feature_id,
            "kind": "conflict",
            "parties": list(parties),
            "volumes": list(volumes),
            "start": epoch_to_rfc3339(start_s),
            "end": epoch_to_rfc3339(end_s),
            "window": format_window(start_s, end_s),
            "lead_time_s": lead_time_s,
            "lead_time": format_lead(lead_time_s),
            **extra,
        },
    }
