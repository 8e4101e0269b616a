"""GET /v1/parties: a party learns of the parties it shares an agreement with (and itself),
never of the others; an administrator sees every party; the read scope is needed."""

from __future__ import annotations

import pytest
from tests.api.harness import client, make_db, token

pytestmark = pytest.mark.anyio


async def test_parties_are_listed_as_agreements_connect_them(tmp_path):
    db = make_db(tmp_path)
    async with client(db) as http:

        async def ids(party: str, scopes: tuple[str, ...]) -> set[str]:
            answer = await http.get("/v1/parties", headers=token(db, party, scopes))
            assert answer.status_code == 200, answer.text
            return {p["id"] for p in answer.json()}

        assert await ids("US", ("read", "admin")) == {"US", "RU", "CAOC", "FR"}
        assert await ids("RU", ("read",)) == {"RU", "US", "CAOC"}
        assert await ids("FR", ("read",)) == {"FR", "US"}
        assert await ids("CAOC", ("read",)) == {"CAOC", "US", "RU"}
        refused = await http.get("/v1/parties", headers=token(db, "FR", ("ack",)))
        assert refused.status_code == 403
        assert (await http.get("/v1/parties")).status_code == 401
