"""plot, report and serve: charts, the HTML report and the playground."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from ..errors import InputError, RnnlabError
from .common import (
    Json,
    RunId,
    RunsDir,
    echo_json,
    load_run,
    app,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (only this machine by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    runs_dir: RunsDir = None,
) -> None:
    """The playground: a local web page to train, watch, step through the arithmetic and edit weights."""
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be in 0..65535, got {port}")
    try:
        import uvicorn

        from ..web import create_app
    except ImportError as exc:
        raise RnnlabError(f"the web page needs the 'web' extra ({exc.name} is missing): pip install 'rnnlab[web]'") from None
    import socket

    try:  # say so in one line when the address is taken, before starting the server
        with socket.create_server((host, port), reuse_port=False):
            pass
    except OSError as exc:
        raise RnnlabError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    app_ = create_app(runs_dir, allowed_hosts=(host,))
    print(f"rnnlab playground on http://{host}:{port}/ (runs in {app_.state.store.root}); Ctrl-C stops",
          file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app_, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5))
    handle_exit = server.handle_exit

    def closing(sig, frame):  # Ctrl-C: end the progress streams, then trainings stop and are stored
        app_.state.closing.set()
        handle_exit(sig, frame)

    server.handle_exit = closing
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: stopping a server is no error
        pass
    print("rnnlab playground stopped", file=sys.stderr)


@app.command()
def plot(
    run_ids: Annotated[list[str], typer.Argument(help="One run id (or 'latest'), or several to compare.")],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", help="Output directory (default: the run's directory; several runs: '.').")
    ] = None,
    runs_dir: RunsDir = None,
    as_json: Json = False,
) -> None:
    """Charts of a run as PNG and SVG: forecast (with its value table as CSV and Markdown), loss, states.

    With several runs, their forecasts and loss curves on shared axes (compare-*.png/svg).
    """
    from ..plot import write_plots

    runs = [load_run(runs_dir, run_id) for run_id in run_ids]
    paths = write_plots(runs, out)
    if as_json:
        echo_json({"runs": [run.id for run in runs], "files": [str(p) for p in paths]})
        return
    for path in paths:
        print(path)


@app.command()
def report(
    run_id: RunId,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="HTML file to write (default: RUN_DIR/report.html).")
    ] = None,
    runs_dir: RunsDir = None,
    as_json: Json = False,
) -> None:
    """One self-contained HTML file: config, metrics, charts, weights and the hand calculation."""
    from ..report import write_report

    run = load_run(runs_dir, run_id)
    path = write_report(run, out)
    if as_json:
        echo_json({"run": run.id, "report": str(path)})
        return
    print(path)
