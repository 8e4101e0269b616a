"""What the ledger records for each change: the entry object and the commitment it holds.

An entry names who, what and when in the clear (ids, parties, the relay, RFC 3339 times) and holds
only a salted commitment to the content (a notice's category and volumes, a conflict's detail, an
agreement's terms); the salt and content stay here, private (in the columns of the entry that
made the commitment, never in its public body), so the party that holds them can open the
commitment to an arbiter. A notice version's commitment is made once
and reused by every later entry about that version, so a delivery's ``notice_commitment`` is the
filing's ``commitment``. Plans are never recorded: they are private even as metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from deconflict.ledger import canonical
from deconflict.ledger.commit import commit_canonical
from deconflict.model import Notice, Plan
from deconflict.store import ledger_tables as lt
from deconflict.store import schema as t
from deconflict.store.codec import volumes_to_json

__all__ = ["Private", "build_entry", "rfc3339", "subject_of"]


def rfc3339(at_s: float | None) -> str | None:
    """``2015-11-16T20:00:00Z`` (microseconds only when there are any)."""
    if at_s is None:
        return None
    moment = datetime.fromtimestamp(at_s, UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def subject_of(entity: str, entity_id: str) -> str:
    """The key entries and openings are found by: ``notice:RU-N3``, ``notification:M-...``."""
    return f"{entity}:{entity_id}"


@dataclass(frozen=True, slots=True)
class Private:
    """The opening an entry keeps beside its public body: the version committed to, the
    commitment, its salt and the canonical content."""

    version: int
    commitment: str
    salt: bytes
    content: str


class _Entry:
    """An entry being built, and the opening it will keep if it makes a new commitment."""

    def __init__(self) -> None:
        self.private: Private | None = None

    def commitment(
        self, c: sa.Connection, subject: str, version: int, content: Any, fresh: bool = False
    ) -> str:
        """The commitment to ``subject`` at ``version``: the one already made, else a new one
        kept with this entry. ``fresh`` says the version is new, so there is nothing to look up."""
        if not fresh:
            e = lt.ledger_entries.c
            existing = c.execute(
                sa.select(e.commitment)
                .where(e.subject == subject, e.version == version, e.salt.is_not(None))
                .limit(1)
            ).scalar()
            if existing is not None:
                return str(existing)
        raw = canonical(content)
        salt, digest = commit_canonical(raw)
        self.private = Private(version, digest, salt, raw.decode())
        return digest


def _notice_commitment(c: sa.Connection, notice_id: str) -> tuple[int | None, str | None]:
    """The newest committed version of a notice and its commitment (None, None if none)."""
    e = lt.ledger_entries.c
    row = c.execute(
        sa.select(e.version, e.commitment)
        .where(e.subject == subject_of("notice", notice_id), e.salt.is_not(None))
        .order_by(e.idx.desc())
        .limit(1)
    ).first()
    return (None, None) if row is None else (row.version, row.commitment)


def _notice(c: sa.Connection, b: _Entry, kind: str, notice: Notice, at_s: float) -> dict[str, Any]:
    content = {
        "notice": notice.id,
        "party": notice.party,
        "version": notice.version,
        "category": notice.category,
        "volumes": json.loads(volumes_to_json(notice.volumes)),
    }
    return {
        "type": kind,
        "notice": notice.id,
        "version": notice.version,
        "party": notice.party,
        "state": str(notice.state),
        "at": rfc3339(at_s),
        "commitment": b.commitment(
            c,
            subject_of("notice", notice.id),
            notice.version,
            content,
            fresh=kind in ("notice.filed", "notice.amended"),  # a new version
        ),
    }


def _notification(c: sa.Connection, kind: str, entity_id: str, at_s: float) -> dict[str, Any]:
    row = c.execute(sa.select(t.notifications).where(t.notifications.c.id == entity_id)).one()
    version, commitment = (None, None)
    if row.notice_id is not None:
        version, commitment = _notice_commitment(c, row.notice_id)
    return {
        "type": kind,
        "notification": row.id,
        "kind": row.kind,
        "recipient": row.recipient,
        "via": row.via,
        "notice": row.notice_id,
        "notice_version": version,
        "notice_commitment": commitment,
        "conflict": row.conflict_id,
        "created_at": rfc3339(row.created_at_s),
        "delivered_at": rfc3339(row.delivered_at_s),
        "acknowledged_at": rfc3339(row.acknowledged_at_s),
        "escalated_at": rfc3339(row.escalated_at_s),
        "at": rfc3339(at_s),
    }


def _conflict(
    c: sa.Connection, b: _Entry, kind: str, entity_id: str, at_s: float
) -> dict[str, Any]:
    row = c.execute(sa.select(t.conflicts).where(t.conflicts.c.id == entity_id)).one()
    content = {
        name: value
        for name, value in row._mapping.items()
        if name not in ("state", "resolved_at_s")
    }
    return {
        "type": kind,
        "conflict": row.id,
        "parties": sorted([row.a_party, row.b_party]),
        "at": rfc3339(at_s),
        "commitment": b.commitment(c, subject_of("conflict", row.id), 0, content),
    }


def _agreement(
    c: sa.Connection, b: _Entry, kind: str, entity_id: str, at_s: float
) -> dict[str, Any]:
    body = c.execute(sa.select(t.agreements.c.body).where(t.agreements.c.id == entity_id)).scalar()
    content = json.loads(body) if body is not None else None
    parties = content.get("parties", []) if isinstance(content, dict) else []
    return {
        "type": kind,
        "agreement": entity_id,
        "parties": sorted(parties),
        "at": rfc3339(at_s),
        "commitment": b.commitment(c, subject_of("agreement", entity_id), 0, content),
    }


def build_entry(
    c: sa.Connection, kind: str, entity_id: str, at_s: float, record: Notice | Plan | None
) -> tuple[dict[str, Any], Private | None] | None:
    """The ledger entry for change ``kind`` of ``entity_id`` and the opening it keeps (if it
    makes a new commitment), or None if the change is not recorded."""
    entity = kind.split(".", 1)[0]
    b = _Entry()
    entry: dict[str, Any]
    if entity == "notice" and isinstance(record, Notice):
        entry = _notice(c, b, kind, record, at_s)
    elif entity == "notification":
        entry = _notification(c, kind, entity_id, at_s)
    elif entity == "conflict":
        entry = _conflict(c, b, kind, entity_id, at_s)
    elif entity == "agreement":
        entry = _agreement(c, b, kind, entity_id, at_s)
    elif entity == "party":
        entry = {"type": kind, "party": entity_id, "at": rfc3339(at_s)}
    else:
        return None
    return entry, b.private
