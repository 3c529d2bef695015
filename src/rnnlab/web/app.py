"""The playground server: one page and the JSON API it uses (schema at /docs and /openapi.json).

``create_app`` only assembles: the shared state (``context.Playground``), the same-origin guard,
the error handlers and the routers of ``routes/``. Library errors become JSON
``{"error": "<one line>"}`` with a 4xx status: 400 for a bad value (config, window, horizon,
weight edit, run id, step count), 404 for a run, training, step-by-step training or upload that
does not exist, 409 for a stored run that cannot be read, 413 for an upload over the limit, 429
for too many trainings at once, 501 for an optional part this server does not have (the
``datasets`` extra). Runs are named by id only; no parameter is a path, and no error message
shows the server's paths (``Playground.redact``).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import RnnlabError
from ..store import RunStore
from . import service
from .context import Playground
from .jobs import Trainings
from .routes import explain, pages, runs, stepping, trainings, uploads

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]", "testserver")
ANY_HOST = ("0.0.0.0", "::", "[::]")  # served to the network on purpose


def create_app(runs_dir: str | Path | None = None, allowed_hosts: tuple[str, ...] = ()) -> FastAPI:
    """The playground app over the runs in ``runs_dir``."""
    store, limits = RunStore(runs_dir), service.LIMITS
    context = Playground(store, Trainings(store, limits["live_trainings"]), limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await asyncio.to_thread(context.trainings.stop_all)

    app = FastAPI(
        title="rnnlab playground",
        description="Train tiny recurrent networks, watch them learn, and check every step by hand.",
        lifespan=lifespan,
    )
    app.state.playground = context
    # the command line and the tests reach these directly
    app.state.store, app.state.trainings, app.state.closing = context.store, context.trainings, context.closing
    guard_origin(app, {*LOCAL_HOSTS, *allowed_hosts}, any_host=bool(set(ANY_HOST) & set(allowed_hosts)))
    handle_errors(app, context)
    for part in (pages, trainings, stepping, uploads, runs, explain):
        app.include_router(part.router)
    return app


def guard_origin(app: FastAPI, hosts: set[str], any_host: bool) -> None:
    """Only local pages may call the API: a page from another site cannot reach it through the
    browser (DNS rebinding: Host must be ours; cross-site writes: Origin must match Host)."""

    @app.middleware("http")
    async def same_origin(request: Request, call_next):
        host = hostname(request.headers.get("host") or "")
        if host not in hosts and not any_host:
            return JSONResponse({"error": f"host must be one of {', '.join(sorted(hosts))}, got {host!r}"}, 400)
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD") and origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            return JSONResponse({"error": f"cross-origin request from {origin!r} refused"}, 403)
        return await call_next(request)


def handle_errors(app: FastAPI, context: Playground) -> None:
    """Every error as ``{"error": "<one line>"}``: library errors with their ``http_status``."""

    @app.exception_handler(RnnlabError)
    async def rnnlab_error(request: Request, exc: RnnlabError):
        return JSONResponse({"error": context.redact(str(exc))}, status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        got = first.get("input")
        message = f"{where or 'request'}: {first.get('msg', 'invalid')}"
        if not isinstance(got, (dict, list)) and got is not None:
            message += f", got {got!r}"
        return JSONResponse({"error": message}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)


def hostname(host: str) -> str:
    """'127.0.0.1:8000' -> '127.0.0.1'; '[::1]:8000' -> '[::1]'."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]
