"""Event streams end as soon as the server is asked to stop.

Why. uvicorn, on SIGTERM or SIGINT, stops accepting connections, waits up to its graceful timeout
for the open responses to finish, then cancels them and logs an ERROR with a traceback. An event
stream never finishes by itself, so every stop of a server with a stream open took the whole
timeout (5 s) and logged an error. The app is not told of the signal (its lifespan's shutdown
comes after that wait), so it listens itself: :func:`on_exit_signals`, called by the lifespan
when the app runs in the main thread of ``deconflict serve``, puts a handler before the server's
own that tells the app (which ends its streams: a client reconnects elsewhere with
``Last-Event-ID`` and loses nothing), then hands the signal on to the server's handler.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["on_exit_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_exit_signals(
    loop: asyncio.AbstractEventLoop, tell: Callable[[], None]
) -> Callable[[], None]:
    """Call ``tell()`` on ``loop`` at SIGTERM or SIGINT, then the handler there was before;
    what puts the handlers back. Nothing outside the main thread (signals are its alone)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    before: dict[int, Any] = {signum: signal.getsignal(signum) for signum in _SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(tell)
        previous = before[signum]
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL and signum == signal.SIGINT:
            raise KeyboardInterrupt

    for signum in _SIGNALS:
        signal.signal(signum, handler)

    def restore() -> None:
        for signum, previous in before.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, previous)

    return restore
