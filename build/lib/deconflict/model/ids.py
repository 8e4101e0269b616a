"""Identifiers and free text: the one alphabet every chosen id is written in, whose an id is,
and what a free-text field (a name, a category) may hold.

An id that a party or an operator chooses (a party's, an agreement's, a notice's, a plan's, a
volume's, a webhook's) is 1 to 64 characters of ``A-Z a-z 0-9 . _ ~ -`` (RFC 3986's unreserved
characters), starting with a letter or a digit. Such an id travels unchanged and unescaped in
URL paths, headers, event ids, ledger entries, file names and the operations view, and compares
equal only to itself (no case folding, no Unicode look-alikes, no separators).

A notice's or a plan's id belongs to its party: two parties may each have a notice ``N1``, and
filing with an id another party holds answers exactly as a free id does (an id taken by a hidden
record would otherwise tell that the record exists: security.md §3.2). The hub keys such a record
by :func:`record_key`, ``<party>/<id>``; ``/`` is outside the alphabet, so a key splits one way.
Ids the hub makes itself (conflicts, notifications) are hub-wide and keyed by a secret, so they
name nothing a party could guess (see ``hub.detector``).

Free text (a party's name, a notice's category) is 1 to 200 printable characters: no control,
format or separator characters (no NUL, no line breaks, no bidirectional overrides), so it
cannot forge a log line or reorder what is shown around it; it is always shown as text.

These rules are checked where input enters (the hub's methods, the API, the importers); records
read back from a store are not checked again, so one stored under older rules stays readable.
"""

from __future__ import annotations

import re

from deconflict.errors import InvalidInput

__all__ = [
    "ID_MAX",
    "ID_PATTERN",
    "TEXT_MAX",
    "check_id",
    "check_text",
    "is_id",
    "record_key",
    "split_key",
]

#: The longest chosen id.
ID_MAX = 64
#: A chosen id, as a regular expression (also what the OpenAPI document says).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$"

#: The longest free text.
TEXT_MAX = 200

_ID = re.compile(ID_PATTERN)
_SEPARATOR = "/"


def is_id(value: object) -> bool:
    """Whether ``value`` is a chosen id (a string in the alphabet, 1 to 64 characters)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(value: object, what: str) -> str:
    """``value`` if it is a chosen id, else InvalidInput naming ``what`` and the rule (the
    value itself is quoted only when it is short and printable: it may be anything)."""
    if is_id(value):
        return value  # type: ignore[return-value]  # is_id checked it is a str
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    shown = f" {value!r}" if len(value) <= ID_MAX and value.isprintable() else ""
    raise InvalidInput(
        f"{what}{shown} is not an id: 1 to {ID_MAX} characters of A-Z a-z 0-9 . _ ~ -, "
        "starting with a letter or a digit"
    )


def check_text(value: object, what: str) -> str:
    """``value`` if it is free text (1 to 200 printable characters), else InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > TEXT_MAX:
        raise InvalidInput(f"{what} is longer than {TEXT_MAX} characters")
    if not value.isprintable():
        raise InvalidInput(
            f"{what} holds a control, format or separator character (only printable text)"
        )
    return value


def record_key(party: str, record_id: str) -> str:
    """The hub-wide key of ``party``'s notice or plan ``record_id``."""
    return f"{party}{_SEPARATOR}{record_id}"


def split_key(key: str) -> tuple[str, str]:
    """(party, id) of a :func:`record_key`."""
    party, separator, record_id = key.partition(_SEPARATOR)
    if not separator:
        raise ValueError(f"{key!r} is not a record key")
    return party, record_id
