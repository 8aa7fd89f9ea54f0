"""Whether a process on this machine is alive: for leftovers and locks that record their owner's pid."""

from __future__ import annotations

__all__ = ["pid_alive"]

import os


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, killed but not yet reaped, counts as dead).

    Where it cannot be told (another user's process, Windows, where ``os.kill`` would terminate it),
    the answer is True: an owner that may be alive is never robbed of its files or its lock.
    """
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
