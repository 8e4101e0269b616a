"""The operations view's session: a bearer token exchanged for an HttpOnly cookie, so that
script in the page never holds the token, and the rule that keeps other sites from using it.

``POST /v1/session`` takes ``{"token": "<JWT>"}``, verifies it as any bearer token, and sets it
as a cookie the page's script cannot read (``HttpOnly``), that the browser sends to this origin
only and never with a request another site starts (``SameSite=Strict``), for ``/``, living no
longer than the token (``Max-Age`` from its ``exp``; the token is verified again on every
request). Over https the cookie is ``Secure`` and named with the ``__Host-`` prefix (bound to
this host: no sibling domain can set or shadow it); over http (a hub on 127.0.0.1) neither is
possible. ``GET /v1/session`` says who the cookie (or an ``Authorization`` header) signs in;
``DELETE`` clears the cookie. The token stays valid until its ``exp`` wherever else it is kept.

The cookie stands in for ``Authorization: Bearer`` on every route (:func:`authorization`, read
by :func:`deconflict.api.service.caller`); a request with an ``Authorization`` header is judged
by that header alone, as before. Since a browser adds a cookie by itself, a request that changes
something (POST, PUT, PATCH, DELETE) and is authenticated by the cookie must show it comes from
the view (:func:`same_origin`): the header ``X-Deconflict-CSRF: 1``, which no form and no
"simple" cross-site request can carry (another origin would need a CORS preflight the hub never
grants), and, when the browser says where the request comes from, this origin (``Origin``, and
``Sec-Fetch-Site: same-origin``). Otherwise it is a 403 problem naming the header. Signing in
and out obey the same rule, so another site can neither sign the victim's browser in as a party
of its choosing nor sign it out. Behind a proxy that terminates TLS, the proxy must pass the
``Host`` it was asked for, and ``X-Forwarded-Proto`` from an address uvicorn trusts
(``--forwarded-allow-ips``), so the hub knows its own origin.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from deconflict.api.auth import Principal
from deconflict.api.edge import EdgeRoute
from deconflict.api.problems import ApiError, InvalidField
from deconflict.geo.units import epoch_to_rfc3339

if TYPE_CHECKING:
    from deconflict.api.service import Service

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "HOST_COOKIE",
    "authorization",
    "router",
    "same_origin",
]

#: The session cookie over http, and over https (``__Host-``: Secure, Path=/, no Domain).
COOKIE = "deconflict_session"
HOST_COOKIE = "__Host-deconflict_session"
#: The header a cookie request that changes something must carry, with the value "1".
CSRF_HEADER = "X-Deconflict-CSRF"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}
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


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie_name(request: Request) -> str:
    return HOST_COOKIE if _secure(request) else COOKIE


def _origin(scheme: str, host: str) -> str:
    """``scheme://host[:port]``, lower-cased, without the scheme's default port."""
    host = host.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default and host.endswith(f":{default}"):
        host = host[: -len(default) - 1]
    return f"{scheme}://{host}"


def _forbidden(header: str, detail: str) -> InvalidField:
    return InvalidField(f"header:{header}", detail, status=403)


def same_origin(request: Request) -> None:
    """Refuse (403, naming the header) a request that does not show it comes from the view:
    without ``X-Deconflict-CSRF: 1``, or from another origin as ``Origin`` or
    ``Sec-Fetch-Site`` (each checked when the browser sends it) tells."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise _forbidden(
            CSRF_HEADER,
            f"a request the session cookie authenticates must carry {CSRF_HEADER}: 1 "
            "to change anything (or use an Authorization header)",
        )
    origin = request.headers.get("origin")
    own = _origin(request.url.scheme, request.url.netloc)
    if origin is not None:
        scheme, _, host = origin.partition("://")
        if not host or _origin(scheme.lower(), host) != own:
            raise _forbidden("Origin", f"the request comes from another origin than {own}")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise _forbidden("Sec-Fetch-Site", f"the request comes from another origin than {own}")


def authorization(request: Request) -> str | None:
    """What authenticates ``request``: its ``Authorization`` header as it came, else its session
    cookie as a bearer token once the request passed :func:`same_origin` (if it changes
    something), else None."""
    header = request.headers.get("authorization")
    if header is not None:
        return header
    token = request.cookies.get(_cookie_name(request))
    if token is None:
        return None
    if request.method in _UNSAFE:
        same_origin(request)
    return f"Bearer {token}"


class SessionIn(BaseModel):
    """A bearer token to sign the view in with."""

    token: str = Field(min_length=1, max_length=_TOKEN_MAX, pattern=_JWT)


class SessionOut(BaseModel):
    """Who the session signs in: the party, the token's scopes, when it ends."""

    party: str
    scopes: list[str]
    expires_at: str


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


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
    svc = _service(request)
    principal, expires_s = svc.verifier.verify_token(body.token)
    request.state.party = principal.party
    svc.limiter.take(principal.party)
    lifetime_s = int(expires_s - time.time())
    if lifetime_s <= 0:
        raise ApiError(401, "the token has expired", {"WWW-Authenticate": "Bearer"})
    response.set_cookie(
        _cookie_name(request),
        body.token,
        max_age=lifetime_s,
        expires=lifetime_s,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return _out(principal, expires_s)


@router.get("/session", response_model=SessionOut, responses={401: _UNSIGNED})
async def who(request: Request) -> SessionOut:
    """Who the session cookie (or the Authorization header) signs in; 401 when none does."""
    svc = _service(request)
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
        _cookie_name(request), path="/", secure=_secure(request), httponly=True, samesite="strict"
    )
    return response
