"""A plan owner's private receipt of its conflict is read no further than it is told
(security.md §3.6): the store resolves a conflict at the end of the other party's notice, maybe
at a volume the plan owner may not see, and the receipt gave that `conflict.resolved` entry,
whose time is the hidden volume's end to the tick, while the conflict was shown over when its
window as told passed (a twenty-ninth reader). Covert: a conflict with a plan is told to the
plan's owner alone. Nor does a digest's opening, which any private receipt gives: it listed
the leaf of that resolution in the period it was made, so a party that asked a receipt in every
period dated the hidden end to the period; the digest now commits to it apart, in a salted
commitment the party cannot open (security.md §3.6 had left it open)."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from tests.hub.scenario import HOUR, T0, vol
from tests.hub.test_hostile_need_to_know import MINIMA, _hub

from deconflict.hub import Hub
from deconflict.hub.clock import SimulatedClock
from deconflict.hub.ledger_access import receipt_for
from deconflict.ledger import Verifier, verify_receipt
from deconflict.model import Agreement, Conflict, Disclosure


def _met(path: Path, hidden_end_s: float, until_s: float) -> tuple[Hub, SimulatedClock, Conflict]:
    """P's plan met by X's notice, whose other volume (hidden from P) ends at
    ``hidden_end_s``, the hub ticking along every digest period until ``until_s``: the hub,
    its clock and the conflict."""
    hub, clock = _hub(path, Disclosure.NONE)
    try:
        hub.add_plan("P", [vol("pp")], "PP")
        far = vol("far", lon=42.0, start_s=T0 + 9 * HOUR, end_s=hidden_end_s)
        hub.file_notice("X", [vol("x1", lon=39.01), far], "air-activity", "XN")
        hub.process()
        (conflict,) = hub.list_conflicts("P")
        _tick_until(hub, clock, until_s)
    except BaseException:
        hub.close()
        raise
    return hub, clock, conflict


def _tick_until(hub: Hub, clock: SimulatedClock, until_s: float) -> None:
    while clock.now() < until_s:
        clock.advance(hub.ledger.digest_period_s)
        hub.tick()
        hub.process()


def _receipt_once_over(path: Path, hidden_end_s: float) -> tuple[float | None, dict]:
    """What P is shown of the conflict (:func:`_met`), and the entry of P's receipt of it,
    once both hidden ends are long over."""
    hub, _, conflict = _met(path, hidden_end_s, T0 + 14 * HOUR)
    try:
        shown = hub.get_conflict("P", conflict.id)
        receipt = verify_receipt(
            receipt_for(hub, "P", conflict.id), Verifier.parse(hub.ledger.public_key)
        )
        return shown.resolved_at_s, dict(receipt.entry)
    finally:
        hub.close()


def test_a_private_receipt_tells_no_hidden_end(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shown_a, entry_a = _receipt_once_over(tmp_path / "a", T0 + 10 * HOUR + 7 * 60)
    shown_b, entry_b = _receipt_once_over(tmp_path / "b", T0 + 12 * HOUR + 41 * 60)
    assert shown_a == shown_b is not None  # shown over when its window as told passed
    told = [(e["type"], e["at"]) for e in (entry_a, entry_b)]  # ids are each store's own
    assert told[0] == told[1]  # was: the store's resolutions, 02:36:40 against 05:11:40
    assert told[0][0] == "conflict.detected"


def test_a_private_receipt_gives_a_resolution_the_owner_was_shown(tmp_path: Path) -> None:
    """Cleared while it held (P withdrew its plan), the conflict is shown resolved then, and
    the receipt is of that resolution."""
    hub, clock = _hub(tmp_path, Disclosure.NONE, back=Disclosure.NONE)
    try:
        hub.add_plan("P", [vol("pp")], "PP")
        hub.file_notice("X", [vol("x1", lon=39.01)], "air-activity", "XN")
        hub.process()
        (conflict,) = hub.list_conflicts("P")
        clock.advance(HOUR)
        hub.withdraw_plan("P", "PP")
        hub.process()
        _tick_until(hub, clock, clock.now() + 3 * hub.ledger.digest_period_s)
        shown = hub.get_conflict("P", conflict.id)
        receipt = verify_receipt(
            receipt_for(hub, "P", conflict.id), Verifier.parse(hub.ledger.public_key)
        )
    finally:
        hub.close()
    assert shown.resolved_at_s == T0 + HOUR
    assert receipt.entry["type"] == "conflict.resolved"


def _openings_of_p(path: Path, hidden_end_s: float) -> list[dict]:
    """The content of each of P's digests (what P opens with any private receipt), one a
    period while X's notice (:func:`_met`) runs out."""
    hub, _, _ = _met(path, hidden_end_s, T0 + 14 * HOUR)
    try:
        assert hub.ledger.audit().findings == []
        periods = [hub.ledger.entry(i)["period"] for i, _ in hub.store.ledger_find("private:P")]
        return [hub.store.ledger_opening("private:P", int(p)).content for p in periods]
    finally:
        hub.close()


def test_a_digest_opens_no_leaf_of_a_hidden_end(tmp_path: Path) -> None:
    """Twin hubs that differ only in the hidden end: P's digests list as many entries, period
    by period (before: the store's resolution appeared at 10:05 in one, 12:40 in the other);
    each commits to what it withholds in a commitment P cannot tell from one to nothing."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _openings_of_p(tmp_path / "a", T0 + 10 * HOUR + 7 * 60)
    b = _openings_of_p(tmp_path / "b", T0 + 12 * HOUR + 41 * 60)
    assert len(a) == len(b) > 40
    assert [len(x["entries"]) for x in a] == [len(x["entries"]) for x in b]
    assert sum(len(x["entries"]) for x in a) >= 2  # the conflict found, the notification
    for content in a + b:
        assert re.fullmatch("[0-9a-f]{64}", content["withheld"])
    assert len({content["withheld"] for content in a}) == len(a)  # each salted afresh


def test_a_withheld_entry_edited_or_moved_is_named_by_the_audit(tmp_path: Path) -> None:
    """``ledger verify`` opens what a digest withholds with the hub's secret: an entry moved
    out of it (said told), or its leaf changed, is named."""
    hub, _, _ = _met(tmp_path, T0 + 10 * HOUR + 7 * 60, T0 + 12 * HOUR)
    try:
        assert hub.ledger.audit().findings == []
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
        with engine.begin() as c:
            (seq,) = c.execute(sa.text("SELECT seq FROM ledger_private WHERE withheld")).one()
            assert (
                c.execute(
                    sa.text("SELECT type FROM ledger_private WHERE seq = :s"), {"s": seq}
                ).scalar()
                == "conflict.resolved"
            )
            c.execute(sa.text("UPDATE ledger_private SET withheld = 0 WHERE seq = :s"), {"s": seq})
        engine.dispose()
        found = [str(f) for f in hub.ledger.audit().findings]
        assert any("private entries say it commits to them" in f for f in found), found
        assert any("the private entries it withholds are not" in f for f in found), found
    finally:
        hub.close()


def test_a_receipt_verifies_once_an_agreement_shows_what_a_digest_withheld(tmp_path: Path) -> None:
    """Withheld by its digest, the store's resolution is not given in a receipt once an
    agreement added shows P the other side whole (so the conflict's resolution is told): the
    receipt gave it, and no digest listed it, so it did not verify (a thirty-third reader). It
    is the latest entry a digest lists that P proves."""
    hub, clock, conflict = _met(tmp_path, T0 + 10 * HOUR + 7 * 60, T0 + 12 * HOUR)
    try:
        whole = {("X", "P"): Disclosure.FULL, ("P", "X"): Disclosure.FULL}
        hub.add_agreement(Agreement("whole", ("X", "P"), minima=MINIMA, disclosure=whole))
        _tick_until(hub, clock, clock.now() + 1.0)
        stored = hub.store.get_conflict(conflict.id).resolved_at_s
        assert hub.get_conflict("P", conflict.id).resolved_at_s == stored  # told now, as is
        receipt = verify_receipt(
            receipt_for(hub, "P", conflict.id), Verifier.parse(hub.ledger.public_key)
        )
        assert receipt.entry["type"] == "conflict.detected"
        assert hub.ledger.audit().findings == []
    finally:
        hub.close()


def test_a_party_s_digest_falls_among_the_others_in_a_secret_order(tmp_path: Path) -> None:
    """Each period appends one digest a party, in one block. In party id order, where P's own
    digest fell (its index, which P reads) told P how many party ids sort before its own, those
    of parties it has no agreement with too: one more party, AAA or ZZZ, moved it by one (a
    forty-second reader). The block is in an order keyed by a hub secret and the period: P's
    place in it changes from period to period, and no block need be sorted."""
    hub, clock = _hub(tmp_path, Disclosure.NONE)
    try:
        for party in ("AAA", "ZZZ"):
            hub.add_party(party)
        start = hub.ledger.size
        _tick_until(hub, clock, T0 + 16 * hub.ledger.digest_period_s)
        entries = hub.ledger.entries(list(range(start, hub.ledger.size)))
    finally:
        hub.close()
    blocks: dict[object, list[str]] = {}
    for _, entry in sorted(entries.items()):
        if entry["type"] == "private.digest":
            blocks.setdefault(entry["period"], []).append(str(entry["party"]))
    assert len(blocks) >= 15
    assert all(sorted(block) == ["AAA", "P", "Q", "X", "ZZZ"] for block in blocks.values())
    assert len({block.index("P") for block in blocks.values()}) > 1  # by id: always 1
    assert any(block != sorted(block) for block in blocks.values())
