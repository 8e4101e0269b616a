"""Hostile parties against the API's identifiers and what the ledger names (security.md §3.2,
§3.4): ids are safe and each party's own, and no entry a party may read names what it may not
see."""

from __future__ import annotations

import json

import pytest
from tests.api.harness import circle, client, keep_checkpoint, make_db, notice_body, token

pytestmark = pytest.mark.anyio

#: Ids a hostile party tries: each was committed before, then answered 500, dropped the
#: connection, or could never be fetched again.
BAD_IDS = [
    "Ракка",  # Cyrillic
    "\U0001f6e9",  # an emoji
    "a/b",
    "a\r\nSet-Cookie: x=1",
    "a\x00b",
    "-leading",
    ".hidden",
    "x" * 65,
    "",
    " ",
    "%2e%2e",
    "<img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_an_id_outside_the_alphabet_is_refused_naming_its_field(tmp_path, bad):
    """security.md §3.2: a notice id, a plan id or a volume id outside A-Z a-z 0-9 . _ ~ -
    (1 to 64, starting with a letter or digit) is refused with 422 naming the field, and
    nothing is filed."""
    db = make_db(tmp_path)
    ru = token(db, "RU")
    async with client(db) as http:
        cases = [
            ("/v1/notices", notice_body(circle("v1"), id=bad), "/id"),
            ("/v1/plans", notice_body(circle("v1"), id=bad), "/id"),
            ("/v1/notices", notice_body(circle(bad), id="N1"), "/features/0/properties/id"),
            ("/v1/plans", notice_body(circle(bad), id="P1"), "/features/0/properties/id"),
        ]
        for path, body, field in cases:
            answer = await http.post(path, json=body, headers=ru)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["field"] == field, answer.text
        assert (await http.get("/v1/notices", headers=ru)).json() == []
        assert (await http.get("/v1/plans", headers=ru)).json() == []


@pytest.mark.parametrize("bad", ["a\u202eb", "a\x00b", "line\nbreak", "tab\there", ""])
async def test_free_text_with_control_or_format_characters_is_refused(tmp_path, bad):
    """security.md §3.2: a category is printable text: a bidirectional override, a NUL or a
    line break (which reorder or forge what is shown around it) is refused, naming the field."""
    db = make_db(tmp_path)
    async with client(db) as http:
        body = notice_body(circle("v1"), id="N1", category=bad)
        answer = await http.post("/v1/notices", json=body, headers=token(db, "RU"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "/category"


async def test_an_id_another_party_holds_answers_as_a_free_id(tmp_path):
    """security.md §3.2: filing with an id a hidden notice or plan holds answered 409, telling a
    party with no agreement that the record exists. Ids are each party's own: FR (no agreement
    with RU) files and plans under RU's ids and gets exactly what a free id gets."""
    db = make_db(tmp_path)
    ru, fr = token(db, "RU"), token(db, "FR")
    async with client(db) as http:
        for path, body in (
            ("/v1/notices", notice_body(circle("v1"), id="SECRET-N")),
            ("/v1/plans", notice_body(circle("v1"), id="SECRET-P")),
        ):
            assert (await http.post(path, json=body, headers=ru)).status_code == 201
        answers = {}
        for record_id, path in (
            ("SECRET-N", "/v1/notices"),
            ("SECRET-P", "/v1/plans"),
            ("FREE-N", "/v1/notices"),
            ("FREE-P", "/v1/plans"),
        ):
            answer = await http.post(path, json=notice_body(circle("v1"), id=record_id), headers=fr)
            body = answer.json()
            answers[record_id] = (answer.status_code, body["party"], body["version"])
        assert answers["SECRET-N"] == answers["FREE-N"] == (201, "FR", 1)
        assert answers["SECRET-P"] == answers["FREE-P"] == (201, "FR", 1)
        mine = await http.get("/v1/notices/SECRET-N", headers=fr)
        assert mine.json()["party"] == "FR"
        theirs = await http.get("/v1/notices/SECRET-N", headers=ru)
        assert theirs.json()["party"] == "RU"


async def test_a_party_that_may_see_two_notices_of_one_id_names_whose(tmp_path):
    """security.md §3.2: US may see RU's and FR's notices; both call one "N1". Asked without
    a party, the hub says it may see several (naming only those it may see); with ?party= it
    gives each."""
    db = make_db(tmp_path)
    async with client(db) as http:
        for party in ("RU", "FR"):
            body = notice_body(circle(f"{party}-v"), id="N1")
            filed = await http.post("/v1/notices", json=body, headers=token(db, party))
            assert filed.status_code == 201
        us = token(db, "US")
        both = await http.get("/v1/notices/N1", headers=us)
        assert both.status_code == 409
        for party in ("RU", "FR"):
            one = await http.get("/v1/notices/N1", params={"party": party}, headers=us)
            assert one.json()["party"] == party


async def test_no_entry_or_receipt_names_a_notice_hidden_from_its_reader(tmp_path):
    """security.md §3.4: a receipt or ledger entry given to a party named a notice its
    agreement hides from it (US tells RU nothing), with its version and commitment; the relay
    read them too. RU's conflict notification's entries, its receipt, and the relay's entries
    now name the conflict only."""
    db = make_db(tmp_path)
    async with client(db) as http:
        us_body = notice_body(circle("us-v", lower_m=6_000.0, upper_m=7_000.0), id="US-HIDDEN")
        assert (await http.post("/v1/notices", json=us_body, headers=token(db, "US"))).is_success
        ru_body = notice_body(circle("ru-v", lower_m=6_000.0, upper_m=7_000.0), id="RU-N1")
        assert (await http.post("/v1/notices", json=ru_body, headers=token(db, "RU"))).is_success
        ru = token(db, "RU")
        listed = (await http.get("/v1/notifications", headers=ru)).json()
        told = [n for n in listed if n["recipient"] == "RU" and n["conflict_id"]]
        assert told, listed
        keep_checkpoint(db)  # a receipt comes under a kept checkpoint
        for reader in ("RU", "CAOC"):
            headers = token(db, reader)
            for n in told:
                about = await http.get(f"/v1/ledger/entries?record={n['id']}", headers=headers)
                assert about.status_code == 200, about.text
                text = json.dumps(about.json())
                assert about.json(), "the reader is told of its notification's entries"
                assert "US-HIDDEN" not in text
                assert "us-v" not in text
            receipt = await http.get(f"/v1/ledger/receipts/{told[0]['id']}", headers=ru)
            assert receipt.status_code == 200, receipt.text
            assert "US-HIDDEN" not in receipt.text
