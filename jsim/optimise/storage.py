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
    "interrupt_point",
    "counted",
    "n_complete",
    "UNCOUNTED_ATTR",
]

import contextlib
import copy
import functools
import importlib.util
import inspect
import logging
import os
import re
import socket
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState

from jsim.errors import OptimiseError, OptimiseInputError, caused_by_interrupt

from .interrupts import GATE, interrupt_guard, interrupt_point
from .journal import WORKER_ATTR, is_alive_here, open_journal
from .redact import normalise_url, redact_url, scrub_secrets

JOURNAL_NAME = "study.journal"
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
        return open_journal(path)
    except OSError as exc:
        raise OptimiseError(f"storage: cannot create the journal file {path}: {exc.strerror or exc}") from exc


def _open_rdb(url: str, scheme: str, heartbeat_interval: int, grace_period: int, max_retry: int) -> RDBStorage:
    shown = redact_url(url)  # messages name the URL as the user wrote it, without password
    raw, url = url, normalise_url(url)
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
            with GATE.objective():  # inside the objective, Ctrl-C is raised at once (see interrupt_guard)
                return objective(trial)
        except KeyboardInterrupt:
            mark_interrupted(trial)
            raise
        except Exception as exc:
            if not caused_by_interrupt(exc):
                raise
            mark_interrupted(trial)  # a library turned the Ctrl-C into another error: still a Ctrl-C
            raise KeyboardInterrupt from exc

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
            if is_alive_here(worker):
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
