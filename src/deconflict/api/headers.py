"""The protective headers on every response the service sends, as plain ASGI middleware.

The operations view shows text other parties wrote; should any of it ever reach the page as
markup, the browser must still run nothing but the view's own files. So every response (the
page, its files, API answers, errors, the event stream) carries:

- ``Content-Security-Policy``: scripts, styles, images and connections from this origin only;
  no inline script or style, no ``eval``, no plugins, no ``<base>``, no framing by any page,
  forms to this origin only. The view needs nothing more: its scripts and styles are files,
  Leaflet styles elements through the CSSOM (which a policy does not govern), the country
  outlines and the API are on this origin, its icon is a file. Trusted Types besides: any
  sink that would parse a string as HTML throws unless the view's one policy (``default``, in
  ``web/static/trusted-types.js``, passing only Leaflet's own few strings) lets it through.
- ``X-Content-Type-Options: nosniff``: a JSON answer or an uploaded text is never taken for a
  script or a page. ``Referrer-Policy: no-referrer``: no address leaves with a request.
  ``Cross-Origin-Opener-Policy`` and ``-Resource-Policy: same-origin``: another site's window
  gets no handle on the view's, and no other site may embed the hub's answers.
  ``X-Frame-Options: DENY`` for browsers older than ``frame-ancestors``.
- ``Cache-Control: no-store`` on every answer but the view's own files (unless the route set
  one): what a party may see is never kept by a browser or a proxy.

Starlette sends a 500 for an unexpected error from outside every middleware, so this renders
that one itself (the same problem, saying nothing of the failure) before passing the error on
to be logged.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconflict.api.problems import problem

__all__ = ["HEADERS", "POLICY", "SecurityHeaders"]

#: The Content-Security-Policy of every response.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "require-trusted-types-for 'script'",
        "trusted-types default",
    ]
)

#: The protective headers of every response (also those the HTTP server writes itself).
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
_NO_STORE = (b"cache-control", b"no-store")

#: Where the view's own files are served: they may be cached as their routes say.
_VIEW_FILES = ("/ui/", "/vendor/")


class SecurityHeaders:
    """ASGI middleware: adds the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(_VIEW_FILES)
        started = False

        async def protected(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))
                headers += HEADERS
                if not cacheable and not any(name == b"cache-control" for name, _ in headers):
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, protected)
        except Exception:
            if not started:
                await problem(500, "internal error")(scope, receive, protected)
            raise
