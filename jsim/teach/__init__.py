"""``jsim teach``: a classroom web page that answers slider moves with the mean-field engine.

:class:`TeachSession` reads a scenario once and simulates ``--set`` variants of it (cached);
:func:`create_app` is the ASGI app (Starlette) serving one page, plotly.js from the installed
plotly package and a JSON API; :func:`serve` runs it with uvicorn on 127.0.0.1.
"""

from .app import create_app
from .server import serve
from .session import TeachSession

__all__ = ["TeachSession", "create_app", "serve"]
