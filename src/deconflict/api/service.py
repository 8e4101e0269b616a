"""What every route shares: the service state, the caller, scope checks and idempotent POSTs.

``Service`` holds the parts one app owns (its runtime: hub runner, webhooks, deliveries; token
verifier, rate limiter, metrics);
routes reach it through ``request.app.state.service``, so two apps in one process never share
anything. What the service's workers share (stored Idempotency-Key responses, webhooks) is in the
database: see :mod:`deconflict.store.service_state`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError

from deconflict.api import session
from deconflict.api.auth import Principal, Scope, TokenVerifier
from deconflict.api.edge import KEY_MAX
from deconflict.api.heavy import HeavyWork
from deconflict.api.limits import RateLimiter, StreamSlots
from deconflict.api.problems import ApiError
from deconflict.hub import Hub
from deconflict.runtime import Runtime
from deconflict.runtime.deliveries import DeliveryMarks
from deconflict.runtime.idempotency import Answer, run_once
from deconflict.runtime.runner import HubRunner
from deconflict.runtime.webhooks import Webhooks

__all__ = [
    "PAGED",
    "Caller",
    "Metrics",
    "Service",
    "caller",
    "idempotent_post",
    "json_body",
    "lean_route",
    "link_next",
    "need",
    "service",
]


class Metrics:
    """The service's Prometheus metrics, in the app's own registry (no globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "deconflict_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "deconflict_http_request_seconds",
            "HTTP request latency in seconds by method and route.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.events = Counter(
            "deconflict_events_sent", "Server-sent events sent to parties.", registry=self.registry
        )
        self.detection_lag = Gauge(
            "deconflict_detection_lag_changes",
            "Change-log rows written and not yet detected, as this worker reads the store.",
            registry=self.registry,
        )
        self.leading = Gauge(
            "deconflict_detector_leading",
            "1 if this worker holds the detector lease (it detects and sends webhooks), else 0.",
            registry=self.registry,
        )
        self.handovers = Counter(
            "deconflict_lease_handovers",
            "Changes of this worker's hold on the detector lease: taken, or lost (given back, "
            "expired while it was busy, taken by another).",
            ["change"],
            registry=self.registry,
        )
        self.lease_holder = Gauge(
            "deconflict_detector_lease_holder_pid",
            "The process id of the detector lease holder, as the store says (0: none holds it).",
            registry=self.registry,
        )
        self.lease_token = Gauge(
            "deconflict_detector_lease_token",
            "The detector lease's fencing token: it grows by one at every change of holder.",
            registry=self.registry,
        )


@dataclass(slots=True)
class Service:
    """One app's parts: the hub process's runtime, and the HTTP side's own."""

    runtime: Runtime
    verifier: TokenVerifier
    limiter: RateLimiter
    streams: StreamSlots
    metrics: Metrics
    #: how long a stored Idempotency-Key response is replayed, in seconds
    idempotency_ttl_s: float = 86_400.0
    #: how far back the map reaches without ``start``, in seconds (0: no limit)
    map_history_s: float = 86_400.0
    #: the pool heavy work runs on, off the event loop and the hub thread
    heavy: HeavyWork = field(default_factory=HeavyWork)
    #: the server is stopping: event streams end (see :mod:`deconflict.api.closing`)
    closing: bool = False

    @property
    def runner(self) -> HubRunner:
        return self.runtime.runner

    @property
    def webhooks(self) -> Webhooks:
        return self.runtime.webhooks

    @property
    def deliveries(self) -> DeliveryMarks:
        return self.runtime.deliveries

    def close_streams(self) -> None:
        """End every event stream of this app now (they wake and see ``closing``)."""
        self.closing = True
        self.runner.wake()


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


_bearer = HTTPBearer(auto_error=False, description="A JWT from a trusted issuer.")


def caller(request: Request) -> Principal:
    """The request's authenticated, rate-limited caller: what :data:`Caller` gives a route, for
    one that takes the request alone (see :func:`lean_route`). Its bearer token, or the
    operations view's session cookie standing in for it (:mod:`deconflict.api.session`)."""
    svc = service(request)
    principal = svc.verifier.verify(session.authorization(request))
    request.state.party = principal.party
    svc.limiter.take(principal.party)
    return principal


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return caller(request)


#: The authenticated, rate-limited caller of a route.
Caller = Annotated[Principal, Depends(_caller)]

M = TypeVar("M", bound=BaseModel)


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``, parsed and validated in one pass; a bad one is the
    422 FastAPI's own validation gives, naming the field (``/features/0``)."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        raise RequestValidationError(errors) from None


def lean_route(body: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI a route that takes the request alone (for speed: FastAPI's solving of
    parameters and dependencies was a seventh of a worker's interpreter time at 500 filings/s)
    declares itself, as FastAPI would have from its parameters: ``body`` as the JSON request
    body, the ``Idempotency-Key`` header, the bearer token. Pass it as ``openapi_extra``."""
    schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        },
        "parameters": [
            {
                "name": "idempotency-key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX},
                "description": "Replays the first answer to a repeated request (24 h).",
            }
        ],
        "security": [{"HTTPBearer": []}],
    }


#: The OpenAPI description of a paged list's answer: its ``Link`` header.
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": 'On a full page: `<URL of the next page>; rel="next"`.',
                "schema": {"type": "string"},
            }
        }
    }
}


def link_next(request: Request, response: Response, last_id: str, limit: int) -> None:
    """Point a full page at the next: ``Link: <same query, after=last_id>; rel="next"``."""
    following = request.url.include_query_params(after=last_id, limit=limit)
    response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'


def need(principal: Principal, scope: Scope) -> None:
    """403 unless the caller's token carries ``scope`` (check visibility first: hidden is 404)."""
    if not principal.has(scope):
        raise ApiError(403, f"the token lacks the scope {scope.value!r}")


class _EncodedJSON(JSONResponse):
    """A JSON response whose body arrives encoded."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


def _made(body: Any) -> Any:
    """A response body, made now if it came as the function that makes it."""
    return body() if isinstance(body, partial) else body


async def idempotent_post(
    request: Request,
    principal: Principal,
    act: Callable[[Hub], tuple[int, Any, dict[str, str]]],
    scope: Scope,
    group: bool = False,
    detects: bool = True,
) -> JSONResponse:
    """Run a POST's ``act`` on the hub thread (then the detector); with an ``Idempotency-Key``,
    once (:mod:`deconflict.runtime.idempotency`: its first response kept, and replayed to a
    retry on any worker). ``group``: ``act`` touches only the store, so it may share a commit
    with other writes (see :class:`HubRunner`). The body ``act`` returns may be a function
    making it (a :class:`functools.partial`): called after the commit, off the hub thread,
    unless the response is stored, so a group's write lock is not held while its answers are
    built. ``act`` is the caller's write (its next calls wait for its detection);
    ``detects=False``: it writes nothing the detector reads (see :meth:`HubRunner.run_write`).
    ``scope`` is what ``act`` needs (it checks it itself, after what it reads is found
    visible): a success is replayed only to a token that carries it, as the key is the party's
    and not the token's (a token without it got the success another token's request had)."""
    svc = service(request)
    key = request.headers.get("idempotency-key")  # checked at the edge (api.edge)
    party = principal.party
    if key is None:
        # Encoded here, not on the hub thread: in a group, that holds the write lock.
        status, body, headers = await svc.runner.run_write(
            act, party=party, group=group, detects=detects
        )
        body = _made(body)
        if isinstance(body, BaseModel):  # pydantic's own encoder: 3 µs to its 60 here
            encoded = body.model_dump_json(by_alias=True).encode()
            return _EncodedJSON(encoded, status_code=status, headers=headers)
        return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)
    digest = hashlib.sha256(await request.body()).hexdigest()
    fingerprint = f"{request.method} {request.url.path} {digest}"

    def plain(hub: Hub) -> Answer:
        status, body, headers = act(hub)
        body = _made(body)
        if isinstance(body, BaseModel):
            return status, body.model_dump(mode="json", by_alias=True), headers
        return status, jsonable_encoder(body), headers

    response, replayed = await run_once(
        svc.runner, party, key, fingerprint, plain, svc.idempotency_ttl_s, group, detects
    )
    headers = dict(response.headers)
    if replayed:
        if response.status < 300:
            need(principal, scope)
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(response.body, status_code=response.status, headers=headers)
