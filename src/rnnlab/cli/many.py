"""fit-many: one model per series of a panel, stored as a group; a group's forecasts and evaluation
(``forecast GROUP`` and ``evaluate GROUP`` call ``forecast_group`` and ``evaluate_group``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from ..errors import InputError
from .common import (
    ConfigFile,
    EngineOpt,
    EnsembleOpt,
    HorizonOpt,
    InterpolateOpt,
    Json,
    Preset,
    Quiet,
    RefitOpt,
    RunsDir,
    Steps,
    app,
    build_config,
    data_overrides,
    echo_json,
    open_store,
    stderr_console,
    stdout_console,
)


@app.command("fit-many")
def fit_many(
    file: Annotated[Optional[Path], typer.Argument(help="Wide CSV (a column per series) or long CSV (--id-column).")] = None,
    time_column: Annotated[Optional[str], typer.Option("--time-column", help="CSV column of dates/times.")] = None,
    id_column: Annotated[Optional[str], typer.Option("--id-column", help="Long CSV: the column naming each row's series.")] = None,
    value_column: Annotated[Optional[str], typer.Option("--value-column", help="Long CSV: the column of values.")] = None,
    datasets: Annotated[Optional[list[str]], typer.Option("--dataset", help="A bundled dataset (repeat for several).")] = None,
    group: Annotated[Optional[str], typer.Option("--group", help="Name of the group (default: the file's name).")] = None,
    cluster: Annotated[Optional[str], typer.Option("--cluster", help="A running Dask scheduler, e.g. tcp://host:8786.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", help="Local worker processes (default: one per core; 0: in this process).")] = None,
    chunk_size: Annotated[Optional[int], typer.Option("--chunk-size", help="Series per task (default: measured).")] = None,
    preset: Preset = None,
    config: ConfigFile = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every series' run (the same for each).")] = 0,
    steps: Steps = None,
    ensemble: EnsembleOpt = None,
    horizon: HorizonOpt = None,
    refit: RefitOpt = None,
    interpolate: InterpolateOpt = None,
    engine: EngineOpt = None,
    runs_dir: RunsDir = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Fit one model per series and store them as one group (each series as 'rnnlab train' would fit it alone).

    Runs on this machine (one worker process per core) or on a Dask cluster (--cluster). Ctrl-C
    stops and keeps the series stored so far; the same command again resumes, skipping series
    stored in the group with the same config. A series that cannot be fitted is reported and
    the others go on (exit status 1 when any failed).
    """
    from ..many.panel import dataset_panel, read_panel
    from ..many.runner import fit_many as run

    if file is None and not datasets:
        raise InputError("give a CSV file or --dataset NAME (repeat --dataset for several)")
    if file is not None and datasets:
        raise InputError("give a CSV file or --dataset, not both")
    if file is not None:
        panel = read_panel(file, time_column or "", id_column or "", value_column or "")
    else:
        panel = dataset_panel(list(datasets))
    if not panel:
        raise InputError(f"{str(file)!r} holds no series")
    extra = data_overrides(csv=str(file) if file is not None else None, dataset=None if file else datasets[0],
                           time_column=time_column, interpolate=interpolate, horizon=horizon, refit=refit)
    extra.update({"train.ensemble": ensemble, "train.engine": engine})
    base = build_config(preset or (None if config else "auto"), config, seed, steps, extra=extra)
    name = group or (Path(file).stem if file is not None else "-".join(datasets))
    store = open_store(runs_dir)
    with _Bar(quiet) as bar:
        summary = run(panel, base, store, name, workers=workers, cluster=cluster, chunk_size=chunk_size,
                      on_progress=bar.update)
    err = stderr_console()
    for note in summary.notes:
        err.print(f"note: {note}", soft_wrap=True)
    for sid, warning in summary.warnings.items():
        err.print(f"warning: {sid}: {warning}", soft_wrap=True)
    for sid, reason in summary.failed.items():
        err.print(f"failed: {sid}: {reason}", soft_wrap=True)
    if as_json:
        echo_json(summary.to_dict())
    else:
        _print_summary(summary)
    if summary.interrupted:
        err.print(f"interrupted by {summary.interrupted}: {len(summary.stored)} series stored this time; "
                  "the same command resumes", soft_wrap=True)
        raise typer.Exit(130 if summary.interrupted == "SIGINT" else 143)
    if summary.failed:
        raise typer.Exit(1)


class _Bar:
    """One progress bar on stderr: series done, series per second, time left."""

    def __init__(self, quiet: bool):
        self.progress = None
        if not quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("fit"), BarColumn(), TextColumn("{task.completed}/{task.total} series"),
                                     TextColumn("{task.fields[speed]:.2f} series/s"), TimeElapsedColumn(),
                                     TimeRemainingColumn(), console=stderr_console())
            self.task = self.progress.add_task("fit", total=None, speed=0.0)
        self.first: int | None = None

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            return
        if self.first is None:  # the series skipped on resume do not count towards the speed
            self.first = done
            self.progress.reset(self.task, total=total, completed=done, speed=0.0)
            return
        elapsed = self.progress.tasks[0].elapsed or 0.0
        speed = (done - self.first) / elapsed if elapsed else 0.0
        self.progress.update(self.task, completed=done, speed=speed)


def _print_summary(summary) -> None:
    from rich.table import Table

    data = summary.to_dict()
    table = Table(title=f"group {summary.group}")
    for column in ("series", "stored", "skipped", "failed", "not done", "workers", "chunk", "seconds", "series/s"):
        table.add_column(column, justify="right")
    rate = len(summary.stored) / summary.seconds if summary.seconds else 0.0
    table.add_row(str(data["series"]), str(data["stored"]), str(data["skipped"]), str(len(summary.failed)),
                  str(data["not_done"]), str(summary.workers), str(summary.chunk_size), f"{summary.seconds:.1f}",
                  f"{rate:.2f}")
    stdout_console().print(table)


def resolve_group(runs_dir: Path | None, name: str) -> dict[str, str] | None:
    """{series id: run id} when ``name`` is a group and not a run."""
    from ..many.results import group_runs

    return group_runs(open_store(runs_dir), name)


def forecast_group(runs_dir: Path | None, runs: dict[str, str], steps: int | None, out: Path | None,
                   as_json: bool) -> None:
    """Every series' forecast: long CSV (id, time, forecast, lower, upper) to --out or stdout."""
    import sys

    from ..many.results import forecast_csv, forecast_rows, write_forecasts

    store = open_store(runs_dir)
    if steps is None:
        raise InputError("a group's forecast needs --steps H")
    time_name, rows = forecast_rows(store, runs, steps)
    text = forecast_csv(time_name, rows)
    if out is not None:
        write_forecasts(out, text)
        stderr_console().print(f"wrote {len(rows)} rows ({len(runs)} series × {steps}) to {out}", soft_wrap=True)
    if as_json:
        echo_json({"time_column": time_name, "rows": rows})
    elif out is None:
        sys.stdout.write(text)


def evaluate_group(runs_dir: Path | None, name: str, runs: dict[str, str], as_json: bool) -> None:
    """Each series' backtest and the panel summary (geometric mean of MASE / seasonal-naive MASE)."""
    from rich.table import Table

    from ..many.results import evaluation

    data = evaluation(open_store(runs_dir), runs)
    if as_json:
        echo_json({"group": name, **data})
        return
    table = Table(title=f"group {name}: stored backtests")
    for column in ("id", "run", "origins", "horizon", "MASE", "naive", "seasonal naive", "ratio"):
        table.add_column(column, justify="left" if column in ("id", "run") else "right")
    fmt = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
    for s in data["series"]:
        table.add_row(s["id"], s["run"], str(s["origins"] or ""), str(s["horizon"] or ""), fmt(s["mase"]),
                      fmt(s["naive_mase"]), fmt(s["seasonal_naive_mase"]), fmt(s["ratio"]))
    stdout_console().print(table)
    summary = data["summary"]
    print(f"panel: {summary['scored']} of {summary['series']} series scored; geometric mean of MASE / seasonal-naive "
          f"MASE {fmt(summary['geometric_mean_ratio_to_seasonal_naive']) or 'n/a'}; "
          f"{summary['beats_seasonal_naive']} beat seasonal naive")
