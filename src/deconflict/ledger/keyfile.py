"""The signing key in a file of its own: read it, or make it once, readable by its owner only.

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

__all__ = ["read_key_file", "write_key_file"]


def read_key_file(path: Path) -> Signer | None:
    """The signer in the key file at ``path``; None if there is no such file."""
    try:
        with path.open("r", encoding="ascii") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidDocument(f"{path}: cannot read the ledger key ({error})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidDocument(
            f"{path}: the ledger key is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"chmod 600 it"
        )
    try:
        return Signer.parse(text)
    except InvalidInput as error:
        raise InvalidDocument(f"{path}: not a ledger signing key ({error})") from None


def write_key_file(path: Path, signer: Signer) -> Signer:
    """Write ``signer`` to a new key file at ``path`` (mode 0600); if one appeared there
    meanwhile, leave it and return the signer it holds."""
    if not path.parent.is_dir():
        raise InvalidDocument(f"{path}: cannot make the ledger key (no such directory)")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(signer.signer_key + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            found = read_key_file(path)
            if found is None:  # pragma: no cover - removed between link and read
                raise InvalidDocument(f"{path}: the ledger key vanished") from None
            return found
    except OSError as error:
        raise InvalidDocument(f"{path}: cannot write the ledger key ({error})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _sync_folder(path.parent)
    return signer


def _sync_folder(folder: Path) -> None:
    """Make the new name durable (POSIX: fsync the directory)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
