"""Run the teaching app with uvicorn on 127.0.0.1 (never another interface)."""

from __future__ import annotations

__all__ = ["serve", "HOST"]

import socket
import sys
import threading

HOST = "127.0.0.1"


def _bind(port: int) -> socket.socket:
    """A listening socket on ``HOST:port`` (0: a free port).

    Raises
    ------
    InputError
        The port is taken or not allowed.
    """
    from ..errors import InputError

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"--port {port}: cannot listen on {HOST}:{port} ({exc.strerror}) (choose another port, or --port 0 "
            "for a free one)",
            params=("port",),
        ) from None
    sock.listen(128)
    return sock


def serve(session, port: int = 8050, open_browser: bool = True, announce=None) -> None:
    """Serve ``session``'s page on ``127.0.0.1:port`` until Ctrl-C; ``port`` 0 picks a free port.

    ``announce(url)`` is called once the server listens (default: print the URL on stderr);
    ``open_browser`` opens the page in the user's browser (:func:`webbrowser.open`).
    """
    import uvicorn

    from .app import create_app

    sock = _bind(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/"
    config = uvicorn.Config(create_app(session), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    def when_started() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if server.started:
            (announce or (lambda u: print(f"jsim teach: {u} (Ctrl-C stops)", file=sys.stderr)))(url)
            if open_browser:
                import webbrowser

                webbrowser.open(url)

    threading.Thread(target=when_started, daemon=True).start()
    if hasattr(session, "warm_up"):
        threading.Thread(target=session.warm_up, name="jsim-teach-warm-up", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
