"""``GET /v1/map``: what the caller may see, as GeoJSON the operations view draws.

One FeatureCollection: a feature per volume of the caller's own notices and plans and of the
others' notices as its agreements disclose them (the hub decides, as for ``/v1/notices``), each
outline computed by the hub (circles and corridors as geodesic polygons); then a feature per
conflict of the caller's (where the two volumes meet, or only its own volume when the other side
is not disclosed). Times are RFC 3339 UTC, with strings for people beside them (windows, lead
times, adjustments), so the browser and the demo's map.html say them as the CLI does.

The hub thread only reads what is drawn; the drawing (outlines, where two volumes meet) runs on
the pool for heavy work (:mod:`deconflict.api.heavy`), since for large footprints it costs
seconds (on main, two valid 10,000-vertex stars made one map take 50-80 s on the hub thread,
holding every party's requests). Where two outlines meet is drawn only within the exact stage's
budget (:func:`deconflict.web.outline.outline_geometry`); beyond it, the caller's own volume
stands for the conflict's area, as when the other side is not disclosed (security.md §4.2).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from deconflict.api.auth import Scope
from deconflict.api.edge import EdgeRoute
from deconflict.api.outcomes import conflict_views
from deconflict.api.problems import InvalidField
from deconflict.api.schemas import ConflictOut, SideOut
from deconflict.api.service import Caller, need, service
from deconflict.geo import Volume4D
from deconflict.geo.units import epoch_to_rfc3339, parse_rfc3339
from deconflict.hub import Hub
from deconflict.hub.views import seen_details
from deconflict.model import Conflict, Notice, NoticeState, Plan
from deconflict.web.features import Ring, conflict_feature, volume_feature

__all__ = ["router"]

#: How much earlier than its history a map's ``start`` may be (a client's clock, a start
#: worked out a moment before the hub read its own).
_GRACE_S = 60.0

router = APIRouter(prefix="/v1", route_class=EdgeRoute)


def _suggestion(out: ConflictOut) -> list[str]:
    if out.suggestion is None:
        return []
    s = out.suggestion
    return [f"{s.record_id}: {a.description}" for a in (s.time, s.altitude) if a is not None]


def _alerts(
    hub: Hub, party: str, conflicts: list[Conflict], notices: list[Notice]
) -> dict[tuple[str, ...], dict[str, str]]:
    """The caller's own alerts about what the map draws, by what they are about,
    ``("conflict", id)`` or ``("notice", party, id)``: the latest notification's id and
    state, so the map can mark what is acknowledged or escalated. Only those addressed to the
    caller (one relayed through it is the recipient's to acknowledge), found by what they are
    about: the caller's every notification read, another party grew the cost of every map it
    drew for good (a twentieth reader, security.md §4.2)."""
    alerts: dict[tuple[str, ...], dict[str, str]] = {}
    latest = hub.latest_notifications(
        party, [c.id for c in conflicts], [n.key for n in notices if n.party != party]
    )
    for n in latest:  # one a conflict or notice
        about = (
            ("conflict", n.conflict_id)
            if n.conflict_id
            else ("notice", n.notice_party or "", n.notice_id or "")
        )
        alerts[about] = {"alert": str(n.state), "notification": n.id}
    return alerts


def _notice_properties(notice: Notice, alert: dict[str, str]) -> dict[str, Any]:
    return {
        "category": notice.category,
        "state": str(notice.state),
        "alert": alert.get("alert"),
        "notification": alert.get("notification"),
    }


def _conflict_feature(
    out: ConflictOut,
    window: tuple[float, float],
    ring: Callable[[SideOut], Ring | None],
    alert: dict[str, str],
) -> dict[str, Any]:
    """A conflict as the map draws it; ``window`` is its overlap (seconds) as the caller may
    know it, which ``out`` gives as text."""
    mine, theirs = ring(out.mine), ring(out.theirs)
    rings = [r for r in (mine, theirs) if r is not None] if mine is not None else []
    return conflict_feature(
        out.id,
        rings,
        parties=[out.mine.party, out.theirs.party],
        volumes=[out.mine.volume_id, out.theirs.volume_id],
        window=window,
        lead_time_s=out.lead_time_s,
        state=out.state,
        records=[out.mine.record_id, out.theirs.record_id],
        suggestion=_suggestion(out),
        more_pairs=out.more_pairs,
        alert=alert.get("alert"),
        notification=alert.get("notification"),
    )


def _bound(text: str | None, name: str, default: float) -> float:
    if text is None:
        return default
    try:
        return parse_rfc3339(text)
    except ValueError as error:
        raise InvalidField(f"query:{name}", str(error)) from None


@router.get("/map", tags=["map"], summary="The caller's picture as GeoJSON, for the map")
async def map_view(
    request: Request,
    principal: Caller,
    start: Annotated[str | None, Query(description="Only what is active after (RFC 3339).")] = None,
    end: Annotated[str | None, Query(description="Only what is active before (RFC 3339).")] = None,
) -> dict[str, Any]:
    """Volumes the caller may see (its notices and plans, others' notices as disclosed) with
    outlines computed by the hub, then its conflicts; ``now`` is the hub's clock. Only the
    notices and plans active within ``start``..``end`` are read whole. The map reaches back
    the hub's ``map-history-days`` (a day), and no further (older activity is the paged lists'):
    without ``start``, every notice the caller may see was read, and every current plan of its
    own and every conflict it was told of, whatever their age, on the reader all parties share;
    and a window in the past, however short, read all that ended after its start, as the
    records are found by their end (security.md §4.2)."""
    need(principal, Scope.READ)
    svc = service(request)
    history_s = svc.map_history_s
    low = _bound(start, "start", float("-inf"))
    high = _bound(end, "end", float("inf"))
    if high <= low:
        raise InvalidField("query:end", "end must be after start")
    party = principal.party

    def read(hub: Hub) -> tuple[list[Callable[[], dict[str, Any]]], str]:
        """On the hub thread: what is drawn, as the functions that draw it."""
        now = hub.clock.now()
        since = now - history_s if history_s > 0 else float("-inf")
        start_s = since if start is None else low
        if start_s < since - _GRACE_S:
            days = history_s / 86_400
            raise InvalidField(
                "query:start",
                f"the map reaches back {days:g} day{'' if days == 1 else 's'} (the hub's"
                " map-history-days); older activity: GET /v1/notices?start=",
            )
        if high <= start_s:
            raise InvalidField("query:end", "end must be after start")
        asked = None if start_s == float("-inf") and end is None else (start_s, high)
        notices = [
            n for n in hub.list_notices(party, active=asked) if n.state is not NoticeState.CANCELLED
        ]
        drawn = []
        # Those whose window as told ends after the map's start (the told window holds the
        # shown one: never all the party was ever shown), as the party may see them: with a
        # hidden other side, its window at the agreement's resolution, also for what the
        # query's window keeps (security.md §3.6).
        conflicts = hub.conflicts_told_after(party, start_s)
        for conflict, detail in zip(conflicts, seen_details(hub, party, conflicts), strict=True):
            if detail.start_s < high and detail.end_s > start_s:
                drawn.append((conflict, (detail.start_s, detail.end_s)))
        alerts = _alerts(hub, party, [conflict for conflict, _ in drawn], notices)
        # The current ones active in the window, read from its start on (a forty-third reader:
        # read whole, 10,000 plans held the shared reader 0.46 s for a map that drew none).
        plans = hub.list_plans(party, active=asked)
        # (record, kind, the properties its volumes carry beside the volume's own)
        records: list[tuple[Notice | Plan, str, dict[str, Any]]] = [
            (n, "notice", _notice_properties(n, alerts.get(("notice", n.party, n.id), {})))
            for n in notices
        ]
        records += [(p, "plan", {"category": "plan", "state": str(p.state)}) for p in plans]
        # A volume by whose record it is in: (party, kind, record id, volume id).
        Key = tuple[str, str, str, str]
        volumes: dict[Key, Volume4D] = {
            (r.party, kind, r.id, v.id): v for r, kind, _ in records for v in r.volumes
        }
        rings: dict[Key, Ring] = {}

        def outline(key: Key) -> Ring:
            """A volume's outline, computed once and only for what is drawn."""
            if key not in rings:
                rings[key] = volumes[key].footprint.outline()
            return rings[key]

        def ring(side: SideOut) -> Ring | None:
            """A conflict side's outline, or None for a volume the caller may not see."""
            key = (side.party, side.kind, side.record_id or "", side.volume_id or "")
            return outline(key) if key in volumes else None

        def draw_volume(
            v: Volume4D, record: Notice | Plan, kind: str, extra: dict[str, Any]
        ) -> dict[str, Any]:
            return volume_feature(
                v,
                outline((record.party, kind, record.id, v.id)),
                # ids are each party's (and record's) own
                feature_id=f"{kind}:{record.party}/{record.id}/{v.id}",
                party=record.party,
                kind=kind,
                owner=record.id,
                **extra,
            )

        features: list[Callable[[], dict[str, Any]]] = []
        for record, kind, extra in records:
            for v in record.volumes:
                if v.window.start_s < high and v.window.end_s > start_s:
                    features.append(partial(draw_volume, v, record, kind, extra))
        views = conflict_views(hub, party, [conflict for conflict, _ in drawn])
        for (conflict, window), view in zip(drawn, views, strict=True):
            alert = alerts.get(("conflict", conflict.id), {})
            features.append(partial(_conflict_feature, view, window, ring, alert))
        return features, epoch_to_rfc3339(now)

    drawing, now = await svc.runner.read(read, party=party)

    def draw() -> dict[str, Any]:
        """On the pool for heavy work: the features, drawn."""
        features = [each() for each in drawing]
        return {"type": "FeatureCollection", "party": party, "now": now, "features": features}

    return await svc.heavy.run(draw)
