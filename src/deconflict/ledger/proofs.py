"""The proof documents, as the API serves them and the CLI prints them (one writer for both):
an entry with its inclusion proof, and a consistency proof between two tree sizes (RFC 9162
audit paths, each hash in base64)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

__all__ = ["consistency_document", "hashes", "inclusion_document"]


def hashes(proof: Sequence[bytes]) -> list[str]:
    """A proof's hashes, base64."""
    return [base64.b64encode(item).decode() for item in proof]


def inclusion_document(
    index: int, tree_size: int, entry: dict[str, Any], proof: Sequence[bytes]
) -> dict[str, Any]:
    """The entry at ``index`` and its inclusion proof in the tree of ``tree_size``."""
    return {"index": index, "tree_size": tree_size, "entry": entry, "proof": hashes(proof)}


def consistency_document(first: int, second: int, proof: Sequence[bytes]) -> dict[str, Any]:
    """The proof that the tree of size ``second`` extends the tree of size ``first``."""
    return {"first": first, "second": second, "proof": hashes(proof)}
