"""Shared builders for CLI tests: the US-RU memorandum relayed by CAOC, and a hub served on
127.0.0.1 for the commands' remote backend (volumes: ``tests.api.harness``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from deconflict.api import ApiSettings, create_app

#: RU tells US everything, US tells RU nothing; CAOC relays; notice due 6 h ahead
AGREEMENT = {
    "id": "MOU",
    "parties": ["US", "RU"],
    "relay": "CAOC",
    "min_lead_time_s": 21_600,
    "ack_deadline_s": 1_800,
    "separation": {"horizontal_m": 9_260, "vertical_m": 610, "time_s": 600},
    "disclosure": [
        {"from": "RU", "to": "US", "level": "full"},
        {"from": "US", "to": "RU", "level": "none"},
    ],
}


@contextmanager
def loopback(db: Path) -> Iterator[str]:
    """The hub on ``db`` served on an ephemeral port of 127.0.0.1: its URL; stopped at the end."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(ApiSettings(db=db)), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
