"""The edge of every route: what a request's query, path and headers may hold, checked before
anything reaches the hub or its store (security.md §3.1).

A value the store cannot hold must never reach it: an integer past 64 bits answered 500 on
SQLite ("Python int too large to convert to SQLite INTEGER") and, on PostgreSQL, 503 with the
SQL statement and its parameters in the body; so did a NUL in any text PostgreSQL was asked to
compare. FastAPI checks what a route declares (an ``int`` is an integer, ``ge``/``le``), but
not what the store can take. So every route is an :class:`EdgeRoute`, whose handler checks
the request first, and a value found wanting here is 422 ``application/problem+json`` naming the
field (``query:since``, ``path:notice_id``, ``header:If-Match``), never a 500, a 503, a cut
stream or the driver's words:

- every query value and path parameter: at most :data:`TEXT_MAX` printable characters (no NUL,
  no control, format or separator character, no lone surrogate);
- every integer a route declares in its query or path: within the bounds it declares, else
  within a signed 64-bit integer (:data:`INT_MAX`), what both stores' integer columns hold;
- ``If-Match`` (where a route takes it): ``"<version>"`` (weak or not), a version being at most
  :data:`VERSION_MAX`, PostgreSQL's ``INTEGER``;
- ``Last-Event-ID`` and the event stream's ``after``: an event id of the stream
  (:func:`deconflict.api.stream.parse_event_id`), checked before the stream's 200 is sent;
- ``Idempotency-Key`` (any route): 1 to 255 visible ASCII characters.

The OpenAPI document declares the same bounds (:mod:`deconflict.api.openapi`), so a client
reading it is told before it asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, QueryParams
from starlette.types import Scope

from deconflict.api.problems import InvalidField
from deconflict.errors import InvalidInput
from deconflict.runtime import events
from deconflict.runtime.events import EventKey

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "KEY_MAX",
    "TEXT_MAX",
    "VERSION_MAX",
    "EdgeRoute",
    "check",
    "parse_event_id",
    "parse_if_match",
]

#: The largest integer a query or path parameter may hold: SQLite's INTEGER, PostgreSQL's BIGINT.
INT_MAX = 2**63 - 1
INT_MIN = -(2**63)
#: The largest notice version (PostgreSQL's INTEGER column).
VERSION_MAX = 2**31 - 1
#: The longest query value, path parameter or checked header, in characters.
TEXT_MAX = 1024
#: The longest Idempotency-Key.
KEY_MAX = 255

#: A check of one request: raises InvalidField naming what is wrong.
Check = Callable[[Scope], None]

# ASCII digits only: ``str.isdigit`` also takes "¹" (a latin-1 header byte) and ``lstrip("+-")``
# takes "--1", which ``int`` then refuses (a 500, before any token is checked).
_UNSIGNED = re.compile(r"[0-9]+")
# An integer as FastAPI (pydantic) reads a query or path value: a sign, digits with single
# underscores between them, and maybe a fraction of zeros.
_LAX_INTEGER = re.compile(r"([+-]?[0-9](?:_?[0-9])*)(?:\.0*)?", re.ASCII)


def parse_event_id(text: str | None, field: str = "header:Last-Event-ID") -> EventKey | None:
    """The key of an event id (:mod:`deconflict.runtime.events`; None for none), or
    InvalidField naming ``field``: checked before the stream's 200 is sent (a bad one cut the
    stream)."""
    try:
        return events.parse_event_id(text)
    except InvalidInput:
        raise InvalidField(field, f"{field} is not an event id of this stream") from None


def _text(value: str, field: str) -> None:
    if len(value) > TEXT_MAX:
        raise InvalidField(field, f"{field} is longer than {TEXT_MAX} characters")
    if not value.isprintable():
        raise InvalidField(
            field, f"{field} holds a control, format or separator character (only printable text)"
        )


def _integer(value: str, field: str, low: int, high: int) -> None:
    """A declared integer within [low, high], also as FastAPI reads one: with underscores
    between digits or a fraction of zeros (``9_223_372_036_854_775_808.0`` passed unchecked,
    and overflowed the database's integer: a 500, a thirtieth reader). What is not an integer
    at all is left to FastAPI (it answers 422 naming the field)."""
    text = value.strip()
    whole = _LAX_INTEGER.fullmatch(text)
    if whole is None:
        return
    digits = whole[1].replace("_", "")
    if len(digits) > 40 or not low <= int(digits) <= high:
        raise InvalidField(field, f"{field} must be an integer from {low} to {high}")


def parse_if_match(value: str) -> int:
    """The version (of a notice, of a plan) an ``If-Match`` names (an ETag, weak or not), or
    InvalidField."""
    text = value.strip().removeprefix("W/").strip('"')
    if not _UNSIGNED.fullmatch(text) or len(text) > 10 or int(text) > VERSION_MAX:
        raise InvalidField(
            "header:If-Match", f"If-Match must be the record's ETag, a version 1 to {VERSION_MAX}"
        )
    return int(text)


def _key(value: str) -> None:
    if not 1 <= len(value) <= KEY_MAX or not all(" " <= c <= "~" for c in value):
        raise InvalidField(
            "header:Idempotency-Key",
            f"Idempotency-Key must be 1 to {KEY_MAX} visible ASCII characters",
        )


def _bounds(field: Any) -> tuple[int, int]:
    """The bounds a route declares for an integer parameter, within a 64-bit integer."""
    low, high = INT_MIN, INT_MAX
    for item in getattr(field.field_info, "metadata", ()):
        for name in ("ge", "gt"):
            bound = getattr(item, name, None)
            if isinstance(bound, int):
                low = max(low, bound + (name == "gt"))
        for name in ("le", "lt"):
            bound = getattr(item, name, None)
            if isinstance(bound, int):
                high = min(high, bound - (name == "lt"))
    return low, high


def _is_int(field: Any) -> bool:
    annotation = field.field_info.annotation
    return annotation is int or (
        getattr(annotation, "__args__", None) is not None and int in annotation.__args__
    )


def check(route: APIRoute) -> Check:
    """The check of every request to ``route``."""
    ints = {
        (where, field.alias): _bounds(field)
        for where, fields in (
            ("query", route.dependant.query_params),
            ("path", route.dependant.path_params),
        )
        for field in fields
        if _is_int(field)
    }
    headers = {field.alias.lower() for field in route.dependant.header_params}
    streams = "last-event-id" in headers  # the event stream: `after` is an event id too

    def run(scope: Scope) -> None:
        for name, value in scope.get("path_params", {}).items():
            _text(str(value), f"path:{name}")
            if ("path", name) in ints:
                _integer(str(value), f"path:{name}", *ints["path", name])
        for name, value in QueryParams(scope.get("query_string", b"")).multi_items():
            _text(value, f"query:{name}")
            if ("query", name) in ints:
                _integer(value, f"query:{name}", *ints["query", name])
            if streams and name == "after":
                parse_event_id(value, f"query:{name}")
        sent = Headers(scope=scope)
        if (key := sent.get("idempotency-key")) is not None:
            _key(key)
        if "if-match" in headers and (etag := sent.get("if-match")) is not None:
            _text(etag, "header:If-Match")
            parse_if_match(etag)
        if streams and (last := sent.get("last-event-id")) is not None:
            _text(last, "header:Last-Event-ID")
            parse_event_id(last)

    return run


class EdgeRoute(APIRoute):
    """A route whose every request is checked (:func:`check`) before its parameters are
    solved: FastAPI's way to wrap a route's handler, on direct and included routes alike.
    Every router of the API is made with ``route_class=EdgeRoute``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        checked = check(self)

        async def run(request: Request) -> Response:
            checked(request.scope)  # InvalidField: rendered 422 by api.problems
            return await handle(request)

        return run
