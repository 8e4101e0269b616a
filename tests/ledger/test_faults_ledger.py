"""Faults and tampering, for real: SQL edits and deletions on a database the hub made, then
``ledger verify`` (security.md §7.1), the hub's refusal to sign a fork of its own log, and
``serve``'s refusal to start over one (security.md §7.2)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.hub.scenario import make_hub, vol
from tests.processes import until

from deconflict.cli.main import main
from deconflict.errors import VerificationFailed
from deconflict.hub import Hub

N1_UPPER = "UPDATE notices SET volumes = replace(volumes, '\"upper_m\":3000', '\"upper_m\":9000')"


def build(path: Path, target: str | None = None) -> dict[str, str]:
    """A hub's database as it is after a day's work: usaf's N1 meets faf's N2 (told to both
    through the relay caoc), usaf's N3 meets faf's private plan P1; faf acknowledges one
    notification; the log is signed at the tick; then N3 is amended (an unsigned tail). The
    ids of the records the tests edit."""
    hub, clock = make_hub(path, relay="caoc", target=target)
    hub.file_notice("usaf", [vol("a", upper_m=3000.0)], "air-activity", "N1")
    hub.file_notice("faf", [vol("b", lat=35.97, upper_m=3000.0)], "air-activity", "N2")
    hub.file_notice("usaf", [vol("c", lon=40.0)], "air-activity", "N3")
    hub.add_plan("faf", [vol("p", lon=40.02)], "P1")
    hub.process()
    clock.advance(600)
    told = hub.deliver("faf")
    hub.deliver("usaf")
    public = [n for n in told if not n.private]
    hub.acknowledge("faf", public[0].id)
    clock.advance(300)
    hub.tick()
    hub.amend_notice("usaf", "N3", 1, [vol("c", lon=40.0, upper_m=7000.0)])
    hub.process()
    conflicts = hub.store.list_conflicts()
    ids = {
        "acknowledged": public[0].id,
        "delivered": public[1].id,
        "conflict": next(c.id for c in conflicts if c.a.kind == "notice" == c.b.kind),
    }
    hub.ledger.verify()  # intact: nothing to find
    hub.close()
    return ids


@pytest.fixture
def made(tmp_path) -> tuple[Path, dict[str, str]]:
    return tmp_path / "hub.db", build(tmp_path)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def edit(path: Path, *statements: str, params: tuple = ()) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement, params if "?" in statement else ())


def differs(capsys, path: Path) -> list[str]:
    """``ledger verify``'s findings: it must exit 1, with one ``differs:`` line each."""
    code, out, err = run(capsys, "ledger", "verify", "--db", path)
    assert code == 1, f"verify certified the store: {out}{err}"
    assert err.startswith("error: the store and its ledger differ")
    lines = out.splitlines()
    assert lines
    assert all(line.startswith("differs: ") for line in lines)
    return lines


# ledger verify: both ways, matching --------------------------------------------------------


def test_an_intact_store_verifies(made, capsys):
    """The baseline: nothing edited, verify certifies (exit 0, no finding)."""
    code, out, _ = run(capsys, "ledger", "verify", "--db", made[0])
    assert code == 0
    assert out.startswith("ok: ")


def test_a_notice_deleted_with_everything_about_it_is_found(made, capsys):
    """security.md §7.1: faf's N2 gone with its versions, conflicts and notifications: its
    entries name a subject the store no longer has."""
    path, _ = made
    edit(
        path,
        "DELETE FROM notifications WHERE notice_id = 'faf/N2' OR conflict_id IN "
        "(SELECT id FROM conflicts WHERE a_record_id = 'faf/N2' OR b_record_id = 'faf/N2')",
        "DELETE FROM conflicts WHERE a_record_id = 'faf/N2' OR b_record_id = 'faf/N2'",
        "DELETE FROM notice_versions WHERE notice_id = 'faf/N2'",
        "DELETE FROM notice_volumes WHERE notice_id = 'faf/N2'",
        "DELETE FROM notices WHERE id = 'faf/N2'",
    )
    lines = differs(capsys, path)
    assert any(
        "(notice.filed): its subject notice:faf/N2 is missing from the store" in line
        for line in lines
    )
    assert any("(conflict.detected): its subject conflict:" in line for line in lines)
    assert any("(notification.created): its subject notification:" in line for line in lines)


def test_one_conflict_deleted_is_found(made, capsys):
    """security.md §7.1: one conflict row gone, everything else intact."""
    path, ids = made
    edit(path, "DELETE FROM conflicts WHERE id = ?", params=(ids["conflict"],))
    lines = differs(capsys, path)
    assert lines == [
        f"differs: entry {_index(path, 'conflict:' + ids['conflict'])} (conflict.detected): "
        f"its subject conflict:{ids['conflict']} is missing from the store"
    ]


def test_a_conflict_dropped_from_a_party_s_list_is_found(made, capsys):
    """A party's list of conflicts is read from ``conflict_parties`` (derived from the
    conflicts): a row of it lost drops a conflict from the list unseen, so verify checks it
    (a fourteenth reader)."""
    path, ids = made
    edit(path, "DELETE FROM conflict_parties WHERE conflict_id = ?", params=(ids["conflict"],))
    lines = differs(capsys, path)
    assert len(lines) == 2  # both its parties' lists
    assert all(f"conflict {ids['conflict']}: not in the list of conflicts of" in x for x in lines)


def test_two_notifications_deleted_are_found(made, capsys):
    """security.md §7.1: two notification rows gone: each is named, by its entries and by
    the delivery batch that recorded it."""
    path, ids = made
    gone = (ids["acknowledged"], ids["delivered"])
    edit(path, "DELETE FROM notifications WHERE id IN (?, ?)", params=gone)
    text = "\n".join(differs(capsys, path))
    for notification in gone:
        assert f"its subject notification:{notification} is missing from the store" in text
        assert f"notification {notification} it records is missing from the store" in text


def test_a_forged_acknowledgement_is_found(made, capsys):
    """security.md §7.1: a delivered notification marked acknowledged in the store (at its
    delivery time) has no acknowledgement entry."""
    path, ids = made
    edit(
        path,
        "UPDATE notifications SET state = 'acknowledged', acknowledged_at_s = delivered_at_s "
        "WHERE id = ?",
        params=(ids["delivered"],),
    )
    lines = differs(capsys, path)
    assert any(
        line.startswith(f"differs: notification {ids['delivered']}: acknowledged at ")
        and line.endswith("but no acknowledgement entry")
        for line in lines
    )
    assert f"differs: notification {ids['delivered']}: served state acknowledged, ledger " in (
        "\n".join(lines)
    )


def test_a_served_altitude_edited_is_found_and_named(made, capsys):
    """security.md §7.1: the current row of N1 edited (upper 3,000 m to 9,000 m): the hub
    serves 9,000 m, and verify names the notice, the field and both values."""
    path, _ = made
    edit(path, N1_UPPER + " WHERE id = 'usaf/N1'")
    with Hub.open(path) as hub:
        served = hub.store.get_notice("usaf/N1")
    assert served.volumes[0].altitude.upper_m == 9000.0  # what every party is shown
    assert differs(capsys, path) == [
        "differs: notice usaf/N1 v1: served upper 9000 m, ledger 3000 m"
    ]


@pytest.mark.parametrize("table", ["notices", "notice_versions"])
def test_a_volume_made_older_than_its_change_is_found(made, capsys, table):
    """security.md §7.1: N3's volume changed at its amendment (version 2); edited to say it
    was as it is since version 1, an open conflict of version 1 would carry across and
    disclose it under ``conflicts-only``. Verify derives the versions from what the ledger
    proves and names the edit."""
    path, _ = made
    key = "id" if table == "notices" else "notice_id"
    edit(path, f"UPDATE {table} SET volume_versions = '[1]' WHERE {key} = 'usaf/N3'")
    lines = differs(capsys, path)
    assert lines[0] == "differs: notice usaf/N3 v2: served volume versions [1], ledger [2]"
    if table == "notice_versions":  # and v2 now names the row of what the volume was at v1
        assert lines[1:] == [
            "differs: notice usaf/N3 v2: volume c's own row (from v1) is not the version's",
            "differs: notice usaf/N3 v1: served version that replaced volume c 2, ledger none",
            "differs: notice usaf/N3 v2: volume c's own row is in no version",
        ]
    else:
        assert lines[1:] == []


@pytest.mark.parametrize(
    ("statements", "found"),
    [
        (
            ["UPDATE notifications SET ack_deadline_s = ack_deadline_s + 3600 WHERE id = ?"],
            "served ack deadline ",
        ),
        (["UPDATE notifications SET lead_time_s = 1 WHERE id = ?"], "served lead time 1"),
        (["UPDATE notifications SET recipient = 'usaf' WHERE id = ?"], "served recipient usaf"),
    ],
    ids=["ack-deadline", "lead-time", "recipient"],
)
def test_what_a_notification_told_edited_is_found(made, capsys, statements, found):
    """security.md §7.1: a notification's deadline, lead time and recipient are committed to
    by its entry: each edit is named."""
    path, ids = made
    edit(path, *statements, params=(ids["delivered"],))
    assert any(
        line.startswith(f"differs: notification {ids['delivered']}: {found}")
        for line in differs(capsys, path)
    )


def test_a_party_renamed_is_found(made, capsys):
    """security.md §7.1: the name every party is shown is committed to by the party's entry."""
    path, _ = made
    edit(path, "UPDATE parties SET name = 'Someone Else' WHERE id = 'usaf'")
    assert differs(capsys, path) == [
        "differs: party usaf: served name Someone Else, ledger US Air Force"
    ]


def test_a_plan_edited_or_deleted_is_found(made, capsys):
    """security.md §7.1: plans are committed to by their owner's private entries: a plan's
    altitude edited, then the plan deleted, are each found."""
    path, _ = made
    edit(
        path,
        "UPDATE plans SET volumes = replace(volumes, '\"upper_m\":8000', '\"upper_m\":9000')",
    )
    assert "differs: plan faf/P1 v1: served upper 9000 m, ledger 8000 m" in differs(capsys, path)
    edit(path, "DELETE FROM plan_versions", "DELETE FROM plans")
    assert any(
        "its subject plan:faf/P1 is missing from the store" in line
        for line in differs(capsys, path)
    )


def test_a_digested_private_entry_deleted_is_found(made, capsys):
    """security.md §7.1: a private entry its party's digest committed to, deleted."""
    path, _ = made
    edit(path, "DELETE FROM ledger_private WHERE type = 'plan.added'")
    text = "\n".join(differs(capsys, path))
    assert "(private.digest of faf): 1 private entries it commits to are missing" in text


# the hub never signs a fork of its own log --------------------------------------------------


def _index(path: Path, subject: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT min(idx) FROM ledger_entries WHERE subject = ?", (subject,)
        ).fetchone()[0]


def _signed_everything(path: Path) -> int:
    """Sign the whole log now (as the next tick would); its size."""
    with Hub.open(path) as hub:
        hub.ledger.checkpoint()
        return hub.ledger.size


def _checkpoints(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT size FROM ledger_checkpoints ORDER BY id")]


def _serve(capsys, monkeypatch, path: Path, *options: str) -> tuple[int, str, str]:
    """``deconflict serve`` as far as it gets: had it started, its server would have run.
    In one process unless ``options`` say otherwise."""
    import deconflict.api.server

    def started(*args, **kwargs):
        raise AssertionError("serve started over a ledger it should refuse")

    monkeypatch.setattr(deconflict.api.server, "run", started)
    options = options or ("--no-detector-process",)
    return run(capsys, "serve", "--db", path, "--workers", "1", *options)


def _refused(capsys, monkeypatch, path: Path, reason: str, *options: str) -> None:
    code, out, err = _serve(capsys, monkeypatch, path, *options)
    assert code == 1
    assert out == ""
    assert err.startswith("error: the ledger no longer extends the newest checkpoint")
    assert reason in err
    assert "deconflict ledger verify --db" in err
    assert "deconflict ledger export" in err
    assert err.count("\n") == 1  # one paragraph, no traceback


def test_the_last_entry_deleted_is_never_signed_over(made, capsys, monkeypatch, caplog):
    """security.md §7.2: the last signed entry deleted, the restarted hub neither starts nor
    signs (no smaller checkpoint, none of another root at that index), refuses a party's
    filing (503), keeps its other work and says so once in its log."""
    path, _ = made
    size = _signed_everything(path)
    signed = _checkpoints(path)
    edit(path, "DELETE FROM ledger_entries WHERE idx = ?", params=(size - 1,))
    _refused(capsys, monkeypatch, path, f"the log holds {size - 1} entries, but this hub signed")
    with Hub.open(path) as hub, caplog.at_level(logging.ERROR, logger="deconflict.ledger"):
        hub.tick()
        hub.tick()
        assert hub.ledger.broken is not None
        with pytest.raises(VerificationFailed) as refused:
            hub.file_notice("usaf", [vol("z", lon=41.0)], "air-activity", "N9")
        assert refused.value.status == 503
        with pytest.raises(VerificationFailed):
            hub.ledger.checkpoint()
    assert _checkpoints(path) == signed  # nothing signed over the hole
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


@pytest.mark.parametrize("how", ["delete", "edit", "edit-and-rehash"])
def test_a_middle_entry_deleted_or_edited_is_never_signed_over(made, capsys, monkeypatch, how):
    """security.md §7.2: a signed entry in the middle deleted, or changed (also with every
    hash recomputed to match it): serve refuses, and the hub signs nothing more."""
    path, _ = made
    _signed_everything(path)
    signed = _checkpoints(path)
    k = 5
    if how == "delete":
        edit(path, "DELETE FROM ledger_entries WHERE idx = ?", params=(k,))
        reason = f"entry {k} is missing"
    else:
        edit(
            path,
            "UPDATE ledger_entries SET body = body || ' ' WHERE idx = ?",
            params=(k,),
        )
        reason = f"entry {k} differs from what was appended"
        if how == "edit-and-rehash":
            with sqlite3.connect(path) as db:
                _rehash(db)
            reason = "changed after checkpoint"
    _refused(capsys, monkeypatch, path, reason)
    with Hub.open(path) as hub:
        hub.tick()
        with pytest.raises(VerificationFailed):
            hub.ledger.checkpoint()
    assert _checkpoints(path) == signed


def test_with_a_detector_process_serve_refuses_as_well_and_leaves_nothing_running(
    made, capsys, monkeypatch
):
    """security.md §7.2, with serve's detector process (the default), which builds its index
    while serve checks the ledger: the check failing, serve refuses as in one process, and the
    process it started is gone, having taken no lease and signed nothing."""
    path, _ = made
    _signed_everything(path)
    signed = _checkpoints(path)
    edit(path, "UPDATE ledger_entries SET body = body || ' ' WHERE idx = 5")
    _refused(
        capsys, monkeypatch, path, "entry 5 differs from what was appended", "--detector-process"
    )
    assert multiprocessing.active_children() == []
    assert _checkpoints(path) == signed
    with Hub.open(path) as hub:
        assert hub.store.lease_holder(time.time()).pid == 0  # never taken
        assert hub.ledger.broken is not None  # halted by serve's check


def test_a_detector_process_started_again_checks_the_whole_ledger_itself(made):
    """A detector process serve starts again after one died is not told the ledger was
    checked: at its first tick it checks the whole log itself, finds an entry edited since
    the start, and halts the hub rather than sign over it."""
    from deconflict.api import ApiSettings
    from deconflict.runtime.detector_process import DetectorProcess

    path, _ = made
    _signed_everything(path)
    signed = _checkpoints(path)
    edit(path, "UPDATE ledger_entries SET body = body || ' ' WHERE idx = 5")
    detector = DetectorProcess(ApiSettings(db=path))
    try:
        detector.spawn()
        detector.open()
        detector.go(checked=False)
        detector.wait_started()
        with Hub.open(path) as hub, contextlib.closing(hub.store.change_signal()) as commits:
            assert until(lambda: hub.store.ledger_halt() is not None, 60.0, commits)
            assert "entry 5 differs from what was appended" in hub.ledger.broken
    finally:
        detector.stop()
    assert multiprocessing.active_children() == []
    assert _checkpoints(path) == signed


def test_a_running_hub_stops_signing_when_its_log_is_cut_behind_its_back(tmp_path, caplog):
    """security.md §7.2: entries deleted while the hub runs: its next tick moves notices on
    all the same (appending where entries were cut) but signs nothing, and its ledger routes
    and parties' writes refuse."""
    build(tmp_path)
    path = tmp_path / "hub.db"
    hub = Hub.open(path)
    try:
        hub.ledger.checkpoint()
        size = hub.ledger.size
        edit(path, "DELETE FROM ledger_entries WHERE idx >= ?", params=(size - 2,))
        with caplog.at_level(logging.ERROR, logger="deconflict.ledger"):
            report = hub.tick()  # the system clock: every notice has ended, and is moved on
        assert report.ended  # the rest of the tick's work went on (appending at the hole)
        assert "no longer give the root this hub signed" in (hub.ledger.broken or "")
        with pytest.raises(VerificationFailed):
            hub.ledger.inclusion(0)
        with pytest.raises(VerificationFailed):
            hub.acknowledge("usaf", "M-none")
    finally:
        hub.close()
    assert max(_checkpoints(path)) == size


def test_the_signed_record_cut_short_stops_serve(made, capsys, monkeypatch):
    """security.md §7.2: the note of the last signed checkpoint truncated: what was signed is
    no longer known, so serve refuses rather than sign blind."""
    path, _ = made
    _signed_everything(path)
    record = path.with_name(path.name + ".ledger-key.signed")
    record.write_bytes(record.read_bytes()[:20])
    _refused(capsys, monkeypatch, path, "not a checkpoint signed with this log's key")


def test_repair_rebuilds_derived_hashes_but_never_signed_history(made, capsys, monkeypatch):
    """security.md §7.2: a stored subtree hash changed stops serve; ``repair`` rebuilds it
    from the entries (they still give the signed root) and serve's check then holds. With a
    signed entry deleted, repair refuses and writes nothing."""
    path, _ = made
    _signed_everything(path)
    edit(path, "UPDATE ledger_nodes SET hash = zeroblob(32)")
    _refused(capsys, monkeypatch, path, "")
    code, out, _ = run(capsys, "ledger", "repair", "--db", path)
    assert code == 0
    assert out.startswith("repaired: ")
    with Hub.open(path) as hub:
        assert hub.ledger.problem() is None
    edit(path, "DELETE FROM ledger_entries WHERE idx = 3")
    before = sqlite3.connect(path).execute("SELECT count(*) FROM ledger_nodes").fetchone()
    code, out, err = run(capsys, "ledger", "repair", "--db", path)
    assert (code, out) == (1, "")
    assert "entry 3 is missing: repair cannot bring back an entry" in err
    assert sqlite3.connect(path).execute("SELECT count(*) FROM ledger_nodes").fetchone() == before


def test_export_writes_the_evidence(made, capsys, tmp_path):
    """``ledger export``: entries, checkpoints and findings as owner-only JSON files."""
    path, _ = made
    edit(path, N1_UPPER + " WHERE id = 'usaf/N1'")
    out_dir = tmp_path / "evidence"
    code, _, _ = run(capsys, "ledger", "export", "--db", path, "--out", out_dir)
    assert code == 0
    findings = json.loads((out_dir / "findings.json").read_text())
    assert findings["differs"] == ["notice usaf/N1 v1: served upper 9000 m, ledger 3000 m"]
    entries = json.loads((out_dir / "entries.json").read_text())
    assert len(entries) > 20
    assert all(e["hashes_to_leaf"] for e in entries)
    assert (out_dir / "entries.json").stat().st_mode & 0o077 == 0


def test_export_reads_the_store_once(made, capsys, tmp_path, monkeypatch):
    """``ledger export`` reads the store in one snapshot (its audit data), so its entries, its
    checkpoints, what verify finds and what the signing check finds all tell of one log; here
    a subtree hash zeroed, which both checks name."""
    from deconflict.store import SqlStore

    path, _ = made
    _signed_everything(path)
    edit(path, "UPDATE ledger_nodes SET hash = zeroblob(32)")
    reads = []
    read = SqlStore.ledger_audit_data
    monkeypatch.setattr(SqlStore, "ledger_audit_data", lambda self: reads.append(1) or read(self))
    for apart in ("ledger_entries", "ledger_nodes", "ledger_snapshot", "ledger_checkpoints"):
        monkeypatch.setattr(SqlStore, apart, lambda self, apart=apart: pytest.fail(apart))
    out_dir = tmp_path / "evidence"
    code, _, _ = run(capsys, "ledger", "export", "--db", path, "--out", out_dir)
    assert (code, len(reads)) == (0, 1)
    findings = json.loads((out_dir / "findings.json").read_text())
    assert "the hashes over entries 0..1 were changed" in findings["log"]
    assert "the hashes over entries 0..1 were changed" in findings["signing"]
    assert json.loads((out_dir / "checkpoints.json").read_text())


def _rehash(db) -> None:
    """A thorough tamperer: every stored hash recomputed from the (changed) entries."""
    from deconflict.ledger import MemoryTree, leaf_hash

    rows = list(db.execute("SELECT idx, body FROM ledger_entries ORDER BY idx"))
    tree = MemoryTree(leaf_hash(body.encode()) for _, body in rows)
    db.executemany(
        "UPDATE ledger_entries SET leaf = ? WHERE idx = ?",
        [(leaf, idx) for (idx, _), leaf in zip(rows, tree.levels[0], strict=True)],
    )
    db.execute("DELETE FROM ledger_nodes")


# on PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_on_postgresql_edits_are_found_and_a_cut_log_is_never_signed(pg_url, tmp_path, monkeypatch):
    """security.md §7.1 and §7.2 on PostgreSQL: a forged acknowledgement, an edited altitude
    and a deleted conflict are each found; the last signed entry deleted, the hub refuses."""
    monkeypatch.setenv("DECONFLICT_LEDGER_KEY", str(tmp_path / "hub.ledger-key"))
    ids = build(tmp_path, target=pg_url)
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as c:
            c.execute(
                sa.text(
                    "UPDATE notifications SET state = 'acknowledged', "
                    "acknowledged_at_s = delivered_at_s WHERE id = :id"
                ),
                {"id": ids["delivered"]},
            )
            c.exec_driver_sql(N1_UPPER + " WHERE id = 'usaf/N1'")
            c.execute(sa.text("DELETE FROM conflicts WHERE id = :id"), {"id": ids["conflict"]})
        with Hub.open(pg_url) as hub:
            with pytest.raises(VerificationFailed, match="the store and its ledger differ"):
                hub.ledger.verify()
            found = [str(f) for f in hub.ledger.audit().findings]
            hub.ledger.checkpoint()  # the log itself still extends what was signed
            size = hub.ledger.size
        assert "notice usaf/N1 v1: served upper 9000 m, ledger 3000 m" in found
        assert any(f.endswith("but no acknowledgement entry") for f in found)
        assert any(f"its subject conflict:{ids['conflict']} is missing" in f for f in found)
        with engine.begin() as c:
            c.execute(sa.text("DELETE FROM ledger_entries WHERE idx = :i"), {"i": size - 1})
        with Hub.open(pg_url) as hub:
            assert "but this hub signed a checkpoint of" in (hub.ledger.problem() or "")
            hub.tick()
            with pytest.raises(VerificationFailed):
                hub.ledger.checkpoint()
        with engine.connect() as c:
            sizes = c.execute(sa.text("SELECT size FROM ledger_checkpoints")).scalars().all()
        assert max(sizes) == size
    finally:
        engine.dispose()


def test_plans_stored_before_they_were_recorded_get_their_entries(tmp_path, capsys):
    """security.md §7.1: a database at revision 0014 holds plans with no ledger entry; opened
    now, migration 0015 records each plan version as its owner's private entry, so it verifies,
    and an edit of the plan is then found."""
    hub, _ = make_hub(tmp_path)
    hub.add_plan("faf", [vol("p")], "P1")
    hub.amend_plan("faf", "P1", 1, [vol("p", upper_m=6000.0)])
    hub.close()
    path = tmp_path / "hub.db"
    edit(  # as it was before plans were recorded
        path,
        "DELETE FROM ledger_private WHERE type LIKE 'plan.%'",
        "DROP TABLE ledger_halt",
        "ALTER TABLE notices DROP COLUMN volume_versions",
        "ALTER TABLE notice_versions DROP COLUMN volume_versions",
        "DROP TABLE versions",
        "DROP INDEX ix_notices_party_end",
        "CREATE INDEX ix_notices_party_id ON notices (party_id)",
        "CREATE INDEX ix_conflicts_state ON conflicts (state)",
        "CREATE INDEX ix_notices_state ON notices (state)",
        "CREATE INDEX ix_notifications_state ON notifications (state)",
        "DROP INDEX ix_notices_party_filed",
        "CREATE INDEX ix_notices_filed ON notices (filed_at_s, id)",
        "DROP TABLE conflict_parties",
        *(f"DROP INDEX ix_conflicts_{s}_{i}" for s in "ab" for i in ("told", "open")),
        "DROP INDEX ix_conflicts_a_shown",
        "DROP INDEX ix_conflicts_b_shown",
        "ALTER TABLE conflicts DROP COLUMN a_until_s",
        "ALTER TABLE conflicts DROP COLUMN b_until_s",
        "DROP INDEX ix_notices_party_state",
        "DROP INDEX ix_notifications_recipient_about",
        "DROP TABLE notice_volumes",
        "DROP INDEX ix_plans_party_state",
        "DROP INDEX ix_plans_party_end",
        "ALTER TABLE plans DROP COLUMN start_s",
        "ALTER TABLE plans DROP COLUMN end_s",
        "ALTER TABLE conflicts DROP COLUMN more_pairs",
        "UPDATE alembic_version SET version_num = '0014'",
    )
    code, out, _ = run(capsys, "ledger", "verify", "--db", path)
    assert (code, out.split(" ")[0]) == (0, "ok:")
    with sqlite3.connect(path) as db:
        recorded = db.execute(
            "SELECT type, version FROM ledger_private WHERE subject = 'plan:faf/P1'"
        ).fetchall()
    assert recorded == [("plan.recorded", 1), ("plan.recorded", 2)]
    edit(path, "UPDATE plans SET volumes = replace(volumes, '6000', '9000')")
    assert differs(capsys, path) == ["differs: plan faf/P1 v2: served upper 9000 m, ledger 6000 m"]


def _whole_checks(monkeypatch) -> list[int]:
    """The sizes of the whole checks of the log made from now on (``verify_log`` calls)."""
    import deconflict.hub.ledger as hub_ledger

    whole: list[int] = []
    real = hub_ledger.verify_log

    def counted(*args, **kwargs):
        whole.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(hub_ledger, "verify_log", counted)
    return whole


def _started_and_stopped(*settings) -> None:
    """Runtimes of ``settings`` started in turn (the first takes the detector lease; each
    start signs what it finds at its first tick), then stopped in the same order."""
    from deconflict.runtime.runtime import Runtime

    async def go() -> None:
        runtimes = [Runtime(each) for each in settings]
        try:
            for runtime in runtimes:
                await runtime.start()
        finally:
            for runtime in runtimes:
                await runtime.stop()

    asyncio.run(go())


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_in_one_process_checks_the_whole_ledger_once(made, capsys, monkeypatch, workers):
    """``serve --no-detector-process`` checks the whole log before it starts (security.md
    §7.2); its one process then took the lease and, at its first tick, read and hashed the
    whole log again (seconds at 10^6 entries, on the thread every request waits for). In one
    process the hub is told it was checked; with several workers it is not (uvicorn starts a
    worker again after it dies, and that one was checked by nobody)."""
    import deconflict.api.server
    import deconflict.cli.serve
    import deconflict.runtime.lifeline

    path, _ = made
    _signed_everything(path)
    whole = _whole_checks(monkeypatch)
    served = []

    def started(config):
        if workers == 1:
            app = config.app
        else:  # the app uvicorn's factory makes in each worker, from what serve passed down
            monkeypatch.setattr(deconflict.runtime.lifeline, "follow_parent", lambda pid: None)
            app = deconflict.cli.serve.worker_app()
        served.append(app.state.service.runtime.settings)

    monkeypatch.setattr(deconflict.api.server, "run", started)
    code, _, err = run(capsys, "serve", "--db", path, "--workers", workers, "--no-detector-process")
    assert code == 0, err
    assert len(whole) == 1  # serve's own check
    (settings,) = served
    assert settings.ledger_checked is (workers == 1)
    _started_and_stopped(settings)  # takes the lease, and checks the log at its first tick
    assert len(whole) == (1 if workers == 1 else 2)


def test_a_process_that_takes_the_lease_later_checks_the_whole_ledger_itself(made, monkeypatch):
    """Two ``serve --no-detector-process`` on one database, each told of its own start's
    check: the second waits on standby, an entry is edited meanwhile, and the first stops.
    The second, taking the lease long after its start, checks the whole log itself (it was
    told of a check that no longer stands), finds the edit and halts rather than sign."""
    from deconflict.api.app import ApiSettings
    from deconflict.runtime.runtime import Runtime

    path, _ = made
    _signed_everything(path)
    signed: list[int] = []
    settings = ApiSettings(db=path, ledger_checked=True)

    async def go() -> str | None:
        first, second = Runtime(settings), Runtime(settings)
        running = [first]
        await first.start()
        try:
            running.append(second)
            await second.start()  # on standby: the first holds the lease
            assert not second.runner.leading
            signed.extend(_checkpoints(path))  # by the first, before the edit
            edit(path, "UPDATE ledger_entries SET body = body || ' ' WHERE idx = 5")
            running.remove(first)
            await first.stop()  # the lease let go: the second takes it
            with Hub.open(path) as hub, contextlib.closing(hub.store.change_signal()) as commits:
                halted = lambda: hub.store.ledger_halt() is not None  # noqa: E731
                await asyncio.to_thread(until, halted, 60.0, commits)
                return hub.ledger.broken
        finally:
            for runtime in running:
                await runtime.stop()

    broken = asyncio.run(go())
    assert broken is not None
    assert "entry 5 differs from what was appended" in broken
    assert _checkpoints(path) == signed


@pytest.mark.parametrize(
    ("statement", "found"),
    [
        (
            "UPDATE notice_volumes SET body = replace(body, '3000', '9000')"
            " WHERE notice_id = 'usaf/N1'",
            "differs: notice usaf/N1 v1: volume a's own row (from v1) is not the version's",
        ),
        (
            "DELETE FROM notice_volumes WHERE notice_id = 'usaf/N3' AND since_version = 2",
            "differs: notice usaf/N3 v2: volume c has no row of its own",
        ),
        (
            "INSERT INTO notice_volumes SELECT notice_id, 'z', 1, NULL, body"
            " FROM notice_volumes WHERE notice_id = 'faf/N2'",
            "differs: notice faf/N2 v1: volume z's own row is in no version",
        ),
        (
            "UPDATE notice_volumes SET until_version = NULL"
            " WHERE notice_id = 'usaf/N3' AND since_version = 1",
            "differs: notice usaf/N3 v1: served version that replaced volume c none, ledger 2",
        ),
    ],
    ids=["edited", "deleted", "added", "kept"],
)
def test_a_notice_volume_s_own_row_edited_deleted_or_added_is_found(made, capsys, statement, found):
    """security.md §7.1: each notice volume is kept on its own row too (migration 0034), which
    a party's suggestions search and a notice seen in part is read from: a row edited, gone,
    added or kept past the version that replaced it is named."""
    path, _ = made
    edit(path, statement)
    assert differs(capsys, path) == [found]
