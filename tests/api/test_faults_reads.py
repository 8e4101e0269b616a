"""Reads are reads: on a read-only store every read route answers 2xx, and a write is refused
with 503, Retry-After and a message without driver text (security.md §4.4).

The store is made read-only for real: the SQLite file sits on a tmpfs of its own, remounted
read-only (tests/disk.py), as a disk mounted read-only after an error would be. Before, the
hub did not even open it (its migration step began a write transaction), and every read took
the detector lease or marked deliveries first, both writes.
"""

from __future__ import annotations

import httpx
import pytest
from tests.api.harness import READ_ROUTES, circle, detected, make_db, notice_body, token
from tests.api.harness import answering_client as client
from tests.disk import remount, small_filesystem

from deconflict.settings import local_state_path

pytestmark = pytest.mark.anyio


async def _statuses(http: httpx.AsyncClient, headers: dict[str, str], own: str) -> dict[str, int]:
    """Every read route of a party, its own notice and each of its notifications."""
    routes = [*READ_ROUTES, f"/v1/notices/{own}"]
    listed = await http.get("/v1/notifications", headers=headers)
    routes += [f"/v1/notifications/{n['id']}" for n in listed.json() if listed.status_code == 200]
    routes += [
        f"/v1/conflicts/{c['id']}"
        for c in (await http.get("/v1/conflicts", headers=headers)).json()
    ]
    return {route: (await http.get(route, headers=headers)).status_code for route in routes}


async def test_a_read_only_store_serves_every_read_and_refuses_writes_cleanly(tmp_path):
    """security.md §4.4: on a SQLite store whose filesystem is read-only, the hub opens, every
    read route (notifications with undelivered ones among them, streams, the map, the ledger)
    answers 2xx to each party, and a filing answers 503 with Retry-After and "read-only"."""
    with small_filesystem(tmp_path / "disk") as disk:
        db = make_db(disk)
        us, ru = token(db, "US"), token(db, "RU")
        async with client(db) as http:
            body = notice_body(circle("u0"), id="N0")
            assert (await http.post("/v1/notices", json=body, headers=us)).status_code == 201
            body = notice_body(circle("r0"), id="R0")  # meets N0: a conflict, notifications
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
            await detected(http, ru)
            assert (await http.get("/v1/ledger/checkpoint", headers=us)).status_code == 200
        remount(disk, read_only=True)
        async with client(db) as http:
            for party, own in ((us, "N0"), (ru, "R0")):
                status = await _statuses(http, party, own)
                assert len(status) > len(READ_ROUTES) + 2  # notifications and conflicts listed
                assert all(200 <= s < 300 for s in status.values()), status
            told = (await http.get("/v1/notifications", headers=us)).json()
            assert any(n["state"] == "delivered" for n in told)  # shown as answered
            body = notice_body(circle("u1", lon=31.0), id="N1")
            refused = await http.post("/v1/notices", json=body, headers=us)
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            assert "read-only" in refused.json()["detail"]
            assert "sqlite" not in refused.text.lower()


@pytest.mark.postgres
async def test_a_read_only_postgresql_serves_every_read_and_refuses_writes_cleanly(
    tmp_path, pg_url
):
    """security.md §4.4: on PostgreSQL with ``default_transaction_read_only`` (a standby, a
    database set read-only by its operator) the hub opens, every read route answers 2xx to
    each party, and a filing answers 503 with Retry-After and "read-only", no SQL in it."""
    make_db(tmp_path, pg_url)
    state = local_state_path(pg_url)
    us, ru = token(state, "US"), token(state, "RU")
    async with client(pg_url, state=state) as http:
        body = notice_body(circle("u0"), id="N0")
        assert (await http.post("/v1/notices", json=body, headers=us)).status_code == 201
        body = notice_body(circle("r0"), id="R0")
        assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        await detected(http, ru)
        assert (await http.get("/v1/ledger/checkpoint", headers=us)).status_code == 200
    read_only = pg_url + "%20-cdefault_transaction_read_only%3Don"
    async with client(read_only, state=state) as http:
        for party, own in ((us, "N0"), (ru, "R0")):
            status = await _statuses(http, party, own)
            assert len(status) > len(READ_ROUTES) + 2
            assert all(200 <= s < 300 for s in status.values()), status
        body = notice_body(circle("u1", lon=31.0), id="N1")
        refused = await http.post("/v1/notices", json=body, headers=us)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "read-only" in refused.json()["detail"]
        assert not any(word in refused.text for word in ("INSERT", "UPDATE", "psycopg"))
