"""Where an optimisation study lives: journal file by default, PostgreSQL for many workers.

A study is kept in an Optuna storage so that it outlives the process that runs it:

- default: an Optuna journal file ``<out_dir>/study.journal``. ``resume_study`` continues
  it after a crash or Ctrl-C; trials a killed process left RUNNING (its pid is recorded) and
  trials failed by Ctrl-C are failed and re-queued with the same parameters and user
  attributes (so the same replication ``seed``).
- ``postgresql://user:password@host:port/db`` (or ``sqlite:///file.db``): an
  ``RDBStorage`` with heartbeats, shared by many ``jsim optimise --worker`` processes on many
  machines. A worker that stops beating for ``grace_period`` seconds has its RUNNING trial
  failed and re-queued by whichever worker asks next.

Both re-queue through Optuna's ``RetryHeartbeatStaleTrialCallback`` (``RetryFailedTrialCallback``
before Optuna 4.9): the retry is a WAITING trial with the parameters, distributions, user
attributes and system attributes of the failed one, so a trial killed before it suggested
every parameter keeps the rest in ``system_attrs["fixed_params"]``. Optuna records the
original trial's number as ``system_attrs["failed_trial"]`` and the chain of failed trials as
``system_attrs["retry_history"]`` (read them with the callback's ``retried_trial_number`` and
``retry_history``). jsim's own per-process attributes (``jsim:worker``, ``jsim:interrupted``)
are not copied. A trial is re-queued at most ``max_retry`` times, so one that kills its
worker every time cannot loop for ever, and a trial already re-queued is not re-queued again.
"""

from __future__ import annotations

__all__ = [
    "JOURNAL_NAME",
    "open_storage",
    "open_study",
    "resume_study",
    "requeue_stale_trials",
    "remaining_trials",
    "describe_storage",
    "resumable",
    "mark_interrupted",
    "redact_url",
    "scrub_secrets",
    "interrupt_guard",
    "counted",
    "n_complete",
    "UNCOUNTED_ATTR",
]

import contextlib
import copy
import errno
import functools
import importlib.util
import inspect
import json
import logging
import os
import re
import signal
import socket
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from jsim.errors import OptimiseError, OptimiseInputError

JOURNAL_NAME = "study.journal"
WORKER_ATTR = "jsim:worker"  # system attribute: "<host>:<pid>" of the process running a trial
INTERRUPTED_ATTR = "jsim:interrupted"  # system attribute: trial failed by Ctrl-C, re-run on resume
UNCOUNTED_ATTR = (
    "jsim:uncounted"  # system attribute: why a finished trial is not one of the n_trials ("polish", "surplus")
)
_PROCESS_ATTRS = (WORKER_ATTR, INTERRUPTED_ATTR)  # facts about one run of a trial, not copied to its retry

_logger = logging.getLogger("jsim.optimise")

# URL scheme (before any "+driver") -> (Python module of the default driver, pip package).
_RDB_DRIVERS = {
    "postgresql": ("psycopg2", "psycopg2-binary"),
    "postgres": ("psycopg2", "psycopg2-binary"),
    "sqlite": ("sqlite3", ""),
}
_DRIVER_PACKAGES = {"psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]", "pg8000": "pg8000"}
_URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- secrets ---------------------------------------------------------------------------------

_SECRET_QUERY_RE = re.compile(r"([?&][^=&#]*password[^=&#]*=)([^&#]*)", re.IGNORECASE)


_SCHEME_RE = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*:/*)(?P<tail>.*)$", re.DOTALL)


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    """``(scheme://, userinfo, rest)`` of a URL, the userinfo ending at the *last* ``@``; None without one.

    A password may hold ``@``, ``/``, ``?`` or ``:`` unescaped (``user:p@ss@host``); the last ``@``
    before the query is where the host begins, whatever a URL parser makes of it. A mistyped
    ``scheme:/`` counts as ``scheme://``.
    """
    match = _SCHEME_RE.match(url)
    if match is None:
        return None
    head, tail = match["head"], match["tail"]
    at = tail.split("?", 1)[0].rfind("@")
    if at < 0:
        at = tail.rfind("@")
    if at < 0:
        return None
    return head, tail[:at], tail[at + 1 :]


def _normalise_url(url: str) -> str:
    """``url`` with any ``@`` inside its password percent-encoded, as SQLAlchemy needs it.

    ``postgresql://user:p@ss@host/db`` means the password ``p@ss`` at ``host``; SQLAlchemy would
    read the password ``p`` at the host ``ss@host`` and put ``ss`` into its error messages.
    """
    parts = _split_userinfo(url)
    if parts is None or "@" not in parts[1]:
        return url
    head, userinfo, rest = parts
    user, sep, password = userinfo.partition(":")
    return f"{head}{user}{sep}{quote(password, safe='')}@{rest}"


def _secrets(url: str) -> list[str]:
    """The password strings of ``url`` (userinfo and ``password=`` query values), as written and decoded."""
    found = []
    parts = _split_userinfo(url)
    if parts is not None and ":" in parts[1]:
        found.append(parts[1].partition(":")[2])
    found += [m.group(2) for m in _SECRET_QUERY_RE.finditer(url)]
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(_normalise_url(url))
        found.append(parsed.password or "")
        found += [v for k, v in parsed.query.items() if "password" in k.lower() and isinstance(v, str)]
    except Exception:  # not a URL SQLAlchemy reads: the textual secrets above are all there is
        pass
    found += [quote(s, safe="") for s in found]
    return sorted({s for s in found if s and s != "***"}, key=len, reverse=True)


def redact_url(url: str | os.PathLike) -> str:
    """``url`` with its password and any ``password=`` query value replaced by ``***``, for messages.

    Uses SQLAlchemy's URL parser; a URL it cannot parse has everything between ``://`` and the last
    ``@`` masked. A path (no ``scheme:``) is returned unchanged.
    """
    text = os.fspath(url)
    if _SCHEME_RE.match(text) is None:
        return text
    shown = None
    if not text.count("@") > 1:
        try:
            from sqlalchemy.engine import make_url

            parsed = make_url(text)
            query = {k: ("***" if "password" in k.lower() else v) for k, v in parsed.query.items()}
            shown = parsed.set(query=query).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
        except Exception:  # not a URL SQLAlchemy reads: mask by hand below
            shown = None
    if shown is None:
        parts = _split_userinfo(text)
        shown = text if parts is None else f"{parts[0]}***@{parts[2]}"
        shown = _SECRET_QUERY_RE.sub(r"\1***", shown)
    return _scrub(shown, _secrets(text))


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
        else:  # a short password only where it stands alone, so a message stays readable
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
    return text


def scrub_secrets(text: str, url: str | os.PathLike | None) -> str:
    """``text`` (an exception's message) with ``url`` redacted and its password strings masked.

    Database drivers quote the URL or the password they were given; every such occurrence becomes
    ``***`` (see :func:`redact_url`).
    """
    if url is None:
        return text
    raw = os.fspath(url)
    if _SCHEME_RE.match(raw) is None:
        return text
    for form in {raw, _normalise_url(raw)}:
        text = text.replace(form, redact_url(raw))
    return _scrub(text, _secrets(raw))


# --- Ctrl-C ----------------------------------------------------------------------------------


class _InterruptGate:
    """Delivers Ctrl-C (SIGINT) only where it cannot leave a study inconsistent.

    Python raises ``KeyboardInterrupt`` between any two bytecodes. Inside a journal append that
    can cut a line in half (the next append then makes the journal unreadable), and inside
    Optuna's bookkeeping after a trial it ends in ``UnboundLocalError: updated_state``. While the
    gate is installed, a SIGINT that arrives in a *held* section (a journal append, holding its
    lock) or in a *guarded* one outside the objective is kept pending and delivered, through the
    handler that was installed before, at the next safe point: the end of the append, the start
    or inside of an objective call, after a trial, or the end of the guard. Only the main thread
    takes part (it is the only one that receives ``KeyboardInterrupt``); a process that ignores
    SIGINT, or left it at the default, is not changed.
    """

    def __init__(self):
        self._users = 0
        self._previous = None
        self._held = 0
        self._guarded = 0
        self._in_objective = False
        self.pending = None

    @staticmethod
    def _main_thread() -> bool:
        return threading.current_thread() is threading.main_thread()

    def _install(self) -> bool:
        if not self._main_thread():
            return False
        if self._users == 0:
            try:
                current = signal.getsignal(signal.SIGINT)
            except ValueError:
                return False
            if not callable(current):  # SIG_IGN, SIG_DFL or a handler not set from Python
                return False
            self._previous = current
            signal.signal(signal.SIGINT, self._handler)
        self._users += 1
        return True

    def _uninstall(self) -> None:
        self._users -= 1
        if self._users == 0:
            signal.signal(signal.SIGINT, self._previous)
            pending, self.pending, previous = self.pending, None, self._previous
            self._previous = None
            if pending is not None:
                previous(*pending)

    def _handler(self, signum, frame) -> None:
        if self._held or (self._guarded and not self._in_objective) or _in_c_callback(frame):
            self.pending = (signum, frame)
            return
        self.pending = None
        self._previous(signum, frame)

    def deliver(self, *, safe_point: bool = False) -> None:
        """Deliver a pending interrupt now when allowed (always at a ``safe_point`` outside a held section)."""
        if self.pending is None or self._held or not (safe_point or not self._guarded or self._in_objective):
            return
        pending, self.pending = self.pending, None
        self._previous(*pending)

    def hold(self) -> bool:
        """Enter a section that must not be interrupted; pair with :meth:`unhold` when True."""
        if not self._install():
            return False
        self._held += 1
        return True

    def unhold(self) -> None:
        self._held -= 1
        try:
            self.deliver()
        finally:
            self._uninstall()

    @contextlib.contextmanager
    def guard(self):
        """Interrupts wait for a safe point (outside the objective: the end of a trial or of the guard)."""
        if not self._install():
            yield
            return
        self._guarded += 1
        try:
            yield
        finally:
            self._guarded -= 1
            self._uninstall()

    @contextlib.contextmanager
    def objective(self):
        """An objective call: an interrupt pending from before, or arriving inside, is raised at once."""
        outer, self._in_objective = self._in_objective, True
        try:
            self.deliver()
            yield
        finally:
            self._in_objective = outer


def _in_c_callback(frame) -> bool:
    """Whether ``frame`` runs in a callback from C (numba compiling through llvmlite), where a
    ``KeyboardInterrupt`` is printed as "Exception ignored" and lost; it then waits for the end of the trial."""
    return frame is not None and f"{os.sep}llvmlite{os.sep}" in frame.f_code.co_filename


_GATE = _InterruptGate()


class _QuietInterruptedTrials(logging.Filter):
    """Drops Optuna's warnings about a trial failed by Ctrl-C (with its traceback): the CLI says it in one line.

    Optuna logs "Trial N failed with parameters ... KeyboardInterrupt" with the traceback, then
    "Trial N failed with value None."; both go.
    """

    def __init__(self):
        super().__init__()
        self._trial = None

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0] if record.exc_info else None
        if exc is not None and issubclass(exc, KeyboardInterrupt):
            self._trial = record.getMessage().split(" failed", 1)[0]
            return False
        if self._trial is not None and record.getMessage().startswith(f"{self._trial} failed with value"):
            self._trial = None
            return False
        return True


@contextlib.contextmanager
def interrupt_guard():
    """Run ``study.optimize`` (or any sequence of storage writes) so that Ctrl-C keeps the study whole.

    Inside, a Ctrl-C is raised at once inside an objective wrapped by :func:`resumable`, and
    elsewhere (Optuna asking, telling, writing) at the next safe point: the start of the next
    objective call, the end of a trial (through the callback :func:`interrupt_point`) or the end
    of the guard. Optuna's warning with the traceback of an interrupted trial is not logged.
    """
    quiet = _QuietInterruptedTrials()
    logger = logging.getLogger("optuna.study._optimize")
    logger.addFilter(quiet)
    try:
        with _GATE.guard():
            yield
    finally:
        logger.removeFilter(quiet)


def interrupt_point(study=None, trial=None) -> None:
    """Raise a Ctrl-C kept pending by :func:`interrupt_guard`; usable as an Optuna callback."""
    _GATE.deliver(safe_point=True)


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
            held = _GATE.hold()
            try:
                fd = os.open(self._lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if held:
                    _GATE.unhold()  # Ctrl-C while waiting for another process's lock ends the wait
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
                    _GATE.unhold()
                raise
            if fcntl is not None:
                with contextlib.suppress(OSError):  # no flock on this file system: the pid still names the owner
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, f"{_worker_id()}\n".encode())
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
                _GATE.unhold()

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
                stale = not _is_alive_here(owner) and int(pid) != os.getpid()
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
            self.set_trial_system_attr(trial_id, WORKER_ATTR, _worker_id())
        return trial_id

    def set_trial_state_values(self, trial_id, state, values=None) -> bool:
        changed = super().set_trial_state_values(trial_id, state, values)
        if changed and state == TrialState.RUNNING:
            self.set_trial_system_attr(trial_id, WORKER_ATTR, _worker_id())
        return changed


def describe_storage(storage: BaseStorage) -> str:
    """A short human description of a storage (journal path or URL without password)."""
    if isinstance(storage, JournalStorage):
        path = getattr(storage._backend, "_file_path", None)
        return f"journal file {path}" if path else "journal storage"
    if isinstance(storage, RDBStorage):
        return redact_url(storage.url)
    return type(storage).__name__


def _retry_callback_kwarg() -> str:
    # Optuna >= 4.9 renamed failed_trial_callback to heartbeat_stale_trial_callback.
    params = inspect.signature(RDBStorage.__init__).parameters
    return "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else "failed_trial_callback"


def open_storage(
    url_or_path: str | os.PathLike | None,
    out_dir: str | os.PathLike | None = None,
    *,
    heartbeat_interval: int = 30,
    grace_period: int = 120,
    max_retry: int = 3,
) -> BaseStorage:
    """Open (creating if needed) the storage that holds a study.

    Parameters
    ----------
    url_or_path : str, path or None
        ``None``: the journal file ``<out_dir>/study.journal``. A ``postgresql://`` or
        ``sqlite:///`` URL: a relational storage with heartbeats. Anything else is a path:
        a journal file, or a directory in which ``study.journal`` is used.
    out_dir : str or path, optional
        Output directory; needed when ``url_or_path`` is ``None``. Created if missing.
    heartbeat_interval : int
        Seconds between heartbeats of a running trial (relational storages only).
    grace_period : int
        Seconds without a heartbeat after which a RUNNING trial counts as abandoned, is
        failed and re-queued (relational storages only). Must exceed ``heartbeat_interval``.
    max_retry : int
        How many times one trial is re-queued at most.

    Returns
    -------
    optuna.storages.BaseStorage

    Raises
    ------
    OptimiseError
        A malformed or unsupported URL, a missing database driver, a database that cannot
        be reached, or a journal file that cannot be created.
    """
    if url_or_path is None:
        if out_dir is None:
            raise OptimiseError(
                "storage: a journal file needs an output directory, got url_or_path=None and "
                "out_dir=None (pass out_dir=DIR to keep the study in DIR/study.journal, or "
                "url_or_path=a postgresql:// or sqlite:/// URL or a journal file path)",
                params=("out_dir", "url_or_path"),
            )
        return _open_journal(Path(out_dir) / JOURNAL_NAME)
    text = os.fspath(url_or_path)
    match = _URL_RE.match(text)
    if match is None:
        if "://" in text or text.startswith(("postgresql:", "postgres:", "sqlite:")):
            raise OptimiseInputError(
                f"storage: a URL must look like postgresql://user:password@host:5432/db or "
                f"sqlite:///path.db, got {redact_url(text)!r}",
                params=("url_or_path",),
            )
        path = Path(text)
        return _open_journal(path / JOURNAL_NAME if path.is_dir() else path)
    return _open_rdb(text, match["scheme"], heartbeat_interval, grace_period, max_retry)


def _open_journal(path: Path) -> JournalStorage:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _JournalStorage(_JournalFileBackend(str(path)))
    except OSError as exc:
        raise OptimiseError(f"storage: cannot create the journal file {path}: {exc.strerror or exc}") from exc


def _open_rdb(url: str, scheme: str, heartbeat_interval: int, grace_period: int, max_retry: int) -> RDBStorage:
    shown = redact_url(url)  # messages name the URL as the user wrote it, without password
    raw, url = url, _normalise_url(url)
    dialect, _, driver = scheme.lower().partition("+")
    if dialect not in _RDB_DRIVERS:
        raise OptimiseInputError(
            f"storage: URL scheme must be postgresql:// or sqlite:///, got {scheme + '://'!r} "
            f"in {shown!r} (a path without a scheme is a journal file)",
            params=("url_or_path",),
        )
    if dialect in ("postgresql", "postgres") and not driver:
        # Name the driver: SQLAlchemy's default for a bare postgresql:// changed from
        # psycopg2 to psycopg (3) in 2.1; use whichever is installed, psycopg2 first.
        driver = next((m for m in ("psycopg2", "psycopg") if importlib.util.find_spec(m)), "psycopg2")
        url = f"postgresql+{driver}" + url[len(scheme) :]
    module = driver or _RDB_DRIVERS[dialect][0]
    if importlib.util.find_spec(module) is None:
        package = _DRIVER_PACKAGES.get(module, module)
        raise OptimiseError(
            f"storage: {shown} needs the database driver {module!r}, which is not installed "
            f"(pip install {package}, or pip install 'jsim[postgres]')"
        )
    if heartbeat_interval <= 0 or grace_period <= heartbeat_interval:
        raise OptimiseError(
            f"storage: 0 < heartbeat_interval < grace_period must hold, got "
            f"heartbeat_interval={heartbeat_interval}, grace_period={grace_period}"
        )
    callback = _RetryCallback(max_retry)
    for attempt in range(_N_OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    **{_retry_callback_kwarg(): callback},
                )
        except Exception as exc:  # sqlalchemy's errors: bad URL, refused connection, auth
            if _is_schema_race(exc) and attempt + 1 < _N_OPEN_ATTEMPTS:
                time.sleep(0.2 * (attempt + 1))
                continue
            text = scrub_secrets(str(exc), raw).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            # from None: the driver's exception, shown in a traceback, may quote the password
            raise OptimiseError(f"storage: cannot open {shown}: {first}") from None
    raise AssertionError("unreachable")


_N_OPEN_ATTEMPTS = 5


def _is_schema_race(exc: BaseException) -> bool:
    """Whether ``exc`` comes from workers creating Optuna's tables at the same moment.

    On a new database each worker's ``RDBStorage`` runs ``CREATE TABLE``; the loser of the
    race gets an integrity or "already exists" error, and a second try finds the tables.
    """
    try:
        from sqlalchemy.exc import IntegrityError, ProgrammingError
    except ImportError:
        return False
    return isinstance(exc, (IntegrityError, ProgrammingError))


def _optuna_retry_callback_class() -> type:
    # Optuna 4.9 renamed RetryFailedTrialCallback to RetryHeartbeatStaleTrialCallback; the old
    # name warns from then on and goes in 6.0.
    new = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    return new or optuna.storages.RetryFailedTrialCallback


def _retry_history(trial: FrozenTrial) -> list[int]:
    """Numbers of the failed trials ``trial`` retries, oldest first; empty for a first try."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return list(_optuna_retry_callback_class().retry_history(trial))


class _RetryCallback:
    """Re-queue a failed trial through Optuna's retry callback, without jsim's process attributes.

    The one way jsim retries a trial: the heartbeat-stale callback of relational storages,
    and :func:`requeue_stale_trials` for dead journal workers and Ctrl-C'd trials. Optuna's
    callback copies every system attribute to the retry; a copied ``jsim:worker`` would make
    the retry look owned by the dead process, and a copied ``jsim:interrupted`` would make it
    look Ctrl-C'd, so a later ordinary failure of the retry would be retried again.

    Parameters
    ----------
    max_retry : int
        A trial whose retry history already holds this many trials is not re-queued.
    """

    def __init__(self, max_retry: int):
        self.max_retry = max_retry
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._optuna_callback = _optuna_retry_callback_class()(max_retry=max_retry)

    def __call__(self, study: optuna.Study, trial: FrozenTrial, *, interrupted: bool = False) -> bool:
        """Enqueue a retry of the failed ``trial``; whether it was enqueued.

        Optuna's callback returns nothing and gives up silently; the same limit is checked
        here first to say so in the log and to tell :func:`requeue_stale_trials` the outcome.
        A trial failed by Ctrl-C (``interrupted``) is always re-queued: the user paused it, it
        did not kill its worker.
        """
        history = _retry_history(trial)
        if interrupted:
            retry = copy.deepcopy(trial)
            retry.system_attrs = {k: v for k, v in retry.system_attrs.items() if k not in _PROCESS_ATTRS}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                _optuna_retry_callback_class()(max_retry=None)(study, retry)
            return True
        if len(history) >= self.max_retry:
            _logger.warning(
                "trial %d failed, try %d of trial %d (max_retry=%d); not re-queued again",
                trial.number,
                len(history) + 1,
                history[0] if history else trial.number,
                self.max_retry,
            )
            return False
        retry = copy.deepcopy(trial)  # Optuna's callback appends to the retry_history it is given
        retry.system_attrs = {k: v for k, v in retry.system_attrs.items() if k not in _PROCESS_ATTRS}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._optuna_callback(study, retry)
        return True


def _is_alive_here(worker: str | None) -> bool:
    """Whether ``"<host>:<pid>"`` names a live process on this host other than this one."""
    if not worker:
        return False
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) still answers signal 0.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def mark_interrupted(trial: optuna.Trial) -> None:
    """Record that ``trial`` is being failed by Ctrl-C, so that a resume runs it again.

    Call it from an ``except KeyboardInterrupt`` around an objective run through ask/tell;
    :func:`resumable` does it for ``study.optimize``.
    """
    trial.storage.set_trial_system_attr(trial._trial_id, INTERRUPTED_ATTR, True)


def resumable(objective):
    """Wrap an objective so that a trial cut short by Ctrl-C is re-queued on resume.

    Optuna fails a trial whose objective raises ``KeyboardInterrupt`` and re-raises it;
    the wrapper marks the trial first, and :func:`resume_study` enqueues it again with the
    same parameters and seed. Under :func:`interrupt_guard`, a Ctrl-C that came while Optuna
    was between trials is raised when the next objective call starts.
    """

    @functools.wraps(objective)
    def wrapped(trial: optuna.Trial):
        try:
            with _GATE.objective():  # inside the objective, Ctrl-C is raised at once (see interrupt_guard)
                return objective(trial)
        except KeyboardInterrupt:
            mark_interrupted(trial)
            raise

    return wrapped


def requeue_stale_trials(study: optuna.Study, *, max_retry: int = 3, only_dead_here: bool = False) -> list[int]:
    """Fail the trials a dead process left RUNNING, and enqueue them again with Ctrl-C'd ones.

    A RUNNING trial of a journal storage is left alone when its process (recorded by the
    storage) is still alive on this host. Relational storages find abandoned trials through
    heartbeats; there this function triggers Optuna's stale-trial check, whose callback
    re-queues them. In both, trials failed by Ctrl-C (see :func:`resumable`) and not yet
    re-queued are enqueued again. Every retry goes through Optuna's retry callback (see the
    module docstring).

    Parameters
    ----------
    study : optuna.Study
    max_retry : int
        A trial whose retry history already holds this many trials is failed but not re-queued.
    only_dead_here : bool
        Touch only trials recorded as run by a process of this host that is gone (for a
        worker joining while others run); otherwise every RUNNING trial not provably alive.

    Returns
    -------
    list of int
        Numbers of the trials re-queued by this call (not counting those re-queued by a
        relational storage's heartbeat callback).
    """
    with interrupt_guard():  # failing a trial and enqueueing its retry are not split by Ctrl-C
        return _requeue_stale_trials(study, max_retry, only_dead_here)


def _requeue_stale_trials(study: optuna.Study, max_retry: int, only_dead_here: bool) -> list[int]:
    storage = study._storage
    retry = _RetryCallback(max_retry)
    requeued = []
    if isinstance(storage, JournalStorage):
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker = trial.system_attrs.get(WORKER_ATTR)
            if _is_alive_here(worker):
                continue
            if UNCOUNTED_ATTR in trial.system_attrs:  # a polish result a killed process had not stored yet
                with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                    storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
                continue
            if only_dead_here and not (worker and worker.rpartition(":")[0] == socket.gethostname()):
                continue
            try:
                if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # finished meanwhile
            if retry(study, trial):
                requeued.append(trial.number)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    if not only_dead_here:
        trials = study.get_trials(deepcopy=False)
        retried = {number for t in trials for number in _retry_history(t)}
        for trial in trials:
            if (
                trial.state == TrialState.FAIL
                and trial.system_attrs.get(INTERRUPTED_ATTR)
                and trial.number not in retried
                and retry(study, trial, interrupted=True)
            ):
                requeued.append(trial.number)
    return requeued


def _study_exists(storage: BaseStorage, study_name: str) -> bool:
    try:
        storage.get_study_id_from_name(study_name)
    except KeyError:
        return False
    return True


def resume_study(
    storage: BaseStorage,
    study_name: str,
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    max_retry: int = 3,
) -> optuna.Study:
    """Load an existing study and re-queue the trials a killed process left RUNNING.

    Parameters
    ----------
    storage : optuna.storages.BaseStorage
        From :func:`open_storage`.
    study_name : str
    sampler, pruner : optional
        Passed to :func:`optuna.load_study`.
    max_retry : int
        A trial is re-queued at most this many times.

    Returns
    -------
    optuna.Study
        The loaded study. How many trials were re-queued is logged on the ``jsim.optimise``
        logger; :func:`requeue_stale_trials` returns them when the caller needs the list.

    Raises
    ------
    OptimiseError
        No study of that name in the storage.
    """
    if not _study_exists(storage, study_name):
        names = [s.study_name for s in storage.get_all_studies()]
        known = f"; studies there: {', '.join(map(repr, names))}" if names else "; it holds no study"
        raise OptimiseInputError(
            f"resume_study: a resumed study must exist, got study_name={study_name!r}, which does "
            f"not exist in {describe_storage(storage)}{known} (call open_study without resume=True to "
            f"start it, or pass the study_name and storage that hold it)",
            params=("resume", "study_name", "storage"),
        )
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
    requeued = requeue_stale_trials(study, max_retry=max_retry)
    n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    _logger.info(
        "resumed study %r from %s: %d trials complete, %d interrupted trials re-queued%s",
        study_name,
        describe_storage(storage),
        n_complete,
        len(requeued),
        f" (trials {', '.join(map(str, requeued))})" if requeued else "",
    )
    return study


def open_study(
    storage: BaseStorage,
    study_name: str,
    *,
    directions: Sequence[str] = ("maximize",),
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    resume: bool = False,
    worker: bool = False,
    max_retry: int = 3,
) -> optuna.Study:
    """Create a new study, resume an existing one, or join one as a worker.

    Parameters
    ----------
    storage : optuna.storages.BaseStorage
        From :func:`open_storage`.
    study_name : str
    directions : sequence of {"maximize", "minimize"}
        One per objective; used when the study is created.
    sampler, pruner : optional
    resume : bool
        Continue an existing study (:func:`resume_study`); it must exist.
    worker : bool
        Join the study, creating it if no other worker has yet (``load_if_exists``).
        Only trials of provably dead processes are re-queued, since other workers run.
    max_retry : int

    Raises
    ------
    OptimiseError
        ``resume`` and the study does not exist; neither ``resume`` nor ``worker`` and it
        already exists; or the stored directions differ from ``directions``.
    """
    directions = list(directions)
    if resume:
        study = resume_study(storage, study_name, sampler=sampler, pruner=pruner, max_retry=max_retry)
    elif worker:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            directions=directions,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
        requeue_stale_trials(study, max_retry=max_retry, only_dead_here=True)
    else:
        if _study_exists(storage, study_name):
            n_done = n_complete(storage, study_name)
            raise OptimiseInputError(
                f"open_study: a new study must not exist yet, got study_name={study_name!r}, which "
                f"already exists in {describe_storage(storage)} ({n_done} trials complete; pass "
                f"resume=True to continue it, worker=True to join it, or another study_name or storage)",
                params=("resume", "worker", "study_name", "storage", "out_dir"),
            )
        study = optuna.create_study(
            storage=storage, study_name=study_name, directions=directions, sampler=sampler, pruner=pruner
        )
    stored = [d.name.lower() for d in study.directions]
    if stored != [d.lower() for d in directions]:
        raise OptimiseInputError(
            f"open_study: directions must match the stored study {study_name!r}, got "
            f"directions={directions} but {describe_storage(storage)} holds {stored} (pass "
            f"directions={stored}, or another study_name)",
            params=("directions", "study_name"),
        )
    return study


def n_complete(storage: BaseStorage, study_name: str) -> int:
    """How many of the study's trials are complete and :func:`counted` (polish results are not)."""
    study_id = storage.get_study_id_from_name(study_name)
    trials = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.COMPLETE,))
    return sum(map(counted, trials))


def counted(trial: FrozenTrial) -> bool:
    """Whether ``trial`` is one of a study's ``n_trials``: not FAIL, and not marked with ``UNCOUNTED_ATTR``.

    A polish result (``"polish"``) and a trial that found the study already full (``"surplus"``)
    are not; a FAIL trial is not either, since it is re-queued.
    """
    return trial.state != TrialState.FAIL and UNCOUNTED_ATTR not in trial.system_attrs


def remaining_trials(study: optuna.Study, n_trials: int) -> int:
    """How many trials are still to run for the study to hold ``n_trials`` finished ones.

    Finished means COMPLETE or PRUNED and :func:`counted`. Queued (WAITING) trials are run
    first by ``study.optimize``.
    """
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return max(0, n_trials - sum(map(counted, done)))
