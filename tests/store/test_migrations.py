"""Migrations from earlier heads, on SQLite and PostgreSQL: a database at 0004 opened now gains
the conflicts table's indexes by record (0005); a ledger at 0005 keeps its leaf hashes in its
entries' rows (0006), and proofs and audits of it are unchanged; notice versions at 0008 gain
the links to their ledger entries (0009); the hub's halt is kept from 0016 on, and dropped with
it; notice versions keep their volumes' versions from 0017 on; the indexes on a state alone go with
0028."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from tests.hub.scenario import HOUR, T0, make_hub, vol

import deconflict.store.migrations as migrations
from deconflict.errors import VerificationFailed
from deconflict.hub import Hub
from deconflict.ledger import MemoryTree, Signer, canonical, leaf_hash, verify_log
from deconflict.model import Party
from deconflict.store import open_store
from deconflict.store.engines import postgres_url
from deconflict.store.rows import conflict_values


def _engine(target: str) -> sa.Engine:
    if target.startswith("postgresql"):
        return sa.create_engine(postgres_url(target))
    return sa.create_engine(f"sqlite:///{target}")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def _versions(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    return [v for (v,) in rows]


def _downgrade(engine: sa.Engine, config: Config, revision: str) -> None:
    """Take the database back to ``revision``, alembic working on one connection of ours."""
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _record_indexes(engine: sa.Engine) -> dict[str, list[str | None]]:
    found = sa.inspect(engine).get_indexes("conflicts")
    return {i["name"]: i["column_names"] for i in found if "record" in str(i["name"])}


def test_a_database_at_0004_gains_the_conflict_record_indexes(store_target):
    """The indexes are there after opening, and the data before is kept."""
    engine = _engine(store_target)
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(
            sa.text("INSERT INTO parties (id, name, created_at_s) VALUES ('usaf', 'USAF', 1.0)")
        )
    assert _record_indexes(engine) == {}
    store = open_store(store_target)
    try:
        assert store.list_parties() == [Party("usaf", "USAF")]
    finally:
        store.close()
    assert _record_indexes(engine) == {
        "ix_conflicts_a_record": ["a_kind", "a_record_id"],
        "ix_conflicts_b_record": ["b_kind", "b_record_id"],
    }
    assert _versions(engine) == [ScriptDirectory.from_config(config).get_current_head()]
    engine.dispose()


LEAVES = 11  # entries in the old log
BUILT = 8  # the old log's subtrees were built this far (its last checkpoint's size)


def _old_log(engine: sa.Engine, config: Config, missing_leaf: int | None = None) -> MemoryTree:
    """A ledger as hubs at 0005 left it: LEAVES entries, their leaf hashes as level-0 rows of
    ledger_nodes (but ``missing_leaf``'s), and the subtrees over the first BUILT; its tree."""
    bodies = [
        canonical({"type": "party.added", "party": f"p{i}", "at": f"2015-11-08T16:26:{i:02}Z"})
        for i in range(LEAVES)
    ]
    tree = MemoryTree(leaf_hash(body) for body in bodies)
    built = MemoryTree(tree.levels[0][:BUILT])
    nodes = [
        {"node": (level << 48) | i, "hash": value}
        for level, hashes in enumerate(built.levels)
        if level
        for i, value in enumerate(hashes)
    ]
    nodes += [{"node": i, "hash": h} for i, h in enumerate(tree.levels[0]) if i != missing_leaf]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            sa.text(
                "INSERT INTO ledger_entries (idx, type, subject, body, at_s) "
                "VALUES (:idx, 'party.added', :subject, :body, :at_s)"
            ),
            [
                {"idx": i, "subject": f"party:p{i}", "body": body.decode(), "at_s": T0 + i}
                for i, body in enumerate(bodies)
            ],
        )
        connection.execute(
            sa.text("INSERT INTO ledger_nodes (node, hash) VALUES (:node, :hash)"), nodes
        )
    return tree


def test_a_ledger_at_0005_keeps_its_leaf_hashes_in_its_entries(store_target):
    """Opened now, an old ledger's leaf hashes are in its entries' rows and ledger_nodes holds
    only the subtrees above: roots, proofs and the audit give what they gave, appends go on;
    taken back to 0005, the leaf rows are as they were."""
    engine = _engine(store_target)
    config = _config()
    tree = _old_log(engine, config)
    store = open_store(store_target)
    try:
        with engine.connect() as c:
            leaves = c.execute(sa.text("SELECT leaf FROM ledger_entries ORDER BY idx")).scalars()
            assert [bytes(leaf) for leaf in leaves] == tree.levels[0]
            low = c.execute(sa.text("SELECT count(*) FROM ledger_nodes WHERE node < 1024"))
            assert low.scalar() == 0
        assert store.ledger_size() == LEAVES
        assert store.ledger_root(LEAVES) == tree.root()
        for index in (0, 5, 9, LEAVES - 1):
            assert store.ledger_inclusion(index, LEAVES) == tree.inclusion(index)
        assert store.ledger_consistency(3, LEAVES) == tree.consistency(3)
        key = Signer.generate("deconflict.hub/01020304").verifier()
        report = verify_log(store.ledger_entries(), store.ledger_nodes(), LEAVES, [], key)
        assert report.root == tree.root()
        store.add_party(Party("late", "Late"), T0 + 60)
        after = MemoryTree(leaf_hash(body) for _, body in store.ledger_entries())
        assert after.levels[0][:LEAVES] == tree.levels[0]
        assert store.ledger_root(LEAVES + 1) == after.root()
    finally:
        store.close()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
        rows = connection.execute(sa.text("SELECT node, hash FROM ledger_nodes WHERE node < 1024"))
        assert {int(node): bytes(value) for node, value in rows} == dict(enumerate(after.levels[0]))
    engine.dispose()


def test_an_old_ledger_missing_a_leaf_hash_still_fails_its_audit(store_target):
    """An entry whose leaf row was missing before 0006 is reported by the audit after it, as
    one not appended through the log."""
    engine = _engine(store_target)
    _old_log(engine, _config(), missing_leaf=3)
    engine.dispose()
    store = open_store(store_target)
    try:
        key = Signer.generate("deconflict.hub/01020304").verifier()
        with pytest.raises(VerificationFailed, match=r"first bad index 3: .* not appended"):
            verify_log(store.ledger_entries(), store.ledger_nodes(), LEAVES, [], key)
    finally:
        store.close()


def _links(engine: sa.Engine) -> dict[tuple[str, int], int | None]:
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT notice_id, version, ledger_idx FROM notice_versions"))
        return {(n, int(v)): None if i is None else int(i) for n, v, i in rows}


def _subject_index(engine: sa.Engine) -> str:
    """The subject index's definition, as the database keeps it."""
    if engine.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE name = 'ix_ledger_entries_subject'"
    else:
        query = (  # this test's schema: others, of tests run beside it, have the index too
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_ledger_entries_subject' "
            "AND schemaname = current_schema()"
        )
    with engine.connect() as c:
        return str(c.execute(sa.text(query)).scalar_one())


def test_notice_versions_at_0008_gain_links_to_their_ledger_entries(store_target):
    """Taken back to 0008 (links dropped, the subject index whole again) and opened now, each
    notice version links the entry that commits to it, as a hub at 0009 wrote it; receipts,
    openings and the audit read the same; the subject index holds no filing's entry."""
    from deconflict.geo import Circle, Volume4D
    from deconflict.hub import Hub, SimulatedClock

    def volume(radius_m: float) -> Volume4D:
        return Volume4D.build("v", Circle((38.0, 35.0), radius_m), 0.0, 1e3, T0, T0 + 600)

    engine = _engine(store_target)
    with Hub.open(store_target, SimulatedClock(T0)) as hub:
        hub.add_party("RU")
        hub.file_notice("RU", [volume(3_000.0)], "air-activity", "N1")
        hub.amend_notice("RU", "N1", 1, [volume(2_000.0)])
        hub.file_notice("RU", [volume(1_000.0)], "air-activity", "N2")
        hub.cancel_notice("RU", "N2")
        written = _links(engine)
        openings = {(n, v): hub.ledger.opening("RU", n.removeprefix("RU/"), v) for n, v in written}
        found = {n: hub.store.ledger_find(f"notice:RU/{n}") for n in ("N1", "N2")}
    assert set(written) == {("RU/N1", 1), ("RU/N1", 2), ("RU/N2", 1)}
    assert None not in written.values()
    assert [kind for _, kind in found["N1"]] == ["notice.filed", "notice.amended"]
    assert [kind for _, kind in found["N2"]] == ["notice.filed", "notice.cancelled"]
    assert "WHERE" in _subject_index(engine).upper()
    config = _config()
    _downgrade(engine, config, "0008")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("notice_versions")}
    assert "ledger_idx" not in columns
    assert "WHERE" not in _subject_index(engine).upper()
    with Hub.open(store_target, SimulatedClock(T0 + 60)) as hub:
        assert _links(engine) == written
        reopened = {(n, v): hub.ledger.opening("RU", n.removeprefix("RU/"), v) for n, v in written}
        assert reopened == openings
        assert {n: hub.store.ledger_find(f"notice:RU/{n}") for n in ("N1", "N2")} == found
        hub.ledger.verify()
    assert "WHERE" in _subject_index(engine).upper()
    assert _versions(engine) == [ScriptDirectory.from_config(config).get_current_head()]
    engine.dispose()


def test_webhooks_before_0014_keep_their_secret_until_sealed(store_target):
    """A webhook row written before 0014 (its secret in clear) is kept as it was, to be sealed
    by the service at its start (the migration cannot read the key file); taken back below
    0014, a row holding only a sealed secret is removed (it cannot be opened there) and the
    others stay."""
    engine = _engine(store_target)
    config = _config()
    before = ScriptDirectory.from_config(config).get_revision("0014").down_revision
    assert isinstance(before, str)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, before)
        connection.execute(
            sa.text(
                "INSERT INTO webhooks (party, url, secret) "
                "VALUES ('US', 'https://us.example/', 'old-secret-0123456789')"
            )
        )
    open_store(store_target).close()
    with engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT party, secret, sealed FROM webhooks")).all()
        assert [tuple(r) for r in rows] == [("US", "old-secret-0123456789", None)]
        connection.execute(
            sa.text(
                "INSERT INTO webhooks (party, url, sealed) "
                "VALUES ('FR', 'https://fr.example/', 'v1.0123456789abcdef.AAAA')"
            )
        )
        config.attributes["connection"] = connection
        command.downgrade(config, before)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT party, secret FROM webhooks")).all()
    assert [tuple(r) for r in rows] == [("US", "old-secret-0123456789")]
    engine.dispose()


def test_the_halt_comes_with_0016_and_goes_with_its_downgrade(store_target):
    """At 0016 the store keeps one halt, the first recorded, until it is lifted; taken back to
    0015 the table is gone (an older hub finds a broken log at its own first check), and opened
    again it is back, empty."""
    store = open_store(store_target)
    try:
        assert store.ledger_halt() is None
        first = store.ledger_record_halt("the log was cut", T0)
        assert store.ledger_record_halt("found again", T0 + 1) == first
        assert store.ledger_halt() == first
    finally:
        store.close()
    engine = _engine(store_target)
    config = _config()
    _downgrade(engine, config, "0015")
    assert "ledger_halt" not in sa.inspect(engine).get_table_names()
    store = open_store(store_target)
    try:
        assert store.ledger_halt() is None
        store.ledger_record_halt("the log was cut", T0)
        assert store.ledger_lift_halt() == first
        assert store.ledger_lift_halt() is None
    finally:
        store.close()
    assert _versions(engine) == [ScriptDirectory.from_config(config).get_current_head()]
    engine.dispose()


def test_volume_versions_come_with_0017_and_read_as_changed_without_it(store_target, tmp_path):
    """At 0017 each notice version keeps the version each volume last changed at; taken back
    to 0016 the columns are gone, and opened again a notice stored without them reads as every
    volume changed at its version (an amendment then carries none of its conflicts, as
    before: never more disclosed than the versions prove)."""
    hub, _ = make_hub(tmp_path, target=store_target)
    try:
        hub.file_notice("usaf", [vol("a"), vol("b", lon=41.0)], "air-activity", "N1")
        hub.amend_notice("usaf", "N1", 1, [vol("a"), vol("b", lon=41.5)])
        assert hub.store.get_notice("usaf/N1").volume_versions == (1, 2)
        assert hub.store.get_notice_version("usaf/N1", 1).volume_versions == ()  # all at 1
    finally:
        hub.close()
    engine = _engine(store_target)
    config = _config()
    _downgrade(engine, config, "0016")
    for table in ("notices", "notice_versions"):
        columns = [c["name"] for c in sa.inspect(engine).get_columns(table)]
        assert "volume_versions" not in columns
    hub = Hub.open(store_target)
    try:
        assert hub.store.get_notice("usaf/N1").volume_versions == ()
        hub.amend_notice("usaf", "N1", 2, [vol("a"), vol("b", lon=41.5)])
        assert hub.store.get_notice("usaf/N1").volume_versions == (2, 2)
        hub.ledger.verify()
    finally:
        hub.close()
    assert _versions(engine) == [ScriptDirectory.from_config(config).get_current_head()]
    engine.dispose()


def test_conflicts_at_0019_are_read_as_before_by_0020(store_target, tmp_path):
    """0020 finds a party's conflicts, and the notices they unlock under conflicts-only, by
    until when each side is shown the conflict open; a conflict stored at 0019 is given the end
    of the window each side was told (0022, from its masked detail), so it is listed and
    unlocks as before, and stops unlocking when one stored since would."""
    from deconflict.model import Disclosure

    hub, clock = make_hub(tmp_path, target=store_target, disclosure=Disclosure.CONFLICTS_ONLY)
    try:
        hub.file_notice("usaf", [vol("u")], "air-activity", "U")
        hub.file_notice("faf", [vol("f", lon=39.01, end_s=T0 + 10 * HOUR)], "air-activity", "F")
        hub.process()
    finally:
        hub.close()
    engine = _engine(store_target)
    config = _config()
    _downgrade(engine, config, "0019")
    columns = [c["name"] for c in sa.inspect(engine).get_columns("conflicts")]
    assert "a_until_s" not in columns
    hub = Hub.open(store_target, clock)
    try:
        with engine.connect() as connection:
            (until,) = connection.execute(sa.text("SELECT a_until_s FROM conflicts")).one()
        # The window faf (side a: filed last) is told, from its masked detail (0022): usaf's
        # volume's end on a step, not faf's notice's (0020 gave it that, a hidden end the
        # reads told).
        assert T0 + 8 * HOUR <= until < T0 + 8 * HOUR + 900
        assert [c.a.record_id for c in hub.list_conflicts("usaf", open_only=True)] == ["F"]
        assert [n.key for n in hub.list_notices("usaf", party="faf")] == ["faf/F"]
        clock.set(T0 + 9 * HOUR)  # past usaf's volume: the conflict is over, F out of sight
        assert hub.list_notices("usaf", party="faf") == []
    finally:
        hub.close()
    assert _versions(engine) == [ScriptDirectory.from_config(config).get_current_head()]
    engine.dispose()


def test_conflicts_at_0025_are_paged_and_a_legacy_one_is_listed_open_while_shown(
    store_target, tmp_path
):
    """0026 gives each conflict its rows of ``conflict_parties`` (a party's pages read them),
    and a side recorded without its masked detail (before 0013: told at the resolution of the
    day, up to a step past its own notice's end) is told open for ever, as
    ``Conflict.told_until`` says: 0020 gave it its notice's end, and past it the open list
    missed a conflict the party was still shown open (a thirteenth reader)."""
    from deconflict.model import ConflictState, Disclosure

    hub, clock = make_hub(tmp_path, target=store_target, disclosure=Disclosure.NONE)
    try:
        hub.file_notice("usaf", [vol("u")], "air-activity", "U")
        hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
        hub.process()
        (conflict,) = hub.list_conflicts("usaf")
    finally:
        hub.close()
    engine = _engine(store_target)
    config = _config()
    _downgrade(engine, config, "0025")
    with engine.begin() as connection:  # as 0020 left a conflict stored before 0013
        connection.execute(
            sa.text(
                "UPDATE conflicts SET a_masked = NULL, b_masked = NULL,"
                " a_until_s = (SELECT end_s FROM notices WHERE id = conflicts.a_record_id),"
                " b_until_s = (SELECT end_s FROM notices WHERE id = conflicts.b_record_id)"
            )
        )
    hub = Hub.open(store_target, clock)
    try:
        assert [c.id for c in hub.list_conflicts("faf", limit=1)] == [conflict.id]
        assert [c.id for c in hub.list_conflicts("usaf", limit=1)] == [conflict.id]
        clock.set(T0 + 8 * HOUR + 100.0)  # both notices over, the window told not yet
        hub.tick()
        hub.process()
        for party in ("usaf", "faf"):
            (shown,) = hub.list_conflicts(party)
            assert shown.state is ConflictState.OPEN  # told at 15 min: until 8 h + 200 s
            assert [c.id for c in hub.list_conflicts(party, open_only=True)] == [conflict.id]
    finally:
        hub.close()
    assert _versions(engine) == [ScriptDirectory.from_config(config).get_current_head()]
    engine.dispose()


def test_the_state_alone_indexes_go_with_0028_and_come_back_with_its_downgrade(store_target):
    """0028 drops the notices' and notifications' indexes on their state alone (each the
    leading column of another); taken back to 0027 they are there again, and a hub opened on
    it then migrates and reads by state as before (the tick's notices by state and start)."""
    hub, clock = make_hub(Path(), target=store_target)
    hub.file_notice("usaf", [vol("a", start_s=T0 + HOUR, end_s=T0 + 2 * HOUR)], "air", "N1")
    hub.close()
    engine = _engine(store_target)

    def state_indexes() -> set[str]:
        inspector = sa.inspect(engine)
        found = set()
        for table in ("notices", "notifications"):
            found |= {
                str(i["name"])
                for i in inspector.get_indexes(table)
                if i["column_names"] == ["state"]
            }
        return found

    assert state_indexes() == set()
    _downgrade(engine, _config(), "0027")
    assert state_indexes() == {"ix_notices_state", "ix_notifications_state"}
    hub = Hub.open(store_target, clock)
    try:
        assert state_indexes() == set()
        clock.set(T0 + 1.5 * HOUR)
        (activated,) = hub.tick().activated
        assert activated.id == "N1"
    finally:
        hub.close()
        engine.dispose()


def _volume_rows(engine: sa.Engine) -> dict[tuple[str, str, int], object]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM notice_volumes")).all()
    return {
        (r.notice_id, r.volume_id, r.since_version): (json.loads(r.body), r.until_version)
        for r in rows
    }


def test_notice_volumes_come_with_0034_filled_from_every_version(store_target, tmp_path):
    """0034 keeps each notice volume on its own row from the version it changed at: filled
    from the versions stored before it, the rows are those the hub writes (the same volumes,
    each until the version that changed or dropped it), and each volume of each version reads
    back as that version holds it; a version from before 0017 (no volumes' versions) counts
    each of its volumes as changed at it."""
    hub, _ = make_hub(tmp_path, target=store_target)
    try:
        hub.file_notice("usaf", [vol("a"), vol("b", lon=41.0)], "air-activity", "N1")
        hub.amend_notice("usaf", "N1", 1, [vol("a"), vol("b", lon=41.5), vol("c", lon=42.0)])
        hub.amend_notice("usaf", "N1", 2, [vol("b", lon=41.5), vol("c", lon=42.5)])
        hub.file_notice("usaf", [vol(f"v{i}", lon=40 + i / 100) for i in range(30)], "x", "N2")
        asked = [
            (key, volume.id, version)
            for key, last in (("usaf/N1", 3), ("usaf/N2", 1))
            for version in range(1, last + 1)
            for volume in hub.store.get_notice_version(key, version).volumes
        ]
        live = hub.store.notice_volumes_at(asked)
    finally:
        hub.close()
    engine = _engine(store_target)
    written = _volume_rows(engine)
    assert sorted(written)[:4] == [
        ("usaf/N1", "a", 1),
        ("usaf/N1", "b", 1),
        ("usaf/N1", "b", 2),
        ("usaf/N1", "c", 2),
    ]
    assert len(written) == 5 + 30
    assert len(live) == len(asked) == 2 + 3 + 2 + 30
    assert [written["usaf/N1", v, s][1] for v, s in (("a", 1), ("b", 1), ("b", 2))] == [3, 2, None]
    config = _config()
    _downgrade(engine, config, "0033")
    assert "notice_volumes" not in sa.inspect(engine).get_table_names()
    Hub.open(store_target).close()
    assert _volume_rows(engine) == written  # as the hub wrote them, to the version each left
    _downgrade(engine, config, "0033")
    with engine.begin() as connection:  # as 0016 left it: no volumes' versions
        connection.execute(sa.text("UPDATE notice_versions SET volume_versions = NULL"))
    hub = Hub.open(store_target)
    try:
        again = hub.store.notice_volumes_at(asked)
        assert again.keys() == live.keys()
        assert all(again[k].same_as(live[k]) for k in asked)
    finally:
        hub.close()
    # Each version's volumes counted as changed at it: a row for every volume of every version.
    assert len(_volume_rows(engine)) == len(asked)
    assert _versions(engine) == [ScriptDirectory.from_config(config).get_current_head()]
    engine.dispose()


def test_plans_come_with_0036_s_times_filled_from_their_volumes(store_target, tmp_path):
    """0036 gives each plan the start of its earliest volume and the end of its latest: filled
    from the plans stored before it (an amended one's from its newest volumes), they are those
    the hub writes, and a read of the plans active in a window finds them by them."""
    hub, _ = make_hub(tmp_path, target=store_target)
    try:
        early = vol("a", start_s=T0 + HOUR, end_s=T0 + 2 * HOUR)
        hub.add_plan("usaf", [early, vol("b", start_s=T0 + 3 * HOUR, end_s=T0 + 5 * HOUR)], "P1")
        hub.add_plan("usaf", [vol("c")], "P2")
        hub.amend_plan("usaf", "P2", 1, [vol("c", start_s=T0 + 10 * HOUR, end_s=T0 + 11 * HOUR)])
    finally:
        hub.close()
    engine = _engine(store_target)

    def spans() -> dict[str, tuple[float, float]]:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, start_s, end_s FROM plans")).all()
        return {r.id: (r.start_s, r.end_s) for r in rows}

    written = spans()
    assert written == {
        "usaf/P1": (T0 + HOUR, T0 + 5 * HOUR),
        "usaf/P2": (T0 + 10 * HOUR, T0 + 11 * HOUR),
    }
    _downgrade(engine, _config(), "0035")
    assert "start_s" not in {c["name"] for c in sa.inspect(engine).get_columns("plans")}
    store = open_store(store_target)
    try:
        assert spans() == written
        for window, found in (
            ((T0 + 9 * HOUR, T0 + 12 * HOUR), ["P2"]),
            ((T0 + 4 * HOUR, T0 + 10.5 * HOUR), ["P1", "P2"]),
            ((T0 + 5 * HOUR, T0 + 10 * HOUR), []),  # each only touches it
        ):
            assert [p.id for p in store.list_plans("usaf", active=window)] == found
    finally:
        store.close()
        engine.dispose()


def test_conflicts_stored_before_0037_list_no_more_pairs_and_their_entries_hold(
    store_target, tmp_path
):
    """0037 gives each conflict whether its records met in more pairs than they list
    (``hub.pairs``): false for every one stored before it, whose ledger entries, committed with
    no such field, still verify."""
    hub, _ = make_hub(tmp_path, target=store_target)
    try:
        hub.file_notice("usaf", [vol("u1"), vol("u2")], "air-activity", "U")
        hub.file_notice("faf", [vol("f1", lon=39.01)], "air-activity", "F")
        hub.process()
        assert len(hub.list_conflicts("usaf")) == 2
    finally:
        hub.close()
    engine = _engine(store_target)
    try:
        _downgrade(engine, _config(), "0036")
        assert "more_pairs" not in {c["name"] for c in sa.inspect(engine).get_columns("conflicts")}
    finally:
        engine.dispose()
    hub = Hub.open(store_target)
    try:
        stored = hub.list_conflicts("usaf")
        assert [c.more_pairs for c in stored] == [False, False]
        # What the ledger commits to is as it was before there was a limit, where it says
        # nothing more; the field only where it is true.
        assert all("more_pairs" not in conflict_values(c) for c in stored)
        assert conflict_values(replace(stored[0], more_pairs=True))["more_pairs"] is True
        hub.ledger.verify()
    finally:
        hub.close()
