"""Canonical JSON (RFC 8785) and salted commitments, the two things an entry is made of.

An entry is the RFC 8785 canonical JSON of a small object, so the same entry always hashes the
same. What an entry records is never its content but a commitment to it:
``SHA-256(salt || canonical JSON of the content)`` with a fresh 32-byte random salt, which says
nothing about the content yet binds the hub to it. The holder of the salt and content can later
*open* the commitment to an arbiter: :func:`verify_opening` recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from typing import Any

import orjson
import rfc8785

from deconflict.errors import InvalidInput, VerificationFailed

__all__ = [
    "Opening",
    "canonical",
    "commit",
    "commit_canonical",
    "parse_canonical",
    "verify_opening",
]

SALT_BYTES = 32


def _check(value: Any, where: str) -> None:
    """RFC 8785 needs finite numbers; refuse NaN and infinities with a clear message."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{where}: {value} cannot be written as JSON")
    if isinstance(value, dict):
        for key, item in value.items():
            _check(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")


class _NotPlain(Exception):
    """A value the fast path of :func:`canonical` leaves to the reference serializer."""


_INT_LIMIT = 2**53 - 1  # RFC 8785 (I-JSON): integers beyond are refused
# An integral double under 2**53 is exact and its shortest digits are all its digits, so it is
# written as the integer (beyond, ECMAScript pads the shortest digits with zeros).
_INTEGRAL_BELOW = 2.0**53
# From here up, orjson writes a double's shortest digits with no exponent, as ECMAScript does.
_DECIMAL_FROM = 1e-4


def _number(value: float) -> float | int:
    """A double in the form the fast path writes as RFC 8785 does (see :func:`_plain`)."""
    if value.is_integer():
        if abs(value) < _INTEGRAL_BELOW:
            return int(value)
    elif abs(value) >= _DECIMAL_FROM and math.isfinite(value):
        return value
    raise _NotPlain


def _plain(value: Any) -> Any:
    """``value`` with every double in a form orjson writes as RFC 8785 does (a small integral
    one as an integer; others as they are, where the shortest digits need no exponent, as
    ECMAScript's need none), or _NotPlain for anything else the two may write differently:
    non-ASCII or non-string keys (RFC 8785 sorts by UTF-16 code units), very small doubles,
    integers out of range, other types. The exact built-in types are tested first, and the
    scalars in a dict or list inline: most of an entry, at a function call each otherwise."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                raise _NotPlain
            kind = type(item)
            if kind is str or item is None or (kind is int and -_INT_LIMIT <= item <= _INT_LIMIT):
                out[key] = item
            elif kind is float:
                out[key] = _number(item)
            else:
                out[key] = _plain(item)
        return out
    if kind is list or kind is tuple:
        items = []
        for item in value:
            kind = type(item)
            if kind is float:
                items.append(_number(item))
            elif kind is str or item is None or (kind is int and -_INT_LIMIT <= item <= _INT_LIMIT):
                items.append(item)
            else:
                items.append(_plain(item))
        return items
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        if -_INT_LIMIT <= value <= _INT_LIMIT:
            return value
        raise _NotPlain
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return _plain(dict(value))
    if isinstance(value, list | tuple):
        return _plain(list(value))
    raise _NotPlain


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of ``value`` (JSON types only).

    Most values take a fast path through orjson (sorted keys, no spaces, UTF-8; its string
    escapes are RFC 8785's, and :func:`_plain` leaves it only numbers the two write alike), at a
    sixth of the cost of ``json.dumps``; the rest, and every error, go through ``rfc8785``."""
    try:
        return orjson.dumps(_plain(value), option=orjson.OPT_SORT_KEYS)
    except (_NotPlain, orjson.JSONEncodeError):
        pass
    _check(value, "value")
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        raise InvalidInput(f"cannot write canonical JSON: {error}") from None


def parse_canonical(raw: bytes, what: str) -> Any:
    """Parse JSON that must already be in canonical form, else VerificationFailed."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # not JSON, or past what it reads
        raise VerificationFailed(f"{what}: not valid JSON") from None
    try:
        again = canonical(value)
    except InvalidInput:
        raise VerificationFailed(f"{what}: not canonical JSON") from None
    if again != raw:
        raise VerificationFailed(f"{what}: not canonical JSON (RFC 8785)")
    return value


def _digest(salt: bytes, content: Any) -> str:
    return hashlib.sha256(salt + canonical(content)).hexdigest()


@dataclass(frozen=True, slots=True)
class Opening:
    """What opens a commitment: the salt, the content and the commitment they give."""

    commitment: str
    salt: bytes
    content: Any

    def to_json(self) -> dict[str, Any]:
        return {"commitment": self.commitment, "salt": self.salt.hex(), "content": self.content}

    @classmethod
    def from_json(cls, data: Any) -> Opening:
        if not isinstance(data, dict) or set(data) != {"commitment", "salt", "content"}:
            raise VerificationFailed("opening: expected commitment, salt and content")
        commitment, salt = data["commitment"], data["salt"]
        if not isinstance(commitment, str) or not isinstance(salt, str):
            raise VerificationFailed("opening: commitment and salt must be hex strings")
        try:
            raw = bytes.fromhex(salt)
        except ValueError:
            raise VerificationFailed("opening: the salt is not hex") from None
        return cls(commitment, raw, data["content"])


def commit(content: Any) -> Opening:
    """A fresh commitment to ``content``, with its opening."""
    salt, digest = commit_canonical(canonical(content))
    return Opening(digest, salt, content)


def commit_canonical(raw: bytes, salt: bytes | None = None) -> tuple[bytes, str]:
    """A fresh (salt, commitment) for content already in canonical JSON (``raw``); ``salt``,
    if given, must be fresh random bytes (a slice of one ``os.urandom`` call for many)."""
    if salt is None:
        salt = os.urandom(SALT_BYTES)  # what secrets.token_bytes returns, two calls sooner
    elif len(salt) != SALT_BYTES:
        raise InvalidInput(f"a commitment's salt is {SALT_BYTES} bytes, not {len(salt)}")
    return salt, hashlib.sha256(salt + raw).hexdigest()


def verify_opening(opening: Opening, commitment: str | None = None) -> None:
    """Raise VerificationFailed unless ``opening`` opens its commitment (and it is
    ``commitment``, when given)."""
    if commitment is not None and opening.commitment != commitment:
        raise VerificationFailed("opening: it is for another commitment")
    if len(opening.salt) != SALT_BYTES:
        raise VerificationFailed(f"opening: the salt is not {SALT_BYTES} bytes")
    if _digest(opening.salt, opening.content) != opening.commitment:
        raise VerificationFailed("opening: salt and content do not give the commitment")
