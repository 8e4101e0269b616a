"""Other processes seen from a test: the live processes of this machine, waiting for some to
exit (by the kernel's word that they did), and waiting for what they commit to a store (by the
store's word that a process committed)."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from deconflict.store.wakeup import CHANNEL, NOTIFICATIONS

if TYPE_CHECKING:
    from deconflict.store import Store
    from deconflict.store.wakeup import ChangeSignal


def live_processes() -> dict[int, tuple[int, str]]:
    """Every live process (a zombie has exited, and is left out): pid -> (parent pid,
    command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] == "Z":
            continue
        found[int(entry.name)] = (int(fields[1]), command)
    return found


def gone(pids: Iterable[int], within_s: float) -> bool:
    """Whether every process of ``pids`` (not this one's children alone) exited within
    ``within_s``: each waited for on its pidfd, which the kernel makes readable when the
    process ends; the event itself, not looks at /proc again and again."""
    deadline = time.monotonic() + within_s
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:  # gone already
            continue
        try:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return False
        finally:
            os.close(fd)
    return True


#: The longest ``until`` goes without looking again when no wake-up comes: what a store does not
#: announce (a lease's renewal, the ledger's halt; on PostgreSQL any write outside a unit of
#: work) is still seen, if late. Never a pace that something is hoped to happen within.
LOOK_AGAIN_S = 0.5


def commits(store: Store) -> ChangeSignal:
    """``store``'s wake-ups for :func:`until`: another process's commit that grew the change
    log (a filing, a party, an agreement) or committed detections (conflicts,
    notifications). Close it when done."""
    return store.change_signal(CHANNEL, NOTIFICATIONS)


def until(check: Callable[[], bool], within_s: float, signal: ChangeSignal) -> bool:
    """Whether ``check`` came to hold within ``within_s`` (a bound on a hang, not a figure
    under test), for what another process commits to a store: looked at again whenever
    ``signal`` (:func:`commits`) tells of a commit, else after ``LOOK_AGAIN_S``. What
    another process says without a commit is waited for on what it says (its output's
    lines, a pipe, a pidfd), not here."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        signal.wait(min(LOOK_AGAIN_S, max(0.0, deadline - time.monotonic())))
    return check()
