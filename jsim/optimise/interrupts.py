"""Ctrl-C during a study: delivered only where it cannot leave the study inconsistent."""

from __future__ import annotations

__all__ = ["GATE", "interrupt_guard", "interrupt_point"]

import contextlib
import logging
import os
import signal
import threading

_logger = logging.getLogger("jsim.optimise")


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
    """Whether ``frame`` runs in a callback from C, where a ``KeyboardInterrupt`` is printed as "Exception
    ignored" with a traceback and lost: numba compiling through llvmlite, or the weakref callback that drops a
    module's import lock (a module imported for the first time mid-study). It then waits for a safe point."""
    if frame is None:
        return False
    code = frame.f_code
    if f"{os.sep}llvmlite{os.sep}" in code.co_filename:
        return True
    return code.co_filename.startswith("<frozen importlib") and code.co_name == "cb"


GATE = _InterruptGate()
"""The process's one gate (Ctrl-C is a per-process signal)."""


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
        with GATE.guard():
            yield
    finally:
        logger.removeFilter(quiet)


def interrupt_point(study=None, trial=None) -> None:
    """Raise a Ctrl-C kept pending by :func:`interrupt_guard`; usable as an Optuna callback."""
    GATE.deliver(safe_point=True)
