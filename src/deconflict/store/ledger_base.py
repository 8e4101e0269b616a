"""The ledger part of the store interface: what the hub reads and writes of the ledger.

Entries themselves are appended by the store inside each write's own transaction (never through
this interface); these methods read the log and its proofs, and keep checkpoints, commitment
openings, the registered public key and the halt (a log found broken stops every process on the
database, not only the one that found it). Every :class:`~deconflict.store.base.Store` is a
``LedgerStore``; ``LedgerKeys`` is the part the signing key's loader needs.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from deconflict.ledger import Opening
from deconflict.ledger.merkle import NodeKey

__all__ = [
    "AuditData",
    "AuditEntry",
    "Halt",
    "LedgerKeys",
    "LedgerStore",
    "PrivateAuditEntry",
    "PrivatePending",
    "Row",
    "Snapshot",
]

#: A stored record as its table holds it (column name to value).
Row = dict[str, Any]

#: A private entry not yet digested: its place (``seq``), party, type and subject.
PrivatePending = tuple[int, str, str, str]

#: What a whole check of the log recomputes: every entry (index, body), every stored hash (the
#: leaves and the subtrees above them) and the size.
Snapshot = tuple[list[tuple[int, bytes]], dict[NodeKey, bytes], int]


@dataclass(frozen=True, slots=True)
class Halt:
    """Why the hub is halted (the operator's paragraph: what is wrong, what to run) and since
    when (``at_s``, the hub's clock): it signs nothing and refuses the writes parties ask for."""

    reason: str
    at_s: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A shared-log entry as stored: its public body and leaf hash, and the opening it keeps
    beside them (salt and content; null but for the entry that made a commitment)."""

    index: int
    type: str
    subject: str
    body: bytes
    leaf: bytes | None
    salt: bytes | None
    content: str | None


@dataclass(frozen=True, slots=True)
class PrivateAuditEntry:
    """A party's private entry as stored (``ledger_private``): as a shared one, with its owner,
    its place among the party's entries and the index of the digest that commits to it."""

    seq: int
    party: str
    type: str
    subject: str
    body: bytes
    leaf: bytes
    salt: bytes | None
    content: str | None
    digest_index: int | None
    #: whether its digest withholds it from its party (committed to apart)
    withheld: bool = False


@dataclass(frozen=True, slots=True)
class AuditData:
    """Everything a full audit compares, read at once: the entries, and every record the store
    serves (each table's rows; notice and plan versions with their links)."""

    entries: list[AuditEntry] = field(default_factory=list)
    private: list[PrivateAuditEntry] = field(default_factory=list)
    parties: list[Row] = field(default_factory=list)
    agreements: list[Row] = field(default_factory=list)
    notices: list[Row] = field(default_factory=list)
    notice_versions: list[Row] = field(default_factory=list)
    #: each notice volume from the version it changed at (derived from the versions)
    notice_volumes: list[Row] = field(default_factory=list)
    plans: list[Row] = field(default_factory=list)
    plan_versions: list[Row] = field(default_factory=list)
    conflicts: list[Row] = field(default_factory=list)
    #: whom each conflict is listed for (derived from the conflicts: checked against them)
    conflict_parties: list[Row] = field(default_factory=list)
    notifications: list[Row] = field(default_factory=list)
    #: the last period whose digests were appended (one per party), None before the first
    digest_period: int | None = None
    #: the hub's secret that salts what a digest withholds (``store.ledger_private``)
    withheld_key: bytes = b""
    #: every stored hash: each entry's leaf and the subtrees above them
    nodes: dict[NodeKey, bytes] = field(default_factory=dict)
    #: (size, signed note) of every kept checkpoint, oldest first
    checkpoints: list[tuple[int, str]] = field(default_factory=list)

    def snapshot(self) -> Snapshot:
        """The log as :meth:`LedgerStore.ledger_snapshot` reads it, from this same read."""
        size = self.entries[-1].index + 1 if self.entries else 0
        return [(e.index, e.body) for e in self.entries], self.nodes, size


class LedgerKeys(Protocol):
    """The key the log is signed with, as the store keeps it: the verifier key registered (the
    first one wins), and a private key stored before migration 0003 until it is moved out."""

    @abstractmethod
    def ledger_public_key(self) -> str | None:
        """The verifier key the log is signed with, if one is registered."""

    @abstractmethod
    def ledger_register_key(self, name: str, verifier_key: str, at_s: float) -> str:
        """The verifier key the log is signed with: the one registered first, ``verifier_key``
        (named ``name``) if there is none yet."""

    @abstractmethod
    def ledger_legacy_key(self) -> tuple[str, bytes] | None:
        """(name, raw private key) of a signing key stored by a hub before migration 0003."""

    @abstractmethod
    def ledger_forget_legacy_key(self, name: str) -> None:
        """Erase the legacy private key ``name`` (once it is safe in the key file)."""


class LedgerStore(LedgerKeys, Protocol):
    """Reads of the append-only log, and the hub's checkpoints, openings, halt and public key."""

    @abstractmethod
    def ledger_size(self) -> int:
        """How many entries the log holds."""

    @abstractmethod
    def ledger_root(self, size: int) -> bytes:
        """The root of the log's first ``size`` entries."""

    @abstractmethod
    def ledger_inclusion(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of entry ``index`` in the tree of ``size``."""

    @abstractmethod
    def ledger_consistency(self, first: int, second: int) -> list[bytes]:
        """The consistency proof from size ``first`` to size ``second``."""

    @abstractmethod
    def ledger_entry(self, index: int) -> bytes:
        """Entry ``index``'s canonical JSON (NotFound past the end)."""

    @abstractmethod
    def ledger_entries_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        """The canonical JSON of each entry of ``indexes`` that is stored, read at once."""

    @abstractmethod
    def ledger_private_pending(self, at_s: float, period_s: float) -> list[PrivatePending] | None:
        """The private entries (seq, party, type, subject) the digests of the period of
        ``at_s`` would commit to; None when that period's are appended already."""

    @abstractmethod
    def ledger_digest(
        self,
        at_s: float,
        period_s: float,
        withheld: Collection[int] = (),
        through: int | None = None,
    ) -> int:
        """At the first call in each period, one digest entry per party committing to its
        private entries not yet digested (to ``through``), those in ``withheld`` apart
        (:mod:`deconflict.store.ledger_private`); how many."""

    @abstractmethod
    def ledger_private_entries(
        self, party: str, subject: str | None = None
    ) -> list[tuple[int | None, str]]:
        """``party``'s private entries (about ``subject``), oldest first: (its digest's index or
        None, its JSON); not those its digest withholds from it."""

    @abstractmethod
    def ledger_audit_data(self) -> AuditData:
        """Every entry, stored hash and kept checkpoint, and every record the store serves, in
        one read (one snapshot): the full audit recomputes the log and cross-checks the records
        (:func:`deconflict.hub.ledger_audit.cross_check`) over one state of the store."""

    @abstractmethod
    def ledger_entries(self) -> list[tuple[int, bytes]]:
        """Every entry, in index order."""

    @abstractmethod
    def ledger_rehash(self, leaves: list[bytes]) -> int:
        """Set each entry's stored leaf hash to ``leaves[index]`` where it differs and build
        every subtree hash again from them (derived data); how many leaves were changed. Only
        ``ledger repair`` calls it, once it has checked that these leaves give the root that
        was signed."""

    @abstractmethod
    def ledger_snapshot(self) -> Snapshot:
        """Every entry, every stored hash and the size, read in one transaction: what a whole
        check recomputes (read apart, another process's appends in between look like entries
        missing from the log)."""

    @abstractmethod
    def ledger_nodes(self) -> dict[NodeKey, bytes]:
        """Every stored perfect-subtree hash."""

    @abstractmethod
    def ledger_find(
        self, subject: str, after: int = -1, limit: int | None = None
    ) -> list[tuple[int, str]]:
        """(index, type) of the entries about ``subject`` ("notice:ID") after index ``after``,
        oldest first; at most ``limit``, read no further, if given."""

    @abstractmethod
    def ledger_opening(self, subject: str, version: int) -> Opening:
        """The private opening of the commitment to ``subject`` at ``version``."""

    @abstractmethod
    def ledger_add_checkpoint(self, size: int, note: str, at_s: float) -> None:
        """Keep a signed checkpoint."""

    @abstractmethod
    def ledger_latest_checkpoint(self) -> tuple[int, str] | None:
        """(size, signed note) of the checkpoint kept last, if any."""

    @abstractmethod
    def ledger_checkpoints(self) -> list[tuple[int, str]]:
        """(size, signed note) of every kept checkpoint, oldest first."""

    @abstractmethod
    def ledger_checkpoints_page(self, since_size: int, limit: int) -> list[tuple[int, str]]:
        """(size, signed note) of at most ``limit`` kept checkpoints of ``since_size`` or more,
        oldest first."""

    @abstractmethod
    def ledger_halt(self) -> Halt | None:
        """The halt the store holds, if any (one short read: every process asks, about once a
        second)."""

    @abstractmethod
    def ledger_record_halt(self, reason: str, at_s: float) -> Halt:
        """Halt the hub for every process on the store, unless it is halted already; the halt
        held (the first recorded, whose reason and time are kept)."""

    @abstractmethod
    def ledger_lift_halt(self) -> Halt | None:
        """Lift the halt: the one lifted, or None if there was none (and nothing is written,
        so that a store that takes no writes is still served)."""
