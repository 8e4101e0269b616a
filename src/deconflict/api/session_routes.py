"""The session routes of the operations view: ``POST``, ``GET`` and ``DELETE /v1/session``
(the cookie and the rule they follow: :mod:`deconflict.api.session`)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from deconflict.api.auth import Principal
from deconflict.api.edge import EdgeRoute
from deconflict.api.problems import ApiError
from deconflict.api.service import service
from deconflict.api.session import (
    CSRF_HEADER,
    authorization,
    cookie_name,
    same_origin,
    secure,
)
from deconflict.geo.units import epoch_to_rfc3339

__all__ = ["router"]

#: A JWT (base64url segments and dots), short enough to keep in a cookie (4 KiB with its name).
_JWT = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){1,4}$"
_TOKEN_MAX = 3800

router = APIRouter(prefix="/v1", tags=["session"], route_class=EdgeRoute)


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"type": "object"}}},
    }


_REFUSED = _problem(f"Without {CSRF_HEADER}: 1, or from another origin (names the header).")
_UNSIGNED = _problem("No valid token (expired, not trusted, or none).")


class SessionIn(BaseModel):
    """A bearer token to sign the view in with."""

    token: str = Field(min_length=1, max_length=_TOKEN_MAX, pattern=_JWT)


class SessionOut(BaseModel):
    """Who the session signs in: the party, the token's scopes, when it ends."""

    party: str
    scopes: list[str]
    expires_at: str


def _out(principal: Principal, expires_s: float) -> SessionOut:
    return SessionOut(
        party=principal.party,
        scopes=sorted(s.value for s in principal.scopes),
        expires_at=epoch_to_rfc3339(expires_s),
    )


@router.post("/session", response_model=SessionOut, responses={401: _UNSIGNED, 403: _REFUSED})
async def sign_in(body: SessionIn, request: Request, response: Response) -> SessionOut:
    """Sign the operations view in: the token is kept in an HttpOnly, SameSite=Strict cookie
    until it expires. Needs ``X-Deconflict-CSRF: 1`` and this origin, as every cookie request
    that changes something."""
    same_origin(request)
    svc = service(request)
    principal, expires_s = svc.verifier.verify_token(body.token)
    request.state.party = principal.party
    svc.limiter.take(principal.party)
    lifetime_s = int(expires_s - time.time())
    if lifetime_s <= 0:
        raise ApiError(401, "the token has expired", {"WWW-Authenticate": "Bearer"})
    response.set_cookie(
        cookie_name(request),
        body.token,
        max_age=lifetime_s,
        expires=lifetime_s,
        path="/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
    return _out(principal, expires_s)


@router.get("/session", response_model=SessionOut, responses={401: _UNSIGNED})
async def who(request: Request) -> SessionOut:
    """Who the session cookie (or the Authorization header) signs in; 401 when none does."""
    svc = service(request)
    principal, expires_s = svc.verifier.verify_expiring(authorization(request))
    request.state.party = principal.party
    svc.limiter.take(principal.party)
    return _out(principal, expires_s)


@router.delete("/session", status_code=204, response_class=Response, responses={403: _REFUSED})
async def sign_out(request: Request) -> Response:
    """Sign the operations view out: the cookie is cleared (the token itself stays valid until
    it expires). Needs ``X-Deconflict-CSRF: 1`` and this origin."""
    same_origin(request)
    response = Response(status_code=204)
    response.delete_cookie(
        cookie_name(request), path="/", secure=secure(request), httponly=True, samesite="strict"
    )
    return response
