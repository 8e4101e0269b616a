"""The ledger through a real server on 127.0.0.1: the Python client, and `deconflict ledger ...`
with --url and --token printing what it prints against the database; the receipt it saves
verifies offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.harness import circle, loopback, make_db

from deconflict.api import issue_local_token
from deconflict.cli.main import main
from deconflict.client import Client
from deconflict.errors import NotFound
from deconflict.ledger import Verifier, verify_receipt


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A hub served on an ephemeral port of 127.0.0.1; stopped at the end."""
    db = make_db(tmp_path)
    with loopback(db) as url:
        yield url, db


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_client_and_cli_against_a_remote_hub(server, tmp_path, capsys):
    """RU files; US is told and acknowledges; each gets its receipt over the network, the CLI
    prints the same proofs and openings remotely as locally, and another's receipt is 404."""
    url, db = server
    ru_token = issue_local_token(db, "RU", ["read", "notice"])
    us_token = issue_local_token(db, "US", ["read", "ack"])
    with Client(url, ru_token) as ru, Client(url, us_token) as us:
        ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
        ru.list_notices()  # RU's read waits for its filing's detection: US is told by then
        (told,) = [n for n in us.notifications() if n["notice_id"] == "RU-N1"]
        us.ack(told["id"])
        key = Verifier.parse(ru.ledger_key()["key"])
        receipt = verify_receipt(us.receipt(told["id"]), key)
        assert receipt.entry["type"] == "notification.acknowledged"
        (filed,) = ru.ledger_entries("RU-N1")
        proof = ru.inclusion_proof(filed["index"])
        assert proof["entry"] == filed["entry"]
        assert key.open_checkpoint(ru.checkpoint()["note"]).size >= 1
        with pytest.raises(NotFound):
            us.receipt("RU-N1")
        with pytest.raises(NotFound):
            us.opening("RU-N1")
    remote = ("--url", url, "--token", ru_token)
    code, key_line, err = cli(capsys, "ledger", "key", *remote)
    assert code == 0, err
    assert Verifier.parse(key_line) == key
    code, note, _ = cli(capsys, "ledger", "checkpoint", *remote)
    assert code == 0
    size = key.open_checkpoint(note).size
    here = ("--db", db)
    for args in (
        ("proof", "inclusion", filed["index"], "--size", size),
        ("proof", "consistency", 1, size),
    ):
        code, far, err = cli(capsys, "ledger", *args, *remote)
        assert code == 0, err
        code, near, _ = cli(capsys, "ledger", *args, *here)
        assert far == near
    code, far, _ = cli(capsys, "ledger", "open", "RU-N1", *remote)
    code, near, _ = cli(capsys, "ledger", "open", "RU-N1", "--as", "RU", *here)
    assert json.loads(far) == json.loads(near)
    saved = tmp_path / "filing.json"
    code, out, _ = cli(capsys, "ledger", "receipt", "RU-N1", *remote, "--out", saved)
    assert code == 0
    code, out, err = cli(capsys, "ledger", "verify-receipt", saved, "--key", key_line.strip())
    assert code == 0, err
    assert '"notice": "RU-N1"' in out
    code, out, err = cli(capsys, "ledger", "receipt", told["id"], "--url", url, "--token", ru_token)
    assert (code, out) == (1, "")
    assert err.startswith("error: no receipt for")
    code, _, err = cli(capsys, "ledger", "checkpoint", "--fresh", *remote)
    assert code == 1
    assert "admin" in err
