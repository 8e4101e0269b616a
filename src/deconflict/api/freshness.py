"""``Deconflict-Detection: pending`` on an answer made before the detector had passed the
caller's own writes (:mod:`deconflict.runtime.runner`, ``FRESHNESS``).

A party's read waits for the detection of its own filings, so that it sees their conflicts. On
a process that does not detect, it waits a bounded time (the detector process of ``serve`` may
still be building its index at a start, or have stalled), then is answered from what is stored:
this header then tells the party that the check of its filing is still to come, rather than let
"no conflict" pass for a result. It says nothing of other parties' writes, which no call waits
for (security.md §3.5): only the caller's own.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconflict.runtime.freshness import FRESHNESS, Freshness

__all__ = ["HEADER", "DetectionFreshness"]

#: The header's name, and its one value.
HEADER = "Deconflict-Detection"
PENDING = "pending"


class DetectionFreshness:
    """ASGI middleware: hears, for each HTTP request, whether the runner answered it behind
    detection of the caller's writes, and says so in the response's header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        heard = Freshness()
        token = FRESHNESS.set(heard)

        async def told(message: Message) -> None:
            if message["type"] == "http.response.start" and heard.behind:
                headers = [*message.get("headers", ()), (HEADER.lower().encode(), PENDING.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, told)
        finally:
            FRESHNESS.reset(token)
