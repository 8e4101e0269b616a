"""Routes for a party's own activity: notices (file, list, get, amend, cancel) and plans (add,
list, get, amend, withdraw).

A notice travels as a GeoJSON FeatureCollection of its volumes with ``category`` beside
``features``, a plan as one of its volumes; the ETag of either is its version, and an
amendment must name it in ``If-Match`` (412 when stale). What another party sees of a notice
is what the hub lets it see; a record it may not see is 404, exactly as one that does not
exist.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from deconflict.api.auth import Principal, Scope
from deconflict.api.edge import EdgeRoute, parse_if_match
from deconflict.api.heavy import is_light
from deconflict.api.nearby import Batch, area_of, filled_page, reaches
from deconflict.api.problems import ApiError, InvalidField
from deconflict.api.schemas import (
    NoticeIn,
    NoticeOut,
    NoticePatch,
    PlanIn,
    PlanOut,
    notice_out,
    plan_out,
)
from deconflict.api.service import (
    PAGED,
    Caller,
    caller,
    idempotent_post,
    json_body,
    lean_route,
    link_next,
    need,
    service,
)
from deconflict.errors import InvalidInput, NotFound, VersionConflict
from deconflict.geo import GeoLimits, Volume4D
from deconflict.geo.geojson import parse_feature_collection
from deconflict.geo.units import parse_rfc3339
from deconflict.hub import Hub
from deconflict.hub.views import own_notice
from deconflict.model import Notice, NoticeState, Plan
from deconflict.model.ids import check_id, is_id

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=EdgeRoute)


def volumes_from(
    features: Sequence[dict[str, Any]], party: str, limits: GeoLimits
) -> list[Volume4D]:
    """The volumes of a request's features; an error names the offending feature, and the
    property (``/features/0/properties/start``) or geometry at fault when it is known."""
    for i, f in enumerate(features):  # the id first: an error may quote it (security.md §3.2)
        properties = f.get("properties") if isinstance(f, dict) else None
        if isinstance(properties, dict) and not is_id(properties.get("id")):
            try:
                check_id(properties.get("id"), "a volume id")
            except InvalidInput as error:
                raise InvalidField(f"/features/{i}/properties/id", str(error)) from None
    document = {"type": "FeatureCollection", "features": list(features)}
    try:
        parsed = parse_feature_collection(document, limits, default_party=party)
    except InvalidInput as error:  # its field is where it is in the features (geo.geojson)
        raise InvalidField(error.field or "/features", str(error)) from None
    for i, item in enumerate(parsed):
        if item.party != party:
            raise InvalidField(
                f"/features/{i}/properties/party",
                f"volume {item.volume.id!r} belongs to party {item.party!r}, not {party!r}",
            )
    return [item.volume for item in parsed]


async def parsed_volumes(
    request: Request, features: Sequence[dict[str, Any]], party: str
) -> list[Volume4D]:
    """:func:`volumes_from`, on the service's pool for heavy work (security.md §4.2): a large
    footprint's validation holds neither the event loop nor the hub thread. A light one (a few
    positions close together, :func:`~deconflict.api.heavy.is_light`) is validated here: the
    hop to the pool and back would cost it more than the work."""
    limits = _limits(request)
    if is_light(features):
        return volumes_from(features, party, limits)
    return await service(request).heavy.run(lambda: volumes_from(features, party, limits))


def _limits(request: Request) -> GeoLimits:
    limits: GeoLimits = request.app.state.geo_limits
    return limits


def _etag(notice: Notice) -> dict[str, str]:
    location = f"/v1/notices/{notice.id}?party={notice.party}"  # ids are each party's own
    return {"ETag": f'"{notice.version}"', "Location": location}


def _if_match(value: str | None, what: str = "notice") -> int:
    if value is None:
        raise ApiError(428, f"an amendment needs If-Match with the {what}'s current ETag")
    return parse_if_match(value)


def _plan_etag(plan: Plan) -> dict[str, str]:
    return {"ETag": f'"{plan.version}"', "Location": f"/v1/plans/{plan.id}"}


async def _volumes_for_own(
    request: Request,
    principal: Principal,
    scope: Scope,
    own: Callable[[Hub, str, str], object],
    record_id: str,
    features: Sequence[dict[str, Any]] | None,
) -> list[Volume4D] | Exception | None:
    """The new volumes an amendment of the caller's record ``record_id`` gives (None: it gives
    none), parsed off the hub thread (:func:`parsed_volumes`); an error is returned, for the
    write to raise after its own checks of the record (a missing or hidden one is 404 whatever
    the body). Parsed only for a token with ``scope`` and a record the caller has (``own``
    finds it, NotFound otherwise: a read first): any other is refused by the write before the
    body matters, and must not keep the pool for heavy work busy (a forty-fourth reader)."""
    if features is None:
        return None
    not_read = VersionConflict("the record changed while the amendment was read; send it again")
    if not principal.has(scope):
        return not_read  # the write refuses the token first
    try:
        await service(request).runner.read(
            lambda hub: own(hub, principal.party, record_id), party=principal.party
        )
    except NotFound:
        return not_read  # the write refuses it first, unless the caller made it meanwhile
    try:
        return await parsed_volumes(request, features, principal.party)
    except Exception as error:  # raised in its turn, by the write
        return error


# notices ------------------------------------------------------------------------------------


@router.post(
    "/notices",
    status_code=201,
    response_model=NoticeOut,
    tags=["notices"],
    summary="File a notice (a late one is accepted and flagged)",
    openapi_extra=lean_route(NoticeIn),
)
async def file_notice(request: Request) -> JSONResponse:
    # The busiest route takes the request alone: the caller, body and header are read here.
    principal = caller(request)
    body = await json_body(request, NoticeIn)
    need(principal, Scope.NOTICE)
    volumes = await parsed_volumes(request, body.features, principal.party)

    def act(hub: Hub) -> tuple[int, Any, dict[str, str]]:
        filing = hub.file_notice(principal.party, volumes, body.category, body.id)
        return 201, partial(notice_out, filing.notice, filing), _etag(filing.notice)

    return await idempotent_post(request, principal, act, Scope.NOTICE, group=True)


def _window(start: str | None, end: str | None) -> tuple[float, float]:
    try:
        low = parse_rfc3339(start) if start is not None else float("-inf")
        high = parse_rfc3339(end) if end is not None else float("inf")
    except ValueError as error:
        raise InvalidField("query:start" if start else "query:end", str(error)) from None
    if high <= low:
        raise InvalidField("query:end", "end must be after start")
    return low, high


_PAGE = 1000  # notices in a page, at most


@router.get("/notices", response_model=list[NoticeOut], tags=["notices"], responses=PAGED)
async def list_notices(
    request: Request,
    response: Response,
    principal: Caller,
    state: Annotated[list[NoticeState] | None, Query()] = None,
    party: Annotated[str | None, Query(description="Only this party's notices.")] = None,
    start: Annotated[str | None, Query(description="Only notices active after (RFC 3339).")] = None,
    end: Annotated[str | None, Query(description="Only notices active before (RFC 3339).")] = None,
    near: Annotated[
        str | None,
        Query(description="Only notices with a volume within a circle: 'lon,lat,radius_m'."),
    ] = None,
    after: Annotated[
        str | None,
        Query(
            description="Only those filed after this notice (a page's last), as "
            "'<party>/<id>' (a notice's id is its party's own) or the caller's own notice's id; "
            "a next page's link gives it with the place it had, '<party>/<id>@<filed_at>', "
            "so the page resumes there even if the notice has since moved or gone."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=_PAGE, description="At most this many.")] = _PAGE,
) -> list[NoticeOut]:
    """The notices the caller may see, each with only the volumes it may see, in filing order,
    a page at a time: a full page carries ``Link: <...>; rel="next"``, the URL of the next."""
    need(principal, Scope.READ)
    low, high = _window(start, end)
    area = area_of(near)
    whole: set[str] = {principal.party}  # the owners the caller sees whole, as read

    # On the hub thread, over the volumes the caller sees, only what is cheap: near's exact
    # test runs on the pool (api/nearby.py), as on the hub thread it cost up to 0.5 s a volume.
    def cheap(notice: Notice) -> bool:
        return notice.start_s < high and notice.end_s > low

    def read(cursor: Notice | None, count: int) -> Callable[[Hub], list[Notice]]:
        """What the hub thread runs for ``count`` notices after ``cursor`` (None: the page's
        start, ``after``); a ``near`` page takes several."""

        def on_hub(hub: Hub) -> list[Notice]:
            found = hub.list_notices(
                principal.party,
                states=state or None,
                party=party,
                active=None if start is None and end is None else (low, high),
                keep=cheap,
                after=_resumed(hub, principal.party, after) if cursor is None else cursor,
                limit=count,
            )
            # Under the agreements the list was read by (a second read may see newer ones).
            whole.update(o for o in {n.party for n in found} if hub.sees_whole(principal.party, o))
            return found

        return on_hub

    def look(cursor: Notice | None, count: int) -> Callable[[Hub], Batch]:
        """What the hub thread runs for a ``near`` page: the next ``count`` notices after
        ``cursor`` looked at, those passing the cheap tests kept."""

        def on_hub(hub: Hub) -> Batch:
            seen = read(cursor, count)(hub)  # every notice, kept or not
            kept = [n for n in seen if area_cheap(n)]
            volumes = sum(len(n.volumes) for n in seen)
            last = seen[-1] if seen else None
            return Batch(kept, last, len(seen) < count, len(seen), volumes)

        return on_hub

    def area_cheap(notice: Notice) -> bool:
        return area is not None and any(reaches(v.footprint, area) for v in notice.volumes)

    svc = service(request)
    resume: Notice | None = None  # where a near page that ended short resumes
    if area is None:
        page = await svc.runner.read(read(None, limit), party=principal.party)
    else:
        page, resume = await filled_page(svc.runner, svc.heavy, look, area, limit, principal.party)
    if resume is not None:
        link_next(request, response, _place(resume), limit)
    elif len(page) == limit:
        link_next(request, response, _place(page[-1]), limit)
    return [notice_out(n, whole=n.party in whole) for n in page]


_PLACE_TIME = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?(e[+-]?[0-9]{1,3})?")  # a float's repr


def _place(notice: Notice) -> str:
    """Where a page ends, as its next page's ``after``: the last notice's key and filing time as
    the caller was shown it (``repr`` gives the float back exactly)."""
    return f"{notice.key}@{notice.filed_at_s!r}"


def _resumed(hub: Hub, viewer: str, after: str | None) -> Notice | tuple[float, str] | None:
    """Where a page starts: after the notice ``after`` names ('<party>/<id>' or the viewer's own
    id), as it is shown now; or at the place a previous page's link gave ('<party>/<id>@<time>'),
    read from nothing (a notice seen in part is placed by what is shown of it, which may move
    between pages, and may leave sight: resumed from a re-read, a page skipped notices)."""
    if after is None:
        return None
    if "@" in after:
        key, _, at = after.partition("@")
        owner, _, notice_id = key.partition("/")
        if not (is_id(owner) and is_id(notice_id) and _PLACE_TIME.fullmatch(at)):
            raise InvalidField("query:after", "not a page's place: '<party>/<id>@<time>'")
        filed_at_s = float(at)
        if not math.isfinite(filed_at_s):
            raise InvalidField("query:after", "not a page's place: '<party>/<id>@<time>'")
        return (filed_at_s, key)
    owner, _, notice_id = after.rpartition("/")
    try:
        return hub.get_notice(viewer, notice_id, party=owner or None)
    except NotFound:
        raise InvalidField("query:after", f"no notice {after!r} you may see") from None


@router.get("/notices/{notice_id}", response_model=NoticeOut, tags=["notices"])
async def get_notice(
    notice_id: str,
    request: Request,
    response: Response,
    principal: Caller,
    party: Annotated[
        str | None,
        Query(
            description="Whose notice: a notice's id is its party's own. Without it, the "
            "caller's own notice of that id, else the one notice of that id it may see (409 "
            "when it may see several)."
        ),
    ] = None,
) -> NoticeOut:
    """One notice as the caller may see it; its ETag is its version."""
    notice, whole = await service(request).runner.read(
        lambda hub: _seen(hub, principal.party, notice_id, party), party=principal.party
    )
    need(principal, Scope.READ)
    if whole:  # a version, and so an ETag, only of a notice seen whole (see NoticeOut)
        response.headers.update(_etag(notice))
    else:
        response.headers["Location"] = _etag(notice)["Location"]
    return notice_out(notice, whole=whole)


def _seen(hub: Hub, viewer: str, notice_id: str, party: str | None) -> tuple[Notice, bool]:
    notice = hub.get_notice(viewer, notice_id, party=party)
    return notice, notice.party == viewer or hub.sees_whole(viewer, notice.party)


async def _amend(
    request: Request,
    principal: Principal,
    notice_id: str,
    if_match: str | None,
    features: Sequence[dict[str, Any]] | None,
    category: str | None,
) -> JSONResponse:
    given = await _volumes_for_own(
        request, principal, Scope.NOTICE, own_notice, notice_id, features
    )

    def act(hub: Hub) -> Any:
        current = own_notice(hub, principal.party, notice_id)
        need(principal, Scope.NOTICE)
        version = _if_match(if_match)
        if isinstance(given, Exception):
            raise given
        volumes = current.volumes if given is None else given
        return hub.amend_notice(principal.party, notice_id, version, volumes, category)

    filing = await service(request).runner.run_write(act, party=principal.party)
    body = notice_out(filing.notice, filing).model_dump(mode="json")
    return JSONResponse(body, headers=_etag(filing.notice))


@router.put("/notices/{notice_id}", response_model=NoticeOut, tags=["notices"])
async def replace_notice(
    notice_id: str,
    body: NoticeIn,
    request: Request,
    principal: Caller,
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Amend a notice with new volumes and category; If-Match must carry its current ETag."""
    if body.id is not None and body.id != notice_id:
        raise InvalidField("/id", "the id in the body differs from the one in the path")
    return await _amend(request, principal, notice_id, if_match, body.features, body.category)


@router.patch("/notices/{notice_id}", response_model=NoticeOut, tags=["notices"])
async def patch_notice(
    notice_id: str,
    body: NoticePatch,
    request: Request,
    principal: Caller,
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Amend a notice's category and/or volumes; If-Match must carry its current ETag."""
    if body.category is None and body.features is None:
        raise InvalidInput("give a category or features to change")
    return await _amend(request, principal, notice_id, if_match, body.features, body.category)


@router.post("/notices/{notice_id}/cancel", response_model=NoticeOut, tags=["notices"])
async def cancel_notice(
    notice_id: str,
    request: Request,
    principal: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Cancel one of the caller's own notices."""

    def act(hub: Hub) -> tuple[int, Any, dict[str, str]]:
        own_notice(hub, principal.party, notice_id)
        need(principal, Scope.NOTICE)
        cancelled = hub.cancel_notice(principal.party, notice_id)
        return 200, notice_out(cancelled), _etag(cancelled)

    return await idempotent_post(request, principal, act, Scope.NOTICE)


# plans --------------------------------------------------------------------------------------


@router.post("/plans", status_code=201, response_model=PlanOut, tags=["plans"])
async def add_plan(
    body: PlanIn,
    request: Request,
    principal: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Add a private plan; it is checked against other parties' notices, never shown to them."""
    need(principal, Scope.PLAN)
    volumes = await parsed_volumes(request, body.features, principal.party)

    def act(hub: Hub) -> tuple[int, Any, dict[str, str]]:
        plan = hub.add_plan(principal.party, volumes, body.id)
        return 201, plan_out(plan), _plan_etag(plan)

    return await idempotent_post(request, principal, act, Scope.PLAN)


_PLANS_PAGE = 1000  # plans in a page, at most


@router.get("/plans", response_model=list[PlanOut], tags=["plans"], responses=PAGED)
async def list_plans(
    request: Request,
    response: Response,
    principal: Caller,
    after: Annotated[
        str | None, Query(description="Only those after this plan (the last one of a page).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=_PLANS_PAGE, description="At most this many.")] = (
        _PLANS_PAGE
    ),
) -> list[PlanOut]:
    """The caller's own current plans, oldest first (by creation time, then id), a page at a
    time: a full page carries ``Link: <...>; rel="next"``, the URL of the next."""
    need(principal, Scope.READ)
    if after is not None and not is_id(after):
        raise InvalidField("query:after", "not a plan's id")

    def read(hub: Hub) -> list[Plan]:
        try:
            return hub.list_plans(principal.party, after=after, limit=limit)
        except NotFound:
            raise InvalidField("query:after", f"no plan {after!r} of yours") from None

    plans = await service(request).runner.read(read, party=principal.party)
    if len(plans) == limit:
        link_next(request, response, plans[-1].id, limit)
    return [plan_out(p) for p in plans]


@router.get("/plans/{plan_id}", response_model=PlanOut, tags=["plans"])
async def get_plan(
    plan_id: str, request: Request, response: Response, principal: Caller
) -> PlanOut:
    """One of the caller's own plans (another party's is 404), with its version as ETag."""
    plan = await service(request).runner.read(
        lambda hub: hub.get_plan(principal.party, plan_id), party=principal.party
    )
    need(principal, Scope.READ)
    response.headers.update(_plan_etag(plan))
    return plan_out(plan)


@router.put("/plans/{plan_id}", response_model=PlanOut, tags=["plans"])
async def amend_plan(
    plan_id: str,
    body: PlanIn,
    request: Request,
    principal: Caller,
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Give one of the caller's own current plans new volumes (after a suggested adjustment,
    say); If-Match must carry its current ETag. Its conflicts are checked again."""
    if body.id is not None and body.id != plan_id:
        raise InvalidField("/id", "the id in the body differs from the one in the path")
    given = await _volumes_for_own(
        request, principal, Scope.PLAN, Hub.get_plan, plan_id, body.features
    )

    def act(hub: Hub) -> Plan:
        hub.get_plan(principal.party, plan_id)  # 404 first: another's is as a missing one
        need(principal, Scope.PLAN)
        version = _if_match(if_match, "plan")
        if isinstance(given, Exception):
            raise given
        return hub.amend_plan(principal.party, plan_id, version, given or ())

    plan = await service(request).runner.run_write(act, party=principal.party)
    return JSONResponse(plan_out(plan).model_dump(mode="json"), headers=_plan_etag(plan))


@router.post("/plans/{plan_id}/withdraw", response_model=PlanOut, tags=["plans"])
async def withdraw_plan(
    plan_id: str,
    request: Request,
    principal: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Withdraw one of the caller's own plans: its conflicts are resolved, and it is no longer
    listed or drawn."""

    def act(hub: Hub) -> tuple[int, Any, dict[str, str]]:
        hub.get_plan(principal.party, plan_id)  # 404 first: another's is as a missing one
        need(principal, Scope.PLAN)
        withdrawn = hub.withdraw_plan(principal.party, plan_id)
        return 200, plan_out(withdrawn), _plan_etag(withdrawn)

    return await idempotent_post(request, principal, act, Scope.PLAN)
