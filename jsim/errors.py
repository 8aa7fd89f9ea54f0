"""The exceptions jsim raises: one root, one child per layer."""

from __future__ import annotations

__all__ = [
    "JsimError",
    "InputError",
    "ScenarioError",
    "ResourceError",
    "OptimiseError",
    "OptimiseInputError",
    "OutputError",
    "ScenarioIssue",
    "forget_unhandled_interrupt",
    "caused_by_interrupt",
    "extension_interrupted",
]

from dataclasses import dataclass


class JsimError(Exception):
    """Root of every error jsim raises on purpose.

    Parameters
    ----------
    *args
        The message (where, the rule, the value received, a fix), as for any exception.
    params : tuple of str
        The library parameters the fix asks to change (``("resume", "study_name")``), so that a
        caller such as the command line can name its own options for them.
    """

    def __init__(self, *args, params: tuple[str, ...] = ()):
        super().__init__(*args)
        self.params = tuple(params)


@dataclass(frozen=True)
class ScenarioIssue:
    """One problem found in a scenario.

    Attributes
    ----------
    location : str
        Where in the file, e.g. ``touchpoints[2] (search).effects[0].p``.
    message : str
        The rule that was broken and the value received, e.g.
        ``must be within [0, 1], got 13.0``.
    fix : str
        How to fix it, or ``""`` when the message says it all.
    """

    location: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text} ({self.fix})" if self.fix else text


class InputError(JsimError):
    """The user's input is wrong: a scenario, a flag, a data file, an output folder (exit code 2).

    Raised before any work is done, so nothing has been written.
    """


class ScenarioError(InputError):
    """A scenario file (or a flag that overrides it) is invalid.

    Parameters
    ----------
    issues : list of ScenarioIssue or str
        Every problem found; all are reported at once.
    source : str, optional
        The file name, shown first.
    """

    def __init__(self, issues, source: str | None = None):
        if isinstance(issues, (str, ScenarioIssue)):
            issues = [issues]
        self.issues = [i if isinstance(i, ScenarioIssue) else ScenarioIssue("", str(i)) for i in issues]
        self.source = source
        super().__init__(self._text())

    def _text(self) -> str:
        head = f"{self.source}: " if self.source else ""
        if len(self.issues) == 1:
            return head + str(self.issues[0])
        lines = [f"{head}{len(self.issues)} problems:"]
        lines += [f"  - {issue}" for issue in self.issues]
        return "\n".join(lines)


class ResourceError(InputError):
    """A run would need more memory than the machine has available (estimated before simulating)."""


class OptimiseError(JsimError):
    """An optimisation could not be set up or continued."""


class OptimiseInputError(OptimiseError, InputError):
    """An optimisation's input is wrong (a flag, a used output folder, a resume that does not match)."""


class OutputError(JsimError):
    """Results could not be written (disk full, permissions changed during the run); exit code 1.

    No partial set of files is left behind: the previous contents of the folder are kept.
    """


def forget_unhandled_interrupt() -> None:
    """Forget that a ``KeyboardInterrupt`` once went unhandled, so the process exits with 130, not by SIGINT.

    CPython (3.11) sets a flag when Ctrl-C lands inside code an extension module runs through
    ``PyRun_String`` (some imports do) and, at exit, kills itself with SIGINT when the flag is set,
    even though the interrupt was handled here. Where the flag is not reachable, nothing changes.
    """
    import ctypes

    try:
        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
    except (ValueError, AttributeError, OSError):
        pass


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised from or while handling, a ``KeyboardInterrupt``.

    A Ctrl-C can come back as another error: pybind11 turns one raised while an extension module
    initialises (a first ``import matplotlib`` or ``scipy.optimize``) into ``ImportError:
    initialization failed`` raised from it. Callers treat such an error as the Ctrl-C it was.
    """
    global _EXTENSION_INTERRUPTED
    first, seen = exc, set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            if exc is not first:
                _EXTENSION_INTERRUPTED = True
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


#: Set by :func:`caused_by_interrupt` when a Ctrl-C came back as another error: an extension module
#: was interrupted while it initialised, and such a half-initialised module (pybind11's) can crash the
#: interpreter's finalisation ("PyThreadState_Get: ... the GIL is released"); see :func:`extension_interrupted`.
_EXTENSION_INTERRUPTED = False


def extension_interrupted() -> bool:
    """Whether this process handled a Ctrl-C that had interrupted an extension's initialisation (then the
    ``jsim`` command leaves with ``os._exit`` once its outputs are flushed, skipping finalisation)."""
    return _EXTENSION_INTERRUPTED
