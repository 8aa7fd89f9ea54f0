"""The journal file of a study and its lock: a lock whose owner died is broken at once."""

from __future__ import annotations

__all__ = ["WORKER_ATTR", "open_journal", "worker_id", "is_alive_here"]

import contextlib
import errno
import json
import logging
import os
import socket
import time

from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from ..io.processes import pid_alive
from .interrupts import GATE

_logger = logging.getLogger("jsim.optimise")

WORKER_ATTR = "jsim:worker"  # system attribute: "<host>:<pid>" of the process running a trial


def worker_id() -> str:
    """``"<host>:<pid>"`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_alive_here(worker: str | None) -> bool:
    """Whether ``"<host>:<pid>"`` names a live process on this host other than this one."""
    if not worker:
        return False
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and pid_alive(pid)


# --- journal file and its lock ---------------------------------------------------------------

try:
    import fcntl
except ImportError:  # not POSIX: Optuna's lock, which a crash leaves for its grace period
    fcntl = None

_STALE_AGE = 1.0  # s: an owner locks its lock file within microseconds of creating it
_LEGACY_GRACE = 30.0  # s: a lock whose owner cannot be checked is broken after Optuna's grace period


class _OwnedLock:
    """The journal's lock file ``<journal>.lock``: created exclusively, ``flock``-ed and naming its owner.

    It has the ``acquire``/``release`` of Optuna's journal file locks.

    Optuna's own locks are a file or symlink whose owner is unknown, so a process killed while
    holding one (``kill -9``) makes every later writer wait 30 s before breaking it, and would
    break a live owner's lock after 30 s too. Here the owner holds an ``flock`` on the file and
    writes ``<host>:<pid>`` into it. A waiting process breaks the lock at once when the owner is
    gone: the kernel dropped the ``flock`` (the file is then older than a second) or the owner
    was a process of this host that no longer runs. A live owner's lock is waited for, however
    long. A lock whose owner cannot be checked (a symlink lock of Optuna, a file system without
    ``flock``, an owner on another host) is broken after Optuna's grace period of 30 s.

    While held, Ctrl-C is kept pending (:class:`_InterruptGate`), so an append is never cut short.
    """

    def __init__(self, journal_path: str):
        self._lock_file = journal_path + ".lock"
        self._fd: int | None = None
        self._held = False

    def acquire(self) -> bool:
        delay, started, warned = 0.001, time.monotonic(), time.monotonic()
        while True:
            held = GATE.hold()
            try:
                fd = os.open(self._lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if held:
                    GATE.unhold()  # Ctrl-C while waiting for another process's lock ends the wait
                if self._break_if_stale():
                    continue
                if time.monotonic() - warned > 10.0:
                    _logger.warning(
                        "waiting %.0f s for the journal lock %s, held by %s",
                        time.monotonic() - started,
                        self._lock_file,
                        self._owner_text(),
                    )
                    warned = time.monotonic()
                time.sleep(delay)
                delay = min(2 * delay, 0.05)
                continue
            except BaseException:
                if held:
                    GATE.unhold()
                raise
            if fcntl is not None:
                with contextlib.suppress(OSError):  # no flock on this file system: the pid still names the owner
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, f"{worker_id()}\n".encode())
            self._fd, self._held = fd, held
            return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            raise RuntimeError(f"release of the journal lock {self._lock_file}, which this process does not hold")
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._lock_file)
            os.close(fd)  # after the unlink: a waiting process never sees our file unlocked
        finally:
            if self._held:
                GATE.unhold()

    def _owner_text(self) -> str:
        try:
            with open(self._lock_file) as fh:
                return fh.read().strip() or "an unknown process"
        except OSError:
            return "an unknown process"

    def _break_if_stale(self) -> bool:
        """Remove the lock file when its owner is gone; whether to try again at once."""
        try:
            fd = os.open(self._lock_file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return True  # released meanwhile
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # Optuna's symlink lock: its owner is unknown
                return self._break_if_older(_LEGACY_GRACE, None)
            return False
        try:
            st = os.fstat(fd)
            free = None  # unknown: no flock here
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    free = True
                except BlockingIOError:
                    return False  # a live owner holds it
                except OSError:
                    free = None
            owner = os.read(fd, 256).decode(errors="replace").strip()
            host, _, pid = owner.rpartition(":")
            age = time.time() - st.st_mtime
            if free:
                stale = age > _STALE_AGE
            elif host == socket.gethostname() and pid.isdigit():
                stale = not is_alive_here(owner) and int(pid) != os.getpid()
            else:
                stale = age > _LEGACY_GRACE
            if not stale:
                return False
            # Remove the very file we checked (held by flock, so no other breaker removes it too).
            now = os.stat(self._lock_file, follow_symlinks=False)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                return True
            os.unlink(self._lock_file)
            _logger.warning(
                "removed the stale journal lock %s left by %s", self._lock_file, owner or "a killed process"
            )
            return True
        except FileNotFoundError:
            return True
        finally:
            os.close(fd)

    def _break_if_older(self, grace: float, owner) -> bool:
        try:
            age = time.time() - os.stat(self._lock_file, follow_symlinks=False).st_mtime
            if age <= grace:
                return False
            os.unlink(self._lock_file)
        except FileNotFoundError:
            return True
        _logger.warning("removed the journal lock %s, unchanged for %.0f s", self._lock_file, age)
        return True


class _JournalFileBackend(JournalFileBackend):
    """Optuna's journal file with :class:`_OwnedLock`; an append is written whole or not at all.

    Ctrl-C is held off while an append runs (see :class:`_OwnedLock`). A line that a process
    killed mid-write left without its newline is cut off before the next append, which would
    otherwise glue onto it and make the journal unreadable (Optuna's reader ignores only a
    broken *last* line).
    """

    def __init__(self, file_path: str):
        super().__init__(file_path, lock_obj=_OwnedLock(file_path) if fcntl is not None else None)

    def append_logs(self, logs) -> None:
        if not isinstance(self._lock, _OwnedLock):
            return super().append_logs(logs)
        payload = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
        self._lock.acquire()
        try:
            with open(self._file_path, "rb+") as fh:
                fh.truncate(_end_of_last_line(fh))
                fh.seek(0, os.SEEK_END)
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            self._lock.release()


def _end_of_last_line(fh, chunk: int = 1 << 16) -> int:
    """Offset just past the last newline of the open file ``fh`` (0 when it has none)."""
    end = fh.seek(0, os.SEEK_END)
    pos = end
    while pos > 0:
        start = max(0, pos - chunk)
        fh.seek(start)
        block = fh.read(pos - start)
        at = block.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        pos = start
    return 0


class _JournalStorage(JournalStorage):
    """Journal storage that records which process runs each trial.

    ``resume_study`` uses the record to leave alone trials whose process is still alive on
    this host, and to fail and re-queue the others.
    """

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        if template_trial is None or template_trial.state == TrialState.RUNNING:
            self.set_trial_system_attr(trial_id, WORKER_ATTR, worker_id())
        return trial_id

    def set_trial_state_values(self, trial_id, state, values=None) -> bool:
        changed = super().set_trial_state_values(trial_id, state, values)
        if changed and state == TrialState.RUNNING:
            self.set_trial_system_attr(trial_id, WORKER_ATTR, worker_id())
        return changed


def open_journal(path) -> JournalStorage:
    """An Optuna journal storage on the file ``path``, under an owned lock (see :class:`_OwnedLock`)."""
    return _JournalStorage(_JournalFileBackend(str(path)))
