"""The acting commands print the same through either backend: each step runs against a hub
database (``--db``, ``--as``) and against a loopback server on a twin database (``--url``,
``--token``), and the two outputs are compared."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.api.harness import circle, loopback, notice_body
from tests.cli.harness import AGREEMENT

from deconflict.api import issue_local_token
from deconflict.cli.main import main
from deconflict.geo.units import epoch_to_rfc3339

PARTIES = ("US", "RU", "CAOC", "FR")
SCOPES = ["read", "notice", "plan", "ack", "admin"]
#: US and FR tell each other of conflicts only (the default disclosure), and let plans unlock
SHARE = {"id": "SHARE", "parties": ["US", "FR"], "disclosure": [], "unlock": {"plans": True}}

Result = tuple[int, str, str]


@dataclass
class Twins:
    """A hub database and a loopback server on its twin, set up alike; ``run`` sends one
    command to both, as ``party``, and returns both results (exit code, stdout, stderr)."""

    db: str
    url: str
    tokens: dict[str, str]
    capsys: pytest.CaptureFixture[str]

    def _cli(self, args: list[str]) -> Result:
        code = main(args)
        out, err = self.capsys.readouterr()
        return code, out, err

    def local(self, party: str, *args: str) -> Result:
        return self._cli([*args, "--db", self.db, "--as", party])

    def remote(self, party: str, *args: str) -> Result:
        return self._cli([*args, "--url", self.url, "--token", self.tokens[party]])

    def run(self, party: str, *args: str) -> tuple[Result, Result]:
        return self.local(party, *args), self.remote(party, *args)

    def run_unacting(self, party: str, *args: str) -> tuple[Result, Result]:
        """A command no party acts in locally (``--db`` only); remotely with ``party``'s token."""
        return self._cli([*args, "--db", self.db]), self.remote(party, *args)


def _collection(fid: str, lon: float, lower_m: float, start_s: float, end_s: float) -> str:
    """One cylinder volume as a FeatureCollection file's text."""
    volume = circle(
        fid,
        lon,
        36.0,
        5_000,
        lower_m,
        lower_m + 1_000,
        epoch_to_rfc3339(start_s),
        epoch_to_rfc3339(end_s),
    )
    return json.dumps(notice_body(volume))


def _set_up(db: str, capsys: pytest.CaptureFixture[str], files: Path) -> None:
    for party in PARTIES:
        assert main(["party", "add", party, "--db", db]) == 0
    for agreement in (AGREEMENT, SHARE):
        path = files / f"{agreement['id']}.json"
        path.write_text(json.dumps(agreement))
        assert main(["agreement", "add", str(path), "--db", db]) == 0
    capsys.readouterr()


def _same_secrets(source: Path, twin: Path) -> None:
    """Give ``twin`` the hub secrets of ``source``: conflict and notification ids are keyed by
    the store's secret, and the twins must name things alike to print alike."""
    with (
        contextlib.closing(sqlite3.connect(source)) as a,
        contextlib.closing(sqlite3.connect(twin)) as b,
    ):
        for name, value in a.execute("SELECT name, value FROM hub_secrets"):
            b.execute("UPDATE hub_secrets SET value = ? WHERE name = ?", (value, name))
        b.commit()


@pytest.fixture
def twins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Twins]:
    local, remote = tmp_path / "local.db", tmp_path / "remote.db"
    for db in (local, remote):
        _set_up(str(db), capsys, tmp_path)
    _same_secrets(local, remote)
    tokens = {p: issue_local_token(remote, p, SCOPES) for p in PARTIES}
    with loopback(remote) as url:
        yield Twins(str(local), url, tokens, capsys)


def _without_ack_by(result: Result) -> list[dict[str, Any]]:
    """A notifications --json listing without the acknowledgement deadlines, which count from
    the instant each hub made the notification."""
    code, out, err = result
    assert code == 0, err
    return [{k: v for k, v in row.items() if k != "ack by"} for row in json.loads(out)]


def _table_without_clocks(result: Result) -> str:
    """A table with the clock times (and so the column widths) folded away."""
    text = re.sub(r"\d\d:\d\d(:\d\d)?Z", "T", result[1])
    return re.sub(r"[ ━─═]+", " ", text)


def same_notifications(twins: Twins, party: str) -> list[dict[str, Any]]:
    """``party``'s notifications, table and --json, alike through both backends: the JSON
    rows without their acknowledgement deadlines."""
    local, remote = twins.run(party, "notifications")
    assert _table_without_clocks(local) == _table_without_clocks(remote)
    notes = _without_ack_by(twins.local(party, "notifications", "--json"))
    assert notes == _without_ack_by(twins.remote(party, "notifications", "--json"))
    return notes


def test_every_acting_command_prints_the_same_through_both_backends(tmp_path, twins):
    """Filing (on time and late), a plan, a cancellation, the listings as table and JSON, the
    conflicts with their adjustments, notifications and acknowledgements read alike locally
    and remotely."""
    now = time.time()
    # an offset of whole units and 15 s, so a lead time rounds alike a few seconds apart
    late = _collection("ru-1", 39.0, 6_000, now + 7_215, now + 20_015)
    files = {
        "ru.json": late,
        "ru2.json": _collection("ru-2", 30.0, 0, now + 10 * 86_400 + 15, now + 11 * 86_400),
        "us.json": _collection("us-1", 39.1, 6_500, now + 3_615, now + 30_015),
        "fr.json": _collection("fr-1", 39.1, 6_500, now + 3_615, now + 30_015),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)

    def same(party: str, *args: str) -> Result:
        local, remote = twins.run(party, *args)
        assert local == remote
        assert local[0] == 0, local[2]
        return local

    filed = same("RU", "notice", "file", str(tmp_path / "ru.json"), "--id", "RU-N1")
    assert "LATE: 2 h ahead, 4 h short of the agreed 6 h" in filed[1]
    same("RU", "notice", "file", str(tmp_path / "ru2.json"), "--id", "RU-N2", "--category", "x")
    same("RU", "notice", "cancel", "RU-N2")
    same("US", "plan", "add", str(tmp_path / "us.json"), "--id", "US-P1")
    same("FR", "notice", "file", str(tmp_path / "fr.json"), "--id", "FR-N1")

    # The server detects after answering; a read by the last filer sees its filing's outcome
    # (read-your-writes), so every conflict it made is stored by then, US's included.
    twins.remote("FR", "conflicts", "--json")
    expected = twins.local("US", "conflicts", "--json")
    assert twins.remote("US", "conflicts", "--json") == expected
    assert [r["theirs"] for r in json.loads(expected[1])] == ["RU:ru-1", "FR:fr-1"]

    for party in ("US", "RU", "FR", "CAOC"):
        same(party, "notice", "list")
        same(party, "notice", "list", "--json")
        same(party, "notice", "list", "--state", "cancelled", "--state", "filed", "--json")
        same(party, "conflicts")
        same(party, "conflicts", "--open", "--json")
    # US sees FR's notice in part (its plan unlocks the volume it meets): no version, in the
    # table ("-") as in the JSON (null), through both backends alike (compared above).
    listed = {
        n["id"]: n["version"] for n in json.loads(twins.local("US", "notice", "list", "--json")[1])
    }
    assert listed["FR-N1"] is None
    assert any(
        " - " in line and "FR-N1" in line
        for line in twins.local("US", "notice", "list")[1].splitlines()
    )
    for party in ("FR", "RU", "CAOC", "US"):
        notes = same_notifications(twins, party)
    # FR-N1 is seen in part (SHARE discloses conflicts only): its notification names the
    # conflict, not the notice, whose versions count FR's changes US may not see.
    (fr,) = [r["id"] for r in json.loads(expected[1]) if r["theirs"] == "FR:fr-1"]
    assert {(n["kind"], n["about"], n["state"]) for n in notes} == {
        ("notice", "RU-N1", "delivered"),
        ("notice", "RU-N2", "delivered"),
        ("change", "RU-N2", "delivered"),
        ("conflict", "RU-N1", "delivered"),
        ("conflict", fr, "delivered"),
    }
    for note in notes:
        same("US", "ack", note["id"])
    local, remote = twins.run("US", "notifications", "--json")
    assert _without_ack_by(local) == _without_ack_by(remote)
    assert {n["state"] for n in _without_ack_by(local)} == {"acknowledged"}


def test_a_party_sees_only_what_is_disclosed_to_it_through_either_backend(tmp_path, twins):
    """US tells RU nothing: RU's conflict with a US notice names neither the notice nor its
    volume, its conflict notification names the conflict, not the US notice, and a conflict
    with a US plan is not shown to RU at all, locally as remotely; CAOC, the relay, sees the
    notifications relayed through it but acknowledges none; nobody cancels or acknowledges
    what is another's, each refused with the same line as what does not exist."""
    now = time.time()
    files = {
        "us.json": _collection("us-n", 39.0, 6_000, now + 30_015, now + 40_015),
        "us-plan.json": _collection("us-p", 41.0, 6_000, now + 30_015, now + 40_015),
        "ru.json": _collection("ru-n", 39.0, 6_000, now + 30_015, now + 40_015),
        "ru-2.json": _collection("ru-m", 41.0, 6_000, now + 30_015, now + 40_015),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    steps = [
        ("US", "notice", "file", "us.json", "--id", "US-N"),
        ("US", "plan", "add", "us-plan.json", "--id", "US-P"),
        ("RU", "notice", "file", "ru.json", "--id", "RU-N"),
        ("RU", "notice", "file", "ru-2.json", "--id", "RU-M"),
    ]
    for party, *args in steps:
        args[2] = str(tmp_path / args[2])
        local, remote = twins.run(party, *args)
        assert local == remote
        assert local[0] == 0, local[2]
    twins.remote("RU", "conflicts", "--json")  # the last filer's read: see above
    expected = twins.local("US", "conflicts", "--json")
    assert twins.remote("US", "conflicts", "--json") == expected
    assert {r["theirs"] for r in json.loads(expected[1])} == {"RU:ru-n", "RU:ru-m"}

    for args in (("conflicts",), ("conflicts", "--json"), ("notice", "list", "--json")):
        local, remote = twins.run("RU", *args)
        assert local == remote
        assert not {"us-n", "US-N", "us-p", "US-P"} & set(re.findall(r"[\w-]+", local[1]))
    (conflict,) = json.loads(twins.local("RU", "conflicts", "--json")[1])
    assert (conflict["mine"], conflict["theirs"]) == ("ru-n", "US:(not disclosed)")

    told = same_notifications(twins, "RU")
    assert [(n["kind"], n["about"], n["via"]) for n in told] == [
        ("conflict", conflict["id"], "CAOC")
    ]
    relayed = same_notifications(twins, "CAOC")
    assert {(n["kind"], n["about"]) for n in relayed} == {
        ("conflict", conflict["id"]),  # to RU: the US notice is not disclosed to CAOC either
        ("notice", "RU-N"),
        ("notice", "RU-M"),
        ("conflict", "RU-N"),
    }
    assert {n["via"] for n in relayed} == {"CAOC"}
    to_us = same_notifications(twins, "US")
    # What concerns US's plan goes to US directly: the relay never learns of it (§3.6).
    direct = [(n["kind"], n["about"]) for n in to_us if n["via"] == ""]
    assert direct == [("conflict", "RU-M")]
    assert {n["id"] for n in to_us if n["via"]} < {n["id"] for n in relayed}

    refusals = [
        ("CAOC", ("ack", told[0]["id"]), f"error: no notification {told[0]['id']!r}"),
        ("US", ("ack", told[0]["id"]), f"error: no notification {told[0]['id']!r}"),
        ("RU", ("notice", "cancel", "US-N"), "error: no notice 'US-N'"),  # hidden from RU
        ("US", ("notice", "cancel", "RU-N"), "error: no notice 'RU-N'"),  # RU's, shown to US
        ("US", ("notice", "cancel", "US-X"), "error: no notice 'US-X'"),  # none such
    ]
    for party, args, message in refusals:
        for result in twins.run(party, *args):
            assert result == (1, "", message + "\n")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["notice", "file", "{tmp}/bad.json"], 2, "error: {tmp}/bad.json: not valid JSON"),
        (["plan", "add", "{tmp}/none.json"], 2, "error: {tmp}/none.json: no such file"),
        (
            ["notice", "file", "{tmp}/feature.json"],
            2,
            "error: {tmp}/feature.json: not a GeoJSON FeatureCollection",
        ),
        (
            ["plan", "add", "{tmp}/list.json"],
            2,
            "error: {tmp}/list.json: not a GeoJSON FeatureCollection",
        ),
        (
            ["notice", "file", "{tmp}/empty.json"],
            2,
            "error: {tmp}/empty.json: the FeatureCollection has no features",
        ),
        (
            ["plan", "add", "{tmp}/odd.json"],
            2,
            "error: {tmp}/odd.json: features[1]: not a GeoJSON Feature",
        ),
        (
            ["notice", "file", "{tmp}/negative.json"],
            2,
            "error: features[0].properties.radius_m: volume 'n-1': "
            "circle radius_m must be > 0, got -5",
        ),
        (["ack", "M-nothing"], 1, "error: no notification 'M-nothing'"),
    ],
)
def test_errors_read_the_same_through_both_backends(tmp_path, twins, args, code, message):
    """A malformed or missing file, a file that is not a FeatureCollection of Features or holds
    an invalid volume, and an unknown notification: the same exit code and the same one line
    from either backend."""
    documents = {
        "feature.json": circle("f-1"),
        "list.json": [circle("l-1")],
        "empty.json": notice_body(),
        "odd.json": notice_body(circle("o-1"), {"type": "Point"}),
        "negative.json": notice_body(circle("n-1", radius_m=-5)),
    }
    for name, document in documents.items():
        (tmp_path / name).write_text(json.dumps(document))
    (tmp_path / "bad.json").write_text("[")
    args = [a.format(tmp=tmp_path) for a in args]
    local, remote = twins.run("US", *args)
    assert local == remote
    assert local[0] == code
    assert local[2].startswith(message.format(tmp=tmp_path))
    assert len(local[2].strip().splitlines()) == 1


def test_parties_and_agreements_are_added_and_listed_alike_through_both_backends(tmp_path, twins):
    """An administrator adds a party and an agreement through either backend, with the same
    words and the same refusals (a party added twice, an agreement naming no known party); the
    agreements list alike (remotely: those of the token's party, here US's, which are all); a
    token without the admin scope adds nothing."""
    uk = {"id": "UKUS", "parties": ["UK", "US"], "min_lead_time_s": 3600, "disclosure": []}
    (tmp_path / "uk.json").write_text(json.dumps(uk))
    (tmp_path / "nobody.json").write_text(json.dumps({**uk, "id": "X", "parties": ["UK", "ZZ"]}))
    steps = [
        (("party", "add", "UK", "--name", "United Kingdom"), (0, "added party UK\n", "")),
        (("agreement", "add", str(tmp_path / "uk.json")), (0, "added agreement UKUS\n", "")),
        (("agreement", "add", str(tmp_path / "nobody.json")), (2, "", "error: no party 'ZZ'\n")),
    ]
    for args, expected in steps:
        local, remote = twins.run_unacting("US", *args)
        assert local == remote == expected
    local, remote = twins.run_unacting("US", "party", "add", "UK")
    assert local == remote
    assert local[0] != 0
    for args in (("agreement", "list"), ("agreement", "list", "--json")):
        local, remote = twins.run_unacting("US", *args)
        assert local == remote
        assert local[0] == 0, local[2]
    rows = json.loads(local[1])
    assert [(r["id"], r["parties"], r["relay"]) for r in rows] == [
        ("MOU", "US,RU", "CAOC"),
        ("SHARE", "US,FR", ""),
        ("UKUS", "UK,US", ""),
    ]
    code, out, err = twins.remote("CAOC", "agreement", "list", "--json")
    assert [r["id"] for r in json.loads(out)] == ["MOU"]  # the one it relays for

    twins.tokens["reader"] = issue_local_token(tmp_path / "remote.db", "FR", ["read"])
    code, out, err = twins.remote("reader", "party", "add", "DE")
    assert (code, out) == (1, "")
    assert err == "error: 403: the token lacks the scope 'admin'\n"


def test_parties_list_alike_and_a_reader_sees_only_its_partners(tmp_path, twins):
    """`party list` prints the same through both backends for an administrator; a token with
    only the read scope lists its own party and those it shares an agreement with."""
    for args in (("party", "list"), ("party", "list", "--json")):
        local, remote = twins.run_unacting("US", *args)
        assert local == remote
        assert local[0] == 0, local[2]
    assert {r["id"] for r in json.loads(local[1])} == {"US", "RU", "CAOC", "FR"}
    twins.tokens["fr-reader"] = issue_local_token(tmp_path / "remote.db", "FR", ["read"])
    code, out, _ = twins.remote("fr-reader", "party", "list", "--json")
    assert code == 0
    assert {r["id"] for r in json.loads(out)} == {"FR", "US"}  # RU, CAOC: no agreement with FR
    twins.tokens["caoc-reader"] = issue_local_token(tmp_path / "remote.db", "CAOC", ["read"])
    code, out, _ = twins.remote("caoc-reader", "party", "list", "--json")
    assert {r["id"] for r in json.loads(out)} == {"CAOC", "US", "RU"}  # the relay of MOU
