"""``python -m jsim`` and the ``jsim`` command: the command line, with Ctrl-C while it starts handled too."""

from __future__ import annotations

import gc
import os
import sys

#: young-generation threshold of the cyclic garbage collector in the command's process (Python's
#: default is 700): starting ``jsim run`` creates a few million objects (numba's types and
#: registries, pydantic's schemas), and at 700 the collector rescans them again and again.
GC_THRESHOLD = 10_000


def entry() -> None:
    """Import and run the command line; Ctrl-C during the imports exits 130 with one line.

    The process's garbage collector runs less often (:data:`GC_THRESHOLD`), and at exit the heap
    is frozen (``gc.freeze``), so that the interpreter's last collections do not traverse it once
    more: together about 0.2 s of a warm ``jsim run`` (``benchmarks/README.md``, Start-up). Only
    the command's process: the library, and ``jsim.cli.main`` called in-process, leave the
    collector alone.
    """
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    from jsim.errors import forget_unhandled_interrupt

    try:
        from jsim.cli import main
    except Exception as exc:
        from jsim.errors import caused_by_interrupt

        if not caused_by_interrupt(exc):  # a Ctrl-C in an extension's initialisation comes back as ImportError
            raise
        sys.stderr.write("error: interrupted by Ctrl-C while starting; nothing was done\n")
        _exit_now(130)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted by Ctrl-C while starting; nothing was done\n")
        forget_unhandled_interrupt()
        raise SystemExit(130) from None
    try:
        main(prog_name="jsim")
    except SystemExit as done:
        from jsim.errors import extension_interrupted

        if extension_interrupted():
            _exit_now(done.code if isinstance(done.code, int) else 1)
        raise
    finally:
        gc.freeze()  # every output is written and closed by now: exit without a last traversal


def _exit_now(code: int) -> None:
    """Flush the output and leave without the interpreter's finalisation: after a Ctrl-C interrupted an
    extension module's initialisation, finalising can crash the process (a half-initialised pybind11
    module), turning exit 130 into an abort. Every file jsim writes is complete and closed by then."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
