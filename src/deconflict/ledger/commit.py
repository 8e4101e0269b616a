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
import secrets
from dataclasses import dataclass
from typing import Any

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


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of ``value`` (JSON types only)."""
    _check(value, "value")
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        raise InvalidInput(f"cannot write canonical JSON: {error}") from None


def parse_canonical(raw: bytes, what: str) -> Any:
    """Parse JSON that must already be in canonical form, else VerificationFailed."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
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


def commit_canonical(raw: bytes) -> tuple[bytes, str]:
    """A fresh (salt, commitment) for content already in canonical JSON (``raw``)."""
    salt = secrets.token_bytes(SALT_BYTES)
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
