"""``python -m jsim`` and the ``jsim`` command: the command line, with Ctrl-C while it starts handled too."""

from __future__ import annotations

import sys


def entry() -> None:
    """Import and run the command line; Ctrl-C during the imports exits 130 with one line."""
    from jsim.errors import forget_unhandled_interrupt

    try:
        from jsim.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted by Ctrl-C while starting; nothing was done\n")
        forget_unhandled_interrupt()
        raise SystemExit(130) from None
    main(prog_name="jsim")


if __name__ == "__main__":
    entry()
