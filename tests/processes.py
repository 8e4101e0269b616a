"""Other processes seen from a test: the live processes of this machine, waiting for some to
exit (by the kernel's word that they did), and waiting for a condition on them that no signal
reports (a leader named on ``/metrics``, a row another process writes)."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


def until(check: Callable[[], bool], within_s: float, commits: ChangeSignal | None = None) -> bool:
    """Whether ``check`` came to hold within ``within_s`` (a bound on a hang, not a figure
    under test): for what another process does. Looked at again whenever another process
    commits to the store, with ``commits`` (a store's ``change_signal()``, for what the
    check reads from it), else every 50 ms (what sends no signal to this one: a file, a
    process's answers)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        if commits is not None:
            commits.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        else:
            time.sleep(0.05)
    return check()
