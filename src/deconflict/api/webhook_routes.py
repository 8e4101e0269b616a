"""The webhook routes: a party sets (``PUT``), reads (``GET``) and removes (``DELETE``) its one
webhook, ``/v1/webhook``, with the read scope (a webhook carries only what the party may read).

The URL is checked as it is set (:mod:`.guard`: plain http(s) to a public address; 422 naming
``/url`` otherwise); the secret is the party's or made here, shown once, in the answer to the
``PUT``, and kept sealed (:mod:`.sealing`). ``GET`` shows the URL, the cursor
(``last_delivery_id``: every notification up to it was delivered) and whether the hub lost the
key to its secret (``secret_lost``: set it again). Nothing here tells whether a receiver answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from deconflict.api.auth import Scope
from deconflict.api.edge import EdgeRoute
from deconflict.api.problems import InvalidField
from deconflict.api.service import Caller, need, service
from deconflict.errors import NotFound, RefusedDestination
from deconflict.runtime.webhooks.guard import MAX_URL_CHARS
from deconflict.runtime.webhooks.registry import Webhooks

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["notifications"], route_class=EdgeRoute)


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=MAX_URL_CHARS)
    secret: str | None = Field(None, min_length=16, max_length=200)


class WebhookOut(BaseModel):
    url: str
    #: shown when the webhook is set, never afterwards
    secret: str | None = None
    #: every notification up to this event id was delivered (null: none yet)
    last_delivery_id: str | None = None
    #: the hub can no longer open this webhook's secret (its key was lost): set it again
    secret_lost: bool = False


def _hooks(request: Request) -> Webhooks:
    hooks: Webhooks = request.app.state.service.webhooks
    return hooks


@router.put("/webhook", response_model=WebhookOut)
async def put_webhook(body: WebhookIn, request: Request, principal: Caller) -> WebhookOut:
    """Send the caller's notifications to ``url`` (plain http or https, to a public address),
    signed with ``secret`` (made if not given, and shown only in this answer)."""
    need(principal, Scope.READ)
    try:
        hook, secret = await _hooks(request).put(principal.party, body.url, body.secret)
    except RefusedDestination as error:
        raise InvalidField("/url", str(error)) from None
    service(request).runner.wake()
    return WebhookOut(url=hook.url, secret=secret, last_delivery_id=hook.cursor)


@router.get("/webhook", response_model=WebhookOut)
async def get_webhook(request: Request, principal: Caller) -> WebhookOut:
    need(principal, Scope.READ)
    hooks = _hooks(request)
    hook = await hooks.get(principal.party)
    if hook is None:
        raise NotFound("no webhook")
    return WebhookOut(
        url=hook.url, last_delivery_id=hook.cursor, secret_lost=hooks.secret_lost(hook)
    )


@router.delete("/webhook", status_code=204)
async def delete_webhook(request: Request, principal: Caller) -> Response:
    need(principal, Scope.READ)
    if not await _hooks(request).delete(principal.party):
        raise NotFound("no webhook")
    return Response(status_code=204)
