"""API load benchmark: notices filed per second through a real ``deconflict serve``.

    python -m benchmarks.api --json bench-api.json

For each backend (a fresh SQLite file; a scratch PostgreSQL database, dropped afterwards) and each
kind of traffic, the hub is set up in this process (parties A and B under one agreement, full
disclosure both ways), then ``deconflict serve`` is started as a subprocess on 127.0.0.1 with an
ephemeral port. ``--clients`` asyncio clients file notices as A and B, alternately, until
``--duration-s`` has passed or ``--max-notices`` are filed, whichever comes first.

- contended: every notice is a 2 km circle whose centre lies within 1.5 km of one point (all in
  one 5 km area), 1 to 3 km up; notice k starts k minutes after a base time and lasts 5 minutes,
  so each overlaps the four notices filed around it (about half of them the other party's) and
  every notice conflicts with others, without the pairs growing with the square of the run.
- spread: the same circles at random places worldwide and random hours in the coming year.

``--workers 1,2`` runs each case with ``deconflict serve --workers`` 1, then 2.

Figures: notices filed per second (completed 201s over the wall time of the run), request latency
p50/p99, and commit-to-delivery latency: both parties hold the event stream ``/v1/events`` open,
and for each notice the time from its POST's response to the arrival of the other party's first
event naming it (a notification is created by detection after the commit, so it may arrive just
before the client has read the response: such a latency counts as 0). And the CPU time a notice
costs, from the load's start to its last delivery: the server's (every process of ``deconflict
serve``: HTTP workers and the detector, read from Linux's /proc), and the load generator's own,
which shares the machine's cores with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deconflict.api import issue_local_token
from deconflict.engine import SeparationMinima
from deconflict.hub import Hub
from deconflict.model import Agreement, Disclosure
from deconflict.settings import local_state_path
from deconflict.testing import served

__all__ = ["main"]

PARTIES = ("A", "B")
CENTRE = (39.0, 35.95)  # lon, lat: Raqqa
_KEEP_ALIVE_S = 4.0  # longest a load connection is reused after its last answer
DSS = {"contended": "5-30", "spread": "120-150"}  # InterUSS DSS writes/s, ARCHITECTURE.md


@dataclass(frozen=True, slots=True)
class Figures:
    backend: str
    traffic: str
    workers: int
    clients: int
    offered: str  # "closed": each client files again when answered; else notices/s due
    filed: int
    errors: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float
    delivered: int
    delivery_p50_ms: float
    delivery_p99_ms: float
    #: CPU time per notice filed, of the server's processes (all of them: HTTP workers and the
    #: detector) and of this load generator; NaN where /proc cannot be read
    server_cpu_ms: float = math.nan
    client_cpu_ms: float = math.nan


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _circle(fid: str, party: str, lon: float, lat: float, start_s: float) -> dict[str, Any]:
    def rfc(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "id": fid,
            "party": party,
            "radius_m": 2_000.0,
            "lower_m": 1_000.0,
            "upper_m": 3_000.0,
            "start": rfc(start_s),
            "end": rfc(start_s + 300.0),
        },
    }


def notice_body(traffic: str, k: int, party: str, base_s: float, rng: random.Random) -> bytes:
    """The k-th notice of a run (see the module docstring for the two kinds of traffic)."""
    if traffic == "contended":
        bearing = rng.uniform(0.0, 2 * math.pi)
        reach_m = 1_500.0 * math.sqrt(rng.random())
        lat = CENTRE[1] + reach_m * math.cos(bearing) / 111_320.0
        lon = CENTRE[0] + reach_m * math.sin(bearing) / (111_320.0 * math.cos(math.radians(lat)))
        start_s = base_s + 60.0 * k
    else:
        lon, lat = rng.uniform(-179.0, 179.0), rng.uniform(-60.0, 60.0)
        start_s = base_s + rng.uniform(0.0, 365 * 86_400.0)
    body = {
        "type": "FeatureCollection",
        "id": f"N-{k}",
        "category": "air-activity",
        "features": [_circle(f"v-{k}", party, lon, lat, start_s)],
    }
    return json.dumps(body).encode()


def _setup(db: str, env: dict[str, str]) -> dict[str, str]:
    """Parties A and B under one agreement; a token for each (from the issuer the server, run
    with ``env``, trusts)."""
    with Hub.open(db) as hub:
        for party in PARTIES:
            hub.add_party(party)
        hub.add_agreement(
            Agreement(
                id="MOU",
                parties=PARTIES,
                minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
                default_disclosure=Disclosure.FULL,
                ack_deadline_s=86_400.0,
            )
        )
    state = local_state_path(db, env)
    return {p: issue_local_token(state, p, ["read", "notice", "ack"]) for p in PARTIES}


async def _listen(
    url: str, token: str, arrivals: dict[str, float], ready: asyncio.Event, stop_at: list[float]
) -> None:
    """Record when each notice is first named by an event on this party's stream. A plain
    HTTP/1.1 reader of the chunked event stream, not httpx, whose line iterator cost the load
    generator about 0.15 ms of CPU a notice more here (0.65 ms a notice in all, measured at 250
    notices/s: two streams, several events a notice), which the hub's processes would lose to
    it on 2 cores."""
    host, _, port = url.removeprefix("http://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"GET /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        if head[9:12] != b"200":
            raise RuntimeError(f"the event stream answered {head[:12]!r}")
        chunked = b"transfer-encoding: chunked" in head.lower()
        ready.set()
        pending = b""
        while time.perf_counter() <= stop_at[0]:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    return
                data = (await reader.readexactly(size + 2))[:-2]
            else:
                data = await reader.read(65_536)
                if not data:
                    return
            now = time.perf_counter()
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if line.startswith(b"data: "):
                    notice = json.loads(line[6:]).get("notice_id")
                    if notice is not None and notice not in arrivals:
                        arrivals[notice] = now
    finally:
        writer.close()


class _Connection:
    """A minimal HTTP/1.1 keep-alive client for the load's POSTs. httpx costs about a
    millisecond of CPU a request here (measured: 300 GET /healthz a second with the client
    process at 100% of a core), which on 2 cores would measure the load generator, not the hub;
    this costs a tenth of that (the event streams have one of their own, :func:`_listen`)."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            self._writer.write(head.encode() + body)
            header = await self._reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length = 0
            for line in header.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return status, await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await self.close()
            raise

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


async def _load(
    url: str,
    tokens: dict[str, str],
    traffic: str,
    clients: int,
    duration_s: float,
    limit: int,
    rate: float = 0.0,
) -> tuple[dict[str, tuple[str, float]], list[float], int, float, dict[str, float]]:
    arrivals: dict[str, float] = {}
    stop_at = [math.inf]
    readies = [asyncio.Event() for _ in PARTIES]
    listeners = [
        asyncio.create_task(_listen(url, tokens[p], arrivals, r, stop_at))
        for p, r in zip(PARTIES, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 10.0)
    await asyncio.sleep(0.3)
    answered: dict[str, tuple[str, float]] = {}  # notice id -> (party, response time)
    latencies: list[float] = []
    errors = 0
    kinds: Counter[str] = Counter()  # what the errors were: a status, or an exception's name
    counter = iter(range(limit))
    base_s = time.time() + 30 * 86_400.0
    host, _, port = url.removeprefix("http://").partition(":")
    started = time.perf_counter()
    deadline = started + duration_s

    async def file(connection: _Connection, k: int, party: str, body: bytes, since: float) -> bool:
        """POST notice k as ``party`` and note the outcome, its latency counted from ``since``;
        whether the connection can be used again."""
        nonlocal errors
        try:
            status, _ = await asyncio.wait_for(
                connection.post("/v1/notices", body, tokens[party]), 30.0
            )
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as error:
            errors += 1
            kinds[type(error).__name__] += 1
            return False
        done = time.perf_counter()
        if status == 201:
            latencies.append(done - since)
            answered[f"N-{k}"] = (party, done)
        else:
            errors += 1
            kinds[str(status)] += 1
        return True

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        connection = _Connection(host, int(port))
        try:
            for k in counter:
                if time.perf_counter() >= deadline:
                    return
                party = PARTIES[k % 2]
                body = notice_body(traffic, k, party, base_s, rng)
                if not await file(connection, k, party, body, time.perf_counter()):
                    await connection.close()  # a cut-off exchange leaves it unusable
        finally:
            await connection.close()

    async def open_loop() -> None:
        """Notice k is due at ``started + k / rate``, whatever became of the earlier ones; it
        goes out on an idle connection (a new one when none is), and its latency counts from
        when it was due, so a slow answer is not hidden by the requests it held back."""
        rng = random.Random(0)
        # (connection, when last used): one idle longer than the server keeps it open (uvicorn:
        # 5 s) is closed, not reused, as HTTP clients do (httpx: keepalive_expiry).
        idle = [(_Connection(host, int(port)), time.perf_counter()) for _ in range(clients)]
        running: set[asyncio.Task[None]] = set()

        async def one(k: int, due: float) -> None:
            party = PARTIES[k % 2]
            body = notice_body(traffic, k, party, base_s, rng)
            connection = None
            while idle and connection is None:
                connection, used = idle.pop()
                if time.perf_counter() - used > _KEEP_ALIVE_S:
                    await connection.close()
                    connection = None
            if connection is None:
                connection = _Connection(host, int(port))
            if await file(connection, k, party, body, due):
                idle.append((connection, time.perf_counter()))
            else:
                await connection.close()

        for k in counter:
            due = started + k / rate
            if due >= deadline:
                break
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            task = asyncio.create_task(one(k, due))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.wait(running, timeout=35.0)
        for connection, _ in idle:
            await connection.close()

    if rate > 0:
        await open_loop()
    else:
        await asyncio.gather(*(client(i) for i in range(clients)))
    # Until the last answer: an open loop the hub cannot keep up with shows its true rate.
    elapsed = max((done for _, done in answered.values()), default=started) - started
    settle = time.perf_counter() + 5.0  # notifications still on their way
    while time.perf_counter() < settle and not all(n in arrivals for n in answered):
        await asyncio.sleep(0.05)
    stop_at[0] = time.perf_counter()
    for task in listeners:
        task.cancel()
    for task in listeners:
        with contextlib.suppress(asyncio.CancelledError, OSError, asyncio.IncompleteReadError):
            await task
    if kinds:
        print(f"errors: {dict(kinds)}", file=sys.stderr, flush=True)
    return answered, latencies, errors, elapsed, arrivals


def _children_cpu_s() -> float:
    """CPU seconds (user and system) spent so far by the processes below this one, read from
    Linux's /proc (NaN elsewhere): the server's, when this process runs nothing else."""
    try:
        parents: dict[int, int] = {}
        used: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:  # it ended meanwhile
                continue
            parents[int(entry)] = int(fields[1])
            used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, IndexError):
        return math.nan
    below, todo = set(), [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in below:
                below.add(pid)
                todo.append(pid)
    return sum(used[pid] for pid in below)


def _own_cpu_s() -> float:
    """This process's CPU seconds, every thread's (not ``os.times``: its clock ticks are 10 ms, a
    short run's whole load)."""
    return time.process_time()


@contextlib.contextmanager
def _no_collector_pauses() -> Iterator[None]:
    """The load generator's cyclic garbage collector off while it measures: a full collection
    of what it holds by then took 55-65 ms, a pause that every request due meanwhile counted
    as the hub's latency (at 500/s, the 30-50 worst of a run's 7,500: its p99). Bounded in
    count and time, a run's load holds what it makes until it ends anyway."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def run_one(
    backend: str,
    db: str,
    env: dict[str, str],
    traffic: str,
    args: argparse.Namespace,
    workers: int = 1,
    rate: float = 0.0,
) -> Figures:
    tokens = _setup(db, env)
    with served(db, "--workers", str(workers), env=env) as url, _no_collector_pauses():
        server_before, client_before = _children_cpu_s(), _own_cpu_s()
        answered, latencies, errors, elapsed, arrivals = asyncio.run(
            _load(url, tokens, traffic, args.clients, args.duration_s, args.max_notices, rate)
        )
        server_s, client_s = _children_cpu_s() - server_before, _own_cpu_s() - client_before
    delivery = [
        max(0.0, arrivals[n] - done) for n, (_party, done) in answered.items() if n in arrivals
    ]
    return Figures(
        backend=backend,
        traffic=traffic,
        workers=workers,
        clients=args.clients,
        offered="closed" if rate <= 0 else f"{rate:g}/s",
        filed=len(answered),
        errors=errors,
        seconds=round(elapsed, 2),
        per_s=round(len(answered) / elapsed, 1),
        p50_ms=round(_quantile(latencies, 0.5) * 1000, 1),
        p99_ms=round(_quantile(latencies, 0.99) * 1000, 1),
        delivered=len(delivery),
        delivery_p50_ms=round(_quantile(delivery, 0.5) * 1000, 1),
        delivery_p99_ms=round(_quantile(delivery, 0.99) * 1000, 1),
        server_cpu_ms=round(server_s / max(1, len(answered)) * 1000, 2),
        client_cpu_ms=round(client_s / max(1, len(answered)) * 1000, 2),
    )


@contextlib.contextmanager
def _scratch_postgres(url: str) -> Iterator[str]:
    """A fresh database on the server at ``url``, dropped afterwards."""
    import psycopg

    name = f"deconflict_bench_{os.getpid()}_{random.randrange(1 << 30)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base, _, _ = url.rpartition("/")
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table(rows: list[Figures]) -> str:
    lines = [
        "| backend | traffic | workers | clients | offered | filed | errors | notices/s | p50 ms "
        "| p99 ms | delivered | delivery p50 ms | delivery p99 ms | server CPU ms/notice "
        "| load CPU ms/notice | DSS writes/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.backend} | {r.traffic} | {r.workers} | {r.clients} | {r.offered} | {r.filed} "
            f"| {r.errors} "
            f"| {r.per_s} | {r.p50_ms} | {r.p99_ms} | {r.delivered} | {r.delivery_p50_ms} "
            f"| {r.delivery_p99_ms} | {r.server_cpu_ms} | {r.client_cpu_ms} | {DSS[r.traffic]} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--traffic", default="contended,spread")
    parser.add_argument("--workers", default="1", help="serve --workers, a comma list: 1,2")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--rates",
        default="0",
        help="a comma list of offered loads in notices/s (open loop: notices go out on "
        "schedule, latency counts from when each was due); 0 is the closed loop, --clients "
        "each filing again when answered",
    )
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--max-notices", type=int, default=20_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DECONFLICT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="deconflict-bench-api-") as folder:
        base = dict(os.environ)
        base["DECONFLICT_RATE_PER_S"] = "1e9"  # the benchmark measures the hub, not the limiter
        base["DECONFLICT_RATE_BURST"] = "1e9"
        cases = 0
        for backend in args.backends.split(","):
            for traffic in args.traffic.split(","):
                for workers in sorted({int(w) for w in args.workers.split(",")}):
                    for rate in [float(r) for r in args.rates.split(",")]:
                        cases += 1
                        # A state folder a case, as a hub a database: its ledger key and the
                        # record of what it signed (another database's would halt the hub).
                        env = base | {"DECONFLICT_STATE_DIR": str(Path(folder) / f"state-{cases}")}
                        if backend == "sqlite":
                            db = str(Path(folder) / f"bench-{cases}.db")
                            rows.append(run_one(backend, db, env, traffic, args, workers, rate))
                        else:
                            with _scratch_postgres(args.pg_url) as db:
                                rows.append(run_one(backend, db, env, traffic, args, workers, rate))
                        print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
