"""Routes for what the hub tells parties: conflicts (with the adjustment that clears them),
notifications and their acknowledgement, the event stream, and agreements and parties."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from deconflict.api.auth import Scope
from deconflict.api.edge import EdgeRoute, parse_event_id
from deconflict.api.problems import InvalidField
from deconflict.api.schemas import (
    AgreementIn,
    AgreementOut,
    ConflictOut,
    NotificationOut,
    PartyIn,
    agreement_out,
    conflict_out,
    notifications_seen,
)
from deconflict.api.service import (
    PAGED,
    Caller,
    Service,
    idempotent_post,
    link_next,
    need,
    service,
)
from deconflict.api.stream import event_stream
from deconflict.errors import InvalidInput, NotFound, StoreError
from deconflict.hub import Hub
from deconflict.hub.views import (
    find_notification,
    known_parties,
    own_notification,
    view_conflict,
    view_conflicts,
)
from deconflict.model import Conflict, Notification
from deconflict.model.agreement_document import agreement_from_document

__all__ = ["conflict_views", "router"]

log = logging.getLogger("deconflict.api")

router = APIRouter(prefix="/v1", route_class=EdgeRoute)


def conflict_views(hub: Hub, party: str, conflicts: Sequence[Conflict]) -> list[ConflictOut]:
    """``party``'s view of some of its conflicts (``hub.views``) as the API shows them."""
    return [conflict_out(view) for view in view_conflicts(hub, party, conflicts)]


_CONFLICTS_PAGE = 200  # conflicts in a page, at most (each with its view and adjustment)


@router.get("/conflicts", response_model=list[ConflictOut], tags=["conflicts"], responses=PAGED)
async def list_conflicts(
    request: Request,
    response: Response,
    principal: Caller,
    open_only: Annotated[bool, Query(alias="open", description="Only open conflicts.")] = False,
    after: Annotated[
        str | None,
        Query(description="Only those after this conflict (the last one of a page)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=_CONFLICTS_PAGE, description="At most this many.")
    ] = _CONFLICTS_PAGE,
) -> list[ConflictOut]:
    """The caller's conflicts, oldest first (by detection time, then id), a page at a time:
    the lead time it had, and the adjustment that clears each. A full page carries
    ``Link: <...>; rel="next"``, the URL of the next. A page costs the hub what it holds:
    all conflicts are read from where the last page ended; the open ones, from those the
    caller is told are open."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> list[ConflictOut]:
        start = None
        if after is not None:
            try:
                start = hub.get_conflict(principal.party, after)
            except NotFound:
                raise InvalidField("query:after", f"no conflict {after!r} of yours") from None
        page = hub.list_conflicts(principal.party, open_only, after=start, limit=limit)
        return conflict_views(hub, principal.party, page)

    page = await service(request).runner.read(read, party=principal.party)
    if len(page) == limit:
        link_next(request, response, page[-1].id, limit)
    return page


@router.get("/conflicts/{conflict_id}", response_model=ConflictOut, tags=["conflicts"])
async def get_conflict(conflict_id: str, request: Request, principal: Caller) -> ConflictOut:
    def read(hub: Hub) -> ConflictOut:
        conflict = hub.get_conflict(principal.party, conflict_id)
        need(principal, Scope.READ)
        return conflict_out(view_conflict(hub, principal.party, conflict))

    return await service(request).runner.read(read, party=principal.party)


# notifications ------------------------------------------------------------------------------


_PAGE = 1000  # notifications in a page, at most


@router.get(
    "/notifications",
    response_model=list[NotificationOut],
    tags=["notifications"],
    responses=PAGED,
)
async def list_notifications(
    request: Request,
    response: Response,
    principal: Caller,
    after: Annotated[
        str | None,
        Query(description="Only those after this notification (the last one of a page)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=_PAGE, description="At most this many.")] = _PAGE,
) -> list[NotificationOut]:
    """The caller's notifications and those relayed through it, oldest first (by creation
    time, then id), a page at a time; those of the page addressed to the caller and not yet
    delivered are shown delivered now, and recorded so after the answer is made (a read that
    writes nothing: on a store that takes no writes, the record waits and the page is
    answered all the same). A full page carries ``Link: <...>; rel="next"``, the URL of the
    next."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> tuple[list[NotificationOut], list[tuple[str, float]]]:
        start = None
        if after is not None:
            try:
                start = find_notification(hub, principal.party, after)
            except NotFound:
                raise InvalidField("query:after", f"no notification {after!r} of yours") from None
        page = hub.list_notifications(principal.party, after=start, limit=limit)
        now = hub.clock.now()
        delivering = [
            i for i, n in enumerate(page) if n.recipient == principal.party and n.undelivered
        ]
        for i in delivering:  # shown as what it is once answered: delivered now
            page[i] = page[i].deliver(now)
        return notifications_seen(hub, principal.party, page), [
            (page[i].id, now) for i in delivering
        ]

    svc = service(request)
    page, delivering = await svc.runner.read(read, party=principal.party)
    if delivering:
        try:
            marked = await svc.runner.run_write(
                lambda hub: hub.store.mark_delivered(delivering),
                party=principal.party,
                detects=False,
            )
        except StoreError as error:  # the answer stands; marked when the store takes writes
            log.warning("marking %d notifications delivered failed: %s", len(delivering), error)
            svc.deliveries.add(delivering)
        else:
            page = await _as_marked(svc, principal.party, page, delivering, marked)
    if len(page) == limit:
        link_next(request, response, page[-1].id, limit)
    return page


async def _as_marked(
    svc: Service,
    party: str,
    page: list[NotificationOut],
    delivering: list[tuple[str, float]],
    marked: list[Notification],
) -> list[NotificationOut]:
    """``page`` with each notification it showed delivered now that another mark reached
    first (the party's event stream sent it meanwhile, and the detector marked it) shown as
    stored: read once more, only for those, so that the page says what the store says."""
    late = {notification_id for notification_id, _ in delivering} - {n.id for n in marked}
    if not late:
        return page

    def read(hub: Hub) -> list[NotificationOut]:
        return notifications_seen(hub, party, hub.get_notifications(party, sorted(late)))

    try:
        stored = {shown.id: shown for shown in await svc.runner.read(read, party=party)}
    except StoreError as error:  # the marks are made: the page stands as first read
        log.warning("reading %d notifications marked meanwhile failed: %s", len(late), error)
        return page
    return [stored.get(shown.id, shown) for shown in page]


@router.get(
    "/notifications/{notification_id}", response_model=NotificationOut, tags=["notifications"]
)
async def get_notification(
    notification_id: str, request: Request, principal: Caller
) -> NotificationOut:
    def read(hub: Hub) -> NotificationOut:
        found = find_notification(hub, principal.party, notification_id)
        need(principal, Scope.READ)
        return notifications_seen(hub, principal.party, [found])[0]

    return await service(request).runner.read(read, party=principal.party)


@router.post(
    "/notifications/{notification_id}/ack",
    response_model=NotificationOut,
    tags=["notifications"],
)
async def acknowledge(
    notification_id: str,
    request: Request,
    principal: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Acknowledge a notification addressed to the caller (a relay cannot, for another)."""

    def act(hub: Hub) -> tuple[int, Any, dict[str, str]]:
        own_notification(hub, principal.party, notification_id)
        need(principal, Scope.ACK)
        done = hub.acknowledge(principal.party, notification_id)
        return 200, notifications_seen(hub, principal.party, [done])[0], {}

    # Nothing the detector reads: the party's next read waits for no detection after it.
    return await idempotent_post(request, principal, act, Scope.ACK, detects=False)


@router.get(
    "/events",
    tags=["notifications"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    principal: Caller,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[
        str | None, Query(description="Resume after this event id (as Last-Event-ID).")
    ] = None,
    once: Annotated[
        bool, Query(description="Send what is pending, then end (for polling clients).")
    ] = False,
) -> StreamingResponse:
    """Server-sent events: the caller's notifications in order (created time, then id), each
    with its id; reconnecting with ``Last-Event-ID`` resumes after it without loss. A party
    holds at most so many streams open at once in a process (429 beyond them)."""
    need(principal, Scope.READ)
    cursor = (
        parse_event_id(last_event_id)
        if last_event_id and last_event_id.strip()
        else parse_event_id(after, "query:after")
    )
    svc = service(request)  # each party holds at most so many streams open (429)
    stream = svc.streams.hold(principal.party, event_stream(request, principal.party, cursor, once))
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# agreements and parties ---------------------------------------------------------------------


@router.get("/agreements", response_model=list[AgreementOut], tags=["agreements"])
async def list_agreements(request: Request, principal: Caller) -> list[AgreementOut]:
    """The agreements the caller is party to or relays for."""
    need(principal, Scope.READ)
    found = await service(request).runner.read(
        lambda hub: hub.list_agreements(principal.party), party=principal.party
    )
    return [agreement_out(a) for a in found]


@router.get("/parties", tags=["agreements"])
async def list_parties(request: Request, principal: Caller) -> list[dict[str, str]]:
    """The parties the caller knows of: itself and those it shares an agreement with (as a
    party or the relay); every party for a token with the admin scope."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> list[dict[str, str]]:
        if principal.has(Scope.ADMIN):
            everyone = hub.list_parties()
        else:
            everyone = known_parties(hub, principal.party)
        return [{"id": p.id, "name": p.name} for p in everyone]

    return await service(request).runner.read(read, party=principal.party)


@router.post("/agreements", status_code=201, response_model=AgreementOut, tags=["agreements"])
async def add_agreement(
    body: AgreementIn,
    request: Request,
    principal: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Add an agreement (admin scope)."""
    need(principal, Scope.ADMIN)
    document = body.model_dump(by_alias=True)
    try:
        agreement = agreement_from_document(document, "the agreement")
    except InvalidInput as error:  # 422 naming the member at fault (it was 400, naming none)
        raise InvalidField(error.field or "/", str(error)) from None

    def act(hub: Hub) -> tuple[int, Any, dict[str, str]]:
        return 201, agreement_out(hub.add_agreement(agreement)), {}

    return await idempotent_post(request, principal, act, Scope.ADMIN)


@router.post("/parties", status_code=201, tags=["agreements"])
async def add_party(
    body: PartyIn,
    request: Request,
    principal: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Add a party (admin scope)."""
    need(principal, Scope.ADMIN)

    def act(hub: Hub) -> tuple[int, Any, dict[str, str]]:
        party = hub.add_party(body.id, body.name)
        return 201, {"id": party.id, "name": party.name}, {}

    return await idempotent_post(request, principal, act, Scope.ADMIN)
