"""The canonical JSON of a notice's entry and of the content it commits to, written by template.

Every filing, amendment and cancellation appends a notice entry, and a new version commits to its
content (the notice's category and volumes): on the filing path, the generic
:func:`~deconflict.ledger.canonical` (a pass over the value, then ``json``'s sorted-key encoder)
cost more than the rest of the append. These objects have a fixed shape, so their RFC 8785 text
is written here directly: the keys in their canonical order (ASCII, so UTF-16 order is byte
order), each string and number by :func:`~deconflict.ledger.canonical_string` and
:func:`~deconflict.ledger.canonical_number`, which write exactly what ``canonical`` writes for
them. The volumes are the text the store keeps for them, canonical already
(:func:`~deconflict.store.codec.canonical_volumes`). Anything the templates cannot write (a lone
surrogate) goes to ``canonical`` with the object itself; the tests check, for any notice, that both
give the same bytes and that these are the ``rfc8785`` package's.
"""

from __future__ import annotations

import json
from typing import Any

from deconflict.ledger import canonical, canonical_number, canonical_string
from deconflict.model import Notice
from deconflict.model.ids import split_key
from deconflict.store.codec import canonical_volumes, volume_to_dict

__all__ = [
    "notice_content",
    "notice_content_object",
    "notice_content_object_of",
    "notice_entry",
    "notice_entry_object",
]

_S = canonical_string
_N = canonical_number  # also right for any other JSON value: it falls back to ``canonical``


def _T(value: Any) -> str:
    """A string, or any other JSON value (None: an entry's unset time)."""
    return _S(value) if type(value) is str else _N(value)


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
    try:
        return (
            f'{{"at":{_T(at)},"commitment":{_T(commitment)},"notice":{_S(notice.id)},'
            f'"party":{_S(notice.party)},"state":{_S(str(notice.state))},"type":{_S(kind)},'
            f'"version":{_N(notice.version)}}}'
        ).encode()
    except UnicodeEncodeError:
        return canonical(notice_entry_object(kind, notice, at, commitment))


def notice_content(notice: Notice) -> bytes:
    """The canonical JSON of :func:`notice_content_object`: its volumes are the text the store
    keeps for them (:func:`~deconflict.store.codec.canonical_volumes`), written at the filing."""
    volumes = canonical_volumes(notice.volumes)
    if volumes is None:
        return canonical(notice_content_object(notice))  # refused, as the volumes were
    try:
        return (
            f'{{"category":{_S(notice.category)},"notice":{_S(notice.id)},'
            f'"party":{_S(notice.party)},"version":{_N(notice.version)},"volumes":{volumes}}}'
        ).encode()
    except UnicodeEncodeError:
        return canonical(notice_content_object(notice))
