"""The hub's side of the ledger: signing checkpoints, proofs, receipts, openings and the audit.

The store appends entries with every write; this signs what it appended. The Ed25519 key lives
in a key file, never in the store (see :mod:`deconflict.hub.ledger_key`: made on first use, the
database registers only its public half, so every hub process on one database must read the same
key); its name is the log's origin, ``deconflict.hub/<8 hex>``. A checkpoint is made on demand
and at every ``tick()`` when the log has grown, and kept: ``ledger verify`` checks them all.

Before it signs, the hub checks that the log still extends the newest checkpoint it signed (kept
beside the key, :func:`~deconflict.hub.ledger_key.note_signed`): the whole log the first time in
a process, then the entries appended since and the signed root. If it does not (entries deleted
or changed behind the hub's back), signing would fork the log under the hub's own key: the hub
is then halted, and the halt is recorded in the store (why and when), so that every process on
the database stops, not only the one that found it (an HTTP worker of ``serve --workers N``
accepted filings onto a log its detector process had found broken while the halt was that
process's memory). A halted hub signs nothing and refuses the writes parties ask for
(:meth:`HubLedger.guard`), each process reading the halt at most once a second
(:data:`HALT_READ_PERIOD_S`) and saying so once in its log; ``serve`` refuses to start, and
``ledger repair``, or a whole check that holds at ``serve``'s start, lifts it.

Receipts and openings, and who may have which: :mod:`deconflict.hub.ledger_receipts`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deconflict.errors import (
    InvalidInput,
    LedgerBroken,
    NotFound,
    VerificationFailed,
    WritesRefused,
)
from deconflict.geo.units import rfc3339_micro
from deconflict.hub.clock import Clock
from deconflict.hub.collection import collection_paused
from deconflict.hub.ledger_audit import Finding, cross_check
from deconflict.hub.ledger_key import load_signer, newest_signed, note_signed, signed_path
from deconflict.hub.ledger_receipts import Receipts, ReceiptStore
from deconflict.ledger import (
    Checkpoint,
    LogReport,
    MemoryTree,
    Signer,
    Verifier,
    check_extension,
    leaf_hash,
    verify_log,
)
from deconflict.store.ledger_base import AuditData, Halt, PrivatePending, Snapshot

__all__ = ["Audit", "HubLedger"]

log = logging.getLogger("deconflict.ledger")


@dataclass(frozen=True, slots=True)
class _Held:
    """What this hub signed as read at one time (:meth:`HubLedger._read_held`): the newest
    checkpoint and its note (None if none), or why its record could not be read."""

    signed: tuple[Checkpoint, str] | None
    fault: LedgerBroken | None = None


#: What this hub signed, read before the log by the caller; None: read it when needed.
Held = _Held | None


@dataclass(frozen=True, slots=True)
class Audit:
    """A full audit: the log recomputed (``report``, or ``log_problem`` naming its first bad
    index), and every way the store and the ledger differ (``findings``)."""

    report: LogReport | None
    log_problem: str | None = None
    findings: list[Finding] = field(default_factory=list)


#: How often each party's private entries are digested into the shared log (seconds): see
#: :mod:`deconflict.store.ledger_private`.
DIGEST_PERIOD_S = 300.0

#: How long a process trusts what it last read of the store's halt (seconds, monotonic): every
#: write a party asks for is guarded, and one short read a second is nothing beside them, while
#: a halt recorded by another process stops this one's writes within that second.
HALT_READ_PERIOD_S = 1.0


class HubLedger(Receipts):
    """Checkpoints, proofs, receipts and openings (:class:`Receipts`) over one store's ledger."""

    def __init__(
        self,
        store: ReceiptStore,
        clock: Clock,
        key_path: Path | None = None,
        digest_period_s: float = DIGEST_PERIOD_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._key_path = key_path
        self._signer: Signer | None = None
        self.digest_period_s = digest_period_s
        self._monotonic = monotonic  # times the halt's reads, never the hub's clock
        self._halt: Halt | None = None  # as last read from the store ...
        self._halt_read_at = -math.inf  # ... at this monotonic time
        self._checked_whole = False  # the whole log checked once in this process

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

    def digest(
        self, withheld: Callable[[list[PrivatePending]], Collection[int]] | None = None
    ) -> int:
        """Once a period, each party's digest of its private entries (how many appended), those
        ``withheld`` picks (of the (seq, party, type, subject) pending) committed to apart:
        their party is not told them."""
        now = self._clock.now()
        pending = self._store.ledger_private_pending(now, self.digest_period_s)
        if pending is None:
            return 0  # this period's are there already
        held = withheld(pending) if withheld is not None and pending else ()
        through = max((seq for seq, *_ in pending), default=0)
        return self._store.ledger_digest(now, self.digest_period_s, held, through)

    def checkpoint(self, checked: bool = False) -> str:
        """A signed checkpoint of the log as it is now (the last one kept, if the log has not
        grown since), once the log is checked to extend the newest this hub signed
        (LedgerBroken, and nothing signed, if it does not); ``checked``: the caller has just
        run :meth:`check` (the tick, before its digests)."""
        signer = self.signer  # first: a hub holding the wrong key fails here, at its first tick
        if not checked:
            self.check()
        # What this hub signed is read before the log's size: another process on the store
        # appends (committed) before it signs, so a size read after its note is never below it
        # unless entries were cut. Read the other way round, a size read just before another
        # process signed looked like a cut, and halted the hub (two hubs on PostgreSQL did).
        held = self._held()
        kept = self._store.ledger_latest_checkpoint()
        size = self._store.ledger_size()
        if kept is not None and kept[0] == size:
            return kept[1]
        new = Checkpoint(signer.name, size, self._store.ledger_root(size))
        if held is not None:
            if size < held[0].size:  # cut since the check: there is no proof to ask for
                raise self._fail(_cut_short(size, held[0].size))
            try:
                check_extension(held[0], new, self._store.ledger_consistency(held[0].size, size))
            except VerificationFailed as error:
                raise self._fail(str(error)) from None
        note = signer.sign_checkpoint(new)
        if self._key_path is not None:  # first: what was signed is known, whatever follows
            note_signed(self._key_path, note, new, signer.verifier())
        self._store.ledger_add_checkpoint(size, note, self._clock.now())
        return note

    # the signed prefix ----------------------------------------------------------------------

    @property
    def broken(self) -> str | None:
        """Why the hub is halted (a process on its database found the log no longer extends
        what it signed), or None: as the store says, read again once :data:`HALT_READ_PERIOD_S`
        has passed since the last read."""
        if self._monotonic() - self._halt_read_at >= HALT_READ_PERIOD_S:
            self._learn(self._store.ledger_halt())
        return None if self._halt is None else self._halt.reason

    def guard(self) -> None:
        """LedgerBroken while the hub is halted: a write a party asks for, which would append
        to a log no longer extending what was signed, is refused until an operator acts."""
        reason = self.broken
        if reason is not None:
            raise LedgerBroken(reason)

    def _learn(self, halt: Halt | None) -> None:
        """Keep what the store holds of the halt, now; a halt new to this process is said once
        in its log (whichever process found it), and so is its lifting."""
        if halt is not None and self._halt is None:
            log.error("%s", halt.reason)
        elif halt is None and self._halt is not None:
            log.warning("the ledger's halt is lifted: this hub signs and takes writes again")
        self._halt, self._halt_read_at = halt, self._monotonic()

    def _verifier(self) -> Verifier:
        return Verifier.parse(self.public_key)

    def _held(self) -> tuple[Checkpoint, str] | None:
        """The newest checkpoint this hub signed: kept beside its key, or (none noted there
        yet: a hub from before it was) the newest the store keeps."""
        if self._store.ledger_public_key() is None and (
            self._key_path is None or not signed_path(self._key_path).exists()
        ):
            return None  # nothing was ever signed for this log
        verifier = self._verifier()
        if self._key_path is not None:
            found = newest_signed(self._key_path, verifier)
            if found is not None:
                return found
        kept = self._store.ledger_latest_checkpoint()
        return None if kept is None else (verifier.open_checkpoint(kept[1]), kept[1])

    def check(self, whole: bool = False) -> None:
        """LedgerBroken unless the stored log extends the newest checkpoint this hub signed:
        at least as many entries, none of them missing, each appended since hashing to its
        stored leaf, and the signed prefix giving the signed root. The whole log (every entry
        against its leaf, every stored hash, the signed root recomputed) when ``whole``, and
        the first time in a process. Found broken, the hub is halted for every process on its
        store (:attr:`broken`) until an operator acts."""
        self.guard()
        found = self._found(whole or not self._checked_whole)
        if found is not None:
            raise self._fail(found)
        self._checked_whole = True

    def checked_by_supervisor(self) -> None:
        """The whole log was just checked good by the process that supervises this one, as it
        started the hub (``deconflict serve``'s :meth:`recheck`, while this process built its
        index): this process's first :meth:`check` need not check it whole again. A process
        started again later (after a crash) is not told so, and checks it whole itself."""
        self._checked_whole = True

    def problem(self, snapshot: Snapshot | None = None, held: Held = None) -> str | None:
        """What :meth:`check` would find over the whole log (``snapshot``, by default read
        now), explained for the operator (what is wrong, what to run), or None; nothing is
        recorded or logged. ``held``: what this hub signed, read by the caller before the
        snapshot (see :meth:`_read_held`); by default read now, after it."""
        found = self._found(whole=True, snapshot=snapshot, held=held)
        return None if found is None else self._explain(found)

    def recheck(self) -> Halt | None:
        """The whole log checked again, as ``serve`` does before it starts. Good, the hub may
        run: a halt the store holds (a stale one, or one an operator dealt with by restoring a
        backup) is lifted, and returned for the caller to say. Broken, LedgerBroken explaining
        it, and the hub halted for every process on its store (another ``serve`` on the same
        database included); not logged, since the caller says it. On a store that takes no
        writes (read-only, a full disk) a stale halt stands, and nothing is returned: the hub
        serves reads, every write is refused anyway, and a start that may write lifts it."""
        found = self._found(whole=True)
        if found is None:
            try:
                return self._lift()
            except WritesRefused:
                return None
        reason = self._explain(found)
        with contextlib.suppress(WritesRefused):  # no process can append to it then either
            self._store.ledger_record_halt(reason, self._clock.now())
        raise LedgerBroken(reason)

    def _lift(self) -> Halt | None:
        """Lift the store's halt (the one lifted, if any), known here at once."""
        lifted = self._store.ledger_lift_halt()
        self._halt, self._halt_read_at = None, self._monotonic()
        return lifted

    def _found(
        self, whole: bool, snapshot: Snapshot | None = None, held: Held = None
    ) -> str | None:
        try:
            return self._problem(whole, snapshot, held)
        except LedgerBroken as error:  # the record of what was signed is unreadable
            return str(error)

    def _read_held(self) -> _Held:
        """What this hub signed, read before the log by whoever reads both (a live hub signs
        only over entries already committed, so the log read after is at least as long as
        any checkpoint read before; read the other way round, a checkpoint signed in between
        looked like a log rolled back); the record's fault, if it is unreadable."""
        try:
            return _Held(self._held())
        except LedgerBroken as error:
            return _Held(None, error)

    def _problem(self, whole: bool, snapshot: Snapshot | None, read: Held = None) -> str | None:
        if read is not None and read.fault is not None:
            raise read.fault
        held = read.signed if read is not None else self._held()
        if held is None:
            return None
        signed, note = held
        if whole:
            # One snapshot: read apart, another process's appends in between look like
            # entries missing from the log. A few objects an entry, and no cycle: the collector
            # waits (in a process holding the detector's index it walked all of it, again and
            # again: hub.collection).
            with collection_paused():
                entries, nodes, size = snapshot or self._store.ledger_snapshot()
                if size < signed.size:
                    return _cut_short(size, signed.size)
                try:
                    verify_log(entries, nodes, size, [note], self._verifier())
                except VerificationFailed as error:
                    return str(error)
                return None
        size = self._store.ledger_size()
        if size < signed.size:
            return _cut_short(size, signed.size)
        # Each tick: what costs O(log n), not what the log has grown by (reading and hashing
        # every entry since the last signature held the detector's thread for tens of ms a
        # second at 500 notices/s). The signed entry at the end must be there, and the signed
        # prefix must still give the signed root; the new checkpoint is then proved consistent
        # with it before it is signed. An entry edited or deleted further in is found by the
        # whole check each process makes first, and by `ledger verify`.
        if signed.size > 0:
            try:
                self._store.ledger_entry(signed.size - 1)
            except NotFound:
                return f"entry {signed.size - 1}, the last this hub signed, is missing"
        try:
            root = self._store.ledger_root(signed.size)
        except VerificationFailed as error:
            return str(error)
        if root != signed.root:
            return f"the first {signed.size} entries no longer give the root this hub signed"
        return None

    def _explain(self, problem: str) -> str:
        where = "" if self._key_path is None else f" (kept in {signed_path(self._key_path)})"
        return (
            f"the ledger no longer extends the newest checkpoint this hub signed{where}: "
            f"{problem}. Signing now would fork the log under the hub's own key, so the hub "
            "signs nothing and records no new filing until this is resolved. Run "
            "`deconflict ledger verify --db DB` to see what differs and `deconflict ledger "
            "export --db DB --out DIR` to keep the evidence, then restore the database from a "
            "backup taken after that checkpoint, or run `deconflict ledger repair --db DB` if "
            "only the derived hashes are at fault (see docs/ledger.md)."
        )

    def _fail(self, problem: str) -> LedgerBroken:
        """Halt the hub for every process on its store (kept as the first finding recorded, and
        logged once here) and the error that says so."""
        halt = self._store.ledger_record_halt(self._explain(problem), self._clock.now())
        self._learn(halt)  # this one, or the one another process recorded first
        return LedgerBroken(halt.reason)

    def repair(self) -> str:
        """Rebuild what is derived (each entry's leaf hash from the entry, the subtree hashes
        above) when, and only when, the entries themselves still give the root this hub signed:
        what was signed is never rewritten, and an entry deleted or changed is never made up.
        What was done (the hub's halt lifted, for every process on its store); VerificationFailed
        (nothing written) otherwise. What was signed is read before the entries (see
        :meth:`_read_held`)."""
        read = self._read_held()
        if read.fault is not None:
            raise read.fault
        held = read.signed
        entries = self._store.ledger_entries()
        for position, (index, _) in enumerate(entries):
            if index != position:
                raise VerificationFailed(
                    f"entry {position} is missing: repair cannot bring back an entry; restore "
                    "the database from a backup"
                )
        tree = MemoryTree(leaf_hash(body) for _, body in entries)
        if held is not None and (
            tree.size < held[0].size or tree.root(held[0].size) != held[0].root
        ):
            raise VerificationFailed(
                f"the entries no longer give the root of the checkpoint of size {held[0].size} "
                "this hub signed (entries were deleted or changed): repair does not rewrite "
                "signed history; restore the database from a backup"
            )
        changed = self._store.ledger_rehash(list(tree.levels[0]) if tree.size else [])
        problem = self.problem(held=read)
        if problem is not None:  # pragma: no cover - the leaves were just checked against it
            raise VerificationFailed(problem)
        lifted = self._lift()
        self._checked_whole = True
        signed = (
            "" if held is None else f"; it extends the signed checkpoint of size {held[0].size}"
        )
        halt = "" if lifted is None else f"; the halt of {rfc3339_micro(lifted.at_s)} is lifted"
        return (
            f"rebuilt the ledger's hashes over {tree.size} entries ({changed} leaf hashes "
            f"changed){signed}{halt}"
        )

    def export(self) -> dict[str, object]:
        """Everything an investigation needs, as JSON values: every entry (and whether it
        hashes to its stored leaf), the parties' private entries, the checkpoints kept and the
        one noted beside the key, what ``verify`` and the signing check find (all of the log
        read at once, one snapshot, so that each part tells of the same log), and the halt the
        store holds, if any."""
        held = self._read_held()  # before the log (see _read_held), as is the note
        signed = None
        if self._key_path is not None and signed_path(self._key_path).exists():
            signed = signed_path(self._key_path).read_text(encoding="utf-8", errors="replace")
        data = self._store.ledger_audit_data()
        halt = self._store.ledger_halt()
        entries = [
            {
                "index": e.index,
                "entry": e.body.decode(),
                "leaf": None if e.leaf is None else e.leaf.hex(),
                "hashes_to_leaf": e.leaf == leaf_hash(e.body),
            }
            for e in data.entries
        ]
        private = [
            {
                "party": p.party,
                "seq": p.seq,
                "entry": p.body.decode(),
                "leaf": p.leaf.hex(),
                "hashes_to_leaf": p.leaf == leaf_hash(p.body),
                "digest_index": p.digest_index,
            }
            for p in data.private
        ]
        audit = self._audit(data, self._verifier(), held)
        return {
            "entries": entries,
            "private_entries": private,
            "checkpoints": [{"size": size, "note": note} for size, note in data.checkpoints],
            "signed": {"newest_signed_note": signed},
            "findings": {
                "log": audit.log_problem,
                "signing": self.problem(data.snapshot(), held),
                "differs": [str(f) for f in audit.findings],
            },
            "halt": None if halt is None else {"reason": halt.reason, "at_s": halt.at_s},
        }

    def checkpoints(self) -> list[str]:
        return [note for _size, note in self._store.ledger_checkpoints()]

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        self.guard()
        return self._store.ledger_inclusion(index, self.size if size is None else size)

    def consistency(self, first: int, second: int | None = None) -> list[bytes]:
        self.guard()
        return self._store.ledger_consistency(first, self.size if second is None else second)

    def entry(self, index: int) -> dict[str, object]:
        return _object(index, self._store.ledger_entry(index))

    def entries(self, indexes: Sequence[int]) -> dict[int, dict[str, object]]:
        """The entries of ``indexes`` that are stored, read at once (one read a record's
        entries, not one an entry: a notice amended 5,000 times held the shared reader 1.4 s
        for a party's list of its entries; a forty-first reader)."""
        found = self._store.ledger_entries_at(indexes)
        return {index: _object(index, body) for index, body in found.items()}

    # audit --------------------------------------------------------------------------------------

    def audit(self, verifier: Verifier | None = None) -> Audit:
        """Recompute the whole log and check every kept checkpoint (and the newest this hub
        noted beside its key, if there is one) against ``verifier`` (by default the registered
        public key's: no key file needed); then cross-check every record the store serves
        against the entries, both ways (:func:`~deconflict.hub.ledger_audit.cross_check`), all
        read from the store at once."""
        checking = self._verifier() if verifier is None else verifier
        noted = self._noted(checking)  # before the log (see _read_held)
        return self._audit(self._store.ledger_audit_data(), checking, noted)

    def _noted(self, checking: Verifier) -> _Held:
        """The newest checkpoint noted beside the key, checked with ``checking``."""
        if self._key_path is None or not signed_path(self._key_path).exists():
            return _Held(None)
        try:
            return _Held(newest_signed(self._key_path, checking))
        except LedgerBroken as error:
            return _Held(None, error)

    def _audit(self, data: AuditData, checking: Verifier, noted: _Held) -> Audit:
        """The audit of ``data`` with the checkpoint ``noted`` beside the key (read before it)."""
        notes = [note for _size, note in data.checkpoints]
        if noted.fault is not None:
            return Audit(None, str(noted.fault))
        if noted.signed is not None:
            notes.append(noted.signed[1])
        entries, nodes, size = data.snapshot()
        try:
            report = verify_log(entries, nodes, size, notes, checking)
        except VerificationFailed as error:
            return Audit(None, str(error))
        return Audit(report, None, cross_check(data))

    def verify(self, verifier: Verifier | None = None) -> LogReport:
        """:meth:`audit`, raising VerificationFailed with the first problem (and how many
        more were found) unless all holds."""
        audit = self.audit(verifier)
        report = audit.report
        if report is None:
            raise VerificationFailed(audit.log_problem or "the log does not verify")
        if audit.findings:
            more = len(audit.findings) - 1
            also = f" (and {more} more)" if more else ""
            raise VerificationFailed(f"the store and its ledger differ: {audit.findings[0]}{also}")
        return report


def _cut_short(size: int, signed: int) -> str:
    return (
        f"the log holds {size} entries, but this hub signed a checkpoint of {signed}: entries "
        "were deleted from its end"
    )


def _object(index: int, body: bytes) -> dict[str, object]:
    value = json.loads(body)
    if not isinstance(value, dict):  # pragma: no cover - the store writes objects only
        raise InvalidInput(f"ledger entry {index} is not an object")
    return value
