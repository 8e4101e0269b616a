"""Signed checkpoints, verifier keys, commitments, receipts and the log audit, all offline."""

from __future__ import annotations

import base64
import hashlib

import pytest

from deconflict.errors import ForkDetected, VerificationFailed
from deconflict.ledger import (
    Checkpoint,
    MemoryTree,
    Signer,
    Verifier,
    canonical,
    check_checkpoints,
    check_extension,
    commit,
    make_receipt,
    verify_log,
    verify_opening,
    verify_receipt,
)
from deconflict.ledger.commit import Opening

NAME = "example.org/log"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(NAME)


def test_key_id_and_verifier_key_follow_c2sp(signer):
    """Key id = SHA-256(name || 0x0A || 0x01 || key)[:4]; the key string round-trips."""
    expected = hashlib.sha256(NAME.encode() + b"\n\x01" + signer.public_key).digest()[:4]
    assert signer.key_id == expected
    name, hex_id, key = signer.verifier_key.split("+", 2)
    assert (name, hex_id) == (NAME, expected.hex())
    assert base64.b64decode(key) == b"\x01" + signer.public_key
    assert Verifier.parse(signer.verifier_key) == signer.verifier()


def test_checkpoint_note_layout_and_verification(signer):
    """origin, size, base64 root, blank line, '— name base64(id||sig)'."""
    root = hashlib.sha256(b"x").digest()
    note = signer.sign_checkpoint(Checkpoint(NAME, 7, root))
    lines = note.split("\n")
    assert lines[:4] == [NAME, "7", base64.b64encode(root).decode(), ""]
    assert lines[4].startswith(f"\u2014 {NAME} ")
    assert len(base64.b64decode(lines[4].split(" ")[2])) == 68
    assert signer.verifier().open_checkpoint(note) == Checkpoint(NAME, 7, root)


def test_a_note_with_any_byte_changed_fails(signer):
    """Flipping any bit of any byte of a signed checkpoint breaks it."""
    note = signer.sign_checkpoint(Checkpoint(NAME, 12, hashlib.sha256(b"y").digest())).encode()
    verifier = signer.verifier()
    for i in range(len(note)):
        changed = bytearray(note)
        changed[i] ^= 0x01
        with pytest.raises(VerificationFailed):
            verifier.open_checkpoint(changed.decode("utf-8", errors="replace"))


def test_another_key_does_not_verify(signer):
    """A note signed by another key of the same name is refused."""
    note = Signer.generate(NAME).sign_checkpoint(Checkpoint(NAME, 1, bytes(32)))
    with pytest.raises(VerificationFailed):
        signer.verifier().open_checkpoint(note)


def test_commitment_opens_only_with_its_salt_and_content():
    """The opening verifies; another content or salt does not."""
    opening = commit({"id": "RU-N3", "volumes": [1, 2]})
    verify_opening(opening)
    verify_opening(Opening.from_json(opening.to_json()), opening.commitment)
    with pytest.raises(VerificationFailed):
        verify_opening(Opening(opening.commitment, opening.salt, {"id": "RU-N4"}))
    with pytest.raises(VerificationFailed):
        verify_opening(Opening(opening.commitment, bytes(32), opening.content))
    with pytest.raises(VerificationFailed):
        verify_opening(opening, "0" * 64)


def _log(signer: Signer, size: int) -> tuple[list[dict[str, object]], MemoryTree]:
    entries = [{"type": "test", "n": i} for i in range(size)]
    tree = MemoryTree()
    for entry in entries:
        tree.append(canonical(entry))
    return entries, tree


def test_receipt_verifies_and_any_changed_byte_fails(signer):
    """A receipt verifies offline; each single-byte change to the file fails."""
    entries, tree = _log(signer, 11)
    note = signer.sign_checkpoint(Checkpoint(NAME, 11, tree.root()))
    raw = make_receipt(entries[6], 6, tree.inclusion(6), note)
    verifier = signer.verifier()
    receipt = verify_receipt(raw, verifier)
    assert (receipt.entry, receipt.index, receipt.checkpoint.size) == (entries[6], 6, 11)
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        with pytest.raises(VerificationFailed):
            verify_receipt(bytes(changed), verifier)


def test_extension_and_forks(signer):
    """A later checkpoint with its proof extends; a rollback or a rewrite is a fork."""
    _, tree = _log(signer, 10)
    held = Checkpoint(NAME, 6, tree.root(6))
    check_extension(held, Checkpoint(NAME, 10, tree.root()), tree.consistency(6))
    with pytest.raises(ForkDetected):
        check_extension(held, Checkpoint(NAME, 4, tree.root(4)), [])
    _, other = _log(signer, 3)
    other.append(b"rewritten")
    for i in range(4, 10):
        other.append(canonical({"type": "test", "n": i}))
    with pytest.raises(ForkDetected):
        check_extension(held, Checkpoint(NAME, 10, other.root()), other.consistency(6))
    notes = [
        signer.sign_checkpoint(Checkpoint(NAME, 10, tree.root())),
        signer.sign_checkpoint(Checkpoint(NAME, 10, other.root())),
    ]
    with pytest.raises(ForkDetected):
        check_checkpoints(notes, signer.verifier())


def _stored(tree: MemoryTree) -> dict[tuple[int, int], bytes]:
    return {(lv, i): h for lv, level in enumerate(tree.levels) for i, h in enumerate(level)}


def test_verify_log_names_the_first_bad_index(signer):
    """Changed, missing, reordered entries and a rollback: each named."""
    entries, tree = _log(signer, 9)
    bodies = [(i, canonical(e)) for i, e in enumerate(entries)]
    notes = [signer.sign_checkpoint(Checkpoint(NAME, n, tree.root(n))) for n in (4, 9)]
    verifier = signer.verifier()
    assert verify_log(bodies, _stored(tree), 9, notes, verifier).size == 9
    changed = list(bodies)
    changed[5] = (5, changed[5][1].replace(b"5", b"6"))
    with pytest.raises(VerificationFailed, match="first bad index 5"):
        verify_log(changed, _stored(tree), 9, notes, verifier)
    with pytest.raises(VerificationFailed, match="first bad index 3"):
        verify_log(bodies[:3] + bodies[4:], _stored(tree), 9, notes, verifier)
    swapped = list(bodies)
    swapped[2], swapped[7] = (2, bodies[7][1]), (7, bodies[2][1])
    with pytest.raises(VerificationFailed, match="first bad index 2"):
        verify_log(swapped, _stored(tree), 9, notes, verifier)
    rolled = MemoryTree(tree.levels[0][:6])
    with pytest.raises(VerificationFailed, match="rolled back"):
        verify_log(bodies[:6], _stored(rolled), 6, notes, verifier)
