"""The hub's side of the ledger: signing checkpoints, proofs, receipts, openings and the audit.

The store appends entries with every write; this signs what it appended. The Ed25519 key lives
in a key file, never in the store (see :mod:`deconflict.hub.ledger_key`: made on first use, the
database registers only its public half, so every hub process on one database must read the same
key); its name is the log's origin, ``deconflict.hub/<8 hex>``. A checkpoint is made on demand
and at every ``tick()`` when the log has grown, and kept: ``ledger verify`` checks them all.

Receipts go to those the entry is about: the filer of a notice (for its filing entry) and the
recipient of a notification, or its relay (for its latest entry, the acknowledgement once there
is one). Only the filer may open a notice's commitment. Anything else is NotFound, as elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from deconflict.errors import InvalidInput, NotFound, NotYetCommitted, VerificationFailed
from deconflict.hub.clock import Clock
from deconflict.hub.ledger_key import load_signer
from deconflict.ledger import (
    Checkpoint,
    LogReport,
    Opening,
    Signer,
    Verifier,
    make_private_receipt,
    make_receipt,
    verify_log,
)
from deconflict.model.ids import record_key
from deconflict.store import Store

__all__ = ["HubLedger"]


#: How often each party's private entries are digested into the shared log (seconds): see
#: :mod:`deconflict.store.ledger_private`.
DIGEST_PERIOD_S = 300.0


class HubLedger:
    """Checkpoints, proofs, receipts and openings over one store's ledger."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        key_path: Path | None = None,
        digest_period_s: float = DIGEST_PERIOD_S,
    ) -> None:
        self._store = store
        self._clock = clock
        self._key_path = key_path
        self._signer: Signer | None = None
        self.digest_period_s = digest_period_s

    @property
    def signer(self) -> Signer:
        """The log's signer, from the key file (read on first use)."""
        if self._signer is None:
            if self._key_path is None:
                raise InvalidInput(
                    "this hub has no ledger key file: open it with Hub.open, or give ledger_key"
                )
            self._signer = load_signer(self._store, self._key_path, self._clock.now())
        return self._signer

    @property
    def public_key(self) -> str:
        """The verifier key, ``<name>+<hex key id>+<base64 key>`` (C2SP signed-note): as the
        store registered it, so reading it (or auditing) needs no key file."""
        known = self._store.ledger_public_key()
        return known if known is not None else self.signer.verifier_key

    @property
    def size(self) -> int:
        return self._store.ledger_size()

    def digest(self) -> int:
        """Once a period, each party's digest of its private entries (how many appended)."""
        return self._store.ledger_digest(self._clock.now(), self.digest_period_s)

    def checkpoint(self) -> str:
        """A signed checkpoint of the log as it is now (the last one kept, if the log has not
        grown since)."""
        signer = self.signer  # first: a hub holding the wrong key fails here, at its first tick
        kept = self._store.ledger_latest_checkpoint()
        size = self._store.ledger_size()
        if kept is not None and kept[0] == size:
            return kept[1]
        note = signer.sign_checkpoint(Checkpoint(signer.name, size, self._store.ledger_root(size)))
        self._store.ledger_add_checkpoint(size, note, self._clock.now())
        return note

    def checkpoints(self) -> list[str]:
        return [note for _size, note in self._store.ledger_checkpoints()]

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        return self._store.ledger_inclusion(index, self.size if size is None else size)

    def consistency(self, first: int, second: int | None = None) -> list[bytes]:
        return self._store.ledger_consistency(first, self.size if second is None else second)

    def entry(self, index: int) -> dict[str, object]:
        value = json.loads(self._store.ledger_entry(index))
        if not isinstance(value, dict):  # pragma: no cover - the store writes objects only
            raise InvalidInput(f"ledger entry {index} is not an object")
        return value

    # receipts and openings --------------------------------------------------------------------

    def _latest(self, subject: str, types: tuple[str, ...] | None = None) -> int:
        found = [
            i for i, kind in self._store.ledger_find(subject) if types is None or kind in types
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
            return self._latest(f"notice:{key}", ("notice.filed",))
        if party not in (notification.recipient, notification.via):
            raise NotFound(f"no notification {record_id!r} for party {party!r}")
        return self._latest(f"notification:{record_id}")

    def receipt(self, party: str, record_id: str) -> bytes:
        """A receipt (canonical JSON) for ``record_id`` as ``party`` may have it, under a fresh
        checkpoint: for a notification about the party's own plan, a private receipt (its
        latest private entry committed to by a digest; NotYetCommitted before the first)."""
        private = self._private_subject(party, record_id)
        if private is not None:
            return self._private_receipt(party, private)
        index = self.receipt_index(party, record_id)
        note = self.checkpoint()
        size = self.signer.verifier().open_checkpoint(note).size
        return make_receipt(self.entry(index), index, self.inclusion(index, size), note)

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

    def _private_receipt(self, party: str, subject: str) -> bytes:
        digested = [
            (index, body)
            for index, body in self._store.ledger_private_entries(party, subject)
            if index is not None
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
        note = self.checkpoint()
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

    # audit --------------------------------------------------------------------------------------

    def verify(self, verifier: Verifier | None = None) -> LogReport:
        """Recompute the whole log and check every kept checkpoint against ``verifier`` (by
        default the registered public key's: no key file needed); VerificationFailed naming the
        first bad index otherwise."""
        entries = self._store.ledger_entries()
        report = verify_log(
            entries,
            self._store.ledger_nodes(),
            len(entries) if not entries else entries[-1][0] + 1,
            self.checkpoints(),
            Verifier.parse(self.public_key) if verifier is None else verifier,
        )
        # Entries appended after the last checkpoint and deleted from the end, leaves and all,
        # leave a log that verifies: the store's records still say what was recorded.
        missing = self._store.ledger_unrecorded()
        if missing is not None:
            raise VerificationFailed(
                f"{missing} is not in the ledger as the store records it: entries were removed"
            )
        # A notice version's content is its row: changed, it no longer opens its commitment.
        unopened = self._store.ledger_unopened()
        if unopened is not None:
            raise VerificationFailed(f"{unopened}: the store's record was changed")
        return report
