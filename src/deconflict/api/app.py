"""The ASGI app: ``create_app(settings)`` wires the hub runner, auth, limits, routes, errors,
webhooks, health, metrics and one JSON log line per request.

Nothing is global: each app owns its hub (on its own thread), its verifier, its rate limiter, its
idempotency store and its metrics registry, so tests can run several apps in one process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from deconflict.api import mapview, outcomes, problems, records, ui, webhooks
from deconflict.api.auth import Issuer, TokenVerifier, load_issuers, local_issuer
from deconflict.api.ledger import router as ledger_router
from deconflict.api.limits import BodyLimit, Idempotency, RateLimiter
from deconflict.api.observe import Observe
from deconflict.api.runner import HubRunner
from deconflict.api.service import Metrics, Service
from deconflict.api.webhooks import Webhooks, WebhookSender
from deconflict.geo import DEFAULT_LIMITS, GeoLimits
from deconflict.hub import Hub
from deconflict.settings import local_state_path

__all__ = ["ApiSettings", "create_app"]

log = logging.getLogger("deconflict.api")


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """How one service runs. ``db`` is the SQLite file or a database URL; ``state`` is the path
    the service's local files (issuer key, idempotency and webhook state) are named after
    (default: see :func:`deconflict.settings.local_state_path`); ``issuers_file`` adds trusted
    issuers; ``trust_local`` trusts the local issuer."""

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
    geo_limits: GeoLimits = DEFAULT_LIMITS


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
) -> FastAPI:
    """The service over the hub ``hub_factory`` makes (default: the SQLite hub at ``db``);
    ``webhook_transport`` replaces the network for webhook deliveries (tests)."""
    factory = hub_factory if hub_factory is not None else (lambda: Hub.open(settings.db))
    runner = HubRunner(factory, settings.detect_interval_s)
    state = _state(settings)
    side = state.with_name(state.name + ".service")  # the service's own state
    svc = Service(
        runner=runner,
        verifier=TokenVerifier(_issuers(settings)),
        limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
        idempotency=Idempotency(side),
        metrics=Metrics(),
        webhooks=Webhooks(side),
    )
    sender = WebhookSender(
        runner, svc.webhooks, webhook_transport, base_backoff_s=settings.webhook_backoff_s
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runner.start()
        sender.start()
        try:
            yield
        finally:
            await sender.stop()
            await runner.stop()
            svc.idempotency.close()
            svc.webhooks.close()

    app = FastAPI(
        title="deconflict",
        version="1",
        summary="Advance notice and deconfliction of planned air activity.",
        lifespan=lifespan,
    )
    app.state.service = svc
    app.state.geo_limits = settings.geo_limits
    problems.install(app)
    app.include_router(records.router)
    app.include_router(outcomes.router)
    app.include_router(webhooks.router)
    app.include_router(ledger_router)
    app.include_router(mapview.router)
    ui.install(app)
    _health(app, svc)
    app.add_middleware(Observe, metrics=svc.metrics)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        render=lambda status, detail: problems.problem(status, detail),
    )
    return app


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

    @app.get("/metrics", tags=["service"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
