"""Receipts and openings: the proofs a party may ask the hub for, and who may have which.

Receipts go to those the entry is about: the filer of a notice (for its filing entry) and the
recipient of a notification, or its relay (for its latest entry, the acknowledgement once there
is one); a party's own plan's notifications and conflicts are its private entries, each under the
next digest that commits to them. Only the filer may open a notice's commitment. Anything else is
NotFound, as elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from deconflict.errors import NotFound, NotYetCommitted
from deconflict.hub.clock import Clock
from deconflict.ledger import Opening, Signer, make_private_receipt, make_receipt
from deconflict.model.ids import record_key
from deconflict.store import Conflicts, Notices, Notifications
from deconflict.store.ledger_base import LedgerStore

__all__ = ["CHECKPOINT_WAIT_S", "ReceiptStore", "Receipts"]

#: How long a receipt whose entry no kept checkpoint holds yet is told to wait: a serving hub's
#: tick (every second, ``runtime.runner``) signs and keeps one whenever the log has grown.
CHECKPOINT_WAIT_S = 2.0


class ReceiptStore(LedgerStore, Notices, Conflicts, Notifications, Protocol):
    """The ledger, and the records a receipt or an opening names (read to check who may ask)."""


class Receipts:
    """The receipts and openings of :class:`~deconflict.hub.ledger.HubLedger`, a base of it,
    which gives what they are made with: its store and clock, its signer, checkpoints,
    inclusion proofs and entries."""

    _store: ReceiptStore
    _clock: Clock
    digest_period_s: float

    @property
    def signer(self) -> Signer:
        raise NotImplementedError

    def checkpoint(self, checked: bool = False) -> str:
        raise NotImplementedError

    def guard(self) -> None:
        raise NotImplementedError

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        raise NotImplementedError

    def entry(self, index: int) -> dict[str, object]:
        raise NotImplementedError

    def _latest(
        self, subject: str, types: tuple[str, ...] | None = None, limit: int | None = None
    ) -> int:
        found = [
            i
            for i, kind in self._store.ledger_find(subject, limit=limit)
            if types is None or kind in types
        ]
        if not found:
            raise NotFound(f"no ledger entry about {subject.split(':', 1)[1]!r}")
        return found[-1]

    def receipt_index(self, party: str, record_id: str) -> int:
        """The entry ``party`` may have a receipt for: a notice it filed (its filing) or a
        notification to it or through it (the latest: the acknowledgement once there is one)."""
        try:
            notification = self._store.get_notification(record_id)
        except NotFound:
            key = record_key(party, record_id)
            self._store.get_notice(key)  # NotFound unless the party filed it
            # Its filing, the first entry about it (not all its versions' read to find it).
            return self._latest(f"notice:{key}", ("notice.filed",), limit=1)
        if party not in (notification.recipient, notification.via):
            raise NotFound(f"no notification {record_id!r} for party {party!r}")
        return self._latest(f"notification:{record_id}")

    def receipt(
        self,
        party: str,
        record_id: str,
        told: Callable[[dict[str, Any]], bool] | None = None,
        *,
        sign: bool = True,
    ) -> bytes:
        """A receipt (canonical JSON) for ``record_id`` as ``party`` may have it, under a
        checkpoint that holds it (:meth:`_holding`; without ``sign``, only a kept one):
        for a notification about the party's own plan, a private receipt (its latest private
        entry committed to by a digest, of those ``told`` keeps: the party's need to know;
        NotYetCommitted before the first)."""
        private = self._private_subject(party, record_id)
        if private is not None:
            return self._private_receipt(party, private, told, sign)
        index = self.receipt_index(party, record_id)
        note = self._holding(index, sign)
        size = self.signer.verifier().open_checkpoint(note).size
        return make_receipt(self.entry(index), index, self.inclusion(index, size), note)

    def _holding(self, index: int, sign: bool) -> str:
        """A signed checkpoint of a log that holds entry ``index``: the newest kept, if it does
        (a receipt then signs and writes nothing; signed afresh whenever the log had grown, a
        party asking receipts over and over made the hub sign and store a checkpoint, with a
        write and an fsync, for each), else, with ``sign``, a fresh one (the tick signs one
        whenever the log has grown, so that is an entry of the last seconds), and without,
        NotYetCommitted until the tick's: the kept checkpoints are every party's to read, and
        one signed for a receipt told them that someone had just asked one (a forty-second
        reader). Refused while the hub is halted."""
        self.guard()
        kept = self._store.ledger_latest_checkpoint()
        if kept is not None and kept[0] > index:
            return kept[1]
        if not sign:
            raise NotYetCommitted(
                "its entry is under the next signed checkpoint, which the hub signs within "
                f"{CHECKPOINT_WAIT_S:g} s of its log growing",
                retry_after_s=CHECKPOINT_WAIT_S,
            )
        return self.checkpoint()

    def _private_subject(self, party: str, record_id: str) -> str | None:
        """The subject of ``record_id`` among ``party``'s private entries, if it is one of
        them: a notification to it about its own plan, or a conflict of its plan."""
        try:
            found = self._store.get_notification(record_id)
        except NotFound:
            pass
        else:
            return (
                f"notification:{record_id}" if found.private and found.recipient == party else None
            )
        try:
            conflict = self._store.get_conflict(record_id)
        except NotFound:
            return None
        mine = conflict.side_of(party)
        return f"conflict:{record_id}" if mine is not None and mine.kind == "plan" else None

    def _private_receipt(
        self,
        party: str,
        subject: str,
        told: Callable[[dict[str, Any]], bool] | None,
        sign: bool,
    ) -> bytes:
        digested = [
            (index, body)
            for index, body in self._store.ledger_private_entries(party, subject)
            if index is not None and (told is None or told(json.loads(body)))
        ]
        if not digested:
            period = self.digest_period_s
            due = (self._clock.now() // period + 1) * period
            raise NotYetCommitted(
                f"it is committed to at the next digest of your private entries (every "
                f"{period:g} s)",
                retry_after_s=max(1.0, due - self._clock.now()),
            )
        index, body = digested[-1]
        digest = self.entry(index)
        note = self._holding(index, sign)
        size = self.signer.verifier().open_checkpoint(note).size
        receipt = make_receipt(digest, index, self.inclusion(index, size), note)
        opening = self._store.ledger_opening(f"private:{party}", int(str(digest["period"])))
        return make_private_receipt(json.loads(body), receipt, opening)

    def opening(self, party: str, notice_id: str, version: int | None = None) -> Opening:
        """The opening of a notice version's commitment, for its filer only."""
        key = record_key(party, notice_id)
        notice = self._store.get_notice(key)  # NotFound unless the party filed it
        return self._store.ledger_opening(
            f"notice:{key}", notice.version if version is None else version
        )
