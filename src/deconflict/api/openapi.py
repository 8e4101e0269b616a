"""The served OpenAPI document, told the truth about errors and bounds (issue 18 item 7).

FastAPI writes a route's success and, for a route with parameters, a 422 of its own shape
(``HTTPValidationError``, as ``application/json``). Every error this service sends is a problem
(:mod:`deconflict.api.problems`, ``application/problem+json``), and any route may answer one of
several statuses: no token (401), a scope it lacks (403), not found or not visible (404), a body
too large (413) or not JSON (415), a bad value (422, naming the ``field``), too many requests
(429), a store failure (500) or one for now only (503, with ``Retry-After``; without it, the
ledger halted until an operator acts). Writes may also answer 409 (an id taken, a transition
refused); an amendment 412 and 428 (If-Match). This
module declares them on every operation, with the one ``Problem`` schema, and the bounds the
edge enforces (:mod:`deconflict.api.edge`) on every parameter: an integer within 64 bits, a
text within :data:`~deconflict.api.edge.TEXT_MAX` characters. What a route declares itself
(a 202 of the ledger, a 401 of the session) is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from deconflict.api.edge import INT_MAX, INT_MIN, TEXT_MAX
from deconflict.api.problems import MEDIA_TYPE

__all__ = ["PROBLEM_SCHEMA", "install", "not_yet", "problem_response", "truthful"]

#: The body of every error (RFC 9457, with this service's ``field`` and ``errors``).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {
            "type": "string",
            "description": "What is wrong: a JSON pointer into the body (`/features/0`), or "
            "`query:<name>`, `path:<name>`, `header:<name>`.",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

_REF = {"$ref": "#/components/schemas/Problem"}
_EVERY = (401, 403, 404, 413, 415, 422, 429, 500, 503)
_WAIT_503 = (
    "Seconds to wait. Absent when the hub's ledger is halted: that lasts until its operator "
    "has dealt with it."
)
_WRITES = (409,)
_AMENDS = (412, 428)


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response of a problem with ``status``."""
    response: dict[str, Any] = {
        "description": description or HTTPStatus(status).phrase,
        "content": {MEDIA_TYPE: {"schema": _REF}},
    }
    if status in (429, 503):
        wait = "Seconds to wait." if status == 429 else _WAIT_503
        response["headers"] = {"Retry-After": {"description": wait, "schema": {"type": "integer"}}}
    return response


def not_yet(what: str) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses`` entry for a 202 (``NotYetCommitted``): ``what`` exists, and the
    ledger gives it later (at the next digest, or under the next kept checkpoint); ask again
    after ``Retry-After``."""
    response = problem_response(202, what)
    response["headers"] = {
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
    }
    return {202: response}


def _bounded(parameter: dict[str, Any]) -> None:
    schema = parameter.get("schema", {})
    for one in schema.get("anyOf", [schema]):
        if one.get("type") == "integer":
            one.setdefault("maximum", INT_MAX)
            one.setdefault("minimum", INT_MIN)
        elif one.get("type") == "string":
            one.setdefault("maxLength", TEXT_MAX)


def truthful(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's) with every operation's problems and parameters' bounds."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            statuses = list(_EVERY)
            if method in ("post", "put", "patch", "delete") or "{" in path:
                statuses += _WRITES  # a write's refusal; an id naming several it may see
            if method in ("put", "patch"):
                statuses += _AMENDS
            for status in statuses:
                declared = responses.get(str(status))
                if declared is None or "HTTPValidationError" in str(declared):
                    responses[str(status)] = problem_response(status)
                else:
                    declared.setdefault("content", {}).setdefault(MEDIA_TYPE, {"schema": _REF})
                    declared["content"].pop("application/json", None)
            for parameter in operation.get("parameters", []):
                _bounded(parameter)
    schemas = document["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    """Serve ``app``'s document as :func:`truthful` makes it (built once, when first asked)."""
    made: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful(made())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way
