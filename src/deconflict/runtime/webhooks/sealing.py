"""Webhook secrets at rest: sealed in the database with the hub's webhook key, kept in a file.

A webhook's secret signs each delivery (HMAC-SHA256 under Standard Webhooks' scheme), so whoever
reads it can sign as the hub to that party's receiver. The database therefore holds each secret
only sealed (AES-256-GCM) under a key that is not in the database: a 256-bit key in a file beside
the ledger key (the ``webhook-key`` setting; by default ``<db>.webhook-key`` beside the SQLite
file, ``<state-dir>/hub.webhook-key`` for a database URL), made with mode 0600 on first use and
refused if others may read it (the ledger key file's rules: :mod:`deconflict.ledger.keyfile`).
A reader of the database, its WAL or a backup learns the URL and the cursor, never the secret.

Sealed, a secret is ``v1.<key id>.<base64url(nonce, ciphertext and tag)>``. The associated data
is the party: a sealed secret copied into another party's row does not open. The key id (hex of
the first 8 bytes of SHA-256 over the key) tells a secret sealed with another key apart from a
damaged one.

Every hub process on one database must read the same key file (the same path on one machine, a
copy with mode 0600 on each of several), as for the ledger key; restarts read it again. A lost
(or another) key file: the next start makes a new key, and the secrets sealed with the old one
cannot be opened, so the sender does not send those webhooks (a warning names each) and
``GET /v1/webhook`` shows ``secret_lost: true`` until the party sets its webhook again (a new
secret; its cursor stays, so what was not yet delivered is sent then). Nothing is signed with a
secret the hub no longer knows, and nothing unsigned is sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deconflict.errors import InvalidDocument, VerificationFailed
from deconflict.ledger.keyfile import create_private_text, read_private_text

__all__ = ["SecretLost", "WebhookKey"]

_FILE_PREFIX = "WEBHOOK+KEY+"
_VERSION = "v1"
_WHAT = "the webhook key"


class SecretLost(VerificationFailed):
    """A sealed webhook secret this hub cannot open: sealed with another key (the key file was
    lost or differs between processes) or damaged."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class WebhookKey:
    """The hub's key for webhook secrets at rest."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a webhook key is 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).digest()[:8].hex()

    @classmethod
    def generate(cls) -> WebhookKey:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def load(cls, path: Path) -> WebhookKey:
        """The key in the file at ``path``, made there (mode 0600) if there is none; two
        processes making it at once end up with the same key."""
        text = read_private_text(path, _WHAT)
        if text is None:
            text = create_private_text(
                path, _FILE_PREFIX + _b64(AESGCM.generate_key(bit_length=256)) + "\n", _WHAT
            )
        if not text.startswith(_FILE_PREFIX):
            raise InvalidDocument(f"{path}: not a webhook key (it starts {_FILE_PREFIX})")
        try:
            return cls(_unb64(text[len(_FILE_PREFIX) :].strip()))
        except (ValueError, binascii.Error):
            raise InvalidDocument(f"{path}: not a webhook key (32 bytes, base64url)") from None

    @staticmethod
    def _context(party: str) -> bytes:
        return b"deconflict webhook secret\x00" + party.encode("utf-8")

    def seal(self, party: str, secret: str) -> str:
        """``party``'s ``secret`` sealed for the database."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), self._context(party))
        return f"{_VERSION}.{self.key_id}.{_b64(nonce + sealed)}"

    def sealed_with(self, sealed: str) -> str:
        """The key id ``sealed`` names ("" if it names none)."""
        version, _, rest = sealed.partition(".")
        return rest.partition(".")[0] if version == _VERSION else ""

    def open(self, party: str, sealed: str) -> str:
        """``party``'s secret from ``sealed``; SecretLost if this key cannot open it."""
        key_id = self.sealed_with(sealed)
        if key_id != self.key_id:
            raise SecretLost(
                f"the webhook secret of {party!r} was sealed with webhook key "
                f"{key_id or '(none)'}, and this hub holds {self.key_id}: give every hub "
                "process the same webhook key file, or have the party set its webhook again"
            )
        try:
            blob = _unb64(sealed.rsplit(".", 1)[1])
            opened = self._aead.decrypt(blob[:12], blob[12:], self._context(party))
        except (InvalidTag, ValueError, binascii.Error):
            raise SecretLost(
                f"the webhook secret of {party!r} does not open: set the webhook again"
            ) from None
        return opened.decode("utf-8")
