"""The hub's ledger signing key: kept in a key file, never in the database.

Whoever can sign checkpoints can rewrite what the log says, so the private key is kept apart from
the data: in a file (the ``ledger-key`` setting; by default beside the SQLite file, or in the
state folder for a database URL), made with mode 0600 on first use. The database keeps only the
public half, registered by the first hub that signs (``ledger_public_keys``), so every hub process
on one database checks that it holds the very key the log is signed with: a process given another
key file, or none where the log already has a key, refuses to sign (one clear error) rather than
fork the log with a second key. Several processes on one PostgreSQL therefore read the same file:
the same path on one machine, a copy of it on each of several.

Hubs before migration 0003 kept the private key in ``ledger_keys``. Opening such a log moves it:
the key is written to the key file (or found already there), registered, then erased from the
database, with a warning; the log's name and key stay the same, so every old checkpoint still
verifies. The erased key may still sit in old backups of the database: rotate by starting a new
log if those are not as well guarded as the key file.

Beside the key, in ``<key file>.signed``, the hub keeps the newest checkpoint it signed
(:func:`note_signed`, owner-only, replaced atomically, never moved back to a smaller one). The
database's own copy of its checkpoints can be deleted with the entries they cover; this one is
where the key is, so the hub can tell, before it signs again, that the log it is asked to sign no
longer extends what it already signed (:class:`~deconflict.hub.ledger.HubLedger`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
from pathlib import Path

from deconflict import owner_only
from deconflict.errors import LedgerBroken, VerificationFailed
from deconflict.ledger import Checkpoint, Signer, Verifier, read_key_file, write_key_file
from deconflict.ledger.keyfile import sync_folder
from deconflict.store.ledger_base import LedgerKeys

__all__ = ["KeyMismatch", "load_signer", "newest_signed", "note_signed", "signed_path"]

log = logging.getLogger("deconflict.ledger")


class KeyMismatch(VerificationFailed):
    """The key file's key is not the key the log is signed with (or it is missing): the hub is
    misconfigured and must not sign."""

    status = 503


def load_signer(store: LedgerKeys, path: Path, at_s: float) -> Signer:
    """The signer of ``store``'s log, from the key file at ``path`` (made if the log has no key
    yet, or moved there from a pre-0003 database); KeyMismatch if it is not the log's key."""
    signer = read_key_file(path)
    legacy = store.ledger_legacy_key()
    if legacy is not None:
        old = Signer.from_private_bytes(*legacy)
        if signer is None:
            signer = write_key_file(path, old)
        store.ledger_register_key(old.name, old.verifier_key, at_s)
    if signer is None:
        known = store.ledger_public_key()
        if known is not None:
            signer = read_key_file(path)  # another process on this database may just have made it
        if known is not None and signer is None:
            raise KeyMismatch(
                f"the ledger key file {path} is missing, and this log is signed with {known}: "
                "give every hub process on this database the same key file (DECONFLICT_LEDGER_KEY)"
            )
        if signer is None:
            signer = write_key_file(path, Signer.generate(f"deconflict.hub/{secrets.token_hex(4)}"))
    registered = store.ledger_register_key(signer.name, signer.verifier_key, at_s)
    if registered != signer.verifier_key:
        raise KeyMismatch(
            f"the ledger key file {path} holds {signer.verifier_key}, but this log is signed "
            f"with {registered}: give every hub process on this database the same key file "
            "(DECONFLICT_LEDGER_KEY)"
        )
    if legacy is not None:
        store.ledger_forget_legacy_key(legacy[0])
        log.warning(
            "the ledger signing key %s was moved out of the database into %s (mode 0600); "
            "old database backups still hold it",
            signer.name,
            path,
        )
    return signer


def signed_path(key_path: Path) -> Path:
    """Where the newest checkpoint signed with the key at ``key_path`` is kept."""
    return key_path.with_name(key_path.name + ".signed")


def newest_signed(key_path: Path, verifier: Verifier) -> tuple[Checkpoint, str] | None:
    """The newest checkpoint signed with the key at ``key_path`` (and its note), None if none
    was noted; LedgerBroken if the file is there but unreadable, cut short or not signed by
    ``verifier`` (then what was signed is not known, and signing could fork the log)."""
    path = signed_path(key_path)
    try:
        note = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise LedgerBroken(
            f"the record of the last signed checkpoint, {path}, is unreadable ({error})"
        ) from None
    try:
        return verifier.open_checkpoint(note), note
    except (VerificationFailed, ValueError):
        raise LedgerBroken(
            f"the record of the last signed checkpoint, {path}, is not a checkpoint signed "
            "with this log's key (cut short or changed)"
        ) from None


def note_signed(key_path: Path, note: str, checkpoint: Checkpoint, verifier: Verifier) -> None:
    """Keep ``note`` (of ``checkpoint``) as the newest signed, unless a larger one is kept
    already (another process signed later): under a lock on the key file, written to a
    temporary file owner-only, flushed to disk and renamed over the old one."""
    path = signed_path(key_path)
    with open(key_path, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        try:
            kept = newest_signed(key_path, verifier)
        except LedgerBroken:
            kept = None  # unreadable: this hub checked the log before it signed
        if kept is not None and kept[0].size > checkpoint.size:
            return
        temporary = path.with_name(path.name + ".tmp")
        owner_only.write(temporary, note.encode())
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        sync_folder(path.parent)  # the new name too: what was signed must outlive a crash
