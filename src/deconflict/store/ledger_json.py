"""The objects of a notice's ledger entry and of the content a version commits to, and their
canonical JSON (RFC 8785, :func:`~deconflict.ledger.canonical`).

Earlier versions wrote these by template, key by key, beside the library; measured again once
:func:`~deconflict.ledger.canonical` had its orjson path, the templates saved under 1 us an entry
(and writing the volumes by template cost twice the library's time), far inside the noise of a
filing (about 800 us in process): they went (docs/benchmarks.md).
"""

from __future__ import annotations

import json
from typing import Any

from deconflict.ledger import canonical
from deconflict.model import Notice
from deconflict.model.ids import split_key
from deconflict.store.codec import volume_to_dict

__all__ = [
    "notice_content",
    "notice_content_object",
    "notice_content_object_of",
    "notice_entry",
    "notice_entry_object",
]


def notice_content_object(notice: Notice) -> dict[str, Any]:
    """What a notice version's commitment is to: its category and volumes, as the store keeps
    them."""
    return {
        "notice": notice.id,
        "party": notice.party,
        "version": notice.version,
        "category": notice.category,
        "volumes": [volume_to_dict(v) for v in notice.volumes],
    }


def notice_content_object_of(
    key: str, party: str, version: int, category: str, volumes: str
) -> dict[str, Any]:
    """:func:`notice_content_object` of a version as the store keeps it (its record key, the
    party its row names, and its volumes as the JSON text of its row): what the ledger's opening
    of a notice version holds."""
    notice_id = split_key(key)[1]
    return {
        "notice": notice_id,
        "party": party,
        "version": version,
        "category": category,
        "volumes": json.loads(volumes),
    }


def notice_entry_object(
    kind: str, notice: Notice, at: str | None, commitment: str | None
) -> dict[str, Any]:
    """A notice entry: who filed which version, its state, when, and the commitment."""
    return {
        "type": kind,
        "notice": notice.id,
        "version": notice.version,
        "party": notice.party,
        "state": str(notice.state),
        "at": at,
        "commitment": commitment,
    }


def notice_entry(kind: str, notice: Notice, at: str | None, commitment: str | None) -> bytes:
    """The canonical JSON of :func:`notice_entry_object`."""
    return canonical(notice_entry_object(kind, notice, at, commitment))


def notice_content(notice: Notice) -> bytes:
    """The canonical JSON of :func:`notice_content_object`."""
    return canonical(notice_content_object(notice))
