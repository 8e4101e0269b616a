"""ledger: the append-only Merkle log (RFC 9162 hashing and proofs), C2SP signed checkpoints,
salted commitments, receipts, the audits that check them offline, the entries themselves
(:mod:`deconflict.ledger.entries`, built from plain values), and the secret order in which
entries written at one time are appended (:mod:`deconflict.ledger.unlinked`).

Standalone: it knows no store, model or SQL (it imports only :mod:`deconflict.errors`; make lint
checks it), so an arbiter can verify a receipt with this package and a public key alone, and an
entry's bytes depend on nothing but the values it is built from.
"""

from deconflict.ledger.audit import LogReport, check_checkpoints, check_extension, verify_log
from deconflict.ledger.commit import (
    Opening,
    canonical,
    commit,
    parse_canonical,
    verify_opening,
)
from deconflict.ledger.keyfile import read_key_file, write_key_file
from deconflict.ledger.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    NodeKey,
    NodeReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_perfect_nodes,
    node_hash,
    root_hash,
    sibling_keys,
    verify_consistency,
    verify_inclusion,
)
from deconflict.ledger.note import Checkpoint, Signer, Verifier
from deconflict.ledger.receipt import Receipt, make_private_receipt, make_receipt, verify_receipt

__all__ = [
    "EMPTY_ROOT",
    "Checkpoint",
    "LogReport",
    "MemoryTree",
    "NodeKey",
    "NodeReader",
    "Opening",
    "Receipt",
    "Signer",
    "Verifier",
    "canonical",
    "check_checkpoints",
    "check_extension",
    "commit",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "make_private_receipt",
    "make_receipt",
    "new_perfect_nodes",
    "node_hash",
    "parse_canonical",
    "read_key_file",
    "root_hash",
    "sibling_keys",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "verify_opening",
    "verify_receipt",
    "write_key_file",
]
