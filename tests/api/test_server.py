"""Against a real uvicorn server on 127.0.0.1 (an ephemeral port): the client, a live event
stream that delivers a notice within a second, and the CLI in remote mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.harness import circle, loopback, make_db, notice_body
from tests.api.streams import LiveStream

from deconflict.api import issue_local_token
from deconflict.cli.main import main
from deconflict.client import Client
from deconflict.errors import NotFound, VersionConflict


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A hub served on an ephemeral port of 127.0.0.1; stopped at the end."""
    db = make_db(tmp_path)
    with loopback(db) as url:
        yield url, db


def test_client_and_live_events(server):
    """US's stream, open before RU files, receives RU's notice live; US acknowledges it;
    errors come back as deconflict's own."""
    url, db = server
    ru = Client(url, issue_local_token(db, "RU", ["read", "notice"]))
    us_token = issue_local_token(db, "US", ["read", "ack"])
    us = Client(url, us_token)
    with LiveStream(url, us_token) as stream:
        filed = ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
        data = stream.notice("RU-N1")
        last = stream.last_event_id
    assert data["via"] == "CAOC"
    assert us.ack(data["id"])["state"] == "acknowledged"
    assert filed["version"] == 1
    with pytest.raises(VersionConflict):
        ru.amend_notice("RU-N1", 5, category="x")
    with pytest.raises(NotFound):
        us.cancel_notice("RU-N1")
    assert [e.data["id"] for e in us.events(last, once=True)] == []
    ru.close()
    us.close()


def test_the_client_reads_every_page_of_notifications(server):
    """``notifications()`` follows the hub's pages to the end; with ``limit``, one page."""
    url, db = server
    ru = Client(url, issue_local_token(db, "RU", ["read", "notice"]))
    us_token = issue_local_token(db, "US", ["read"])
    us = Client(url, us_token)
    with LiveStream(url, us_token) as stream:
        for k in range(5):
            ru.file_notice([circle(f"v{k}", lon=39.0 + 0.2 * k)], "air-activity", f"RU-N{k}")
        # each told once detected, after its filing's commit; one pass's in its own order
        stream.notices([f"RU-N{k}" for k in range(5)])
    whole = us.notifications()
    assert sorted(n["notice_id"] for n in whole) == [f"RU-N{k}" for k in range(5)]
    assert us.notifications(page=2) == whole
    assert us.notifications(limit=2) == whole[:2]
    assert us.notifications(after=whole[1]["id"], limit=2) == whole[2:4]
    ru.close()
    us.close()


def test_the_client_reads_every_page_of_plans(server):
    """``list_plans()`` follows the hub's pages to the end; with ``limit``, one page."""
    url, db = server
    us = Client(url, issue_local_token(db, "US", ["read", "plan"]))
    for k in range(5):
        us.add_plan([circle(f"p{k}", lon=39.0 + 0.2 * k)], f"US-P{k}")
    whole = us.list_plans()
    assert sorted(p["id"] for p in whole) == [f"US-P{k}" for k in range(5)]
    assert us.list_plans(page=2) == whole
    assert us.list_plans(limit=2) == whole[:2]
    assert us.list_plans(after=whole[1]["id"], limit=2) == whole[2:4]
    assert us.amend_plan("US-P0", 1, [circle("moved", lon=45.0)])["version"] == 2
    with pytest.raises(VersionConflict):
        us.amend_plan("US-P0", 1, [circle("back")])
    assert us.withdraw_plan("US-P1")["state"] == "withdrawn"
    assert [p["id"] for p in us.list_plans()] == ["US-P0", "US-P2", "US-P3", "US-P4"]
    assert us.get_plan("US-P0")["version"] == 2
    us.close()


def test_cli_remote_mode(server, capsys, tmp_path):
    """The CLI files, lists, reads notifications and acknowledges through --url and --token."""
    url, db = server
    ru = issue_local_token(db, "RU", ["read", "notice"])
    us = issue_local_token(db, "US", ["read", "ack", "plan"])
    (tmp_path / "ru.json").write_text(json.dumps(notice_body(circle("ru-1"))))
    (tmp_path / "us.json").write_text(json.dumps(notice_body(circle("us-1", lon=39.02))))

    def cli(*args: str) -> str:
        code = main([*args, "--url", url])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    assert "filed notice RU-N1" in cli(
        "notice", "file", str(tmp_path / "ru.json"), "--id", "RU-N1", "--token", ru
    )
    assert "added plan" in cli("plan", "add", str(tmp_path / "us.json"), "--token", us)
    listed = json.loads(cli("notice", "list", "--json", "--token", us))
    assert [n["id"] for n in listed] == ["RU-N1"]
    with LiveStream(url, us) as stream:  # US is told of the conflict once it is detected
        stream.next(lambda data: data["kind"] == "conflict")
    conflicts = json.loads(cli("conflicts", "--json", "--token", us))
    assert conflicts[0]["theirs"] == "RU:ru-1"
    notes = json.loads(cli("notifications", "--json", "--token", us))
    assert "acknowledged" in cli("ack", notes[0]["id"], "--token", us)
    code = main(["notice", "cancel", "RU-N1", "--url", url, "--token", us])
    assert code == 1
    assert "no notice" in capsys.readouterr().err
    (plan,) = json.loads(cli("plan", "list", "--json", "--token", us))
    (tmp_path / "away.json").write_text(json.dumps(notice_body(circle("us-1", lon=45.0))))
    amended = cli("plan", "amend", plan["id"], str(tmp_path / "away.json"), "--token", us)
    assert amended.startswith(f"amended plan {plan['id']} (version 2")
    stale = ["plan", "amend", plan["id"], str(tmp_path / "us.json"), "--version", "1"]
    assert main([*stale, "--url", url, "--token", us]) == 1
    assert "version" in capsys.readouterr().err
    assert cli("plan", "withdraw", plan["id"], "--token", us) == f"withdrew plan {plan['id']}\n"
    assert json.loads(cli("plan", "list", "--json", "--token", us)) == []
