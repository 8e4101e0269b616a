"""Errors as ``application/problem+json`` (RFC 9457), rendered in one place.

Every error the service returns goes through :func:`problem`: deconflict's own errors (their
``status`` attribute), FastAPI's request-validation errors (each naming the offending field), HTTP
errors raised by the routes (auth, scope, limits) and anything unexpected (a 500 that says nothing
of the internals). A problem names the offending field in ``field`` when one is known, and lists
validation errors in ``errors``.

The store's failures (security.md §3.1): ``StoreUnavailable`` (for now only: the connection lost,
locked past every retry, a full disk) is 503 with ``Retry-After`` and its own message, written
for a user; any other ``StoreError`` is 500 with a generic text, its message (which may quote the
driver: SQL, parameters, another party's values) going to the log only. A body that is not JSON
at all is 422 naming ``/``, as every other bad body names its field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from deconflict.errors import (
    DeconflictError,
    InvalidInput,
    LedgerBroken,
    StoreError,
    StoreUnavailable,
)
from deconflict.json_pointer import json_pointer
from deconflict.store.faults import BUSY
from deconflict.store.retry import Retryable

__all__ = ["STORE_FAILED", "ApiError", "InvalidField", "install", "problem"]

#: What a client is told of a store failure that is not transient (the log has the rest).
STORE_FAILED = "the hub could not complete this request; its operator's log has the details"

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("deconflict.api")


class ApiError(DeconflictError):
    """An HTTP-level refusal (authentication, scope, limits) with its status and headers."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = dict(headers or {})


class InvalidField(InvalidInput):
    """Input refused because of one field, named as a JSON pointer into the request body."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


#: The longest text an error response quotes back (its detail, its field, each error's message
#: and field): an error names the value refused, and a hostile one may be megabytes long.
MAX_QUOTED_CHARS = 1_000
#: The most entries of an error response's ``errors`` (the first ones; the detail names one).
MAX_ERRORS = 50


def _cut(text: str) -> str:
    """``text``, cut to :data:`MAX_QUOTED_CHARS` and saying how much was left out."""
    if len(text) <= MAX_QUOTED_CHARS:
        return text
    return f"{text[:MAX_QUOTED_CHARS]}... ({len(text) - MAX_QUOTED_CHARS:,} more characters)"


def problem(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one renderer of an error response: what it quotes is cut to a bounded size
    (:data:`MAX_QUOTED_CHARS`, :data:`MAX_ERRORS`), so a refusal costs the hub and its caller
    no more than its first kilobytes, however large the value refused (security.md §4.2)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = _cut(detail)
    if field is not None:
        body["field"] = _cut(field)
    if errors:
        body["errors"] = [
            {key: _cut(value) if isinstance(value, str) else value for key, value in e.items()}
            for e in errors[:MAX_ERRORS]
        ]
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _pointer(loc: Sequence[Any]) -> str:
    """A validation error's ``loc`` as a ``field``: a JSON pointer into the body, each member's
    name escaped (RFC 6901: a member ``a/b`` is ``/a~1b``, one ``~x`` is ``/~0x``), the whole
    body ``/``; or ``query:name``, ``path:name``, ``header:name``."""
    parts = list(loc)
    if parts and parts[0] in ("query", "path", "header"):
        return f"{parts[0]}:{'.'.join(str(p) for p in parts[1:])}"
    if parts and parts[0] == "body":
        parts = parts[1:]
    return json_pointer(*parts) or "/"


async def _on_deconflict(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DeconflictError)
    if isinstance(error, LedgerBroken):  # its message is the operator's (logged once, there)
        # No Retry-After: the halt lasts until an operator acts, and any time given would be a
        # guess that has clients retry on a timer for as long as that takes.
        return problem(error.status, error.public)
    if isinstance(error, Retryable):  # raced other writers past every run: for now only
        error = StoreUnavailable(BUSY)
    if isinstance(error, StoreUnavailable):
        log.warning("store unavailable: %s (%s)", error, error.__cause__ or "no cause")
    elif isinstance(error, StoreError):  # its text may quote the driver: the log's only
        log.error("store failed: %s", error, exc_info=error.__cause__)
        return problem(500, STORE_FAILED)
    status = int(getattr(error, "status", 500))
    if status >= 500 and not isinstance(error, StoreUnavailable):
        log.error("request failed: %s", error)
    return problem(
        status,
        str(error),
        field=getattr(error, "field", None),
        headers=getattr(error, "headers", None),
    )


def _error_field(e: Mapping[str, Any]) -> str:
    """Where a validation error is: a JSON pointer into the body (``/features/0``), or
    ``query:name``, ``path:name``, ``header:name``. A body that is not JSON is ``/`` as a
    whole (FastAPI's ``loc`` holds the character's position there, not a member)."""
    if e.get("type") == "json_invalid":
        return "/"
    return _pointer(e["loc"])


def _message(e: Mapping[str, Any]) -> str:
    if e.get("type") == "json_invalid":
        where = e["loc"][-1] if len(e["loc"]) > 1 else None
        reason = (e.get("ctx") or {}).get("error", e["msg"])
        at = f" at character {where}" if isinstance(where, int) else ""
        return f"the body is not valid JSON{at}: {reason}"
    return str(e["msg"])


async def _on_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": _error_field(e), "message": _message(e)} for e in error.errors()]
    first = errors[0] if errors else {"field": "/", "message": "invalid request"}
    return problem(
        422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors
    )


async def _on_http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400 and isinstance(error.__cause__, ValueError):
        # FastAPI's "There was an error parsing the body": not UTF-8, say (not JSON is ours).
        detail = "/: the body is not valid JSON (UTF-8 text)"
        return problem(422, detail, field="/", errors=[{"field": "/", "message": detail[3:]}])
    return problem(error.status_code, str(error.detail), headers=error.headers)


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=error)
    return problem(500, "internal error")


def install(app: FastAPI) -> None:
    """Route every error of ``app`` through :func:`problem`."""
    app.add_exception_handler(DeconflictError, _on_deconflict)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
