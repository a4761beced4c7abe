"""Processes of the local stack die with the process that started them (dev only, never deployed).

`make run` starts PostgreSQL and `chalice local` as child processes. A Ctrl-C or SIGTERM lets the
runner stop them in order; a SIGKILL does not, so each child also asks Linux to signal it when the
runner dies (PR_SET_PDEATHSIG): PostgreSQL gets SIGINT (its fast shutdown, so the next start needs
no recovery), the API gets SIGTERM. The runner does the same towards `make` (or whatever started
it), so killing `make` stops the stack too. Elsewhere than Linux these guards do nothing; the
runner's own cleanup and the leftover check at the next start remain.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys

_PR_SET_PDEATHSIG = 1


def tie_to_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask for `signum` when our parent dies; True if Linux took the request."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    parent = os.getppid()
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signum)
    return True


def tied_command(command: list[str], signum: int) -> list[str]:
    """`command`, run so that it gets `signum` when the process that spawns it dies.

    Uses util-linux's `setpriv --pdeathsig` (on every Debian/Ubuntu/Fedora), which works whatever user
    the child runs as (PostgreSQL runs as an unprivileged user when we are root, and that user cannot
    read our Python). Spawn from the main thread: Linux signals when the spawning *thread* exits."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return command
    return [setpriv, f"--pdeathsig={signal.Signals(signum).name[3:]}", "--", *command]
