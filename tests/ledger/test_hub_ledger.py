"""The ledger in the store and hub: same-transaction appends, receipts, openings, tampering."""

from __future__ import annotations

import json
import sqlite3

import pytest
from tests.hub.scenario import HOUR, make_hub, vol

from deconflict.errors import InvalidInput, NotFound, VerificationFailed
from deconflict.hub.ledger_key import signed_path
from deconflict.ledger import (
    MemoryTree,
    Opening,
    Verifier,
    check_extension,
    leaf_hash,
    verify_inclusion,
    verify_opening,
    verify_receipt,
)


@pytest.fixture
def relayed(tmp_path):
    """usaf files N1 to faf through the relay caoc; faf is told, then acknowledges."""
    hub, clock = make_hub(tmp_path, relay="caoc")
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.process()
    clock.advance(600)
    (told,) = hub.deliver("faf")
    clock.advance(300)
    hub.acknowledge("faf", told.id)
    hub.tick()
    yield hub, told.id
    hub.close()


def test_every_write_appends_an_entry_in_its_own_transaction(tmp_path):
    """Parties, the agreement and a filing are entries; a refused write appends nothing."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    types = [hub.ledger.entry(i)["type"] for i in range(hub.ledger.size)]
    assert types == ["party.added", "party.added", "agreement.added", "notice.filed"]
    size = hub.ledger.size
    with pytest.raises(InvalidInput):
        hub.file_notice("usaf", [vol("b")], "air-activity", "N1")  # duplicate id
    assert hub.ledger.size == size
    hub.close()


def test_an_entry_holds_a_commitment_not_the_content(tmp_path):
    """The filing entry names who and when; volumes and category stay out of it."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    entry = hub.ledger.entry(hub.ledger.size - 1)
    assert set(entry) == {"type", "notice", "version", "party", "state", "at", "commitment"}
    assert "air-activity" not in json.dumps(entry)
    opening = hub.ledger.opening("usaf", "N1")
    verify_opening(opening, str(entry["commitment"]))
    assert opening.content["category"] == "air-activity"
    with pytest.raises(NotFound):
        hub.ledger.opening("faf", "N1")
    hub.close()


def test_acknowledgement_receipt_verifies_offline(relayed):
    """The recipient's receipt shows delivery through the relay at T and acknowledgement at T2,
    and the notice commitment the filer can open."""
    hub, notification = relayed
    key = Verifier.parse(hub.ledger.public_key)
    receipt = verify_receipt(hub.ledger.receipt("faf", notification), key)
    entry = receipt.entry
    assert entry["type"] == "notification.acknowledged"
    assert (entry["recipient"], entry["via"], entry["notice"]) == ("faf", "caoc", "N1")
    assert entry["delivered_at"] < entry["acknowledged_at"]
    verify_opening(hub.ledger.opening("usaf", "N1"), str(entry["notice_commitment"]))
    assert verify_receipt(hub.ledger.receipt("caoc", notification), key).index == receipt.index
    filed = verify_receipt(hub.ledger.receipt("usaf", "N1"), key)
    assert filed.entry["type"] == "notice.filed"
    assert filed.entry["commitment"] == entry["notice_commitment"]
    with pytest.raises(NotFound):
        hub.ledger.receipt("usaf", notification)
    with pytest.raises(NotFound):
        hub.ledger.receipt("faf", "N1")


def test_a_receipt_signs_a_checkpoint_only_for_an_entry_none_holds(relayed):
    """A receipt of an entry the newest checkpoint holds is under that checkpoint: it signs and
    writes nothing, however the log has grown since (signed afresh each time, a party asking
    receipts over and over made the hub sign and store a checkpoint, an fsync, for each). An
    entry newer than every checkpoint gets a fresh one, which the next receipt reuses."""
    hub, notification = relayed
    key = Verifier.parse(hub.ledger.public_key)
    notes = hub.ledger.checkpoints()
    held = key.open_checkpoint(notes[-1]).size
    hub.file_notice("usaf", [vol("b", lon=30.0)], "air-activity", "N2")  # the log grows
    assert hub.ledger.size > held
    for _ in range(3):
        receipt = verify_receipt(hub.ledger.receipt("faf", notification), key)
        assert receipt.checkpoint.size == held
    assert hub.ledger.checkpoints() == notes
    newer = verify_receipt(hub.ledger.receipt("usaf", "N2"), key)
    assert newer.checkpoint.size == hub.ledger.size
    assert len(hub.ledger.checkpoints()) == len(notes) + 1
    again = verify_receipt(hub.ledger.receipt("usaf", "N2"), key)
    assert again.checkpoint == newer.checkpoint
    assert len(hub.ledger.checkpoints()) == len(notes) + 1


def test_checkpoints_are_made_at_tick_and_kept(relayed):
    """Each tick after the log grew signs a checkpoint; later ones extend earlier ones."""
    hub, _ = relayed
    key = Verifier.parse(hub.ledger.public_key)
    notes = hub.ledger.checkpoints()
    assert notes
    last = key.open_checkpoint(notes[-1])
    assert last.size == hub.ledger.size
    first = key.open_checkpoint(notes[0])
    check_extension(first, last, hub.ledger.consistency(first.size, last.size))
    assert hub.ledger.verify().checkpoints == len(notes)


# Tampering ----------------------------------------------------------------------------------


def _db(hub):
    return sqlite3.connect(hub.store._what)  # the SQLite file the store is on


def _party_check(hub, held_note: str, indices: list[int]) -> None:
    """What a party holding ``held_note`` does: ask for the current checkpoint and a
    consistency proof from its own, and for entries it cares about with inclusion proofs."""
    key = Verifier.parse(hub.ledger.public_key)
    held = key.open_checkpoint(held_note)
    newer = key.open_checkpoint(hub.ledger.checkpoint())
    proof = hub.ledger.consistency(held.size, newer.size) if newer.size >= held.size else []
    check_extension(held, newer, proof)
    for index in indices:
        body = hub.store.ledger_entry(index)
        verify_inclusion(
            leaf_hash(body), index, held.size, hub.ledger.inclusion(index, held.size), held.root
        )


def _rehash(db) -> None:
    """A thorough tamperer: recompute every stored hash from the (changed) entries: the leaf
    hashes kept in the entries' rows, and the subtrees above them."""
    rows = list(db.execute("SELECT idx, body FROM ledger_entries ORDER BY idx"))
    tree = MemoryTree(leaf_hash(body.encode()) for _, body in rows)
    db.executemany(
        "UPDATE ledger_entries SET leaf = ? WHERE idx = ?",
        [(leaf, idx) for (idx, _), leaf in zip(rows, tree.levels[0], strict=True)],
    )
    db.execute("DELETE FROM ledger_nodes")
    db.executemany(
        "INSERT INTO ledger_nodes (node, hash) VALUES (?, ?)",
        [
            ((lv << 48) | i, h)
            for lv, level in enumerate(tree.levels[1:], 1)
            for i, h in enumerate(level)
        ],
    )


def _change_byte(db, k):
    (body,) = db.execute("SELECT body FROM ledger_entries WHERE idx = ?", (k,)).fetchone()
    at = body.index('"at":"') + 8
    changed = body[:at] + chr(ord(body[at]) ^ 1) + body[at + 1 :]
    db.execute("UPDATE ledger_entries SET body = ? WHERE idx = ?", (changed, k))


def _delete(db, k):
    db.execute("DELETE FROM ledger_entries WHERE idx = ?", (k,))
    db.execute("UPDATE ledger_entries SET idx = idx - 1 WHERE idx > ?", (k,))


def _insert(db, k):
    db.execute("UPDATE ledger_entries SET idx = -idx - 1 WHERE idx >= ?", (k,))
    db.execute("UPDATE ledger_entries SET idx = -idx WHERE idx < 0")
    db.execute(
        "INSERT INTO ledger_entries (idx, type, subject, body, at_s) VALUES (?, ?, ?, ?, ?)",
        (k, "party.added", "party:ghost", '{"at":"2015-11-16T00:00:00Z","party":"ghost"}', 0.0),
    )


def _swap(db, k):
    rows = dict(db.execute("SELECT idx, body FROM ledger_entries WHERE idx IN (?, ?)", (k, k + 1)))
    db.execute("UPDATE ledger_entries SET body = ? WHERE idx = ?", (rows[k + 1], k))
    db.execute("UPDATE ledger_entries SET body = ? WHERE idx = ?", (rows[k], k + 1))


TAMPERS = {"change-byte": _change_byte, "delete": _delete, "insert": _insert, "reorder": _swap}


@pytest.mark.parametrize("rehash", [False, True], ids=["entries-only", "hashes-rewritten"])
@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampering_is_found_by_verify_and_by_a_party(relayed, tamper, rehash):
    """Each tampering of a stored entry (also with every hash rewritten to match) is found by
    ``ledger verify`` and by a party holding a later checkpoint."""
    hub, _ = relayed
    held = hub.ledger.checkpoint()
    size = hub.ledger.size
    k = 4
    with _db(hub) as db:
        TAMPERS[tamper](db, k)
        if rehash:
            _rehash(db)
    with pytest.raises(VerificationFailed, match=r"first bad index (\d+)") as found:
        hub.ledger.verify()
    if not rehash:
        assert f"first bad index {k}:" in str(found.value)
    with pytest.raises(VerificationFailed):
        _party_check(hub, held, list(range(size)))


@pytest.mark.parametrize("forget_checkpoints", [False, True])
def test_rolling_the_log_back_is_found(relayed, forget_checkpoints):
    """Deleting the last entries (and their hashes) is found by ``verify``: by the signed
    checkpoints while they remain, and with them gone too (the stored ones and the one noted
    beside the key) by the store's records, which say what the ledger recorded; the hub will
    not sign over it while it knows what it signed, and a party holding a checkpoint finds
    it in any case."""
    hub, _ = relayed
    held = hub.ledger.checkpoint()
    size = hub.ledger.size
    with _db(hub) as db:
        db.execute("DELETE FROM ledger_entries WHERE idx >= ?", (size - 3,))
        _rehash(db)
        if forget_checkpoints:
            db.execute("DELETE FROM ledger_checkpoints WHERE size > ?", (size - 3,))
    if forget_checkpoints:
        signed_path(hub.ledger._key_path).unlink()
    found = "the store and its ledger differ" if forget_checkpoints else "rolled back"
    with pytest.raises(VerificationFailed, match=found):
        hub.ledger.verify()
    with pytest.raises(VerificationFailed, match=r"rolled back|deleted from its end"):
        _party_check(hub, held, [])


@pytest.mark.parametrize("entity", ["notice", "notification", "conflict"])
def test_an_unsigned_tail_deleted_is_found_by_the_records(tmp_path, entity):
    """Entries no checkpoint covers yet, deleted with their leaves, leave a log whose hashes
    all agree: ``verify`` finds the loss from the notice, notification or conflict that the
    store holds and the ledger no longer records."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.ledger.checkpoint()
    signed = hub.ledger.size
    hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    hub.process()
    hub.ledger.verify()  # intact
    with _db(hub) as db:
        rows = db.execute(
            "SELECT idx FROM ledger_entries WHERE idx >= ? AND subject LIKE ? ORDER BY idx",
            (signed, f"{entity}:%"),
        ).fetchall()
        assert rows
        db.execute("DELETE FROM ledger_entries WHERE idx >= ?", (rows[-1][0],))
        _rehash(db)
    with pytest.raises(VerificationFailed, match=f"{entity} .*: no ledger entry records it"):
        hub.ledger.verify()
    hub.close()


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        (
            "UPDATE notice_versions SET volumes = replace(volumes, '\"lower_m\":', "
            "'\"lower_m\":1') WHERE notice_id = 'usaf/N1'",
            " v1: its stored content does not open",
        ),
        (
            "UPDATE notice_versions SET category = 'other' WHERE notice_id = 'usaf/N1'",
            " v1: its stored content does not open",
        ),
        ("UPDATE notices SET party_id = 'faf' WHERE id = 'usaf/N1'", ": served party faf"),
        (
            "UPDATE notice_versions SET ledger_idx = NULL WHERE notice_id = 'usaf/N1'",
            " v1: its link names entry None",
        ),
    ],
    ids=["volumes", "category", "party", "link"],
)
def test_a_changed_notice_version_is_found_by_its_commitment(relayed, tamper, found):
    """A notice version's content is its row (the ledger keeps the salt and the commitment):
    ``verify`` opens every version's commitment with its row, so changing the row (or its
    link to the entry) is found, and named, though every hash in the log still agrees."""
    hub, _ = relayed
    hub.ledger.verify()  # intact
    with _db(hub) as db:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute(tamper)
    with pytest.raises(VerificationFailed, match=f"notice usaf/N1{found}"):
        hub.ledger.verify()


def test_a_forked_checkpoint_is_found(relayed):
    """A second signed checkpoint of the same size with another root is a fork."""
    hub, _ = relayed
    signer = hub.ledger.signer
    from deconflict.ledger import Checkpoint

    note = signer.sign_checkpoint(Checkpoint(signer.name, hub.ledger.size, bytes(32)))
    hub.store.ledger_add_checkpoint(hub.ledger.size, note, 0.0)
    with pytest.raises(VerificationFailed, match="differ"):
        hub.ledger.verify()


def test_opening_round_trips_through_json(relayed):
    """An opening written as JSON reads back and still opens its commitment."""
    hub, _ = relayed
    opening = hub.ledger.opening("usaf", "N1", 1)
    again = Opening.from_json(json.loads(json.dumps(opening.to_json())))
    verify_opening(again, opening.commitment)
    assert 6 * HOUR > 0


def test_a_record_s_entries_are_read_at_once_not_one_an_entry(tmp_path, monkeypatch, store_target):
    """A party's list of a record's entries read them one store read an entry: a notice
    amended 5,000 times held the shared reader 1.4 s a list, ten lists at once 13 s (a
    forty-first reader). They are read at once, a subject at a time, as many and the same."""
    from deconflict.hub.ledger_access import entries_about

    hub, _ = make_hub(tmp_path, target=store_target)
    try:
        hub.file_notice("usaf", [vol("a")], "air-activity", "NA")
        for k in range(30):
            hub.amend_notice("usaf", "NA", k + 1, [vol("a", lon=39.0 + (k % 2) * 0.001)])
        one_by_one = [
            (index, hub.ledger.entry(index)) for index, _ in entries_about(hub, "usaf", "NA")
        ]
        reads: list[int] = []
        single = hub.store.ledger_entry
        many = getattr(hub.store, "ledger_entries_at", None)  # (the code before had none)
        monkeypatch.setattr(hub.store, "ledger_entry", lambda i: reads.append(1) or single(i))
        if many is not None:
            monkeypatch.setattr(
                hub.store, "ledger_entries_at", lambda ids: reads.append(len(ids)) or many(ids)
            )
        found = entries_about(hub, "usaf", "NA")
        monkeypatch.undo()
        assert found == one_by_one
        assert len(found) == 31
        assert len(reads) <= 3  # a read a subject (the notice's, a notification's, ...)
    finally:
        hub.close()
