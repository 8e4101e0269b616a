"""A child process of ``deconflict serve`` ends when the process that started it does.

Why. ``kill -9`` of the supervisor gives it no chance to stop its children: its HTTP workers
went on serving, unmanaged, on the listening socket they share (so a new ``serve`` on the port
failed "Address already in use"), and its detector process went on detecting. A child must
notice by itself that its parent is gone.

How, two ways, either enough:

- on Linux the kernel tells it: ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` (through ctypes; a
  platform without it skips this), checked once after it is set, since the parent may have died
  before;
- everywhere, a thread polls ``os.getppid()``: a child whose parent died is given a new one (init
  or a subreaper), so a change means the parent is gone.

Either way the child is sent SIGTERM, its own graceful stop (streams ended, the detector lease
released), and, should that stop hang, it is ended for good after ``grace_s``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading

__all__ = ["follow_parent"]

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
_POLL_S = 0.5  # how often the parent's pid is looked at (a read of the process's own state)
_GRACE_S = 10.0  # the longest a graceful stop may take once the parent is gone


def _death_signal(signum: int) -> bool:
    """Ask the kernel to send ``signum`` when the parent dies; whether it could (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)
    return False


def follow_parent(parent: int, grace_s: float = _GRACE_S) -> None:
    """End this process (SIGTERM to itself, then ``os._exit`` after ``grace_s``) when the process
    ``parent`` that started it is gone; call it early in the child. Nothing in ``parent``
    itself (an app made in the process that would supervise: a test's)."""
    if parent == os.getpid():
        return
    stopping = threading.Event()

    def end() -> None:
        if stopping.is_set():
            return
        stopping.set()
        timer = threading.Timer(grace_s, os._exit, (1,))
        timer.daemon = True
        timer.start()
        os.kill(os.getpid(), signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent:
            if stopping.wait(_POLL_S):
                return
        end()

    _death_signal(signal.SIGTERM)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
