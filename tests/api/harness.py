"""Shared builders for API tests: a hub database with four parties and two agreements, the app
in-process over httpx's ASGI transport (lifespan run) or served on 127.0.0.1 (``loopback``),
tokens from the local issuer."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from deconflict.api import ApiSettings, create_app, issue_local_token
from deconflict.engine import SeparationMinima
from deconflict.hub import Hub
from deconflict.model import Agreement, Disclosure
from deconflict.runtime.runner import HubRunner
from deconflict.settings import ledger_key_path

ALL_SCOPES = ("read", "notice", "plan", "ack", "admin")


#: Every read route of a party that needs no record id (fault tests read each of them).
READ_ROUTES = (
    "/v1/notices",
    "/v1/conflicts",
    "/v1/notifications",
    "/v1/map",
    "/v1/plans",
    "/v1/agreements",
    "/v1/parties",
    "/v1/ledger/key",
    "/v1/ledger/checkpoint",
    "/v1/ledger/checkpoints",
    "/v1/events?once=true",
    "/readyz",
)


@dataclass(frozen=True)
class Site:
    """Where a hub's database is (a SQLite file or a database URL), and the path its local files
    (issuer key) are named after; the ``site`` fixture (tests/api/conftest.py) makes one."""

    db: str
    state: Path


def make_db(tmp_path: Path, target: str | None = None) -> Path:
    """US and RU under a memorandum relayed by CAOC (RU -> US full, US -> RU none); US and FR
    share in full; FR and RU have no agreement. In ``tmp_path``/hub.db, or in ``target`` (a
    database URL) if given."""
    db = tmp_path / "hub.db"
    with Hub.open(target or db) as hub:
        for party in ("US", "RU", "CAOC", "FR"):
            hub.add_party(party)
        minima = SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0)
        hub.add_agreement(
            Agreement(
                id="MOU",
                parties=("US", "RU"),
                relay="CAOC",
                minima=minima,
                disclosure={("RU", "US"): Disclosure.FULL, ("US", "RU"): Disclosure.NONE},
                ack_deadline_s=1800.0,
            )
        )
        hub.add_agreement(
            Agreement(
                id="SHARE",
                parties=("US", "FR"),
                minima=minima,
                default_disclosure=Disclosure.FULL,
            )
        )
    return db


@asynccontextmanager
async def leader_and_standby(db: Path) -> AsyncIterator[tuple[HubRunner, HubRunner]]:
    """Two runners on ``db``, as two serve processes: the first started holds the lease."""
    leader = HubRunner(lambda: Hub.open(db), interval_s=0.02)
    standby = HubRunner(lambda: Hub.open(db), interval_s=0.02)
    await leader.start()
    await standby.start()
    try:
        yield leader, standby
    finally:
        async with asyncio.timeout(20.0):  # a bound on a hang
            await standby.stop()
            await leader.stop()


async def detected(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Return once the writes of the party whose token ``headers`` carry are detected: that
    party's read waits for it (read-your-writes), and what they caused is then stored for every
    party to read. Another party's read waits for no one's writes but its own (security.md
    §3.5), so a test that reads one party's outcome of another's filing calls this first."""
    (await http.get("/v1/notices", params={"limit": 1}, headers=headers)).raise_for_status()


def keep_checkpoint(db: Path | str, state: Path | None = None) -> None:
    """Sign and keep a checkpoint of the log as it is now, as a serving hub's tick does within
    seconds of its log growing: a receipt over HTTP is given under a kept one only. With the
    key of the hub whose local files are named after ``state`` (default: ``db``)."""
    key = ledger_key_path(str(state if state is not None else db))
    with Hub.open(db, ledger_key=key) as hub:
        hub.ledger.checkpoint()


def token(db: Path, party: str, scopes: Iterable[str] = ALL_SCOPES) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_local_token(db, party, scopes)}"}


@asynccontextmanager
async def client(db: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app at ``db``, in-process, with the lifespan running."""
    app = create_app(ApiSettings(db=db, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield http


def circle(
    fid: str,
    lon: float = 39.0,
    lat: float = 35.95,
    radius_m: float = 5_000.0,
    lower_m: float = 1_000.0,
    upper_m: float = 8_000.0,
    start: str = "2099-01-01T06:00:00Z",
    end: str = "2099-01-01T08:00:00Z",
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "id": fid,
            "radius_m": radius_m,
            "lower_m": lower_m,
            "upper_m": upper_m,
            "start": start,
            "end": end,
        },
    }


def notice_body(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


@asynccontextmanager
async def answering_client(db: Path | str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """As :func:`client`, but an app error is a 500 answer, as a client would see it, not an
    exception in the test (for fault tests: each route's status, whatever the others do)."""
    app = create_app(ApiSettings(db=db, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield http


@asynccontextmanager
async def client_with(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on an already made app, in-process, with the lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield http


class _SignallingServer(uvicorn.Server):
    """uvicorn's server, telling when its start-up is over (``up``), served or failed."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.up.set()


@contextmanager
def loopback(db: Path | str, app: Any = None) -> Iterator[str]:
    """The hub on ``db`` (or ``app``, already made) served by uvicorn on an ephemeral port of
    127.0.0.1: its URL; stopped at the end (for what only a real server shows: the network,
    live streams, the CLI)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    served = app if app is not None else create_app(ApiSettings(db=db))
    config = uvicorn.Config(served, log_level="warning", lifespan="on")
    server = _SignallingServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    server.up.wait(30)  # set once it serves, or once it gave up starting
    try:
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
