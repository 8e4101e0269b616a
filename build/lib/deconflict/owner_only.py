"""Every file the hub writes is its owner's alone: made 0600 (a folder 0700), whatever the umask.

The database and its write-ahead log hold private plans in clear; the key files sign the ledger
and the local issuer's tokens; a demo report or a receipt holds what a party was told. So the code
decides the mode, not the umask: each file is created with 0600 and each folder deconflict makes
with 0700 (a umask can only take bits away). SQLite gives the ``-wal`` and ``-shm`` files it makes
the mode of the database file, so the database is created 0600 before SQLite opens it.

Found open to others: a file the hub made and keeps (the database, its ``-wal``, ``-shm`` and
``-writers`` files, made 0644 by versions before this one) is tightened to 0600, with a warning in
the log naming it (:func:`tighten`); a key file is refused instead, by its reader, since its
secret may already be out (``ledger.keyfile``, ``api.auth``). A folder that was already there is
never changed, only warned of: it may be shared on purpose (``/tmp``).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "create_file", "make_dir", "open_to_others", "tighten", "write"]

#: The mode of every file the hub writes, and of every folder it makes.
FILE_MODE = 0o600
DIR_MODE = 0o700
_OTHERS = stat.S_IRWXG | stat.S_IRWXO

log = logging.getLogger("deconflict")


def open_to_others(mode: int) -> bool:
    """Whether ``mode`` (an ``st_mode``) lets the group or others do anything."""
    return bool(mode & _OTHERS)


def create_file(path: Path) -> bool:
    """Create ``path`` empty and owner-only if it does not exist; whether it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write(path: Path, data: bytes) -> None:
    """Write ``data`` to the file ``path``, owner-only: a new file is made 0600, an existing one
    truncated and tightened to 0600 first."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        _tighten_open(out.fileno(), path)
        out.write(data)


def make_dir(path: Path) -> None:
    """Make the folder ``path`` (and any missing parents) with mode 0700; one already there is
    left as it is, with a warning if others may enter it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
        mode = path.stat().st_mode
        if open_to_others(mode):
            log.warning(
                "folder %s is open to others (mode %o); the files deconflict writes in it are "
                "owner-only",
                path,
                stat.S_IMODE(mode),
            )


def tighten(path: Path) -> None:
    """Make the regular file ``path`` owner-only (0600) if it exists and is open to others,
    warning that it was; a file that cannot be changed (another user's) is warned of."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode) or not open_to_others(mode):
        return  # a folder (or device) given where a file was meant is never changed
    try:
        path.chmod(FILE_MODE)
    except OSError as error:
        log.warning(
            "%s is open to others (mode %o) and could not be made owner-only: %s",
            path,
            stat.S_IMODE(mode),
            error.strerror,
        )
        return
    log.warning(
        "%s was open to others (mode %o); made it owner-only (600)", path, stat.S_IMODE(mode)
    )


def _tighten_open(fd: int, path: Path) -> None:
    mode = os.fstat(fd).st_mode
    if open_to_others(mode):
        try:
            os.fchmod(fd, FILE_MODE)
        except OSError as error:
            log.warning("%s is open to others and could not be made owner-only: %s", path, error)
