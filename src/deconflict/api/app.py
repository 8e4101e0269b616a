"""The ASGI app: ``create_app(settings)`` wires the hub runner, auth, limits, routes, errors,
webhooks, health, metrics, one JSON log line per request and the protective headers of every
response.

Nothing is global: each app owns its hub (on its own thread), its verifier, its rate limiter and
its metrics registry, so tests can run several apps in one process. What several workers share
(stored Idempotency-Key responses, webhooks and their cursors) is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
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
    session,
    ui,
    webhooks,
)
from deconflict.api.auth import Issuer, Scope, TokenVerifier, load_issuers, local_issuer
from deconflict.api.closing import on_exit_signals
from deconflict.api.deliveries import DeliveryMarks
from deconflict.api.headers import SecurityHeaders
from deconflict.api.ledger import router as ledger_router
from deconflict.api.limits import BodyLimit, RateLimiter
from deconflict.api.observe import Observe
from deconflict.api.runner import HubRunner
from deconflict.api.service import Metrics, Service, caller, need, service_state
from deconflict.api.webhooks import (
    Destinations,
    SenderSettings,
    WebhookEvent,
    WebhookKey,
    Webhooks,
    WebhookSender,
    parse_networks,
)
from deconflict.api.webhooks.guard import Resolve
from deconflict.api.webhooks.net import SystemResolver
from deconflict.geo import DEFAULT_LIMITS, GeoLimits
from deconflict.hub import Hub
from deconflict.settings import local_state_path, webhook_key_path

__all__ = ["ApiSettings", "create_app"]

log = logging.getLogger("deconflict.api")


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """How one service runs. ``db`` is the SQLite file or a database URL; ``state`` is the path
    the service's local files (the local issuer's key) are named after (default: see
    :func:`deconflict.settings.local_state_path`); ``issuers_file`` adds trusted issuers;
    ``trust_local`` trusts the local issuer. Stored Idempotency-Key responses are replayed for
    ``idempotency_ttl_s`` and swept every ``sweep_s`` by the lease holder.

    Webhooks (see :mod:`deconflict.api.webhooks`): sent to public addresses and to the networks
    of ``webhook_allow_networks`` (CIDRs); their secrets sealed with the key in the file
    ``webhook_key`` (default: the ``webhook-key`` setting, else ``<state>.webhook-key``); each
    attempt at most ``webhook_timeout_s`` in all, ``webhook_in_flight`` at once per receiver,
    ``webhook_window`` notifications read ahead of a receiver's cursor, a failed one retried
    after ``webhook_backoff_s`` doubling to 5 minutes; webhooks looked at every
    ``webhook_poll_s``."""

    db: str | Path
    state: Path | None = None
    issuers_file: Path | None = None
    trust_local: bool = True
    extra_issuers: Sequence[Issuer] = field(default_factory=tuple)
    max_body_bytes: int = 1 << 20
    rate_per_s: float = 50.0
    rate_burst: float = 100.0
    detect_interval_s: float = 0.05
    webhook_backoff_s: float = 1.0
    webhook_poll_s: float = 1.0
    webhook_allow_networks: tuple[str, ...] = ()
    webhook_key: Path | None = None
    webhook_timeout_s: float = 10.0
    webhook_in_flight: int = 4
    webhook_window: int = 256
    idempotency_ttl_s: float = 86_400.0
    sweep_s: float = 60.0
    geo_limits: GeoLimits = DEFAULT_LIMITS
    #: allocations between young-generation collections in this process (0: Python's own GC
    #: settings, left alone: an app in a test, or inside another program); see ``tune_gc``
    gc_threshold: int = 0
    #: the app is the detector process of ``deconflict serve`` (:mod:`deconflict.api.background`):
    #: a preferred holder of the detector lease, which an HTTP worker holding it gives back
    detector_process: bool = False
    #: SIGTERM and SIGINT end the event streams at once (the app of ``deconflict serve``, in the
    #: main thread of a server process): :mod:`deconflict.api.closing`
    end_streams_on_signals: bool = False


def _state(settings: ApiSettings) -> Path:
    return settings.state if settings.state is not None else local_state_path(str(settings.db))


def _issuers(settings: ApiSettings) -> list[Issuer]:
    found = list(settings.extra_issuers)
    if settings.trust_local:
        local = local_issuer(_state(settings), create=True)
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
    """The service over the hub ``hub_factory`` makes (default: the SQLite hub at ``db``).
    Tests replace parts of the webhooks' world: ``webhook_transport`` the network,
    ``webhook_resolver`` the DNS (``await resolve(host, port)``: the addresses), and
    ``webhook_observer`` is told of every delivery attempt and cursor move (on the event
    loop)."""
    factory = hub_factory if hub_factory is not None else (lambda: Hub.open(settings.db))
    metrics = Metrics()
    runner = HubRunner(
        factory,
        settings.detect_interval_s,
        preferred=settings.detector_process,
        on_handover=lambda change: metrics.handovers.labels(change).inc(),
    )
    allowed = parse_networks(settings.webhook_allow_networks)
    # Lookups of the names parties set (in requests) and of the receivers' (in deliveries) on
    # threads of their own, so slow names set by one cannot hold up the deliveries.
    resolvers = [] if webhook_resolver is not None else [SystemResolver(8), SystemResolver(16)]
    set_resolve, send_resolve = _resolvers(webhook_resolver, resolvers)
    key_file = settings.webhook_key or webhook_key_path(_state(settings))
    svc = Service(
        runner=runner,
        verifier=TokenVerifier(_issuers(settings)),
        limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
        metrics=metrics,
        webhooks=Webhooks(runner, WebhookKey.load(key_file), Destinations(set_resolve, allowed)),
        deliveries=DeliveryMarks(runner),
        idempotency_ttl_s=settings.idempotency_ttl_s,
    )
    sender = WebhookSender(
        runner,
        svc.webhooks,
        Destinations(send_resolve, allowed),
        SenderSettings(
            timeout_s=settings.webhook_timeout_s,
            in_flight=settings.webhook_in_flight,
            window=settings.webhook_window,
            backoff_s=settings.webhook_backoff_s,
            poll_s=settings.webhook_poll_s,
        ),
        webhook_transport,
        webhook_observer,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_threshold:
            tune_gc(settings.gc_threshold)
        await runner.start()
        await svc.webhooks.seal_clear_secrets()
        sender.start()
        sweeper = asyncio.create_task(_sweep(runner, settings))
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
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await sender.stop()
            for resolver in resolvers:
                resolver.close()
            await svc.deliveries.stop()
            await runner.stop()

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
    app.include_router(webhooks.router)
    app.include_router(ledger_router)
    app.include_router(mapview.router)
    app.include_router(session.router)
    ui.install(app)
    _health(app, svc)
    app.add_middleware(Observe, metrics=svc.metrics)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        render=lambda status, detail: problems.problem(status, detail),
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every response, the others' too
    return app


def _resolvers(given: Resolve | None, made: list[SystemResolver]) -> tuple[Resolve, Resolve]:
    """The resolvers of names set through the API and of the sender's connections: ``given``
    for both, or the two ``made``."""
    if given is not None:
        return given, given
    return made[0], made[1]


def tune_gc(threshold: int) -> None:
    """Collect garbage less often in a serving process: a young-generation collection every
    ``threshold`` allocations instead of Python's 700, and what exists now (modules, the app,
    caches) frozen out of every later collection, so that an older generation's collection
    scans only what requests made. Python's collections, each pausing every thread of the
    process, were among the filings' slowest moments: at 250 notices/s on SQLite, p99 fell from
    163-410 ms to 67-100 ms with 20,000, at the same CPU a notice."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *gc.get_threshold()[1:])


async def _sweep(runner: HubRunner, settings: ApiSettings) -> None:
    """Every ``sweep_s``, the lease holder deletes expired Idempotency-Key responses, a bounded
    batch at a time (an expired one is ignored when read anyway: this only bounds the table)."""
    while True:
        await asyncio.sleep(settings.sweep_s)
        if not runner.leading:
            continue
        before_s = time.time() - settings.idempotency_ttl_s

        def expire(hub: Hub, before_s: float = before_s) -> int:
            return service_state(hub).expire_responses(before_s)

        try:
            await runner.run(expire)
        except Exception:  # the next sweep tries again
            log.exception("expiring stored responses failed")


def _health(app: FastAPI, svc: Service) -> None:
    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    async def readyz() -> JSONResponse:
        """The hub is open and answering."""
        if not svc.runner.ready:
            return problems.problem(503, "the hub is not ready")
        await svc.runner.run(lambda hub: hub.indexed)
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
                settled=False,
            )
            svc.metrics.detection_lag.set(lag)
            svc.metrics.lease_holder.set(holder.pid)
            svc.metrics.lease_token.set(holder.token)
        svc.metrics.leading.set(1 if svc.runner.leading else 0)
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
