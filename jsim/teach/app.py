"""The ASGI app of ``jsim teach``: one page, its script, plotly.js and a JSON API.

Routes
------
``GET /``                       the page (``static/index.html``)
``GET /static/{teach.js, teach.css}``
``GET /static/plotly.min.js``   plotly.js from the installed plotly package (no internet needed)
``GET /api/scenario``           :meth:`TeachSession.info`: name, stages, sliders with ranges, question
``GET /api/simulate``           ``?set=KEY=VALUE&set=...[&engine=fast&reps=5&seed=0]``:
                                ``{"summary": <jsim run --format json>, "daily": {...}}``; an invalid
                                query is a 400 ``{"error": <the message jsim run prints after "error: ">}``
"""

from __future__ import annotations

__all__ = ["create_app"]

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import InputError
from .session import TeachSession

STATIC = Path(__file__).parent / "static"
_FILES = {"teach.js": "text/javascript", "teach.css": "text/css"}


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _whole(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"{name}: must be a whole number, got {raw[:40]!r} (e.g. {name}={default})") from None


def create_app(session: TeachSession) -> Starlette:
    """The Starlette app serving ``session`` (a scenario read once)."""
    from ..io import to_json

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(_plotly_js(), media_type="text/javascript")
        if name not in _FILES:
            return _error(f"no such file {name!r}", 404)
        return FileResponse(STATIC / name, media_type=_FILES[name])

    async def scenario(request: Request) -> Response:
        return JSONResponse(session.info())

    def simulate(request: Request) -> Response:  # sync: Starlette runs it in a worker thread
        try:
            sets = request.query_params.getlist("set")
            engine = request.query_params.get("engine", "mean-field")
            out = session.simulate(
                sets, engine=engine, reps=_whole(request, "reps", 1), seed=_whole(request, "seed", 0)
            )
        except InputError as exc:
            return _error(str(exc))
        return Response(to_json(out), media_type="application/json")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", static),
            Route("/api/scenario", scenario),
            Route("/api/simulate", simulate),
        ]
    )
