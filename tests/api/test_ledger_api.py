"""The ledger over HTTP, on SQLite and PostgreSQL: the key and checkpoints, proofs that verify
with the ledger's own verifiers, receipts that verify offline with the key alone, and nothing
shown of records a party may not see (404, exactly as for what does not exist)."""

from __future__ import annotations

import base64
import json

import pytest
from tests.api.harness import (
    Site,
    circle,
    client,
    client_with,
    keep_checkpoint,
    make_db,
    notice_body,
    token,
)

from deconflict.api import ApiSettings, create_app
from deconflict.cli.main import main
from deconflict.hub.ledger_key import KeyMismatch
from deconflict.ledger import (
    Opening,
    Verifier,
    canonical,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_opening,
    verify_receipt,
)

pytestmark = pytest.mark.anyio


def b64s(items: list[str]) -> list[bytes]:
    return [base64.b64decode(item) for item in items]


async def play(http, site: Site) -> dict[str, str]:
    """RU files RU-N1 (relayed to US by CAOC); US adds a plan that meets it and acknowledges
    the notice. Returns the ids."""
    ru, us = token(site.state, "RU"), token(site.state, "US")
    body = notice_body(circle("ru-1"), category="hazard-area", id="RU-N1")
    assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
    plan = await http.post("/v1/plans", json=notice_body(circle("us-1", lon=39.02)), headers=us)
    assert plan.status_code == 201, plan.text
    notes = (await http.get("/v1/notifications", headers=us)).json()
    told = next(n for n in notes if n["kind"] == "notice" and n["notice_id"] == "RU-N1")
    acked = await http.post(f"/v1/notifications/{told['id']}/ack", headers=us)
    assert acked.status_code == 200, acked.text
    (conflict,) = (await http.get("/v1/conflicts", headers=us)).json()
    return {"notice": "RU-N1", "notification": told["id"], "conflict": conflict["id"]}


async def test_key_checkpoints_and_consistency(site):
    """The key checks every checkpoint; signing on demand is admin only; two kept checkpoints
    are proven consistent."""
    async with client(site.db, state=site.state) as http:
        ru = token(site.state, "RU", ("read", "notice", "ack"))
        admin = token(site.state, "CAOC")
        key = (await http.get("/v1/ledger/key", headers=ru)).json()
        verifier = Verifier.parse(key["key"])
        assert key["origin"] == verifier.name
        first = (await http.post("/v1/ledger/checkpoint", headers=admin)).json()
        await play(http, site)
        refused = await http.post("/v1/ledger/checkpoint", headers=ru)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        second = (await http.post("/v1/ledger/checkpoint", headers=admin)).json()
        assert second["size"] > first["size"]
        latest = (await http.get("/v1/ledger/checkpoint", headers=ru)).json()
        assert latest == second
        for kept in (first, second):
            checkpoint = verifier.open_checkpoint(kept["note"])
            assert (checkpoint.size, base64.b64encode(checkpoint.root).decode()) == (
                kept["size"],
                kept["root"],
            )
        listed = (await http.get("/v1/ledger/checkpoints", headers=ru)).json()
        assert [c["size"] for c in listed] == sorted(c["size"] for c in listed)
        assert listed[-1] == second
        page = await http.get(
            "/v1/ledger/checkpoints", params={"since": second["size"], "limit": 1}, headers=ru
        )
        assert page.json() == [second]
        proof = await http.get(
            "/v1/ledger/proofs/consistency",
            params={"first": first["size"], "second": second["size"]},
            headers=ru,
        )
        assert proof.status_code == 200, proof.text
        old, new = (verifier.open_checkpoint(c["note"]) for c in (first, second))
        verify_consistency(old.size, new.size, old.root, new.root, b64s(proof.json()["proof"]))


async def test_inclusion_proofs_verify_and_hidden_entries_are_404(site):
    """A party proves the entries about its records under a checkpoint; an entry about a notice
    hidden from a party is 404 as a missing one; a conflict with a plan is its owner's private
    entry, in no shared entry."""
    async with client(site.db, state=site.state) as http:
        ids = await play(http, site)
        ru, us, fr = (token(site.state, p) for p in ("RU", "US", "FR"))
        verifier = Verifier.parse((await http.get("/v1/ledger/key", headers=ru)).json()["key"])
        note = (await http.post("/v1/ledger/checkpoint", headers=ru)).json()["note"]
        checkpoint = verifier.open_checkpoint(note)
        about = await http.get("/v1/ledger/entries", params={"record": "RU-N1"}, headers=ru)
        (filed,) = about.json()
        assert filed["entry"]["type"] == "notice.filed"
        for caller in (ru, us):  # the filer, and US to whom it is disclosed
            got = await http.get(
                "/v1/ledger/proofs/inclusion",
                params={"index": filed["index"], "size": checkpoint.size},
                headers=caller,
            )
            assert got.status_code == 200, got.text
            body = got.json()
            leaf = leaf_hash(canonical(body["entry"]))
            verify_inclusion(
                leaf, filed["index"], checkpoint.size, b64s(body["proof"]), checkpoint.root
            )
        missing = await http.get("/v1/ledger/proofs/inclusion", params={"index": 10**9}, headers=fr)
        assert missing.status_code == 404
        hidden = await http.get(
            "/v1/ledger/proofs/inclusion", params={"index": filed["index"]}, headers=fr
        )
        assert hidden.status_code == 404
        assert hidden.json()["detail"] == f"no ledger entry {filed['index']}"
        assert hidden.headers["content-type"] == "application/problem+json"
        none = await http.get("/v1/ledger/entries", params={"record": "RU-N1"}, headers=fr)
        assert none.json() == []
        # The conflict of RU's notice with US's plan is US's private entry (security.md §3.4):
        # in no shared entry anyone may list, and only US has (soon) a receipt of it.
        conflict = ids["conflict"]
        for caller in (us, ru):
            listed = await http.get(
                "/v1/ledger/entries", params={"record": conflict}, headers=caller
            )
            assert listed.json() == []
        pending = await http.get(f"/v1/ledger/receipts/{conflict}", headers=us)
        assert pending.status_code == 202, pending.text
        assert int(pending.headers["retry-after"]) >= 1
        refused = await http.get(f"/v1/ledger/receipts/{conflict}", headers=ru)
        assert refused.status_code == 404


async def test_a_delivery_batch_s_entry_is_for_its_recipient_and_relay_only(site):
    """The entry that records a batch of deliveries (``notifications.delivered``) is found by
    each notification it names, and only the recipient and the relay may read or prove it."""
    async with client(site.db, state=site.state) as http:
        ids = await play(http, site)
        notification = ids["notification"]
        seen = {}
        for party in ("US", "CAOC", "RU", "FR"):
            got = await http.get(
                "/v1/ledger/entries",
                params={"record": notification},
                headers=token(site.state, party),
            )
            seen[party] = [e for e in got.json() if e["entry"]["type"] == "notifications.delivered"]
        (batch,) = seen["US"]
        assert seen["CAOC"] == seen["US"]
        assert seen["RU"] == seen["FR"] == []
        entry = batch["entry"]
        assert (entry["recipient"], entry["via"]) == ("US", "CAOC")
        assert notification in [n["notification"] for n in entry["notifications"]]
        for party, status in (("US", 200), ("CAOC", 200), ("RU", 404), ("FR", 404)):
            got = await http.get(
                "/v1/ledger/proofs/inclusion",
                params={"index": batch["index"]},
                headers=token(site.state, party),
            )
            assert got.status_code == status, party


async def test_receipt_over_http_verifies_offline(site, tmp_path, capsys):
    """A receipt fetched over HTTP verifies with `deconflict ledger verify-receipt` and the
    public key alone; with one byte changed it does not."""
    async with client(site.db, state=site.state) as http:
        ids = await play(http, site)
        keep_checkpoint(site.db, site.state)  # a receipt comes under a kept checkpoint
        us, ru = token(site.state, "US"), token(site.state, "RU")
        key = (await http.get("/v1/ledger/key", headers=us)).json()["key"]
        got = await http.get(f"/v1/ledger/receipts/{ids['notification']}", headers=us)
        assert got.status_code == 200, got.text
        filing = await http.get("/v1/ledger/receipts/RU-N1", headers=ru)
        assert filing.status_code == 200, filing.text
        opening = await http.get("/v1/ledger/openings/RU-N1", headers=ru)
        assert opening.status_code == 200, opening.text
    receipt = tmp_path / "receipt.json"
    receipt.write_bytes(got.content)
    code = main(["ledger", "verify-receipt", str(receipt), "--key", key])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("ok: entry ")
    entry = verify_receipt(got.content, Verifier.parse(key)).entry
    assert entry["type"] == "notification.acknowledged"
    assert (entry["recipient"], entry["via"], entry["notice"]) == ("US", "CAOC", "RU-N1")
    # RU's opening opens the commitment US's receipt names, and RU's own filing receipt's
    verify_opening(Opening.from_json(opening.json()), entry["notice_commitment"])
    filed = verify_receipt(filing.content, Verifier.parse(key)).entry
    assert filed["commitment"] == entry["notice_commitment"]
    raw = bytearray(got.content)
    raw[raw.index(b'"recipient":"US"') + 14] ^= 0x01
    receipt.write_bytes(bytes(raw))
    assert main(["ledger", "verify-receipt", str(receipt), "--key", key]) == 1
    assert capsys.readouterr().err.startswith("error: ")


async def test_asking_a_receipt_signs_no_checkpoint_for_others_to_see(site, monkeypatch):
    """security.md §3.4: a receipt of an entry no kept checkpoint held signed and kept a fresh
    one, and the kept checkpoints are every party's to read: FR, with no agreement with RU, saw
    one appear whenever someone had just asked for a receipt (a forty-second reader). Over HTTP
    a receipt comes under a kept checkpoint only: until the tick keeps one, 202 and
    ``Retry-After``."""
    monkeypatch.setattr("deconflict.runtime.runner._TICK_EVERY_S", float("inf"), raising=False)
    async with client(site.db, state=site.state) as http:
        ru, fr = token(site.state, "RU"), token(site.state, "FR")
        body = notice_body(circle("ru-1"), category="hazard-area", id="RU-N1")
        assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201

        async def kept() -> list[int]:
            listed = await http.get("/v1/ledger/checkpoints", headers=fr)
            return [c["size"] for c in listed.json()]

        before = await kept()
        later = await http.get("/v1/ledger/receipts/RU-N1", headers=ru)
        assert later.status_code == 202, later.text
        assert int(later.headers["Retry-After"]) >= 1
        assert later.headers["content-type"] == "application/problem+json"
        no_read = token(site.state, "RU", ("notice",))  # refused, not told to wait
        assert (await http.get("/v1/ledger/receipts/RU-N1", headers=no_read)).status_code == 403
        assert await kept() == before
        keep_checkpoint(site.db, site.state)  # the tick's
        got = await http.get("/v1/ledger/receipts/RU-N1", headers=ru)
        assert got.status_code == 200, got.text
        assert len(await kept()) == len(before) + 1


async def test_receipts_and_openings_only_for_whom_they_concern(site):
    """Another party's receipt or opening is 404 with the words a missing record gets; the
    relay gets the receipt of what it relayed; a missing scope is 403 only where visible."""
    async with client(site.db, state=site.state) as http:
        ids = await play(http, site)
        keep_checkpoint(site.db, site.state)  # a receipt comes under a kept checkpoint
        notification = ids["notification"]
        caoc = token(site.state, "CAOC")
        relayed = await http.get(f"/v1/ledger/receipts/{notification}", headers=caoc)
        assert relayed.status_code == 200
        refused = [
            ("US", "/v1/ledger/receipts/RU-N1"),  # told of it, but not its filer
            ("FR", "/v1/ledger/receipts/RU-N1"),
            ("RU", f"/v1/ledger/receipts/{notification}"),  # the filer, not the recipient
            ("FR", f"/v1/ledger/receipts/{notification}"),
            ("US", "/v1/ledger/openings/RU-N1"),
            ("CAOC", "/v1/ledger/openings/RU-N1"),
        ]
        for party, path in refused:
            got = await http.get(path, headers=token(site.state, party))
            record = path.rsplit("/", 1)[1]
            ghost = await http.get(
                path.replace(record, "NO-SUCH"), headers=token(site.state, party)
            )
            assert (got.status_code, ghost.status_code) == (404, 404), (party, path)
            assert got.json()["detail"] == ghost.json()["detail"].replace("NO-SUCH", record)
        no_read = token(site.state, "RU", ("notice",))
        assert (await http.get("/v1/ledger/receipts/RU-N1", headers=no_read)).status_code == 403
        hidden = await http.get(f"/v1/ledger/receipts/{notification}", headers=no_read)
        assert hidden.status_code == 404


async def test_a_hub_with_another_key_file_will_not_sign(tmp_path, monkeypatch, caplog):
    """A worker given a key file that is not the log's: as the detector (which ticks) it does
    not start; beside one that detects, it answers 503 where it would sign, its log saying why
    (the caller learns no file name), and serves the rest."""
    db = make_db(tmp_path)
    good = create_app(ApiSettings(db=db))
    async with client_with(good) as http:  # holds the detector lease from here on
        admin = token(db, "CAOC")
        assert (await http.post("/v1/ledger/checkpoint", headers=admin)).is_success
        monkeypatch.setenv("DECONFLICT_LEDGER_KEY", str(tmp_path / "another.key"))
        async with client(db) as other:
            got = await other.post("/v1/ledger/checkpoint", headers=admin)
            assert got.status_code == 503
            assert "another.key" not in got.text
            assert "another.key" in caplog.text
            assert (await other.get("/v1/ledger/key", headers=admin)).is_success
    with pytest.raises(KeyMismatch):
        async with client(db):
            pass


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/ledger/proofs/inclusion", {"index": -1}, "query:index"),
        ("/v1/ledger/proofs/inclusion", {"index": "x"}, "query:index"),
        ("/v1/ledger/proofs/inclusion", {"index": 1, "size": 10**9}, "query:size"),  # RU added
        ("/v1/ledger/proofs/inclusion", {"index": 1, "size": 1}, "query:size"),
        ("/v1/ledger/proofs/consistency", {"first": 0}, "query:first"),
        ("/v1/ledger/proofs/consistency", {"first": 10**9}, "query:first"),
        ("/v1/ledger/proofs/consistency", {"first": 1, "second": 10**9}, "query:second"),
        ("/v1/ledger/proofs/consistency", {"first": 3, "second": 2}, "query:first"),
        ("/v1/ledger/checkpoints", {"limit": 0}, "query:limit"),
        ("/v1/ledger/openings/RU-N1", {"version": 0}, "query:version"),
    ],
)
async def test_bad_input_names_the_field(tmp_path, path, params, field):
    """Bad query parameters are a problem+json naming the parameter."""
    db = make_db(tmp_path)
    async with client(db) as http:
        await http.post(
            "/v1/notices",
            json=notice_body(circle("ru-1"), id="RU-N1"),
            headers=token(db, "RU"),
        )
        got = await http.get(path, params=params, headers=token(db, "RU"))
    assert got.status_code == 422, got.text
    assert got.headers["content-type"] == "application/problem+json"
    assert got.json()["field"] == field


async def test_openapi_describes_the_ledger(tmp_path):
    """Every ledger route is in the served OpenAPI document."""
    db = make_db(tmp_path)
    async with client(db) as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/ledger/key",
        "/v1/ledger/checkpoint",
        "/v1/ledger/checkpoints",
        "/v1/ledger/entries",
        "/v1/ledger/proofs/inclusion",
        "/v1/ledger/proofs/consistency",
        "/v1/ledger/receipts/{record_id}",
        "/v1/ledger/openings/{notice_id}",
    ):
        assert path in paths
    assert "post" in paths["/v1/ledger/checkpoint"]
    receipt = paths["/v1/ledger/receipts/{record_id}"]["get"]["responses"]["200"]
    assert "application/json" in receipt["content"]
    assert json.dumps(receipt)


async def test_the_entries_about_a_record_come_a_page_at_a_time(site):
    """A notice's owner may amend it as often as it likes; the entries about it came whole (a
    notice of 100,000 versions, a 50 MB answer: security.md §4.2). A page holds at most
    ``limit`` (1000, the most); a full page links the next, after its last index, and the
    pages hold the whole list."""
    async with client(site.db, state=site.state) as http:
        await play(http, site)
        ru = token(site.state, "RU")
        body = notice_body(circle("ru-1", upper_m=9_000.0), category="hazard-area")
        for version in range(1, 6):
            amended = await http.put(
                "/v1/notices/RU-N1", json=body, headers={**ru, "If-Match": f'"{version}"'}
            )
            assert amended.status_code == 200, amended.text
        whole = await http.get("/v1/ledger/entries", params={"record": "RU-N1"}, headers=ru)
        assert "next" not in whole.links
        every = whole.json()
        assert [e["entry"]["version"] for e in every] == [1, 2, 3, 4, 5, 6]
        for caller in (ru, token(site.state, "US")):  # its owner, and US that sees it whole
            found, page = (
                [],
                await http.get(
                    "/v1/ledger/entries", params={"record": "RU-N1", "limit": 4}, headers=caller
                ),
            )
            found += page.json()
            assert len(found) == 4
            while "next" in page.links:
                page = await http.get(page.links["next"]["url"], headers=caller)
                found += page.json()
            assert found == every
        for bad in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"after": "x"}, {"after": 2**63}):
            refused = await http.get(
                "/v1/ledger/entries", params={"record": "RU-N1", **bad}, headers=ru
            )
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
