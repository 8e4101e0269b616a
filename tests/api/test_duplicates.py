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


@pytest.mark.parametrize("kind", ["notices", "plans"])
async def test_a_duplicate_id_with_an_idempotency_key_is_409_as_without(site, kind):
    """Issue 19 item 7, security.md §3.2: filing again with one's own explicit id and a new
    Idempotency-Key answers 409 in the same words as without a key (it answered 503 quoting
    the driver, which a client retries for ever); another party filing that id is answered
    as for a free id (201)."""
    ru, us = token(site.state, "RU"), token(site.state, "US")
    body = notice_body(circle("v1"), id="X1")
    async with client(site.db) as http:
        assert (await http.post(f"/v1/{kind}", json=body, headers=ru)).status_code == 201
        plain = await http.post(f"/v1/{kind}", json=body, headers=ru)
        keyed = await http.post(f"/v1/{kind}", json=body, headers={**ru, "Idempotency-Key": "k2"})
        assert plain.status_code == 409, plain.text
        assert keyed.status_code == 409, keyed.text
        assert keyed.json()["detail"] == plain.json()["detail"]
        assert "Retry-After" not in keyed.headers
        again = await http.post(f"/v1/{kind}", json=body, headers={**ru, "Idempotency-Key": "k2"})
        assert again.status_code == 409  # a refusal is not stored: asked again, told again
        theirs = await http.post(f"/v1/{kind}", json=body, headers={**us, "Idempotency-Key": "k3"})
        assert theirs.status_code == 201, theirs.text
