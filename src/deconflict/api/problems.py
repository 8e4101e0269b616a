"""Errors as ``application/problem+json`` (RFC 9457), rendered in one place.

Every error the service returns goes through :func:`problem`: deconflict's own errors (their
``status`` attribute), FastAPI's request-validation errors (each naming the offending field), HTTP
errors raised by the routes (auth, scope, limits) and anything unexpected (a 500 that says nothing
of the internals). A problem names the offending field in ``field`` when one is known, and lists
validation errors in ``errors``.
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

from deconflict.errors import DeconflictError, InvalidInput, LedgerBroken

__all__ = ["ApiError", "InvalidField", "install", "problem"]

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


def problem(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one renderer of an error response."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _pointer(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return (f"/{'/'.join(rest)}" if where == "body" else f"{where}:{'.'.join(rest)}") or "/"
    return "/" + "/".join(parts)


async def _on_deconflict(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DeconflictError)
    if isinstance(error, LedgerBroken):  # its message is the operator's (logged once, there)
        return problem(error.status, error.public, headers={"Retry-After": "60"})
    status = int(getattr(error, "status", 500))
    if status >= 500:
        log.error("request failed: %s", error)
    return problem(
        status,
        str(error),
        field=getattr(error, "field", None),
        headers=getattr(error, "headers", None),
    )


async def _on_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": _pointer(e["loc"]), "message": e["msg"]} for e in error.errors()]
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    return problem(
        422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors
    )


async def _on_http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
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
