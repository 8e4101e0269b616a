"""`deconflict ledger ...` end to end: receipts checked offline, one-line errors, exit codes."""

from __future__ import annotations

import json

import pytest
from tests.hub.scenario import make_hub, vol

from deconflict.cli.main import main


@pytest.fixture
def db(tmp_path):
    """A hub database where usaf's notice N1 reached faf through caoc and was acknowledged."""
    hub, clock = make_hub(tmp_path, relay="caoc")
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.process()
    clock.advance(600)
    (told,) = hub.deliver("faf")
    clock.advance(300)
    hub.acknowledge("faf", told.id)
    hub.tick()
    hub.close()
    return tmp_path / "hub.db", told.id


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_receipt_verifies_offline_and_a_changed_byte_fails(db, capsys, tmp_path):
    """verify-receipt needs only the file and the key; one changed byte: one line, exit 1."""
    path, notification = db
    code, key, _ = run(capsys, "ledger", "key", "--db", path)
    assert code == 0
    receipt = tmp_path / "receipt.json"
    code, _, _ = run(
        capsys, "ledger", "receipt", notification, "--as", "faf", "--db", path, "--out", receipt
    )
    assert code == 0
    path.unlink()  # offline: no database
    code, out, _ = run(capsys, "ledger", "verify-receipt", receipt, "--key", key.strip())
    assert code == 0
    assert out.startswith("ok: entry ")
    assert '"via": "caoc"' in out
    raw = bytearray(receipt.read_bytes())
    raw[raw.index(b'"recipient":"faf"') + 14] ^= 0x01
    receipt.write_bytes(bytes(raw))
    code, out, err = run(capsys, "ledger", "verify-receipt", receipt, "--key", key.strip())
    assert (code, out) == (1, "")
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_verify_checkpoint_and_proofs(db, capsys):
    """verify says ok; checkpoint prints a signed note; proofs print JSON."""
    path, _ = db
    code, out, _ = run(capsys, "ledger", "verify", "--db", path)
    assert code == 0
    assert out.startswith("ok: ")
    code, out, _ = run(capsys, "ledger", "checkpoint", "--db", path)
    assert code == 0
    assert "\n\n\u2014 deconflict.hub/" in out
    size = int(out.split("\n")[1])
    code, out, _ = run(capsys, "ledger", "proof", "inclusion", 3, "--db", path)
    assert json.loads(out)["tree_size"] == size
    code, out, _ = run(capsys, "ledger", "proof", "consistency", 2, "--db", path)
    assert json.loads(out)["second"] == size
    code, out, err = run(capsys, "ledger", "proof", "inclusion", size + 5, "--db", path)
    assert code == 2
    assert err.count("\n") == 1


def test_opening_checks_against_a_receipt(db, capsys, tmp_path):
    """The filer's opening opens the commitment the recipient's receipt holds."""
    path, notification = db
    _, key, _ = run(capsys, "ledger", "key", "--db", path)
    receipt, opening = tmp_path / "r.json", tmp_path / "o.json"
    run(capsys, "ledger", "receipt", notification, "--as", "faf", "--db", path, "--out", receipt)
    run(capsys, "ledger", "open", "N1", "--as", "usaf", "--db", path, "--out", opening)
    code, out, _ = run(
        capsys,
        "ledger",
        "verify-opening",
        opening,
        "--receipt",
        receipt,
        "--key",
        key.strip(),
    )
    assert code == 0
    assert out.startswith("ok: opens")
    code, _, err = run(capsys, "ledger", "open", "N1", "--as", "faf", "--db", path)
    assert code == 1
    assert err.startswith("error: ")


def test_a_delivery_receipt_holds_its_batch_and_opens_each_notice(tmp_path, capsys):
    """Delivered, not yet acknowledged: the receipt's entry is the batch's delivery (one for
    the notifications delivered together), and each filer's opening checks against it."""
    hub, clock = make_hub(tmp_path, relay="caoc")
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("usaf", [vol("b", lat=35.5)], "air-activity", "N2")
    hub.file_notice("usaf", [vol("c", lat=34.5)], "air-activity", "N3")
    hub.process()
    clock.advance(600)
    told = hub.deliver("faf")
    assert len(told) == 3
    hub.close()
    path = tmp_path / "hub.db"
    _, key, _ = run(capsys, "ledger", "key", "--db", path)
    receipt = tmp_path / "r.json"
    second = next(n.id for n in told if n.notice_id == "N2")
    run(capsys, "ledger", "receipt", second, "--as", "faf", "--db", path, "--out", receipt)
    entry = json.loads(receipt.read_text())["entry"]
    assert (entry["type"], entry["recipient"], entry["via"]) == (
        "notifications.delivered",
        "faf",
        "caoc",
    )
    assert sorted(n["notice"] for n in entry["notifications"]) == ["N1", "N2", "N3"]
    for notice in ("N2", "N3"):
        opening = tmp_path / f"{notice}.json"
        run(capsys, "ledger", "open", notice, "--as", "usaf", "--db", path, "--out", opening)
        argv = ("ledger", "verify-opening", opening, "--receipt", receipt, "--key", key.strip())
        code, out, _ = run(capsys, *argv)
        assert (code, out.startswith("ok: opens")) == (0, True)
    (tmp_path / "other").mkdir()
    hub, _ = make_hub(tmp_path / "other", relay="caoc")  # a notice this batch does not name
    hub.file_notice("usaf", [vol("a")], "air-activity", "N9")
    hub.close()
    stranger = tmp_path / "N9.json"
    other = tmp_path / "other" / "hub.db"
    run(capsys, "ledger", "open", "N9", "--as", "usaf", "--db", other, "--out", stranger)
    argv = ("ledger", "verify-opening", stranger, "--receipt", receipt, "--key", key.strip())
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.startswith("error: ")


def test_verify_names_the_first_bad_index(db, capsys):
    """A stored entry changed behind the hub's back: verify fails naming its index."""
    import sqlite3

    path, _ = db
    with sqlite3.connect(path) as c:
        c.execute("UPDATE ledger_entries SET body = replace(body, 'usaf', 'usaF') WHERE idx = 0")
    code, out, err = run(capsys, "ledger", "verify", "--db", path)
    assert code == 1
    assert out == ""
    assert err.startswith("error: first bad index 0:")
