"""Other processes seen from a test: the live processes of this machine, and waiting for a
condition on them that no signal reports (a process gone, a leader named on ``/metrics``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


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


def until(check: Callable[[], bool], within_s: float) -> bool:
    """Whether ``check`` came to hold within ``within_s`` (a bound on a hang, not a figure
    under test), looked at every 50 ms: for what another process does, which sends no
    signal to this one."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
