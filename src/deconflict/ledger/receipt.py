"""Receipts: one entry, its inclusion proof and a signed checkpoint, checkable offline.

A receipt is itself canonical JSON (RFC 8785), one object::

    {"checkpoint": "<signed note>", "entry": {...}, "format": "deconflict-receipt/1",
     "inclusion_proof": ["<base64 hash>", ...], "index": 12}

:func:`verify_receipt` needs nothing but the receipt's bytes and the hub's verifier key: it checks
the checkpoint's signature, then that the entry's leaf hash at ``index`` leads to the checkpoint's
root. Because the file must be exactly canonical (one trailing newline allowed) and every hash is
canonical base64, a receipt with any byte changed does not verify.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deconflict.errors import VerificationFailed
from deconflict.ledger.commit import canonical, parse_canonical
from deconflict.ledger.merkle import leaf_hash, verify_inclusion
from deconflict.ledger.note import Checkpoint, Verifier, b64decode_strict

__all__ = ["FORMAT", "Receipt", "make_receipt", "verify_receipt"]

FORMAT = "deconflict-receipt/1"
_KEYS = {"checkpoint", "entry", "format", "inclusion_proof", "index"}


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified receipt: the entry, where it is, and the checkpoint it is proven under."""

    entry: dict[str, Any]
    index: int
    checkpoint: Checkpoint
    note: str
    proof: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        """The receipt file: canonical JSON and a newline."""
        return make_receipt(self.entry, self.index, self.proof, self.note)


def make_receipt(
    entry: dict[str, Any], index: int, proof: Sequence[bytes], checkpoint_note: str
) -> bytes:
    """The receipt file for ``entry`` at ``index`` under the signed ``checkpoint_note``."""
    document = {
        "checkpoint": checkpoint_note,
        "entry": entry,
        "format": FORMAT,
        "inclusion_proof": [base64.b64encode(p).decode() for p in proof],
        "index": index,
    }
    return canonical(document) + b"\n"


def verify_receipt(raw: bytes, verifier: Verifier) -> Receipt:
    """The receipt in ``raw`` once every check passes, else VerificationFailed saying why."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    document = parse_canonical(body, "receipt")
    if not isinstance(document, dict) or set(document) != _KEYS:
        raise VerificationFailed(f"receipt: expected exactly the fields {sorted(_KEYS)}")
    if document["format"] != FORMAT:
        raise VerificationFailed(f"receipt: unknown format {document['format']!r}")
    entry, index, proof, note = (
        document["entry"],
        document["index"],
        document["inclusion_proof"],
        document["checkpoint"],
    )
    if not isinstance(entry, dict):
        raise VerificationFailed("receipt: the entry is not a JSON object")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise VerificationFailed("receipt: the index is not a non-negative integer")
    if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        raise VerificationFailed("receipt: the inclusion proof is not a list of hashes")
    if not isinstance(note, str):
        raise VerificationFailed("receipt: the checkpoint is not a signed note")
    hashes = tuple(b64decode_strict(p, "receipt proof hash") for p in proof)
    if any(len(h) != 32 for h in hashes):
        raise VerificationFailed("receipt: a proof hash is not 32 bytes")
    checkpoint = verifier.open_checkpoint(note)
    verify_inclusion(leaf_hash(canonical(entry)), index, checkpoint.size, hashes, checkpoint.root)
    return Receipt(entry, index, checkpoint, note, hashes)
