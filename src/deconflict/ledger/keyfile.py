"""The signing key in a file of its own: read it, or make it once, readable by its owner only
(:func:`read_private_text` and :func:`create_private_text` keep any such file: the webhook key's
too).

The file holds one line, the signer key (:attr:`Signer.signer_key`,
``PRIVATE+KEY+<name>+<hex key id>+<base64 key>``). A new file is written under a temporary name
with mode 0600, flushed to disk, then linked to its name, which fails if the name exists: two
processes that make the key at once never see a half-written file, and the one that loses reads
the winner's key. A key file others may read is refused.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from deconflict.errors import InvalidDocument, InvalidInput
from deconflict.ledger.note import Signer

__all__ = [
    "create_private_text",
    "read_key_file",
    "read_private_text",
    "sync_folder",
    "write_key_file",
]


def read_private_text(path: Path, what: str) -> str | None:
    """The text of the owner-only file at ``path`` holding ``what`` (e.g. "the ledger key");
    None if there is no such file; InvalidDocument if it cannot be read or others may read it."""
    try:
        with path.open("r", encoding="ascii") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidDocument(f"{path}: cannot read {what} ({error})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidDocument(
            f"{path}: {what} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    return text


def create_private_text(path: Path, text: str, what: str) -> str:
    """Write ``text`` (``what``) to a new owner-only file at ``path`` (mode 0600), atomically;
    if one appeared there meanwhile, leave it and return the text it holds."""
    if not path.parent.is_dir():
        raise InvalidDocument(f"{path}: cannot make {what} (no such directory)")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            found = read_private_text(path, what)
            if found is None:  # pragma: no cover - removed between link and read
                raise InvalidDocument(f"{path}: {what} vanished") from None
            return found
    except OSError as error:
        raise InvalidDocument(f"{path}: cannot write {what} ({error})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    sync_folder(path.parent)
    return text


def read_key_file(path: Path) -> Signer | None:
    """The signer in the key file at ``path``; None if there is no such file."""
    text = read_private_text(path, "the ledger key")
    return None if text is None else _parse(path, text)


def _parse(path: Path, text: str) -> Signer:
    try:
        return Signer.parse(text)
    except InvalidInput as error:
        raise InvalidDocument(f"{path}: not a ledger signing key ({error})") from None


def write_key_file(path: Path, signer: Signer) -> Signer:
    """Write ``signer`` to a new key file at ``path`` (mode 0600); if one appeared there
    meanwhile, leave it and return the signer it holds."""
    text = signer.signer_key + "\n"
    found = create_private_text(path, text, "the ledger key")
    return signer if found == text else _parse(path, found)


def sync_folder(folder: Path) -> None:
    """Make the new name durable (POSIX: fsync the directory)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
