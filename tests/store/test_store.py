"""The store on SQLite and PostgreSQL: change log in the write's transaction, versions, outbox,
error translation."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest
import sqlalchemy as sa

from deconflict.engine import ConflictDetail
from deconflict.errors import InvalidInput, NotFound, StoreError, VersionConflict
from deconflict.geo import AltitudeBand, Circle, Corridor, Polygon, Volume4D
from deconflict.hub.ledger_audit import cross_check
from deconflict.model import (
    Agreement,
    Conflict,
    Notice,
    Notification,
    NotificationKind,
    NotificationState,
    Party,
    Plan,
    RecordKind,
    Side,
)
from deconflict.store import Detection, open_sqlite, open_store, records


@pytest.fixture
def store(store_target):
    s = open_store(store_target)
    s.add_party(Party("usaf", "US Air Force"), 1.0)
    s.add_party(Party("faf", "French Air Force"), 2.0)
    yield s
    s.close()


def _volumes() -> tuple[Volume4D, ...]:
    return (
        Volume4D.build("c", Circle((39.0, 35.9), 2500.0), 100.0, 900.0, 1000.0, 2000.0),
        Volume4D.build(
            "k", Corridor([(39.0, 35.9), (39.5, 36.1)], 800.0), 0.0, 500.0, 1000.0, 3000.0
        ),
        Volume4D.build(
            "p", Polygon([(179.9, 10.0), (-179.9, 10.0), (-179.9, 10.2)]), 0.0, 1.0, 5.0, 6.0
        ),
    )


def _notice(notice_id: str = "N1", party: str = "usaf") -> Notice:
    return Notice(notice_id, party, _volumes(), "air-activity", filed_at_s=10.0)


def test_every_write_appends_a_change_in_order(store):
    """Each write adds one change-log row, in the order the writes happened."""
    store.add_agreement(Agreement("mou", ("usaf", "faf")), 3.0)
    notice = _notice()
    store.add_notice(notice)
    store.update_notice(notice.activate(20.0), expected_version=1, verb="activated")
    store.add_plan(Plan("P1", "faf", _volumes(), 30.0))
    kinds = [(c.kind, c.entity_id) for c in store.changes_after(0)]
    assert kinds == [
        ("party.added", "usaf"),
        ("party.added", "faf"),
        ("agreement.added", "mou"),
        ("notice.filed", "usaf/N1"),  # a notice's and a plan's rows name their record key
        ("notice.activated", "usaf/N1"),
        ("plan.added", "faf/P1"),
    ]
    seqs = [c.seq for c in store.changes_after(0)]
    assert seqs == sorted(seqs)
    assert [c.seq for c in store.changes_after(seqs[3])] == seqs[4:]


def test_volumes_round_trip_with_their_footprints(store):
    """Circle, corridor and antimeridian polygon come back with the same shape, band and window."""
    store.add_notice(_notice())
    back = store.get_notice("usaf/N1")
    for before, after in zip(_notice().volumes, back.volumes, strict=True):
        assert after.footprint.to_geojson() == before.footprint.to_geojson()
        assert (after.altitude, after.window) == (before.altitude, before.window)


def test_agreement_round_trips(store):
    """An agreement comes back with relay, minima, per-direction disclosure and deadline."""
    ag = Agreement(
        "mou",
        ("usaf", "faf"),
        60.0,
        relay="caoc",
        disclosure={("usaf", "faf"): "full"},
        ack_deadline_s=120.0,
    )
    store.add_agreement(ag, 5.0)
    assert store.list_agreements() == [ag]


def test_stale_version_is_a_version_conflict_and_missing_is_not_found(store):
    """An update naming an old version is VersionConflict; an unknown notice is NotFound."""
    notice = _notice()
    store.add_notice(notice)
    amended = notice.amend(_volumes()[:1], 20.0)
    store.update_notice(amended, expected_version=1, verb="amended")
    with pytest.raises(VersionConflict):
        store.update_notice(notice.amend(_volumes()[:2], 21.0), expected_version=1, verb="amended")
    with pytest.raises(NotFound):
        store.update_notice(_notice("N9"), expected_version=1, verb="amended")
    assert len(store.get_notice_version("usaf/N1", 1).volumes) == 3
    assert len(store.get_notice("usaf/N1").volumes) == 1


def test_failed_write_leaves_no_change_row(store):
    """A duplicate id is InvalidInput (not an IntegrityError) and appends nothing to the log."""
    store.add_notice(_notice())
    before = store.changes_after(0)
    with pytest.raises(InvalidInput):
        store.add_notice(_notice())
    with pytest.raises(InvalidInput):
        store.add_notice(_notice("N2", party="nobody"))
    with pytest.raises(InvalidInput):
        store.add_party(Party("usaf", "again"), 9.0)
    assert store.changes_after(0) == before


def test_detection_commits_outbox_and_cursor_together(store):
    """A detection stores conflict, notification and cursor at once; the same seq twice fails."""
    side_a = Side(RecordKind.NOTICE, "N1", 1, "c", "usaf")
    side_b = Side(RecordKind.PLAN, "P1", 1, "c", "faf")
    conflict = Conflict("C1", side_a, side_b, ConflictDetail(1000.0, 2000.0, 0, 0, 0), 50.0)
    note = Notification(
        "M1", "faf", NotificationKind.CONFLICT, 50.0, 950.0, 950.0, "N1", "C1", notice_party="usaf"
    )
    assert store.detector_cursor() == 0
    store.commit_detection(Detection(4, 50.0, [conflict], [], [note]))
    assert store.detector_cursor() == 4
    assert store.get_conflict("C1") == conflict
    assert store.list_notifications("faf") == [note]
    with pytest.raises(StoreError):
        store.commit_detection(Detection(4, 60.0, [], [], [note]))
    assert store.list_notifications("faf") == [note]


def _relayed_notifications(store) -> list[Notification]:
    """Nine notifications stored, to FAF through CAOC and to CAOC itself, in pairs created at
    the same moment."""
    store.add_party(Party("caoc", "CAOC"), 3.0)
    made = [
        Notification(
            f"M{k}",
            "faf" if k % 3 else "caoc",
            NotificationKind.NOTICE,
            100.0 + k // 2,
            9_000.0,
            900.0,
            via="caoc" if k % 3 else None,
        )
        for k in range(9)
    ]
    store.commit_detection(Detection(1, 50.0, [], [], made))
    return made


def test_notifications_are_read_a_page_at_a_time(store):
    """``after`` (a creation time and id) and ``limit`` page a party's notifications, those to
    it and those through it merged in one order (ties in time broken by id)."""
    made = _relayed_notifications(store)
    for party, expected in (
        ("caoc", made),  # its own and those relayed through it
        ("faf", [n for n in made if n.recipient == "faf"]),
    ):
        assert store.list_notifications(party) == expected
        pages, after = [], None
        while True:
            page = store.list_notifications(party, after=after, limit=2)
            if not page:
                break
            pages.append(page)
            after = (page[-1].created_at_s, page[-1].id)
        assert [n for p in pages for n in p] == expected
        assert all(len(p) == 2 for p in pages[:-1])
    assert store.list_notifications("faf", include_relayed=False, limit=1) == [made[1]]


def _undelivered(store, party: str) -> list[str]:
    return [n.id for n in store.undelivered_after(party, None, 100)]


def test_delivery_marks_what_was_sent_and_never_undoes_an_acknowledgement(store):
    """``mark_delivered`` records each notification's own send time, leaves alone one delivered
    or acknowledged before the mark (read in the mark's transaction), and the undelivered ids
    are those never marked; the marks of one call to one recipient are one ledger entry."""
    made = [
        Notification(f"M{k}", "faf", NotificationKind.NOTICE, 100.0 + k, 9_000.0, 900.0)
        for k in range(4)
    ]
    store.commit_detection(Detection(1, 50.0, [], [], made))
    assert sorted(_undelivered(store, "faf")) == ["M0", "M1", "M2", "M3"]
    assert _undelivered(store, "usaf") == []
    assert [n.id for n in store.get_notifications(["M2", "M0", "nope"])] == ["M0", "M2"]
    # M1 is acknowledged, M2 delivered elsewhere, between the send and the mark.
    store.update_notification(made[1].acknowledge(150.0), "acknowledged")
    store.update_notification(made[2].deliver(140.0), "delivered")
    entries = store.ledger_size()
    marked = store.mark_delivered([("M0", 160.0), ("M1", 161.0), ("M2", 162.0), ("M3", 163.0)])
    assert [(n.id, n.delivered_at_s) for n in marked] == [("M0", 160.0), ("M3", 163.0)]
    assert store.ledger_size() == entries + 1
    now = {n.id: n for n in store.get_notifications(["M0", "M1", "M2", "M3"])}
    assert now["M0"].state is NotificationState.DELIVERED
    assert now["M0"].delivered_at_s == 160.0
    assert now["M1"] == made[1].acknowledge(150.0)  # which counts as received then
    assert now["M2"].delivered_at_s == 140.0
    assert now["M3"] == made[3].deliver(163.0)
    assert _undelivered(store, "faf") == []
    assert store.mark_delivered([("M0", 170.0)]) == []  # twice: the first time stands


def test_queued_deliveries_are_marked_by_whoever_marks_them_next(store):
    """What a stream sent is queued (``queue_deliveries``: the first time of a notification
    queued twice stands) and counts as delivered to ``undelivered_after`` at once; it is marked
    delivered, with a ledger entry a call, and taken off the queue by ``mark_queued_deliveries``,
    oldest sent first, at most ``limit`` at a time; an acknowledgement made meanwhile stands,
    and an id that names no notification is dropped."""
    made = [
        Notification(f"M{k}", "faf", NotificationKind.NOTICE, 100.0 + k, 9_000.0, 900.0)
        for k in range(4)
    ]
    store.commit_detection(Detection(1, 50.0, [], [], made))
    assert store.mark_queued_deliveries(10) == []  # none queued: nothing written
    store.queue_deliveries([("M2", 162.0), ("M0", 160.0), ("nope", 150.0)])
    store.queue_deliveries([("M0", 170.0), ("M1", 161.0)])  # M0 again: 160 stands
    assert sorted(_undelivered(store, "faf")) == ["M3"]
    assert store.get_notification("M0").state is NotificationState.PENDING  # not yet marked
    store.update_notification(made[1].acknowledge(155.0), "acknowledged")
    entries = store.ledger_size()
    first = store.mark_queued_deliveries(2)  # the two sent first: "nope" (dropped) and M0
    assert [(n.id, n.delivered_at_s) for n in first] == [("M0", 160.0)]
    rest = store.mark_queued_deliveries(10)
    assert [(n.id, n.delivered_at_s) for n in rest] == [("M2", 162.0)]
    assert store.mark_queued_deliveries(10) == []  # the queue is empty
    assert store.ledger_size() == entries + 2
    now = {n.id: n for n in store.get_notifications(["M0", "M1", "M2", "M3"])}
    assert now["M0"] == made[0].deliver(160.0)
    assert now["M1"] == made[1].acknowledge(155.0)
    assert now["M2"] == made[2].deliver(162.0)
    assert now["M3"].undelivered
    assert _undelivered(store, "faf") == ["M3"]


def test_marking_builds_on_a_read_and_an_acknowledgement_meanwhile_still_stands(store, monkeypatch):
    """The queued marks and their ledger entries are built on a read before the write turn
    (the turn is what every filing waits for), and used only if the turn reads the same rows:
    an acknowledgement that lands between the two stands, and the entry names only what was
    marked. Either way the ledger agrees with the rows."""
    from deconflict.store import ledger_append
    from deconflict.store.transactions import READ_ONLY

    made = [
        Notification(f"M{k}", "faf", NotificationKind.NOTICE, 100.0 + k, 9_000.0, 900.0)
        for k in range(3)
    ]
    store.commit_detection(Detection(1, 50.0, [], [], made))
    built: list[tuple[str, bool]] = []  # (kind, on a read)
    build = ledger_append.build_entry

    def building(c, kind, *args):
        built.append((kind, bool(c.connection.get_execution_options().get(READ_ONLY))))
        return build(c, kind, *args)

    monkeypatch.setattr(ledger_append, "build_entry", building)
    store.queue_deliveries([("M0", 160.0)])
    assert [n.id for n in store.mark_queued_deliveries(10)] == ["M0"]
    assert built == [("notifications.delivered", True)]  # used as built, under the turn
    assert cross_check(store.ledger_audit_data()) == []

    store.queue_deliveries([("M1", 161.0), ("M2", 162.0)])
    write = store.write_connection

    def acknowledged_meanwhile(*args, **kwargs):
        monkeypatch.setattr(store, "write_connection", write)  # once
        store.update_notification(made[2].acknowledge(158.0), "acknowledged")
        return write(*args, **kwargs)

    monkeypatch.setattr(store, "write_connection", acknowledged_meanwhile)
    marked = store.mark_queued_deliveries(10)
    assert [(n.id, n.delivered_at_s) for n in marked] == [("M1", 161.0)]
    assert store.get_notification("M2") == made[2].acknowledge(158.0)
    assert store.get_notification("M1") == made[1].deliver(161.0)
    entry = store.ledger_find("notification:M1")[-1]
    assert entry[1] == "notifications.delivered"
    assert entry not in store.ledger_find("notification:M2")
    assert cross_check(store.ledger_audit_data()) == []


def test_a_batch_of_deliveries_is_one_entry_per_recipient_and_relay_linked_from_each(store):
    """Marking delivered writes one ``notifications.delivered`` entry for each recipient and
    relay, naming each notification as its own entry would (notice, version, commitment, times);
    each notification links its batch's entry, so the ledger finds it by the notification, and
    the store's cross-check counts it (and misses it when the entry is gone)."""
    made = _relayed_notifications(store)  # M1, M2, M4, M5, M7, M8 to FAF via CAOC; the rest CAOC
    sent = [(n.id, 200.0 + k) for k, n in enumerate(made)]
    entries = store.ledger_size()
    marked = store.mark_delivered(sent)
    assert len(marked) == 9
    assert store.ledger_size() == entries + 2  # (faf via caoc), (caoc directly)
    batches = [json.loads(store.ledger_entry(i)) for i in range(entries, entries + 2)]
    by_recipient = {b["recipient"]: b for b in batches}
    faf, caoc = by_recipient["faf"], by_recipient["caoc"]
    assert (faf["type"], faf["via"], caoc["via"]) == ("notifications.delivered", "caoc", None)
    assert [n["notification"] for n in faf["notifications"]] == ["M1", "M2", "M4", "M5", "M7", "M8"]
    assert [n["notification"] for n in caoc["notifications"]] == ["M0", "M3", "M6"]
    assert faf["at"] == "1970-01-01T00:03:28Z"  # the batch's last send, M8's
    assert faf["notifications"][0] == {
        "notification": "M1",
        "kind": "notice",
        "notice": None,
        "notice_party": None,
        "notice_version": None,
        "notice_commitment": None,
        "conflict": None,
        "created_at": "1970-01-01T00:01:40Z",
        "delivered_at": "1970-01-01T00:03:21Z",
    }
    faf_index = entries + batches.index(faf)
    assert (faf_index, "notifications.delivered") in store.ledger_find("notification:M4")
    assert store.ledger_find("notification:M4")[-1] == (faf_index, "notifications.delivered")
    assert cross_check(store.ledger_audit_data()) == []
    with store._engine.begin() as c:  # the batch's entry gone from the end: the audit sees it
        c.execute(sa.text("DELETE FROM ledger_entries WHERE idx >= :i"), {"i": entries})
    found = [str(f) for f in cross_check(store.ledger_audit_data())]
    assert "notification M0: served delivery time 1970-01-01T00:03:20Z, ledger none" in found


def test_a_stream_s_pages_agree_with_the_general_listing(store):
    """``notifications_after`` (run on the driver) returns the pages ``list_notifications``
    does for a party and a position, those relayed through it included, in the same order."""
    _relayed_notifications(store)
    for party in ("caoc", "faf", "usaf"):
        listed = store.list_notifications(party)
        starts = [None, (101.0, ""), (101.0, "M3"), (104.0, "~"), (-1e300, "")]
        starts += [(n.created_at_s, n.id) for n in listed]
        for after in starts:
            for limit in (1, 2, 5, 100):
                assert store.notifications_after(party, after, limit) == (
                    store.list_notifications(party, after=after, limit=limit)
                ), (party, after, limit)
    assert [n.id for n in store.notifications_after("caoc", (103.0, ""), 9)] == ["M6", "M7", "M8"]


def test_reads_in_a_snapshot_share_one_transaction_and_refuse_writes(store):
    """Inside ``in_snapshot`` every read sees the same snapshot (another connection's commit
    meanwhile is not seen until the next), and a write is refused, not made."""
    other = open_store(store._engine.url.render_as_string(hide_password=False))
    try:

        def read_twice() -> tuple[int, int]:
            before = len(store.list_parties())
            other.add_party(Party("caoc", "CAOC"), 3.0)
            return before, len(store.list_parties())

        assert store.in_snapshot(read_twice) == (2, 2)
        assert len(store.list_parties()) == 3

        def write() -> None:
            store.add_party(Party("rf", "Russia"), 4.0)

        with pytest.raises(StoreError, match="inside a read snapshot"):
            store.in_snapshot(write)
        assert {p.id for p in store.list_parties()} == {"usaf", "faf", "caoc"}
    finally:
        other.close()


def test_reads_by_id_ask_a_chunk_of_ids_at_a_time(store, monkeypatch):
    """Reads of many ids split them into IN lists of ``IN_CHUNK`` (here 2), and find them all."""
    monkeypatch.setattr(records, "IN_CHUNK", 2)
    made = _relayed_notifications(store)
    ids = [n.id for n in reversed(made)] + ["nope"]
    assert store.get_notifications(ids) == made
    for notice_id in ("N1", "N2", "N3"):
        store.add_notice(_notice(notice_id))
    keys = ["usaf/N3", "usaf/N1", "usaf/N2", "usaf/N9", "usaf/N1", "faf/N1"]
    assert sorted(store.get_notices(keys)) == ["usaf/N1", "usaf/N2", "usaf/N3"]
    marked = store.mark_delivered([(n.id, 500.0) for n in made if n.recipient == "faf"])
    assert len(marked) == 6


def test_lists_by_more_keys_than_a_statement_binds(store):
    """A list by keys (the notices a party may see of those named, the open conflicts of some
    notices) failed over 65,535 keys on PostgreSQL (psycopg binds at most that many values a
    statement): a party that filed that many notices on another's volume broke that party's
    list of conflicts and its map (found by a hostile review). Keys are asked a chunk at a
    time, and the answer is the one query's: in order, each once, within ``limit``."""
    for notice_id in ("N1", "N2", "N3"):
        store.add_notice(_notice(notice_id))
    store.add_notice(_notice("N1", party="faf"))
    keys = ["usaf/N3", *(f"usaf/X{k}" for k in range(70_000)), "faf/N1", "usaf/N1"]
    found = store.list_notices(keys=keys)
    assert [n.key for n in found] == ["faf/N1", "usaf/N1", "usaf/N3"]  # filing time, then key
    assert [n.key for n in store.list_notices(keys=keys, limit=2)] == ["faf/N1", "usaf/N1"]
    side_a = Side(RecordKind.NOTICE, "N1", 1, "c", "usaf")
    side_b = Side(RecordKind.NOTICE, "N1", 1, "c", "faf")  # in the last chunk, as N1
    side_c = Side(RecordKind.NOTICE, "N3", 1, "c", "usaf")  # in the first
    conflicts = [
        Conflict("C1", side_a, side_b, ConflictDetail(1000.0, 2000.0, 0, 0, 0), 50.0),
        Conflict("C0", side_c, side_b, ConflictDetail(1000.0, 2000.0, 0, 0, 0), 60.0),
    ]
    store.commit_detection(Detection(4, 60.0, conflicts, [], []))
    assert [c.id for c in store.list_conflicts(notices=keys)] == ["C1", "C0"]  # C0 once
    assert [c.id for c in store.list_conflicts(notices=keys[:-2])] == ["C0"]


def test_notice_volumes_are_read_at_the_versions_asked_at_once(store):
    """The volumes of many (notice, volume, version) in one statement (a suggestion searches
    each hidden volume as its conflict holds it, whatever the notice became since): each as it
    stood at the version asked, kept or changed by an amendment, one gone or never stored left
    out (one before it was added too), past one statement's binds too."""
    notice = _notice()
    store.add_notice(notice)
    moved = Volume4D.build("b", Circle((41.5, 35.95), 500.0), 0.0, 100.0, 1_000.0, 2_000.0)
    amended = notice.amend([notice.volumes[0], moved], 20.0)
    store.update_notice(amended, expected_version=1, verb="amended")
    third = amended.amend([moved], 30.0)
    store.update_notice(third, expected_version=2, verb="amended")
    first, second = notice.volumes[0].id, notice.volumes[1].id
    asked = [("usaf/N1", first, 1), ("usaf/N1", second, 1), ("usaf/N1", "b", 2)]
    asked += [("usaf/N1", first, 2), ("usaf/N1", "b", 3)]
    asked += [("usaf/N1", "nothing", 1), ("usaf/N1", "b", 1), ("usaf/NONE", first, 1)]
    asked += [("usaf/N1", first, 3), ("usaf/N1", second, 2)]  # dropped by then
    asked += [(f"usaf/X{k}", "a", 1) for k in range(600)]  # past one statement's chunk
    found = store.notice_volumes_at(asked)
    assert sorted(found) == sorted(asked[:5])
    assert found["usaf/N1", first, 1].same_as(notice.volumes[0])
    assert found["usaf/N1", second, 1].same_as(notice.volumes[1])
    assert found["usaf/N1", first, 2].same_as(notice.volumes[0])
    assert found["usaf/N1", "b", 2].same_as(moved)
    assert found["usaf/N1", "b", 3].same_as(moved)


def test_a_notice_seen_in_part_is_read_with_the_volumes_asked_alone(store):
    """A notice seen in part is read with the volumes its unlocking conflicts name that its
    newest version holds unchanged since the version each names (in id order, each with the
    version it changed at), and its row's state and times: none of its other volumes, nor a
    volume changed since (its new text is not the reader's). One holding none is left out."""
    notice = _notice()
    store.add_notice(notice)
    moved = Volume4D.build("b", Circle((41.5, 35.95), 500.0), 0.0, 100.0, 1_000.0, 2_000.0)
    amended = notice.amend([moved, notice.volumes[1]], 20.0)
    store.update_notice(amended, expected_version=1, verb="amended")
    store.add_notice(_notice("N2"))
    c, k, _ = (v.id for v in notice.volumes)
    asked = [("usaf/N1", k, 1), ("usaf/N1", "b", 2), ("usaf/N1", c, 1), ("usaf/N1", k, 2)]
    found = store.notices_in_part([*asked, ("usaf/N2", "x", 1)])
    assert list(found) == ["usaf/N1"]
    seen = found["usaf/N1"]
    assert [v.id for v in seen.volumes] == ["b", k]
    assert seen.volume_versions == (2, 1)
    assert (seen.version, seen.state, seen.updated_at_s, seen.filed_at_s) == (
        2,
        "filed",
        20.0,
        10.0,
    )
    assert seen.volumes[1].same_as(notice.volumes[1])
    moved_again = replace(moved, altitude=AltitudeBand(0.0, 200.0))
    store.update_notice(amended.amend([moved_again], 30.0), expected_version=2, verb="amended")
    assert store.notices_in_part([("usaf/N1", "b", 2), ("usaf/N1", k, 1)]) == {}


def test_a_digest_of_more_private_entries_than_a_statement_binds(store):
    """A party's private entries not yet digested (the conflicts and notifications about its
    plans, which others' filings make) were marked digested by one statement naming each: over
    65,535 on PostgreSQL (or a SQLite built with a lower limit than this one's) the statement
    failed, every tick failed before it signed, and each retry met a longer backlog: the hub
    never signed again (found by a second reader). They are marked a chunk at a time."""
    from deconflict.store import ledger_tables as lt

    count = 70_000
    with store.write_connection("filling the private ledger") as c:
        c.execute(
            sa.insert(lt.ledger_private),
            [
                {
                    "party": "usaf",
                    "type": "test",
                    "subject": f"conflict:C{k}",
                    "body": "{}",
                    "at_s": 1.0,
                    "leaf": k.to_bytes(32, "big"),
                }
                for k in range(count)
            ],
        )
    assert store.ledger_digest(at_s=1_000.0, period_s=300.0) == 2  # one digest a party
    private = store.ledger_private_entries("usaf")
    assert len(private) == count
    assert all(index is not None for index, _ in private)


def test_notices_are_read_a_page_at_a_time(store):
    """``active``, ``after`` and ``limit`` filter and page notices in filing order (time, then
    record key), in SQL."""
    made = []
    for k in range(6):
        start = 1_000.0 * k
        volume = Volume4D.build(
            "v", Circle((39.0, 35.9), 2_500.0), 0.0, 900.0, start, start + 500.0
        )
        notice = Notice(f"N{k}", "usaf" if k % 2 else "faf", (volume,), "x", 10.0 + k // 2)
        store.add_notice(notice)
        made.append(notice.id)
    listed = lambda **kw: [n.id for n in store.list_notices(**kw)]  # noqa: E731
    assert listed() == made
    assert listed(active=(1_200.0, 3_100.0)) == ["N1", "N2", "N3"]  # N1 ends at 1_500
    assert listed(party="usaf", limit=2) == ["N1", "N3"]
    pages, after = [], None
    for _ in range(len(made) + 1):  # bounded: a cursor that does not move fails, not hangs
        page = store.list_notices(after=after, limit=4)
        if not page:
            break
        pages.append([n.id for n in page])
        after = (page[-1].filed_at_s, page[-1].key)
    assert pages == [made[:4], made[4:]]
    assert listed(after=(11.0, "faf/N2"), active=(0.0, 10_000.0)) == ["N3", "N4", "N5"]


def test_store_is_wal_with_full_sync(tmp_path):
    """The SQLite connection runs in WAL mode with synchronous=FULL."""
    store = open_sqlite(tmp_path / "store.db")
    with store._engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    store.close()


def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import deconflict.store.migrations as migrations

    config = Config()
    config.set_main_option("script_location", migrations.__path__[0])
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_reopen_keeps_data_and_migrations_are_idempotent(tmp_path):
    """Opening the same file again finds the data and the schema at head."""
    first = open_sqlite(tmp_path / "s.db")
    first.add_party(Party("usaf", "US Air Force"), 1.0)
    first.close()
    again = open_sqlite(tmp_path / "s.db")
    assert again.list_parties() == [Party("usaf", "US Air Force")]
    again.close()
    with sqlite3.connect(tmp_path / "s.db") as raw:
        version = raw.execute("SELECT version_num FROM alembic_version").fetchall()
    assert version == [(_head_revision(),)]


def test_bad_files_are_store_errors(tmp_path):
    """A missing directory or a file that is not a database is StoreError, not a driver error."""
    with pytest.raises(StoreError):
        open_sqlite(tmp_path / "missing" / "s.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 200)
    with pytest.raises(StoreError):
        open_sqlite(junk)


def test_malformed_stored_volumes_are_corrupt_records():
    """Stored volume JSON that cannot be read back is the store's fault (CorruptRecord, a
    StoreError: the API answers 500 and says nothing of it), never the caller's bad input."""
    from deconflict.errors import CorruptRecord, InvalidInput
    from deconflict.store.codec import agreement_from_json, volumes_from_json

    for text in ('[{"id": "v", "footprint": {"geometry": {"type": "Blob"}}}]', "not json"):
        with pytest.raises(CorruptRecord) as caught:
            volumes_from_json(text)
        assert not isinstance(caught.value, InvalidInput)
    with pytest.raises(CorruptRecord):
        agreement_from_json('{"id": "A", "parties": "US"}')


def test_detection_lag_counts_what_the_detector_has_not_passed(store):
    """Every change-log row beyond the stored cursor counts, and none once it is passed."""
    assert store.detection_lag() == 2  # the two parties the fixture added
    store.add_notice(_notice())
    assert store.detection_lag() == 3
    store.commit_detections([Detection(store.changes_after(0)[-1].seq, 1.0)])
    assert store.detection_lag() == 0
