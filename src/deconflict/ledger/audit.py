"""Audits: recompute a whole stored log, and check that checkpoints cannot fork.

:func:`verify_log` is what ``deconflict ledger verify`` runs. It rebuilds the tree from the stored
entries alone and compares it with everything else that was stored (the leaf and subtree hashes,
the size, every signed checkpoint). It raises on the first bad index it can name: an entry whose
hash differs from the one stored when it was appended (changed, reordered, inserted or removed),
an entry missing from the sequence, or, when hashes were rewritten too, the range between the last
checkpoint that still holds and the first that does not. Checkpoints that cannot both be true are
:class:`~deconflict.errors.ForkDetected`.

:func:`check_extension` is what a party that holds a checkpoint runs against a newer one: the
newer must be at least as large and come with a consistency proof from the older.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from deconflict.errors import ForkDetected, VerificationFailed
from deconflict.ledger.merkle import MemoryTree, NodeKey, leaf_hash, verify_consistency
from deconflict.ledger.note import Checkpoint, Verifier

__all__ = ["LogReport", "check_checkpoints", "check_extension", "verify_log"]


@dataclass(frozen=True, slots=True)
class LogReport:
    """A log that verified: its size, root, and how many checkpoints were checked."""

    size: int
    root: bytes
    checkpoints: int


def check_extension(held: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise ForkDetected unless ``newer`` extends ``held`` (same log, not smaller, consistent)."""
    if held.origin != newer.origin:
        raise VerificationFailed(f"checkpoints of two logs ({held.origin!r}, {newer.origin!r})")
    if newer.size < held.size:
        raise ForkDetected(
            f"the log was rolled back: it is now {newer.size} entries, "
            f"but a checkpoint of {held.size} was signed"
        )
    try:
        verify_consistency(held.size, newer.size, held.root, newer.root, proof)
    except VerificationFailed as error:
        raise ForkDetected(
            f"the checkpoint of size {newer.size} does not extend the one of size {held.size} "
            f"({error})"
        ) from None


def check_checkpoints(notes: Iterable[str], verifier: Verifier) -> list[Checkpoint]:
    """The checkpoints in ``notes``, each signature checked, sorted by size; ForkDetected when
    two of the same size have different roots."""
    seen: dict[int, Checkpoint] = {}
    for number, note in enumerate(notes, 1):
        try:
            checkpoint = verifier.open_checkpoint(note)
        except VerificationFailed as error:
            raise VerificationFailed(f"stored checkpoint #{number}: {error}") from None
        other = seen.setdefault(checkpoint.size, checkpoint)
        if other.root != checkpoint.root or other.origin != checkpoint.origin:
            raise ForkDetected(f"two signed checkpoints of size {checkpoint.size} differ")
    return [seen[size] for size in sorted(seen)]


def verify_log(
    entries: Iterable[tuple[int, bytes]],
    stored_nodes: Mapping[NodeKey, bytes],
    stored_size: int,
    notes: Iterable[str],
    verifier: Verifier,
) -> LogReport:
    """Recompute the log from ``entries`` (index, canonical JSON; in index order) and check it
    against the stored hashes, size and signed checkpoints; VerificationFailed naming the first
    bad index otherwise."""
    checkpoints = check_checkpoints(notes, verifier)
    leaves: list[bytes] = []
    problems: list[tuple[int, str]] = []
    for position, (index, body) in enumerate(entries):
        if index != position:
            problems.append((position, f"entry {position} is missing"))
            break
        leaf = leaf_hash(body)
        stored = stored_nodes.get((0, index))
        if stored is None:
            problems.append((index, f"entry {index} was not appended through the log"))
            break
        if stored != leaf:
            problems.append((index, f"entry {index} differs from what was appended"))
            break
        leaves.append(leaf)
    tree = MemoryTree(leaves)
    size = tree.size
    changed: list[tuple[int, int]] = []  # (level, start) of the subtree hashes that differ
    for (level, i), value in stored_nodes.items():
        start = i << level
        if (i + 1) << level > size:  # a hash over entries that are gone (from the end)
            if not problems:
                problems.append((size, f"entry {size} is missing"))
        elif tree.levels[level][i] != value:
            changed.append((level, start))
    if changed:  # the lowest such subtree names the change most closely
        level, start = min(changed)
        end = start + (1 << level) - 1
        problems.append((start, f"the hashes over entries {start}..{end} were changed"))
    if stored_size != size:
        first = min(size, stored_size)
        problems.append((first, f"the log says {stored_size} entries but holds {size}"))
    good = 0
    for checkpoint in checkpoints:
        if checkpoint.size > size:
            problems.append(
                (size, f"the log was rolled back: {size} entries, but {checkpoint.size} signed")
            )
            break
        if tree.root(checkpoint.size) != checkpoint.root:
            problems.append(
                (
                    good,
                    f"entries {good}..{checkpoint.size - 1} changed after checkpoint "
                    f"{checkpoint.size} was signed",
                )
            )
            break
        good = checkpoint.size
    if problems:
        index, message = min(problems)
        raise VerificationFailed(f"first bad index {index}: {message}")
    return LogReport(size, tree.root(), len(checkpoints))
