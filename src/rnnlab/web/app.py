"""The playground server: one page and the JSON API it uses (schema at /docs and /openapi.json).

Library errors become JSON ``{"error": "<one line>"}`` with a 4xx status: 400 for a bad value
(config, window, horizon, weight edit, run id), 404 for a run or training that does not exist,
413 for an upload over the limit, 429 for too many trainings at once, 501 for a part of rnnlab
this build does not have. Runs are named by id only; no parameter is a path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Optional

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InputError, RnnlabError, RunCorruptError, RunNotFoundError
from ..store import RunStore, check_run_id, write_atomic
from . import service
from .jobs import Trainings, TooManyTrainings

HERE = Path(__file__).parent


class ApiError(RnnlabError):
    """An error with its own HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _status(exc: RnnlabError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, RunNotFoundError):
        return 404
    if isinstance(exc, TooManyTrainings):
        return 429
    if isinstance(exc, RunCorruptError):
        return 409
    return 400


# -- request bodies -------------------------------------------------------------------------------


class TrainRequest(BaseModel):
    preset: str = Field("seed", description="Preset the config starts from.")
    config: dict[str, Any] = Field(default_factory=dict, description="Nested config values on top of the preset.")
    name: Optional[str] = Field(None, max_length=100, description="A name for the run.")
    upload: Optional[str] = Field(None, description="Id of an uploaded CSV to train on (see POST /api/uploads).")


class WeightEdit(BaseModel):
    name: str = Field(description="Parameter name, e.g. weight_hh_l0.")
    index: list[int] = Field(description="Index into the parameter, one integer per dimension.")
    value: float = Field(description="The new value.")


class EditRequest(BaseModel):
    edits: list[WeightEdit] = Field(description="Weights to replace; the stored run is not changed.")
    start: Optional[int] = None
    end: Optional[int] = None
    horizon: Optional[int] = None
    step: Optional[int] = Field(None, description="Also return the hand calculation of this step.")


# -- the app --------------------------------------------------------------------------------------


def create_app(runs_dir: str | Path | None = None, allowed_hosts: tuple[str, ...] = ()) -> FastAPI:
    """The playground app over the runs in ``runs_dir``."""
    store = RunStore(runs_dir)
    trainings = Trainings(store, service.LIMITS["live_trainings"])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await asyncio.to_thread(trainings.stop_all)

    app = FastAPI(
        title="rnnlab playground",
        description="Train tiny recurrent networks, watch them learn, and check every step by hand.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.trainings = trainings
    app.state.closing = threading.Event()  # set when the server starts shutting down
    hosts = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver", *allowed_hosts}
    any_host = bool({"0.0.0.0", "::", "[::]"} & set(allowed_hosts))  # served to the network on purpose

    @app.middleware("http")
    async def same_origin(request: Request, call_next):
        # Only local pages may call the API: a page from another site cannot reach it through the
        # browser (DNS rebinding: Host must be ours; cross-site writes: Origin must match Host).
        host = _hostname(request.headers.get("host") or "")
        if host not in hosts and not any_host:
            return JSONResponse({"error": f"host must be one of {', '.join(sorted(hosts))}, got {host!r}"}, 400)
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD") and origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            return JSONResponse({"error": f"cross-origin request from {origin!r} refused"}, 403)
        return await call_next(request)

    @app.exception_handler(RnnlabError)
    async def rnnlab_error(request: Request, exc: RnnlabError):
        return JSONResponse({"error": str(exc)}, status_code=_status(exc))

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

    def load(run_id: str):
        # 'latest' names the newest run, as on the command line
        return store.load(store.latest() if run_id == "latest" else check_run_id(run_id))

    # -- page and static files -------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return HTMLResponse((HERE / "templates" / "index.html").read_text(encoding="utf-8"))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js():
        import plotly

        return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
                            media_type="text/javascript")

    @app.get("/static/app.js", include_in_schema=False)
    def app_js():
        return FileResponse(HERE / "static" / "app.js", media_type="text/javascript")

    @app.get("/static/app.css", include_in_schema=False)
    def app_css():
        return FileResponse(HERE / "static" / "app.css", media_type="text/css")

    # -- options and training ----------------------------------------------------------------------

    @app.get("/api/options", summary="Choices, presets, limits and the optional parts this build has")
    def options():
        return service.options()

    @app.post("/api/train", status_code=202, summary="Start a training; follow it at /api/train/{job}/events")
    def start_training(request: TrainRequest):
        config_values = dict(request.config)
        if request.upload is not None:
            field = service.csv_field()
            if field is None:
                raise ApiError(501, service.MISSING["csv"])
            path = upload_path(request.upload)
            config = service.build_config(request.preset, config_values, {"series": "csv", field: str(path)})
        else:
            config = service.build_config(request.preset, config_values)
        job = trainings.start(config, request.name)
        return job.summary()

    @app.get("/api/train", summary="Trainings started from this server: live and recently finished")
    def list_trainings():
        return [job.summary() for job in trainings.all()]

    def get_job(job_id: str):
        job = trainings.get(job_id)
        if job is None:
            raise ApiError(404, f"training {job_id!r} does not exist (or finished long ago)")
        return job

    @app.get("/api/train/{job_id}", summary="A training's state")
    def training(job_id: str):
        return get_job(job_id).summary()

    @app.post("/api/train/{job_id}/stop", summary="Stop a training after its current step; the run is kept")
    def stop_training(job_id: str):
        job = get_job(job_id)
        job.stop.set()
        return job.summary()

    @app.get("/api/train/{job_id}/events", summary="Server-sent events: progress, then the final state")
    async def training_events(job_id: str, request: Request):
        job = get_job(job_id)
        stride = max(1, job.total // 2000)  # about 2000 points on the page's curve

        async def events():
            sent = 0
            while True:
                finished = job.done.is_set()
                count = len(job.losses)
                if count > sent:
                    points = [[i + 1, job.losses[i]] for i in range(sent, count)
                              if (i + 1) % stride == 0 or i + 1 == count]
                    sent = count
                    yield _sse("progress", {"step": count, "total": job.total, "points": points})
                if finished:
                    yield _sse("done", job.summary())
                    return
                if app.state.closing.is_set() or await request.is_disconnected():
                    return  # the training goes on and is stored when it ends (or the server stops)
                await asyncio.sleep(0.1)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # -- uploads -------------------------------------------------------------------------------------

    def upload_path(upload_id: str) -> Path:
        if not isinstance(upload_id, str) or len(upload_id) != 16 or any(c not in "0123456789abcdef" for c in upload_id):
            raise InputError(f"upload id must be 16 hex digits, got {upload_id!r}")
        path = store.root / "uploads" / f"{upload_id}.csv"
        if not path.is_file():
            raise ApiError(404, f"upload {upload_id!r} does not exist")
        return path

    @app.post("/api/uploads", summary="Upload a CSV series (request body: the file's bytes)")
    async def upload(request: Request):
        limit = service.LIMITS["upload_bytes"]
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"upload must be <= {limit} bytes, got {int(declared)}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"upload must be <= {limit} bytes, got more")
            chunks.append(chunk)
        if service.csv_field() is None:
            raise ApiError(501, service.MISSING["csv"])
        payload = b"".join(chunks)
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("upload must be a UTF-8 text CSV file") from None
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise InputError(f"upload must hold a header and at least one row, got {len(lines)} lines")
        upload_id = hashlib.sha256(payload).hexdigest()[:16]
        folder = store.root / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{upload_id}.csv", payload)
        return {"upload": upload_id, "bytes": size, "rows": len(lines) - 1, "header": lines[0][:200]}

    # -- runs ----------------------------------------------------------------------------------------

    @app.get("/api/runs", summary="The run catalog, oldest first")
    def runs():
        return store.list()

    @app.get("/api/runs/{run_id}", summary="A run: info, config, metrics, loss history")
    def run(run_id: str):
        r = load(run_id)
        return {"id": r.id, "info": r.info, "config": r.config.to_dict(), "metrics": r.metrics, "history": r.history}

    @app.delete("/api/runs/{run_id}", summary="Delete a run (catalog row and directory)")
    def delete_run(run_id: str):
        store.remove(check_run_id(run_id))
        return {"deleted": run_id}

    @app.get("/api/runs/{run_id}/weights", summary="Every parameter with its shape and values")
    def weights(run_id: str):
        return service.weights_payload(load(run_id).model)

    def view(r, model, start, end, horizon):
        start, end = service.resolve_window(r, start, end)
        steps = service.check_horizon(horizon, r.config.forecast.steps)
        # an ensemble's band is drawn for the stored members; an edit changes member 0 alone
        members = getattr(r, "members", None) if model is r.model else None
        return service.chart(r, model, start, end, steps, members)

    @app.get("/api/runs/{run_id}/forecast", summary="The seed's chart: baseline, input and prediction")
    def forecast(run_id: str, start: Optional[int] = Query(None, description="Context window start."),
                 end: Optional[int] = Query(None, description="Context window end (exclusive)."),
                 horizon: Optional[int] = Query(None, description="Values to generate.")):
        r = load(run_id)
        return view(r, r.model, start, end, horizon)

    @app.get("/api/runs/{run_id}/explain", summary="The hand calculation of one step, checked against torch")
    def explain(run_id: str, step: int = Query(description="0 … len(context)-1, then the fed-back steps."),
                start: Optional[int] = None, end: Optional[int] = None, horizon: Optional[int] = None):
        r = load(run_id)
        v = view(r, r.model, start, end, horizon)
        return service.hand_calculation(r.model, v, step)

    @app.post("/api/runs/{run_id}/edit",
              summary="Forecast and hand calculation with some weights replaced (nothing is saved)")
    def edit(run_id: str, request: EditRequest):
        r = load(run_id)
        model = service.edited_model(r, [e.model_dump() for e in request.edits])
        v = view(r, model, request.start, request.end, request.horizon)
        result = {"chart": v, "weights": service.weights_payload(model)}
        if request.step is not None:
            result["explain"] = service.hand_calculation(model, v, request.step)
        return result

    @app.get("/api/compare", summary="Two runs side by side: config differences, metrics, loss, forecast")
    def compare(a: str, b: str, horizon: Optional[int] = None):
        runs_ = [load(a), load(b)]
        configs = [service.flatten(r.config.to_dict()) for r in runs_]
        keys = sorted(set(configs[0]) | set(configs[1]))
        differences = {k: [configs[0].get(k), configs[1].get(k)] for k in keys if configs[0].get(k) != configs[1].get(k)}
        return {
            "runs": [
                {"id": r.id, "info": r.info, "metrics": r.metrics, "history": r.history,
                 "chart": view(r, r.model, None, None, horizon)}
                for r in runs_
            ],
            "differences": differences,
        }

    @app.get("/api/runs/{run_id}/report", summary="The run's HTML report, as a download")
    def report(run_id: str):
        r = load(run_id)
        render = service.report_function()
        if render is None:
            raise ApiError(501, service.MISSING["report"])
        html = service.render_report(render, r)
        return Response(html, media_type="text/html",
                        headers={"Content-Disposition": f'attachment; filename="{r.id}.html"'})

    return app


def _hostname(host: str) -> str:
    """'127.0.0.1:8000' -> '127.0.0.1'; '[::1]:8000' -> '[::1]'."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
