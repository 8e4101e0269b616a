"""The command line refuses what lies outside the accepted ranges, in one line, exit 2, and then
still lists and reads everything (security.md §4.1)."""

from __future__ import annotations

import json

import pytest
from tests.api.harness import circle, notice_body
from tests.cli.harness import AGREEMENT

from deconflict.cli.main import main

FAR = ("9999-12-31T22:00-05:00", "9999-12-31T23:00-05:00")  # year 10000 in UTC


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _detect_file(tmp_path, start, end):
    features = []
    for fid, party in (("ru-far", "RU"), ("us-far", "US")):
        feature = circle(fid, start=start, end=end)
        feature["properties"]["party"] = party
        features.append(feature)
    path = tmp_path / "far.geojson"
    path.write_text(json.dumps(notice_body(*features)))
    return path


def test_detect_refuses_a_time_outside_the_span(tmp_path, capsys):
    """security.md §4.1: two volumes in year 10000 that meet (a traceback before, writing the
    overlap's time) are one line naming the volume and its start, exit 2, nothing on stdout."""
    code, out, err = cli(capsys, "detect", str(_detect_file(tmp_path, *FAR)))
    assert code == 2
    assert out == ""
    assert "'ru-far'" in err
    assert "start is outside the accepted span" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--horizontal-m", "1e308"), ("--vertical-m", "1e9"), ("--time-s", "1e308")],
)
def test_detect_refuses_minima_beyond_their_range(tmp_path, capsys, flag, value):
    """security.md §4.1: a separation minimum wider than its range is one line naming it,
    exit 2."""
    path = _detect_file(tmp_path, "2099-01-01T00:00:00Z", "2099-01-01T01:00:00Z")
    code, out, err = cli(capsys, "detect", str(path), flag, value)
    assert code == 2
    assert out == ""
    assert flag.removeprefix("--").replace("-", "_") in err
    assert len(err.strip().splitlines()) == 1


def test_an_agreement_beyond_its_ranges_is_refused_and_reads_go_on(tmp_path, capsys):
    """security.md §4.1: ``agreement add`` with ``ack_deadline_s: 1e12`` (which made every
    notification of its recipients unreadable) is one line, exit 2, and nothing is stored."""
    db = str(tmp_path / "hub.db")
    for party in ("US", "RU", "CAOC"):
        assert cli(capsys, "party", "add", party, "--db", db)[0] == 0
    (tmp_path / "ag.json").write_text(json.dumps({**AGREEMENT, "ack_deadline_s": 1e12}))
    code, _, err = cli(capsys, "agreement", "add", str(tmp_path / "ag.json"), "--db", db)
    assert code == 2
    assert "ack_deadline_s must be at most" in err
    code, out, _ = cli(capsys, "agreement", "list", "--db", db, "--json")
    assert code == 0
    assert json.loads(out) == []


@pytest.mark.parametrize(
    "terms",
    [
        '"ack_deadline_s": 1' + "0" * 400,
        '"min_lead_time_s": 1' + "0" * 400,
        '"separation": {"time_s": 1' + "0" * 400 + "}",
    ],
    ids=["ack-deadline", "lead-time", "time-minimum"],
)
def test_an_agreement_of_hundreds_of_digits_is_one_line(tmp_path, capsys, terms):
    """security.md §4.1: an agreement file with an integer no float can hold (a traceback
    before) is one line, exit 2."""
    db = str(tmp_path / "hub.db")
    for party in ("US", "RU"):
        assert cli(capsys, "party", "add", party, "--db", db)[0] == 0
    text = '{"id": "BIG", "parties": ["US", "RU"], ' + terms + "}"
    (tmp_path / "ag.json").write_text(text)
    code, _, err = cli(capsys, "agreement", "add", str(tmp_path / "ag.json"), "--db", db)
    assert code == 2
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1


def test_a_notice_outside_the_span_is_refused_and_reads_go_on(tmp_path, capsys):
    """security.md §4.1: ``notice file`` in year 10000 is one line naming the volume, exit 2;
    the filer's and the recipient's listings still work."""
    db = str(tmp_path / "hub.db")
    for party in ("US", "RU", "CAOC"):
        assert cli(capsys, "party", "add", party, "--db", db)[0] == 0
    (tmp_path / "ag.json").write_text(json.dumps(AGREEMENT))
    assert cli(capsys, "agreement", "add", str(tmp_path / "ag.json"), "--db", db)[0] == 0
    (tmp_path / "far.json").write_text(
        json.dumps(notice_body(circle("v", start=FAR[0], end=FAR[1])))
    )
    code, _, err = cli(
        capsys, "notice", "file", str(tmp_path / "far.json"), "--as", "RU", "--db", db
    )
    assert code == 2
    assert "volume 'v'" in err
    assert len(err.strip().splitlines()) == 1
    for party in ("RU", "US"):
        code, out, _ = cli(capsys, "notice", "list", "--as", party, "--db", db, "--json")
        assert code == 0
        assert json.loads(out) == []
        assert cli(capsys, "notifications", "--as", party, "--db", db)[0] == 0


@pytest.mark.parametrize("ttl", ["1e300", "inf", "nan", "0", "31708800"])
def test_a_token_lifetime_beyond_its_range_is_refused(tmp_path, capsys, ttl):
    """security.md §4.1: ``token issue --ttl-s`` beyond 366 days (or not a positive number) is
    one line, exit 2, not a traceback."""
    db = str(tmp_path / "hub.db")
    assert cli(capsys, "party", "add", "US", "--db", db)[0] == 0
    code, out, err = cli(
        capsys, "token", "issue", "--as", "US", "--scope", "read", "--db", db, "--ttl-s", ttl
    )
    assert code == 2
    assert out == ""
    assert "--ttl-s" in err
    assert len(err.strip().splitlines()) == 1
