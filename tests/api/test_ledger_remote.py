"""The ledger through a real server on 127.0.0.1: the Python client, and `deconflict ledger ...`
with --url and --token printing what it prints against the database; the receipt it saves
verifies offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.harness import circle, keep_checkpoint, loopback, make_db

from deconflict.api import issue_local_token
from deconflict.cli.main import main
from deconflict.client import Client
from deconflict.errors import NotFound, NotYetCommitted
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
        keep_checkpoint(db)  # as the server's tick does within a second: receipts come under it
        key = Verifier.parse(ru.ledger_key()["key"])
        receipt = verify_receipt(us.receipt(told["id"]), key)
        assert receipt.entry["type"] == "notification.acknowledged"
        (filed,) = ru.ledger_entries("RU-N1")
        proof = ru.inclusion_proof(filed["index"])
        assert proof["entry"] == filed["entry"]
        ru.amend_notice("RU-N1", 1, [circle("ru-1", upper_m=9_000.0)])
        whole = ru.ledger_entries("RU-N1", page=1)  # every page, one entry a page
        assert [e["entry"]["version"] for e in whole] == [1, 2]
        assert ru.ledger_entries("RU-N1", filed["index"], 5) == whole[1:]
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


def _answers(*answers: tuple[int, dict[str, str]]) -> httpx.MockTransport:
    """A hub that answers the receipt route with ``answers`` in turn: (status, headers)."""
    left = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        status, headers = left.pop(0)
        if status == 202:
            return httpx.Response(202, headers=headers, json={"detail": "not yet"})
        return httpx.Response(200, content=b'{"receipt":1}')

    return httpx.MockTransport(handle)


def test_the_client_asks_again_for_a_receipt_within_its_wait():
    """A receipt the hub gives later (202, security.md §3.4: under the next kept checkpoint)
    is asked again after each Retry-After while the waits keep within ``wait_s``; past it, or
    with no wait, NotYetCommitted says when to ask."""
    slept: list[float] = []
    later = ((202, {"Retry-After": "1"}), (202, {"Retry-After": "2"}), (200, {}))
    with Client("http://hub", "t", transport=_answers(*later)) as client:
        assert client.receipt("N1", wait_s=3.0, sleep=slept.append) == b'{"receipt":1}'
    assert slept == [1.0, 2.0]
    for wait_s, retry_after, sleeps in ((0.0, "1", []), (5.0, "300", []), (2.0, "x", [1.0, 1.0])):
        slept.clear()
        refused = [(202, {"Retry-After": retry_after})] * 3
        client = Client("http://hub", "t", transport=_answers(*refused))
        with client, pytest.raises(NotYetCommitted) as caught:
            client.receipt("N1", wait_s=wait_s, sleep=slept.append)
        assert slept == sleeps
        assert caught.value.retry_after_s == (300.0 if retry_after == "300" else 1.0)


def test_the_cli_says_when_to_ask_again_for_a_receipt(tmp_path, capsys, monkeypatch):
    """`deconflict ledger receipt --url` of a filing no kept checkpoint holds yet: with no wait
    left, one line saying to ask again (exit 1), nothing written; once the hub keeps one, the
    receipt. (The server's tick, which keeps one within seconds, is held off here.)"""
    monkeypatch.setattr("deconflict.runtime.runner._TICK_EVERY_S", float("inf"))
    db = make_db(tmp_path)
    with loopback(db) as url:
        ru_token = issue_local_token(db, "RU", ["read", "notice"])
        with Client(url, ru_token) as ru:
            ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
        remote = ("--url", url, "--token", ru_token)
        saved = tmp_path / "filing.json"
        code, out, err = cli(
            capsys, "ledger", "receipt", "RU-N1", *remote, "--wait", 0, "--out", saved
        )
        assert (code, out) == (1, "")
        assert err.startswith("error: not yet: "), err
        assert "ask again in 2 s" in err, err
        assert not saved.exists()
        keep_checkpoint(db)
        code, _, err = cli(
            capsys, "ledger", "receipt", "RU-N1", *remote, "--wait", 0, "--out", saved
        )
        assert code == 0, err
        assert json.loads(saved.read_text())["entry"]["notice"] == "RU-N1"
