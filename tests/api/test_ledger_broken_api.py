"""A hub whose log was cut behind its back, over HTTP: it signs nothing and refuses the writes
a party asks for with 503, in words that name no file, and still serves reads
(security.md §7.2)."""

from __future__ import annotations

import sqlite3

import pytest
from tests.api.harness import circle, client, detected, make_db, notice_body, token

pytestmark = pytest.mark.anyio


async def test_a_cut_log_answers_503_to_signing_and_to_filings(tmp_path, caplog):
    """security.md §7.2: the last signed entry deleted while the hub runs: a checkpoint, a
    receipt and a filing are each 503, without Retry-After (the halt lasts until an operator
    acts; the operator's paragraph stays in the log), and reads still work."""
    db = make_db(tmp_path)
    admin, ru = token(db, "CAOC"), token(db, "RU")
    async with client(db) as http:
        filed = await http.post(
            "/v1/notices", json=notice_body(circle("ru-1"), id="RU-N1"), headers=ru
        )
        assert filed.status_code == 201, filed.text
        await detected(http, ru)  # its outcome's entries in the log: none comes after the cut
        signed = await http.post("/v1/ledger/checkpoint", headers=admin)
        assert signed.is_success
        size = int(signed.json()["size"])
        with sqlite3.connect(db) as c:
            c.execute("DELETE FROM ledger_entries WHERE idx = ?", (size - 1,))
        again = await http.post("/v1/ledger/checkpoint", headers=admin)
        assert again.status_code == 503
        assert "retry-after" not in again.headers
        assert "ledger" in again.json()["detail"]
        assert str(tmp_path) not in again.text
        refused = await http.post(
            "/v1/notices", json=notice_body(circle("ru-2", lon=40.0), id="RU-N2"), headers=ru
        )
        assert refused.status_code == 503
        assert "retry-after" not in refused.headers
        assert str(tmp_path) not in refused.text
        assert (await http.get("/v1/notices/RU-N1", headers=ru)).status_code == 200
    assert "entries were deleted from its end" in caplog.text
