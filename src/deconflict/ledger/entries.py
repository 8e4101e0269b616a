"""The ledger's entries, built from plain values: what each names in the clear, and the salted
commitment it makes or refers to.

An entry names who, what and when in the clear (ids, parties, the relay, RFC 3339 times) and holds
only a commitment to the content (a notice's category and volumes, a conflict's detail, an
agreement's terms, a plan's volumes, a party's name). A new commitment comes with its opening
(:class:`Private`: the salt and canonical content), which the caller keeps beside the entry, never
in its public body. What each entry commits to, and why that is enough to find a deletion or an
edit of anything a party was told, is written in docs/ledger.md.

Pure: no store, no SQL, no clock. The caller passes the record or row as a mapping (the store's
column names), the entry's time as RFC 3339 text, a writer of the row's own times
(:data:`TimeText`), and :class:`Refs`, which finds the commitments already made (a notice
version's is made once and referred to by every later entry about that version, so a delivery's
``notice_commitment`` is the filing's ``commitment``). :mod:`deconflict.store.ledger_entries`
reads what is not at hand and calls these; a test pins the bytes of each type
(tests/store/test_ledger_entries.py), since an entry already in a ledger must keep verifying.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from deconflict.ledger.commit import canonical, commit_canonical

__all__ = [
    "NEW_VERSION",
    "NOT_TOLD",
    "Built",
    "Private",
    "Refs",
    "TimeText",
    "Told",
    "agreement",
    "conflict",
    "deliveries",
    "digest",
    "notice",
    "notice_content",
    "notice_content_object",
    "notice_entry_object",
    "notification",
    "party",
    "plan",
    "plan_content",
    "subject_of",
    "withheld_commitment",
]


class Private(NamedTuple):
    """The opening an entry keeps beside its public body: the version committed to, the
    commitment, its salt and the canonical content; None for a notice version's, which is the
    version's row itself (category and volumes, kept as canonical JSON), read from there."""

    version: int
    commitment: str
    salt: bytes
    content: str | None


#: A built entry: its type, its canonical JSON and the opening it keeps (if it makes a commitment).
Built = tuple[str, bytes, Private | None]

#: Writes a time (seconds since the epoch) as an entry shows it, RFC 3339 (None stays None).
TimeText = Callable[[float | None], str | None]


class Told(NamedTuple):
    """The notice a notification told of, as its entry names it: (party, id) and the version and
    commitment that were its newest."""

    party: str | None
    notice: str | None
    version: int | None
    commitment: str | None


#: What an entry names of a notice it may not disclose, or of none.
NOT_TOLD = Told(None, None, None, None)


class Refs(Protocol):
    """The commitments already made, as the caller's transaction sees them."""

    def at(self, subject: str, version: int) -> str | None:
        """The commitment to ``subject`` at ``version``, if one was made."""
        ...

    def told(self, key: str) -> Told:
        """The notice of record key ``key`` (``party/id``) with its newest commitment."""
        ...


def subject_of(entity: str, entity_id: str) -> str:
    """The key entries and openings are found by: ``notice:RU/RU-N3`` (a notice's or plan's
    record key), ``notification:M-...``."""
    return f"{entity}:{entity_id}"


class _Entry:
    """An entry being built, and the opening it will keep if it makes a new commitment."""

    def __init__(self, refs: Refs) -> None:
        self.refs = refs
        self.private: Private | None = None

    def commitment(self, subject: str, version: int, content: Any, fresh: bool = False) -> str:
        """The commitment to ``subject`` at ``version``: the one already made, else a new one
        kept with this entry. ``fresh`` says the version is new, so there is nothing to look up."""
        if not fresh:
            existing = self.refs.at(subject, version)
            if existing is not None:
                return existing
        raw = canonical(content)
        salt, digest = commit_canonical(raw)
        self.private = Private(version, digest, salt, raw.decode())
        return digest

    def built(self, entry: dict[str, Any]) -> Built:
        return entry["type"], canonical(entry), self.private


#: The notice changes that make a new version, so a new commitment.
NEW_VERSION = frozenset({"notice.filed", "notice.amended"})


def notice_content_object(notice: Mapping[str, Any]) -> dict[str, Any]:
    """What a notice version's commitment is to: its category and volumes (each as the store
    keeps it). ``notice``: its ``id``, ``party``, ``version``, ``category``, ``volumes``."""
    return {
        "notice": notice["id"],
        "party": notice["party"],
        "version": notice["version"],
        "category": notice["category"],
        "volumes": notice["volumes"],
    }


def notice_content(notice: Mapping[str, Any]) -> bytes:
    """The canonical JSON of :func:`notice_content_object`."""
    return canonical(notice_content_object(notice))


def notice_entry_object(
    kind: str, notice: Mapping[str, Any], at: str | None, commitment: str | None
) -> dict[str, Any]:
    """A notice entry: who filed which version, its state, when, and the commitment."""
    return {
        "type": kind,
        "notice": notice["id"],
        "version": notice["version"],
        "party": notice["party"],
        "state": notice["state"],
        "at": at,
        "commitment": commitment,
    }


def notice(
    kind: str, notice: Mapping[str, Any], at: str, refs: Refs, salt: bytes | None = None
) -> Built:
    """A notice change's entry: a new version commits to its content (salted with ``salt``, if
    given, else a fresh one), any other change refers to the version's commitment. ``notice``:
    as :func:`notice_content_object` and :func:`notice_entry_object` read it, and its record
    ``key``."""
    private = None
    commitment = None
    if kind not in NEW_VERSION:
        commitment = refs.at(subject_of("notice", notice["key"]), notice["version"])
    if commitment is None:
        salt, commitment = commit_canonical(notice_content(notice), salt)
        private = Private(notice["version"], commitment, salt, None)  # the version's row has it
    return kind, canonical(notice_entry_object(kind, notice, at, commitment)), private


def _told(refs: Refs, key: str | None, discloses: bool) -> Told:
    """The notice (by its record key) a notification told of. An entry is read by the
    notification's recipient and relay: a notification whose recipient could not see the
    notice (``discloses_notice`` false) names neither it nor its version or commitment, only
    the conflict, whose entry commits to both sides under a salt (security.md §3.4)."""
    return refs.told(key) if key is not None and discloses else NOT_TOLD


def notification(kind: str, row: Mapping[str, Any], at: str, time: TimeText, refs: Refs) -> Built:
    """A notification's change: the notification as its row holds it (``notice_id`` its
    notice's record key), with the notice version and commitment it told of."""
    told = _told(refs, row["notice_id"], row["discloses_notice"])
    entry = {
        "type": kind,
        "notification": row["id"],
        "kind": row["kind"],
        "recipient": row["recipient"],
        "via": row["via"],
        **_naming(told),
        "conflict": row["conflict_id"],
        "created_at": time(row["created_at_s"]),
        "delivered_at": time(row["delivered_at_s"]),
        "acknowledged_at": time(row["acknowledged_at_s"]),
        "escalated_at": time(row["escalated_at_s"]),
        "ack_deadline": time(row["ack_deadline_s"]),
        "lead_time_s": row["lead_time_s"],
        "at": at,
    }
    return kind, canonical(entry), None


def _naming(told: Told) -> dict[str, Any]:
    """How a notification's entry names the notice it told of (the same in a deliveries
    entry: each notification there is named as its own entry names it)."""
    return {
        "notice": told.notice,
        "notice_party": told.party,
        "notice_version": told.version,
        "notice_commitment": told.commitment,
    }


def deliveries(
    kind: str,
    recipient: str,
    via: str | None,
    rows: Sequence[Mapping[str, Any]],
    at: str,
    time: TimeText,
    refs: Refs,
) -> Built:
    """One entry for a batch of deliveries to one recipient (through ``via``, or none): each
    notification (a row, as for :func:`notification`) as its own entry would name it (the
    notice version and commitment it told of), in id order."""
    notifications = []
    for row in sorted(rows, key=lambda row: row["id"]):
        told = _told(refs, row["notice_id"], row["discloses_notice"])
        notifications.append(
            {
                "notification": row["id"],
                "kind": row["kind"],
                **_naming(told),
                "conflict": row["conflict_id"],
                "created_at": time(row["created_at_s"]),
                "delivered_at": time(row["delivered_at_s"]),
            }
        )
    entry = {
        "type": kind,
        "recipient": recipient,
        "via": via,
        "notifications": notifications,
        "at": at,
    }
    return kind, canonical(entry), None


def conflict(kind: str, row: Mapping[str, Any], at: str, refs: Refs) -> Built:
    """A conflict's change: its parties in the clear, committing to its row (but its state and
    resolution time, which change) when detected, referring to that commitment after."""
    b = _Entry(refs)
    content = {name: value for name, value in row.items() if name not in ("state", "resolved_at_s")}
    subject = subject_of("conflict", row["id"])
    return b.built(
        {
            "type": kind,
            "conflict": row["id"],
            "parties": sorted([row["a_party"], row["b_party"]]),
            "at": at,
            "commitment": b.commitment(subject, 0, content, fresh=kind == "conflict.detected"),
        }
    )


def agreement(kind: str, agreement_id: str, content: Any, at: str, refs: Refs) -> Built:
    """An agreement's change: its parties in the clear, committing to its document
    (``content``, None if it is gone)."""
    b = _Entry(refs)
    parties = content.get("parties", []) if isinstance(content, dict) else []
    return b.built(
        {
            "type": kind,
            "agreement": agreement_id,
            "parties": sorted(parties),
            "at": at,
            "commitment": b.commitment(subject_of("agreement", agreement_id), 0, content),
        }
    )


def party(kind: str, party_id: str, name: str | None, at: str, refs: Refs) -> Built:
    """A party added: its id in the clear, its name (shown to every party it deals with)
    committed to, so a renamed party is found."""
    b = _Entry(refs)
    content = {"party": party_id, "name": name}
    return b.built(
        {
            "type": kind,
            "party": party_id,
            "at": at,
            "commitment": b.commitment(subject_of("party", party_id), 0, content, fresh=True),
        }
    )


def plan_content(plan: Mapping[str, Any]) -> dict[str, Any]:
    """What a plan entry commits to: the plan version's volumes (each as the store keeps it)."""
    return {
        "plan": plan["id"],
        "party": plan["party"],
        "version": plan["version"],
        "volumes": plan["volumes"],
    }


def plan(kind: str, plan: Mapping[str, Any], at: str, refs: Refs) -> Built:
    """A plan change: its owner's private entry (never in the shared log: a plan is private
    even as metadata), committing afresh to the version's volumes. ``plan``: its ``id``,
    record ``key``, ``party``, ``version``, ``state`` and ``volumes``."""
    b = _Entry(refs)
    subject = subject_of("plan", plan["key"])
    return b.built(
        {
            "type": kind,
            "plan": plan["id"],
            "party": plan["party"],
            "version": plan["version"],
            "state": plan["state"],
            "at": at,
            "commitment": b.commitment(subject, plan["version"], plan_content(plan), fresh=True),
        }
    )


def digest(
    kind: str,
    party: str,
    period: int,
    leaves: Sequence[str],
    withheld: str,
    at: str,
    refs: Refs,
) -> Built:
    """A party's digest of its private entries for ``period``: committing to their leaf
    hashes (hex), in order, so that one deleted or changed is found; those its party is not
    told, apart, in ``withheld`` (:func:`withheld_commitment`), which the party cannot open."""
    b = _Entry(refs)
    content = {"party": party, "period": period, "entries": list(leaves), "withheld": withheld}
    return b.built(
        {
            "type": kind,
            "party": party,
            "period": period,
            "at": at,
            "commitment": b.commitment(subject_of("private", party), period, content, fresh=True),
        }
    )


def withheld_commitment(key: bytes, party: str, period: int, leaves: Sequence[str]) -> str:
    """The commitment of ``party``'s digest of ``period`` to the leaf hashes (hex) of the
    private entries it withholds from the party, maybe none, salted with ``key`` (a secret of
    the hub's) and the digest: the party, which opens the digest, cannot tell what it commits
    to, nor whether to anything (an operator with the store recomputes it)."""
    salt = hmac.new(key, canonical([party, period]), hashlib.sha256).digest()
    return commit_canonical(canonical({"entries": list(leaves)}), salt)[1]
