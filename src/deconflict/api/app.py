"""The ASGI app: ``create_app(settings)`` wires the hub process's runtime
(:mod:`deconflict.runtime`: the hub thread, webhooks, deliveries), auth, limits, routes, errors,
health, metrics, one JSON log line per request and the protective headers of every response.

Nothing is global: each app owns its runtime (its hub on its own thread), its verifier, its rate
limiter and its metrics registry, so tests can run several apps in one process. What several workers
share (stored Idempotency-Key responses, webhooks and their cursors) is in the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from deconflict.api import (
    edge,
    mapview,
    openapi,
    outcomes,
    problems,
    records,
    session_routes,
    ui,
    webhook_routes,
)
from deconflict.api.auth import Issuer, Scope, TokenVerifier, load_issuers, local_issuer
from deconflict.api.closing import on_exit_signals
from deconflict.api.freshness import DetectionFreshness
from deconflict.api.headers import SecurityHeaders
from deconflict.api.ledger import router as ledger_router
from deconflict.api.limits import BodyLimit, RateLimiter, StreamSlots
from deconflict.api.observe import Observe
from deconflict.api.service import Metrics, Service, caller, need
from deconflict.geo import DEFAULT_LIMITS, GeoLimits
from deconflict.hub import Hub
from deconflict.runtime import Runtime, RuntimeSettings
from deconflict.runtime.runner import HubRunner
from deconflict.runtime.webhooks import WebhookEvent
from deconflict.runtime.webhooks.guard import Resolve

__all__ = ["ApiSettings", "create_app"]

log = logging.getLogger("deconflict.api")


@dataclass(frozen=True, slots=True)
class ApiSettings(RuntimeSettings):
    """How one HTTP service runs: its hub process's settings (:class:`RuntimeSettings`: the
    database, detection, webhooks, stored responses) and the HTTP side's. ``issuers_file`` adds
    trusted issuers; ``trust_local`` trusts the local issuer; each request body at most
    ``max_body_bytes``; each party ``rate_per_s`` requests a second, in bursts of
    ``rate_burst``."""

    issuers_file: Path | None = None
    trust_local: bool = True
    extra_issuers: Sequence[Issuer] = field(default_factory=tuple)
    max_body_bytes: int = 1 << 20
    rate_per_s: float = 50.0
    rate_burst: float = 100.0
    #: event streams a party may hold open at once in this process (0: no cap)
    streams_per_party: int = 32
    #: how far back the map reaches without ``start`` (0: no limit; ``api.mapview``)
    map_history_s: float = 86_400.0
    geo_limits: GeoLimits = DEFAULT_LIMITS
    #: SIGTERM and SIGINT end the event streams at once (the app of ``deconflict serve``, in the
    #: main thread of a server process): :mod:`deconflict.api.closing`
    end_streams_on_signals: bool = False


def _issuers(settings: ApiSettings) -> list[Issuer]:
    found = list(settings.extra_issuers)
    if settings.trust_local:
        local = local_issuer(settings.state_path, create=True)
        if local is not None:
            found.append(local)
    if settings.issuers_file is not None:
        found.extend(load_issuers(settings.issuers_file))
    return found


def create_app(
    settings: ApiSettings,
    hub_factory: Callable[[], Hub] | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    webhook_resolver: Resolve | None = None,
    webhook_observer: Callable[[WebhookEvent], None] | None = None,
) -> FastAPI:
    """The service over the hub ``hub_factory`` makes (default: the SQLite hub at ``db``);
    the webhooks' world may be replaced for tests (see :class:`deconflict.runtime.Runtime`)."""
    metrics = Metrics()
    runtime = Runtime(
        settings,
        hub_factory,
        on_handover=lambda change: metrics.handovers.labels(change).inc(),
        webhook_transport=webhook_transport,
        webhook_resolver=webhook_resolver,
        webhook_observer=webhook_observer,
    )
    svc = Service(
        runtime=runtime,
        verifier=TokenVerifier(_issuers(settings)),
        limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
        streams=StreamSlots(settings.streams_per_party),
        metrics=metrics,
        idempotency_ttl_s=settings.idempotency_ttl_s,
        map_history_s=settings.map_history_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        # /readyz answers 200 from now on: said once, so a supervisor (or a test) waits for this
        # line rather than asking again and again (the socket listens already: api.server.run)
        log.info(json.dumps({"event": "serve.ready", "pid": os.getpid()}))
        restore = (
            on_exit_signals(asyncio.get_running_loop(), svc.close_streams)
            if settings.end_streams_on_signals
            else None
        )
        try:
            yield
        finally:
            if restore is not None:
                restore()
            svc.close_streams()
            await runtime.stop()

    app = FastAPI(
        title="deconflict",
        version="1",
        summary="Advance notice and deconfliction of planned air activity.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry hooks: the service has its metrics (/metrics) and JSON
        # logs, and the hooks' check for a configured provider cost ~4% of a request's CPU.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        # FastAPI's own Swagger UI and ReDoc pages run inline script and a CDN's, which the
        # Content-Security-Policy refuses (and need the internet): /docs is the hub's own page
        # instead (deconflict.api.ui), Swagger UI from the package's files over /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.router.route_class = edge.EdgeRoute  # the app's own routes (health) too
    app.state.service = svc
    app.state.geo_limits = settings.geo_limits
    problems.install(app)
    openapi.install(app)
    app.include_router(records.router)
    app.include_router(outcomes.router)
    app.include_router(webhook_routes.router)
    app.include_router(ledger_router)
    app.include_router(mapview.router)
    app.include_router(session_routes.router)
    ui.install(app)
    _health(app, svc)
    app.add_middleware(DetectionFreshness)  # innermost: around the routes' runner calls
    app.add_middleware(Observe, metrics=svc.metrics)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        render=lambda status, detail: problems.problem(status, detail),
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every response, the others' too
    return app


def _health(app: FastAPI, svc: Service) -> None:
    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    readiness = Readiness(svc.runner)

    @app.get("/readyz", tags=["service"])
    async def readyz() -> JSONResponse:
        """The hub is open and answering (its thread ran a job within the last second)."""
        if not svc.runner.ready:
            return problems.problem(503, "the hub is not ready")
        await readiness.check()
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["service"],
        response_class=Response,
        openapi_extra={"security": [{"HTTPBearer": []}]},
    )
    async def metrics(request: Request) -> Response:
        """Prometheus metrics, with how far detection is behind the writes and whether this
        worker is the one that detects: hub-wide counts, for the operator's token (the
        ``metrics`` scope; security.md §3.7)."""
        need(caller(request), Scope.METRICS)
        if svc.runner.ready:
            lag, holder = await svc.runner.run(
                lambda hub: (hub.store.detection_lag(), hub.store.lease_holder(time.time())),
                party=None,
            )
            svc.metrics.detection_lag.set(lag)
            svc.metrics.lease_holder.set(holder.pid)
            svc.metrics.lease_token.set(holder.token)
        svc.metrics.leading.set(1 if svc.runner.leading else 0)
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


#: How long /readyz's proof that the hub thread answers stands (see :class:`Readiness`).
READY_KEEP_S = 1.0


class Readiness:
    """/readyz's proof that the hub thread answers: a job run there, one at a time, every
    concurrent check awaiting the same, and its answer standing for ``READY_KEEP_S``. The route
    needs no token (a load balancer asks it), so without this anyone could queue jobs on the
    hub thread, ahead of the parties' writes, as fast as they could send requests
    (security.md §4.2): now at most one a second, whatever the rate."""

    def __init__(self, runner: HubRunner) -> None:
        self._runner = runner
        self._job: asyncio.Future[int] | None = None
        self._proved_at: float | None = None

    async def check(self) -> None:
        """Return once the hub thread answered within ``READY_KEEP_S``; its error if it failed."""
        if self._proved_at is not None and time.monotonic() - self._proved_at < READY_KEEP_S:
            return
        if self._job is None or self._job.done():
            self._job = asyncio.ensure_future(self._runner.run(lambda hub: hub.indexed, party=None))
            self._job.add_done_callback(self._proved)
        await asyncio.shield(self._job)  # a caller that goes away leaves the job to the others

    def _proved(self, job: asyncio.Future[int]) -> None:
        if not job.cancelled() and job.exception() is None:
            self._proved_at = time.monotonic()
