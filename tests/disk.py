"""A small filesystem of its own for a test to fill, or to make read-only: a tmpfs mounted on a
folder of the test's, unmounted however the test ends.

A real filesystem, not a simulation: SQLite meets ENOSPC (SQLITE_FULL) and EROFS as it would on
a full or read-only disk. Mounting needs CAP_SYS_ADMIN (root in the test container); where it is
not permitted the test fails, naming why, rather than pass without having filled anything.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["fill", "remount", "small_filesystem"]


@contextlib.contextmanager
def small_filesystem(folder: Path, size_mb: int = 8) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size_mb`` MiB, for the block only."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs for the test: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def remount(folder: Path, *, read_only: bool) -> None:
    """Make the filesystem mounted on ``folder`` read-only (or writable again)."""
    option = "remount,ro" if read_only else "remount,rw"
    subprocess.run(["mount", "-o", option, str(folder)], capture_output=True, check=True)


def fill(path: Path, chunk: int = 64 * 1024) -> int:
    """Write ``path`` until its filesystem has no byte left; the bytes written."""
    written = 0
    block = b"\0" * chunk
    with path.open("wb", buffering=0) as out:
        while chunk > 0:
            try:
                written += out.write(block[:chunk])
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                chunk //= 2  # the last blocks a few bytes at a time, down to the last one
        os.fsync(out.fileno())
    return written
