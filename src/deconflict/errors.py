"""The one exception tree of deconflict.

Every error the project raises on purpose is a ``DeconflictError``, and each also subclasses the
nearest built-in, so callers that only know Python's own exceptions still catch it::

    DeconflictError(Exception)
    ├── InvalidInput(ValueError)          bad input; the message names what is wrong
    │   ├── InvalidGeometry               a footprint, band or window is invalid (says why)
    │   ├── InvalidVolume                 a 4D volume failed validation (names the volume)
    │   ├── InvalidDocument               a file or document is malformed (GeoJSON, scenario)
    │   ├── InvalidTransition             a state change the state machine does not allow
    │   ├── AlreadyExists                 a record with that id is already stored
    │   ├── AmbiguousId                   an id names several records the caller may see
    │   └── RefusedDestination            a webhook URL the hub may not send to (inside, not http)
    ├── NotFound(LookupError)             no such record, or not visible to the caller
    ├── NotYetCommitted                   it is there, and committed to by the ledger soon
    ├── VersionConflict                   an amendment named a stale version
    ├── StoreError(RuntimeError)          the store failed (translated from the driver)
    │   ├── StoreUnavailable              for now only (connection lost, locked, disk full)
    │   │   └── WritesRefused             no writes now (disk full, read-only store); reads go on
    │   ├── CorruptRecord                 a stored record cannot be read back
    │   └── StoreCorrupt                  its files are damaged: `deconflict doctor` says where
    └── VerificationFailed(ValueError)    a ledger proof, signature, receipt or log does not verify
        ├── ForkDetected                  two signed checkpoints that cannot both be true
        └── LedgerBroken                  the log no longer extends what the hub signed: no signing

Library errors (sqlite3, SQLAlchemy, shapely, pyproj) are translated into these at the boundary
where they happen, so the CLI can print one clear line for any of them.
"""

from __future__ import annotations

import math

__all__ = [
    "AlreadyExists",
    "AmbiguousId",
    "CorruptRecord",
    "DeconflictError",
    "ForkDetected",
    "InvalidDocument",
    "InvalidGeometry",
    "InvalidInput",
    "InvalidTransition",
    "InvalidVolume",
    "LedgerBroken",
    "NotFound",
    "NotYetCommitted",
    "RefusedDestination",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "VerificationFailed",
    "VersionConflict",
    "WritesRefused",
]


class DeconflictError(Exception):
    """Base of every error deconflict raises on purpose."""

    #: HTTP status the API renders this error with.
    status = 500


class InvalidInput(DeconflictError, ValueError):
    """Input that cannot be accepted; the message says what and why. ``field`` names the part
    of the request at fault, when the raiser knows it (``/features/0``, ``query:after``,
    ``path:conflict_id``; the API puts it in the problem's ``field``)."""

    status = 422
    field: str | None = None


class InvalidGeometry(InvalidInput):
    """A footprint, altitude band or time window is invalid; the message is the reason.
    ``part`` is the part at fault as a GeoJSON feature names it (``start``, ``radius_m``,
    ``geometry``...), when one is known."""

    def __init__(self, reason: str, part: str | None = None) -> None:
        super().__init__(reason)
        self.part = part


class InvalidVolume(InvalidInput):
    """A 4D volume failed validation. ``volume`` names it, ``reason`` says why, ``part`` is the
    part at fault (as :class:`InvalidGeometry`'s) when one is known; ``where`` is the part's
    place in the document the volume came from (``features[3].properties.start``), said
    first when known."""

    def __init__(
        self, volume: str, reason: str, part: str | None = None, *, where: str | None = None
    ) -> None:
        self.volume = volume
        self.reason = reason
        self.part = part
        self.where = where
        said = f"volume {volume!r}: {reason}"
        super().__init__(said if where is None else f"{where}: {said}")


class InvalidDocument(InvalidInput):
    """A document (GeoJSON, scenario file) is malformed."""

    status = 400


class InvalidTransition(InvalidInput):
    """A state change that the record's state machine does not allow."""

    status = 409


class AlreadyExists(InvalidInput):
    """A record (party, agreement, notice, plan) with that id is already stored."""

    status = 409


class AmbiguousId(InvalidInput):
    """An id names several records the caller may see (ids are each party's own): say whose."""

    status = 409


class RefusedDestination(InvalidInput):
    """A webhook URL the hub may not send to: not plain http(s) to a host, or naming (or
    resolving to) an address inside (loopback, link-local, private, metadata ...); the message
    says which, never what answers there."""


class NotFound(DeconflictError, LookupError):
    """No such record, or none the caller may see (the two are not told apart)."""

    status = 404


class NotYetCommitted(DeconflictError):
    """What was asked for exists, but the ledger gives it only later: a party's private entry
    at its next digest (``store.ledger_private``), a receipt over HTTP under the next kept
    checkpoint; ask again after ``retry_after_s``. Not a failure: the API answers 202 with
    ``Retry-After``."""

    status = 202

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(max(1, round(retry_after_s)))}


class VersionConflict(DeconflictError, ValueError):
    """An amendment named a version that is no longer current."""

    status = 412


class StoreError(DeconflictError, RuntimeError):
    """The store failed; the message says what it was doing, and may quote the driver (for
    the operator's log and the CLI: the API never shows it, security.md §3.1)."""

    status = 500


class StoreUnavailable(StoreError):
    """The store cannot serve now but may in a moment: its connection was lost, it is locked
    past every retry, its disk is full. The message is for the user who asked, said so that
    they understand it (never the driver's text); the API answers 503 with ``Retry-After``:
    ``retry_after_s``, rounded up to whole seconds."""

    status = 503

    def __init__(
        self,
        message: str = "the hub's store is unavailable for a moment; try again",
        retry_after_s: float = 1.0,
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}


class CorruptRecord(StoreError):
    """A stored record cannot be read back as one (the store was edited or damaged); the
    message names the record's kind and the fault, for the operator."""


class WritesRefused(StoreUnavailable):
    """The store takes no writes now, for a reason of the host (its disk is full, it is
    read-only), while reads go on. The message says what was refused and why in words a person
    understands, never the driver's text; the API answers 503 with ``Retry-After`` (a write may
    succeed once the operator has freed space). ``full`` says whether the disk was full."""

    def __init__(self, doing: str, reason: str, *, full: bool, retry_after_s: float = 30.0) -> None:
        super().__init__(
            f"{doing}: {reason}; reads still work, try the write again later", retry_after_s
        )
        self.full = full


class StoreCorrupt(StoreError):
    """The store's files are damaged (a flipped byte, a torn page): the message names what is
    damaged, where known, and points at ``deconflict doctor``."""


class VerificationFailed(DeconflictError, ValueError):
    """A ledger proof, checkpoint signature, receipt, opening or stored log does not verify;
    the message says what failed (and, for a stored log, the first bad index)."""

    status = 422


class ForkDetected(VerificationFailed):
    """Two checkpoints signed by the same key that cannot both be true: the same size with
    different roots, or a later one that does not extend an earlier one."""


class LedgerBroken(VerificationFailed):
    """The stored log does not extend the newest checkpoint this hub signed (entries deleted or
    changed behind its back): signing now would fork the log under the hub's own key, so the
    hub signs nothing, and appends nothing on a party's request, until an operator acts. The
    message is for the operator (it names files and commands); the API answers parties with
    :data:`public` instead."""

    status = 503
    public = (
        "the hub's ledger failed its integrity check: it records nothing new until its "
        "operator has dealt with it (reads still work)"
    )
