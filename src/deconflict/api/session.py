"""The operations view's session: a bearer token exchanged for an HttpOnly cookie, so that
script in the page never holds the token, and the rule that keeps other sites from using it.
This module holds the cookie and the rule; the routes are :mod:`deconflict.api.session_routes`.

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

from fastapi import Request

from deconflict.api.problems import InvalidField

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "HOST_COOKIE",
    "authorization",
    "cookie_name",
    "same_origin",
    "secure",
]

#: The session cookie over http, and over https (``__Host-``: Secure, Path=/, no Domain).
COOKIE = "deconflict_session"
HOST_COOKIE = "__Host-deconflict_session"
#: The header a cookie request that changes something must carry, with the value "1".
CSRF_HEADER = "X-Deconflict-CSRF"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    return HOST_COOKIE if secure(request) else COOKIE


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
    token = request.cookies.get(cookie_name(request))
    if token is None:
        return None
    if request.method in _UNSAFE:
        same_origin(request)
    return f"Bearer {token}"
