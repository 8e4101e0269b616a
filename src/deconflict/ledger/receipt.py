"""Receipts: one entry, its inclusion proof and a signed checkpoint, checkable offline.

A receipt is itself canonical JSON (RFC 8785), one object::

    {"checkpoint": "<signed note>", "entry": {...}, "format": "deconflict-receipt/1",
     "inclusion_proof": ["<base64 hash>", ...], "index": 12}

A **private receipt** proves a party's private entry (what concerns its own plans, kept out of
the shared log: ``store.ledger_private``): the entry, the receipt of the party's digest entry
that commits to it, and the digest's opening, whose list of leaf hashes holds the entry's::

    {"digest": {<a receipt, as above>}, "entry": {...}, "format": "deconflict-private-receipt/1",
     "opening": {"commitment": "...", "content": {"entries": [...], "party": ..., "period": ...,
                 "withheld": "..."}, "salt": "..."}}

(``withheld``: the digest's commitment to the party's private entries it is not told, which it
cannot open; none in a digest written before migration 0033.)

:func:`verify_receipt` needs nothing but the receipt's bytes and the hub's verifier key: it checks
the checkpoint's signature, then that the entry's leaf hash at ``index`` leads to the checkpoint's
root. Because the file must be exactly canonical (one trailing newline allowed) and every hash is
canonical base64, a receipt with any byte changed does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deconflict.errors import VerificationFailed
from deconflict.ledger.commit import Opening, canonical, parse_canonical, verify_opening
from deconflict.ledger.merkle import leaf_hash, verify_inclusion
from deconflict.ledger.note import Checkpoint, Verifier, b64decode_strict
from deconflict.ledger.proofs import hashes

__all__ = [
    "FORMAT",
    "PRIVATE_FORMAT",
    "Receipt",
    "make_private_receipt",
    "make_receipt",
    "verify_receipt",
]

FORMAT = "deconflict-receipt/1"
PRIVATE_FORMAT = "deconflict-private-receipt/1"
_KEYS = {"checkpoint", "entry", "format", "inclusion_proof", "index"}
_PRIVATE_KEYS = {"digest", "entry", "format", "opening"}


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified receipt: the entry, where it is, and the checkpoint it is proven under (for a
    private receipt: the private entry, and where its digest is)."""

    entry: dict[str, Any]
    index: int
    checkpoint: Checkpoint
    note: str
    proof: tuple[bytes, ...]
    private: bool = False

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
        "inclusion_proof": hashes(proof),
        "index": index,
    }
    return canonical(document) + b"\n"


def make_private_receipt(entry: dict[str, Any], digest: bytes, opening: Opening) -> bytes:
    """The private receipt of ``entry``: ``digest`` is the receipt file of the digest entry
    that commits to it, ``opening`` that digest's opening."""
    document = {
        "digest": parse_canonical(digest.rstrip(b"\n"), "digest receipt"),
        "entry": entry,
        "format": PRIVATE_FORMAT,
        "opening": opening.to_json(),
    }
    return canonical(document) + b"\n"


def verify_receipt(raw: bytes, verifier: Verifier) -> Receipt:
    """The receipt in ``raw`` once every check passes, else VerificationFailed saying why."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    document = parse_canonical(body, "receipt")
    if isinstance(document, dict) and document.get("format") == PRIVATE_FORMAT:
        return _verify_private(document, verifier)
    return _verify_document(document, verifier)


def _verify_private(document: dict[str, Any], verifier: Verifier) -> Receipt:
    """A private receipt: its digest's receipt verifies, the opening opens the digest entry's
    commitment, and its list holds the entry's leaf hash."""
    if set(document) != _PRIVATE_KEYS:
        raise VerificationFailed(f"receipt: expected exactly the fields {sorted(_PRIVATE_KEYS)}")
    entry = document["entry"]
    if not isinstance(entry, dict):
        raise VerificationFailed("receipt: the private entry is not a JSON object")
    digest = _verify_document(document["digest"], verifier)
    if digest.entry.get("type") != "private.digest":
        raise VerificationFailed("receipt: the digest receipt is not of a digest entry")
    opening = Opening.from_json(document["opening"])
    verify_opening(opening, str(digest.entry.get("commitment")))
    content = opening.content
    if not isinstance(content, dict) or content.get("party") != digest.entry.get("party"):
        raise VerificationFailed("receipt: the opening is not of the digest's party")
    leaves = content.get("entries")
    if not isinstance(leaves, list) or leaf_hash(canonical(entry)).hex() not in leaves:
        raise VerificationFailed("receipt: the digest does not commit to this entry")
    return Receipt(entry, digest.index, digest.checkpoint, digest.note, digest.proof, True)


def _verify_document(document: Any, verifier: Verifier) -> Receipt:
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
