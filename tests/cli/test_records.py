"""The record commands work against a local database, end to end, with one-line errors."""

from __future__ import annotations

import json

from tests.api.harness import circle, notice_body
from tests.cli.harness import AGREEMENT

from deconflict.cli.main import main


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_notice_plan_conflict_and_ack(tmp_path, capsys):
    """A plan meets a relayed notice: the planner sees the conflict and acknowledges; the filer
    sees nothing of the plan, nor does the relay (what concerns a plan goes to its owner
    directly, security.md §3.6)."""
    db = str(tmp_path / "hub.db")
    (tmp_path / "ag.json").write_text(json.dumps(AGREEMENT))
    (tmp_path / "ru.json").write_text(
        json.dumps(
            notice_body(
                circle(
                    "ru-1",
                    39.0,
                    35.95,
                    20_000,
                    0,
                    12_000,
                    "2099-01-01T05:00:00Z",
                    "2099-01-01T08:00:00Z",
                )
            )
        )
    )
    (tmp_path / "us.json").write_text(
        json.dumps(
            notice_body(
                circle(
                    "us-1",
                    39.1,
                    36.0,
                    5_000,
                    6_000,
                    7_000,
                    "2099-01-01T06:00:00Z",
                    "2099-01-01T09:00:00Z",
                )
            )
        )
    )
    for party in ("US", "RU", "CAOC"):
        assert cli(capsys, "party", "add", party, "--db", db)[0] == 0
    assert cli(capsys, "agreement", "add", str(tmp_path / "ag.json"), "--db", db)[0] == 0
    assert cli(capsys, "plan", "add", str(tmp_path / "us.json"), "--as", "US", "--db", db)[0] == 0
    code, out, _ = cli(
        capsys,
        "notice",
        "file",
        str(tmp_path / "ru.json"),
        "--as",
        "RU",
        "--id",
        "RU-N1",
        "--db",
        db,
    )
    assert code == 0
    assert "filed notice RU-N1" in out
    code, out, _ = cli(capsys, "conflicts", "--as", "US", "--db", db, "--json")
    rows = json.loads(out)
    assert [(r["mine"], r["theirs"]) for r in rows] == [("us-1", "RU:ru-1")]
    assert "ahead" in rows[0]["lead time"]
    assert rows[0]["adjustment"] != "none found"
    assert json.loads(cli(capsys, "conflicts", "--as", "RU", "--db", db, "--json")[1]) == []
    notes = json.loads(cli(capsys, "notifications", "--as", "US", "--db", db, "--json")[1])
    assert {(n["kind"], n["via"]) for n in notes} == {("notice", "CAOC"), ("conflict", "")}
    for n in notes:
        assert cli(capsys, "ack", n["id"], "--as", "US", "--db", db)[0] == 0
    notes = json.loads(cli(capsys, "notifications", "--as", "US", "--db", db, "--json")[1])
    assert {n["state"] for n in notes} == {"acknowledged"}
    listed = json.loads(cli(capsys, "notice", "list", "--as", "US", "--db", db, "--json")[1])
    assert [n["id"] for n in listed] == ["RU-N1"]
    assert cli(capsys, "notice", "cancel", "RU-N1", "--as", "RU", "--db", db)[0] == 0
    listed = json.loads(cli(capsys, "notice", "list", "--as", "RU", "--db", db, "--json")[1])
    assert listed[0]["state"] == "cancelled"


def test_a_plan_listed_amended_and_withdrawn(tmp_path, capsys):
    """`plan list`, `plan amend` (at the version it has, or one given: a stale one is refused)
    and `plan withdraw`; a withdrawn plan is no longer listed, and another party's plan is
    refused as a missing one."""
    db = str(tmp_path / "hub.db")
    for party in ("US", "RU"):
        assert cli(capsys, "party", "add", party, "--db", db)[0] == 0
    for name, lon in (("one", 39.0), ("two", 40.0)):
        volume = circle(
            name, lon, 36.0, 5_000, 0, 1_000, "2099-01-01T06:00:00Z", "2099-01-01T07:00:00Z"
        )
        (tmp_path / f"{name}.json").write_text(json.dumps(notice_body(volume)))
    one, two = str(tmp_path / "one.json"), str(tmp_path / "two.json")
    for plan_id in ("P1", "P2"):
        assert cli(capsys, "plan", "add", one, "--id", plan_id, "--as", "US", "--db", db)[0] == 0
    code, out, err = cli(capsys, "plan", "amend", "P1", two, "--as", "US", "--db", db)
    assert code == 0, err
    assert out.strip() == "amended plan P1 (version 2, 1 volume(s))"
    code, _, err = cli(
        capsys, "plan", "amend", "P1", one, "--version", "1", "--as", "US", "--db", db
    )
    assert code == 1
    assert "version" in err
    assert (
        cli(capsys, "plan", "withdraw", "P2", "--as", "US", "--db", db)[1] == "withdrew plan P2\n"
    )
    listed = json.loads(cli(capsys, "plan", "list", "--as", "US", "--db", db, "--json")[1])
    assert listed == [{"id": "P1", "volumes": 1, "version": 2, "state": "current"}]
    answers = [
        cli(capsys, "plan", "withdraw", plan_id, "--as", "RU", "--db", db)
        for plan_id in ("P1", "NOPE")
    ]
    assert answers[0][0] == answers[1][0] == 1
    assert answers[0][2].replace("P1", "<id>") == answers[1][2].replace("NOPE", "<id>")
    assert json.loads(cli(capsys, "plan", "list", "--as", "RU", "--db", db, "--json")[1]) == []


def test_errors_are_one_line(tmp_path, capsys):
    """Unknown party, someone else's notice, and a bad file are one clear line, non-zero."""
    db = str(tmp_path / "hub.db")
    (tmp_path / "v.json").write_text(
        json.dumps(
            notice_body(circle("v", 0, 0, 10, 0, 1, "2099-01-01T00:00:00Z", "2099-01-01T01:00:00Z"))
        )
    )
    code, _, err = cli(capsys, "notice", "file", str(tmp_path / "v.json"), "--as", "XX", "--db", db)
    assert code == 2
    assert err.strip() == "error: no party 'XX'"
    cli(capsys, "party", "add", "US", "--db", db)
    code, _, err = cli(capsys, "ack", "M-nothing", "--as", "US", "--db", db)
    assert code == 1
    assert "M-nothing" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text("[")
    code, _, err = cli(capsys, "plan", "add", str(tmp_path / "bad.json"), "--as", "US", "--db", db)
    assert code == 2
    assert "not valid JSON" in err


def test_conflicts_say_when_the_records_meet_in_more_pairs_than_listed(tmp_path, capsys):
    """A pair of records lists 100 conflicts, each volume in one, when they meet in more pairs
    (security.md §4.2); the CLI says so."""
    db = str(tmp_path / "hub.db")
    (tmp_path / "ag.json").write_text(json.dumps(AGREEMENT))
    for party in ("US", "RU", "CAOC"):
        assert cli(capsys, "party", "add", party, "--db", db)[0] == 0
    assert cli(capsys, "agreement", "add", str(tmp_path / "ag.json"), "--db", db)[0] == 0
    for party in ("US", "RU"):
        volumes = [circle(f"{party.lower()}-{k}") for k in range(11)]  # all in one place
        (tmp_path / f"{party}.json").write_text(json.dumps(notice_body(*volumes)))
        path = str(tmp_path / f"{party}.json")
        filed = cli(capsys, "notice", "file", path, "--as", party, "--db", db)
        assert filed[0] == 0, filed
    out = cli(capsys, "conflicts", "--as", "US", "--db", db, "--json")[1]
    rows = json.loads(out)
    assert len(rows) == 100
    assert {r["mine"] for r in rows} == {f"us-{k}" for k in range(11)}
    assert all(r["theirs"].endswith("(the records meet in more pairs than listed)") for r in rows)
