"""What every route shares: the service state, the caller, scope checks and idempotent POSTs.

``Service`` holds the parts one app owns (hub runner, token verifier, rate limiter, idempotency
store, metrics); routes reach it through ``request.app.state.service``, so two apps in one process
never share anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Histogram

from deconflict.api.auth import Principal, Scope, TokenVerifier
from deconflict.api.limits import Idempotency, RateLimiter, StoredResponse
from deconflict.api.problems import ApiError
from deconflict.api.runner import HubRunner

if TYPE_CHECKING:
    from deconflict.api.webhooks import Webhooks
from deconflict.hub import Hub

__all__ = ["Caller", "Metrics", "Service", "idempotent_post", "need", "service"]


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


@dataclass(slots=True)
class Service:
    runner: HubRunner
    verifier: TokenVerifier
    limiter: RateLimiter
    idempotency: Idempotency
    metrics: Metrics
    webhooks: Webhooks


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


_bearer = HTTPBearer(auto_error=False, description="A JWT from a trusted issuer.")


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    svc = service(request)
    principal = svc.verifier.verify(request.headers.get("authorization"))
    request.state.party = principal.party
    svc.limiter.take(principal.party)
    return principal


#: The authenticated, rate-limited caller of a route.
Caller = Annotated[Principal, Depends(_caller)]


def need(principal: Principal, scope: Scope) -> None:
    """403 unless the caller's token carries ``scope`` (check visibility first: hidden is 404)."""
    if not principal.has(scope):
        raise ApiError(403, f"the token lacks the scope {scope.value!r}")


async def idempotent_post(
    request: Request,
    principal: Principal,
    act: Callable[[Hub], tuple[int, Any, dict[str, str]]],
    group: bool = False,
) -> JSONResponse:
    """Run a POST's ``act`` on the hub thread (then the detector); with an ``Idempotency-Key``,
    the first successful response is stored and a replay of the same request returns it.
    ``group``: ``act`` touches only the store, so it may share a commit with other writes
    (see :class:`HubRunner`); a POST with an Idempotency-Key never does, so that two requests
    with one key are run one after the other and the second finds the first's response."""
    svc = service(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise ApiError(400, "Idempotency-Key must be 1 to 255 characters")
    digest = hashlib.sha256(await request.body()).hexdigest()
    fingerprint = f"{request.method} {request.url.path} {digest}"
    party = principal.party

    def job(hub: Hub) -> tuple[StoredResponse, bool]:
        if key is not None:
            stored = svc.idempotency.get(party, key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise ApiError(422, "this Idempotency-Key was used for a different request")
                return stored, True
        status, body, headers = act(hub)
        response = StoredResponse(fingerprint, status, jsonable_encoder(body), headers)
        if key is not None:
            svc.idempotency.put(party, key, response)
        return response, False

    response, replayed = await svc.runner.run_write(job, group=group and key is None)
    headers = dict(response.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(response.body, status_code=response.status, headers=headers)
