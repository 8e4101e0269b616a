"""Signed checkpoints: the C2SP signed-note and checkpoint formats with Ed25519 keys.

A checkpoint (c2sp.org/tlog-checkpoint) is the text ``<origin>\\n<tree size>\\n<base64 root>\\n``;
a signed note (c2sp.org/signed-note) is that text, a blank line, and one line per signature,
``— <key name> <base64(key id || signature)>``, where the key id is the first 4 bytes of
``SHA-256(key name || 0x0A || 0x01 || public key)`` (0x01: Ed25519) and the signature is over the
text before the blank line. A verifier key is written ``<name>+<hex key id>+<base64(0x01 ||
public key)>``, and a signer key (golang.org/x/mod/sumdb/note's format, so other tools read it)
``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || private key)>``. Parsing is strict (canonical
base64 and decimal, no stray bytes), so a note with any byte changed either fails to parse or
fails its signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deconflict.errors import InvalidInput, VerificationFailed

__all__ = ["Checkpoint", "Signer", "Verifier", "b64decode_strict", "key_id"]

_ED25519 = b"\x01"
_DASH = "\u2014"
_NAME = re.compile(r"[^\s+]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key called ``name`` (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64 that re-encodes to exactly ``text``, else VerificationFailed."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed(f"{what}: not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise VerificationFailed(f"{what}: not canonical base64")
    return raw


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"key name {name!r}: must be non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's state: its origin (the log's name), tree size and root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The checkpoint text that is signed."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """A checkpoint from its text (extension lines are not used here, so refused)."""
        lines = body.split("\n")
        if len(lines) != 4 or lines[3] != "":
            raise VerificationFailed("checkpoint: expected origin, size and root lines")
        origin, size, root = lines[:3]
        if not origin or origin != origin.strip():
            raise VerificationFailed("checkpoint: bad origin line")
        if not _DECIMAL.fullmatch(size):
            raise VerificationFailed(f"checkpoint: bad tree size {size!r}")
        raw = b64decode_strict(root, "checkpoint root")
        if len(raw) != 32:
            raise VerificationFailed("checkpoint: the root is not 32 bytes")
        return cls(origin, int(size), raw)


class Signer:
    """An Ed25519 note signer: a key name and a private key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = _check_name(name)
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, name: str, raw: bytes) -> Signer:
        """A signer from the 32-byte raw private key (as :meth:`private_bytes` gives it)."""
        try:
            return cls(name, Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as error:
            raise InvalidInput(f"key {name!r}: not an Ed25519 private key ({error})") from None

    @classmethod
    def parse(cls, text: str) -> Signer:
        """A signer from its signer key, ``PRIVATE+KEY+<name>+<hex key id>+<base64 key>``."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InvalidInput("signer key: expected PRIVATE+KEY+<name>+<key id>+<key>")
        name, hex_id, encoded = parts[2:]
        try:
            raw = b64decode_strict(encoded, "signer key")
        except VerificationFailed as error:
            raise InvalidInput(str(error)) from None
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise InvalidInput("signer key: not an Ed25519 key")
        signer = cls.from_private_bytes(_check_name(name), raw[1:])
        if signer.key_id.hex() != hex_id:
            raise InvalidInput("signer key: the key id does not match the key")
        return signer

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose``, derived from the private key (keyed BLAKE2b): a
        file the hub keeps beside its data is authenticated with it, so whoever can forge one
        could sign checkpoints too."""
        return hashlib.blake2b(
            purpose.encode(), key=self.private_bytes(), digest_size=32, person=b"deconflict"
        ).digest()

    @property
    def signer_key(self) -> str:
        """``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || private key)>``: a secret."""
        encoded = base64.b64encode(_ED25519 + self.private_bytes()).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{encoded}"

    def private_bytes(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def verifier_key(self) -> str:
        """``<name>+<hex key id>+<base64(0x01 || public key)>``."""
        encoded = base64.b64encode(_ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verifier(self) -> Verifier:
        return Verifier.parse(self.verifier_key)

    def sign(self, body: str) -> str:
        """The signed note: ``body``, a blank line, this key's signature line."""
        if not body.endswith("\n"):
            raise InvalidInput("a note's text must end with a newline")
        signature = self._key.sign(body.encode())
        encoded = base64.b64encode(self.key_id + signature).decode()
        return f"{body}\n{_DASH} {self.name} {encoded}\n"

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        return self.sign(checkpoint.body())


@dataclass(frozen=True, slots=True)
class Verifier:
    """An Ed25519 note verifier, from a verifier key string."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise VerificationFailed("verifier key: expected <name>+<key id>+<key>")
        name, hex_id, encoded = parts
        if not _NAME.fullmatch(name) or not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise VerificationFailed("verifier key: bad name or key id")
        raw = b64decode_strict(encoded, "verifier key")
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise VerificationFailed("verifier key: not an Ed25519 key")
        if key_id(name, raw[1:]) != bytes.fromhex(hex_id):
            raise VerificationFailed("verifier key: the key id does not match the key")
        return cls(name, bytes.fromhex(hex_id), raw[1:])

    def open(self, note: str) -> str:
        """The text of ``note`` if it carries a valid signature by this key, else
        VerificationFailed. Signatures by other keys are ignored."""
        body, sep, signatures = note.rpartition("\n\n")
        if not sep or not signatures.endswith("\n"):
            raise VerificationFailed("signed note: no signature block")
        body += "\n"
        public = Ed25519PublicKey.from_public_bytes(self.public_key)
        found = False
        for line in signatures[:-1].split("\n"):
            match = re.fullmatch(rf"{_DASH} (\S+) (\S+)", line)
            if match is None:
                raise VerificationFailed("signed note: malformed signature line")
            name, encoded = match.groups()
            raw = b64decode_strict(encoded, "note signature")
            if name != self.name or raw[:4] != self.key_id:
                continue
            if len(raw) != 68:
                raise VerificationFailed("signed note: the signature is not 64 bytes")
            try:
                public.verify(raw[4:], body.encode())
            except InvalidSignature:
                raise VerificationFailed(
                    f"signed note: the signature by {self.name!r} does not verify"
                ) from None
            found = True
        if not found:
            raise VerificationFailed(f"signed note: no signature by key {self.name!r}")
        return body

    def open_checkpoint(self, note: str) -> Checkpoint:
        """The checkpoint in a signed note, once its signature by this key is checked."""
        return Checkpoint.parse(self.open(note))
