"""A record with an id already stored is refused with 409 and a message saying so, never the
database's own words, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.api.harness import circle, client, make_db, notice_body, token

from deconflict.errors import AlreadyExists
from deconflict.hub import Hub

pytestmark = pytest.mark.anyio


def test_a_duplicate_party_is_already_there(store_target):
    with Hub.open(store_target) as hub:
        hub.add_party("US")
        with pytest.raises(AlreadyExists, match=r"party 'US'.*already exists") as caught:
            hub.add_party("US")
    assert caught.value.status == 409
    assert "UNIQUE" not in str(caught.value)
    assert "duplicate key" not in str(caught.value)


async def test_duplicate_ids_over_the_api_are_409(tmp_path):
    db = make_db(tmp_path)
    admin, ru = token(db, "US"), token(db, "RU")
    async with client(db) as http:
        again = await http.post("/v1/parties", json={"id": "RU"}, headers=admin)
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        assert "already exists" in again.json()["detail"]
        body = notice_body(circle("a"), id="RU-N1")
        first = await http.post("/v1/notices", json=body, headers=ru)
        assert first.status_code == 201, first.text
        second = await http.post("/v1/notices", json=body, headers=ru)
        assert second.status_code == 409, second.text
        assert "already exists" in second.json()["detail"]
        listed = (await http.get("/v1/notices", headers=ru)).json()
        assert [n["id"] for n in listed] == ["RU-N1"]
