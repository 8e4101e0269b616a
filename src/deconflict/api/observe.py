"""One JSON log line and the Prometheus metrics of every HTTP request, as plain ASGI middleware.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which runs the rest of the app in a
task group of its own and streams the response back through memory channels: about a third of the
event loop's time per request under load. This only watches the response start go by.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconflict.api.service import Metrics

__all__ = ["Observe"]

log = logging.getLogger("deconflict.api")


class Observe:
    """ASGI middleware: counts and times each HTTP request by method, route and status, and logs
    it (method, path, route, status, milliseconds, the caller's party, the client's address)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        method = scope["method"]
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        if not log.isEnabledFor(logging.INFO):
            return
        state = scope.get("state") or {}
        client = scope.get("client")
        log.info(
            json.dumps(
                {
                    "event": "request",
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "party": state.get("party"),
                    "client": client[0] if client else None,
                }
            )
        )
