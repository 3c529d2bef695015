"""What the commands share: the typer apps, the options, consoles, config and training helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from typing_extensions import Annotated

from .. import limits
from ..errors import InputError, TrainingDivergedError

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Run, RunStore

app = typer.Typer(
    name="rnnlab",
    help="Tiny recurrent networks you can train in milliseconds, forecast with, and check by hand.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's Markdown renderer costs ~100 ms at start-up
)
runs_app = typer.Typer(
    help="The run catalog: list, show, remove and check stored runs.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(runs_app, name="runs")

# -- shared options -------------------------------------------------------------------------------
Preset = Annotated[Optional[str], typer.Option("--preset", help="Start from this preset (default: seed).")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seed Python's random and torch once at the start.")]
Steps = Annotated[Optional[int], typer.Option(
    "--steps", help=f"Training steps (one window each for the seed loop; 1..{limits.STEPS:,}).")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate (> 0, within float32: <= 3.4e38).")]
HiddenSize = Annotated[Optional[int], typer.Option(
    "--hidden-size", help=f"Units per recurrent layer (1..{limits.HIDDEN_SIZE}).")]
Cell = Annotated[Optional[str], typer.Option("--cell", help="rnn, rnn_relu, lstm or gru.")]
NumLayers = Annotated[Optional[int], typer.Option("--num-layers", help=f"Stacked recurrent layers (1..{limits.NUM_LAYERS}).")]
Readout = Annotated[Optional[str], typer.Option("--readout", help="unit (last hidden unit, as the seed) or linear.")]
LogEvery = Annotated[Optional[int], typer.Option("--log-every", help="Print a loss line every N steps.")]
ConfigFile = Annotated[Optional[Path], typer.Option(
    "--config", help=f"TOML or JSON config file (a regular file of at most {limits.CONFIG_BYTES:,} bytes).")]
RunsDir = Annotated[
    Optional[Path], typer.Option("--runs-dir", help="Runs directory (default: $RNNLAB_RUNS_DIR or ./runs).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no loss lines.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
RunId = Annotated[str, typer.Argument(help="Run id (a directory under the runs dir), or 'latest'.")]


def _context_values(value: str | None) -> str | None:
    """--values: numbers the model can read in float32, checked while parsing."""
    if value is None:
        return None
    from ..data import parse_values

    try:
        numbers = parse_values(value)
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from None
    if len(numbers) > limits.CONTEXT_LENGTH:
        raise typer.BadParameter(f"at most {limits.CONTEXT_LENGTH:,} values, got {len(numbers):,}")
    beyond = [v for v in numbers if abs(v) > limits.FLOAT32_MAX]
    if beyond:
        raise typer.BadParameter(f"values must lie within float32 (|x| <= 3.4e38), got {beyond[0]!r}")
    return value


Values = Annotated[Optional[str], typer.Option(
    "--values", help='Context values, e.g. "0.34,0.17,0" (finite, within float32).', callback=_context_values)]


def _within(flag: str, high: int):
    """A parse-time check that an integer option lies in 1..high."""
    def check(value: int | None) -> int | None:
        if value is not None and value < 1:
            raise typer.BadParameter(f"{flag} must be >= 1, got {value}")
        if value is not None and value > high:
            raise typer.BadParameter(f"{flag} must be <= {high:,}, got {value}")
        return value
    return check


ForecastSteps = Annotated[Optional[int], typer.Option(
    "--steps", callback=_within("--steps", limits.FORECAST_STEPS),
    help=f"Values to generate (default: the run's; 1..{limits.FORECAST_STEPS:,}).")]
Stride = Annotated[int, typer.Option(
    "--stride", callback=_within("--stride", limits.STRIDE),
    help=f"Backtest: a forecast origin every N values (1..{limits.STRIDE:,}).")]
WindowOpt = Annotated[Optional[str], typer.Option("--window", help="Context = training series[START:END].")]
DrawSeed = Annotated[
    Optional[int], typer.Option("--draw-seed", help="Draw a random context window as the seed does, with this seed.")
]


# -- series and training options (train, evaluate) ----------------------------------------------------
SeriesOpt = Annotated[Optional[str], typer.Option(
    "--series", help="Waveform (sine, cosine, square, sawtooth, triangle, damped_sine, sines), csv or dataset.")]
CsvOpt = Annotated[Optional[str], typer.Option("--csv", help=(
    f"Train on a column of this CSV file (a regular file of at most {limits.CSV_BYTES:,} bytes and "
    f"{limits.CSV_ROWS:,} rows)."))]
ColumnOpt = Annotated[Optional[str], typer.Option("--column", help="CSV column holding the values.")]
TimeColumnOpt = Annotated[Optional[str], typer.Option("--time-column", help="CSV column of dates/times.")]
DatasetOpt = Annotated[Optional[str], typer.Option("--dataset", help="Bundled dataset: sunspots, nile, co2, elnino.")]
InterpolateOpt = Annotated[Optional[bool], typer.Option(
    "--interpolate/--no-interpolate", help="Fill missing values linearly (default: refuse them).")]
PeriodsOpt = Annotated[Optional[int], typer.Option(
    "--periods", help=f"Periods of the waveform (1..{limits.PERIODS:,}; at most {limits.SERIES_LENGTH:,} values).")]
NoiseOpt = Annotated[Optional[float], typer.Option("--noise", help="Std of Gaussian noise added to the waveform.")]
ContextLengthOpt = Annotated[Optional[int], typer.Option(
    "--context-length", help=f"Fixed context length (0: the seed's variable-length windows; at most {limits.CONTEXT_LENGTH:,}).")]
HorizonOpt = Annotated[Optional[int], typer.Option(
    "--horizon", help=f"K: values scored after each test origin (1..{limits.HORIZON:,}).")]
ValFractionOpt = Annotated[Optional[float], typer.Option("--val-fraction", help="Fraction held out for validation.")]
TestFractionOpt = Annotated[Optional[float], typer.Option("--test-fraction", help="Fraction held out for testing.")]
ScalingOpt = Annotated[Optional[str], typer.Option("--scaling", help="auto, none, standard, minmax or changes.")]
TransformOpt = Annotated[Optional[str], typer.Option("--transform", help="auto, none, log or boxcox (before anything else).")]
SeasonalOpt = Annotated[Optional[str], typer.Option("--seasonal", help="auto, none, classical (seasonal indices) or stl.")]
LevelOpt = Annotated[Optional[str], typer.Option(
    "--level", help="auto, none or last: read each context relative to its last value.")]
RefitOpt = Annotated[Optional[bool], typer.Option(
    "--refit/--no-refit", help="After the backtest, train the stored model on every value.")]
SeasonOpt = Annotated[Optional[int], typer.Option("--season", help=f"Season length (0: detected; at most {limits.SEASON:,}).")]
OptimizerOpt = Annotated[Optional[str], typer.Option("--optimizer", help="sgd, adam or adamw.")]
BatchSizeOpt = Annotated[Optional[int], typer.Option(
    "--batch-size", help=f"Windows per step (0: all of them; at most {limits.BATCH_SIZE:,}).")]
ClipGradOpt = Annotated[Optional[float], typer.Option("--clip-grad", help="Clip the gradient norm (0: off).")]
ScheduleOpt = Annotated[Optional[str], typer.Option("--schedule", help="constant, cosine or step.")]
PatienceOpt = Annotated[Optional[int], typer.Option("--patience", help="Early stopping patience (0: off).")]
RolloutOpt = Annotated[Optional[int], typer.Option(
    "--rollout", help=f"Loss over this many fed-back predictions (1..{limits.ROLLOUT:,}).")]
DropoutOpt = Annotated[Optional[float], typer.Option("--dropout", help="Dropout between recurrent layers.")]
EngineOpt = Annotated[Optional[str], typer.Option(
    "--engine", help="auto (default: fast wherever it supports the config, except the seed's own loop), torch (the reference) or fast (compiled, CPU, float64, small models).")]
EnsembleOpt = Annotated[Optional[int], typer.Option(
    "--ensemble", help=f"Train N models from seeds S…S+N-1 as one run (1..{limits.ENSEMBLE:,}); forecasts give "
                       "median and 10-90 % band.")]


def data_overrides(series=None, csv=None, column=None, time_column=None, dataset=None, interpolate=None,
                    periods=None, noise=None, context_length=None, horizon=None, val_fraction=None,
                    test_fraction=None, scaling=None, season=None, transform=None, seasonal=None, level=None,
                    refit=None) -> dict:
    """Dotted config keys of the series flags; --csv and --dataset imply their series kind."""
    if csv is not None and dataset is not None:
        raise InputError("give one series source, got --csv and --dataset")
    if csv is not None and series is None:
        series = "csv"
    if dataset is not None and series is None:
        series = "dataset"
    return {
        "data.series": series, "data.column": column, "data.time_column": time_column,
        # stored absolute, so that the run forecasts from any working directory
        "data.csv": None if csv is None else str(Path(csv).resolve()),
        "data.dataset": dataset, "data.interpolate": interpolate, "data.periods": periods, "data.noise": noise,
        "data.context_length": context_length, "data.horizon": horizon, "data.val_fraction": val_fraction,
        "data.test_fraction": test_fraction, "data.scaling": scaling, "data.season": season,
        "data.transform": transform, "data.seasonal": seasonal, "data.level": level, "data.refit": refit,
    }


def number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def stderr_console():
    """Console for messages: no markup, emoji codes or highlighting, so a path such as
    'runs/:v:[x]' prints as it is."""
    from rich.console import Console

    return Console(stderr=True, markup=False, emoji=False, highlight=False)


def stdout_console():
    """Console for results: a terminal's width, or wide enough not to fold tables in a pipe."""
    from rich.console import Console

    console = Console(emoji=False, markup=False)
    return console if console.is_terminal else Console(width=200, emoji=False, markup=False)


def echo_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def open_store(runs_dir: Path | None) -> "RunStore":
    from ..store import RunStore

    return RunStore(runs_dir)


def load_run(runs_dir: Path | None, run_id: str) -> "Run":
    return open_store(runs_dir).load(run_id)  # "latest": the newest run


def build_config(
    preset: str | None = None,
    config_file: Path | None = None,
    seed: int | None = None,
    steps: int | None = None,
    lr: float | None = None,
    hidden_size: int | None = None,
    cell: str | None = None,
    num_layers: int | None = None,
    readout: str | None = None,
    log_every: int | None = None,
    extra: dict | None = None,
):
    from ..presets import resolve_config

    nonlinearity = None
    if cell is not None and cell.startswith("rnn_"):
        cell, nonlinearity = "rnn", cell[len("rnn_"):]
    return resolve_config(
        preset,
        config_file,
        {
            "seed": seed,
            "train.steps": steps,
            "train.lr": lr,
            "train.log_every": log_every,
            "model.hidden_size": hidden_size,
            "model.cell": cell,
            "model.nonlinearity": nonlinearity,
            "model.num_layers": num_layers,
            "model.readout": readout,
            **(extra or {}),
        },
    )


class Progress:
    """A rich progress bar on stderr (step, loss, speed) and loss lines every ``log_every`` steps."""

    def __init__(self, total: int, log_every: int, quiet: bool, log=None):
        self.total, self.log_every, self.quiet = total, log_every, quiet
        self.log = log  # where loss lines go: a callable taking a line, or None for stderr
        self.progress = None
        if not quiet:
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                TextColumn("step {task.completed}/{task.total}"),
                TextColumn("loss {task.fields[loss]:.4f}"),
                TextColumn("{task.fields[speed]:,.0f} steps/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=stderr_console(),
                transient=False,
            )
            self.task = self.progress.add_task("train", total=total, loss=float("nan"), speed=0.0)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, step: int, total: int, loss: float) -> None:
        if step == 1:
            from .. import hooks

            hooks.point("train-step")
        if step % self.log_every == 0:
            line = f"Epoch: {step}/{total}, Loss: {loss:.4f}"
            if self.log is not None:
                self.log(line)
            elif self.progress is not None:
                self.progress.console.print(line, highlight=False)
        if self.progress is not None and (step % 50 == 0 or step == total):
            task = self.progress.tasks[0]
            elapsed = task.elapsed or 0.0
            self.progress.update(self.task, completed=step, loss=loss, speed=step / elapsed if elapsed else 0.0)


def train_and_store(config, runs_dir, quiet, log=None, name=None):
    """Train, evaluate (seed task, test part) and store; returns ``pipeline.StoredRun``."""
    from ..data.prepared import pinned

    with pinned(config.data):  # a csv file is read once, for the checks, the training and the run
        return _train_and_store(config, runs_dir, quiet, log, name)


def _train_and_store(config, runs_dir, quiet, log, name):
    from ..pipeline import checked, train_and_store as store_training

    from ..training import choose_engine

    drawn = config.seed is None
    engine, why = choose_engine(config)
    from ..store import check_name

    check_name(name)
    config = checked(config)  # a bad series or setting fails here, before any output
    store = open_store(runs_dir)
    store.check()  # fail on an unusable runs dir before training, not after
    for note in store.notes:
        stderr_console().print(f"note: {note}", soft_wrap=True)
    if why.startswith("auto") and not quiet:
        stderr_console().print(f"engine {engine} ({why})", highlight=False, soft_wrap=True)
    if config.data.series in ("csv", "dataset") and config.preset == "seed" and config.train.batch_size == 1 and not quiet:
        stderr_console().print("hint: the seed preset trains one window per step; --preset forecast suits real series",
                               highlight=False)
    if drawn and not quiet:
        stderr_console().print(f"seed {config.seed} (drawn; pass --seed {config.seed} to repeat this run)", highlight=False)
    with Progress(config.train.steps, config.train.log_every, quiet, log) as progress:
        stored = store_training(config, store, on_step=progress, name=name)
    result = stored.result
    notes = [stored.evaluation_error, stored.catalog_error]
    for warning in result.warnings + [note for note in notes if note]:
        stderr_console().print(f"warning: {warning}", highlight=False, soft_wrap=True)
    if result.message and result.status == "completed" and not quiet:
        stderr_console().print(result.message, highlight=False, soft_wrap=True)
    return stored


def finish(stored, store_root: Path) -> None:
    """Say where the run is stored; exit 130 for an interrupted run (143 after SIGTERM), 1 for a
    diverged one; a signal after the last step keeps the completed run and exits 128 + signal."""
    result, run_id = stored.result, stored.run_id
    err = stderr_console()
    code = 128 + stored.signal if stored.signal else 130
    if result.status == "interrupted":
        err.print(f"interrupted: {result.message}; run kept as {run_id} ({store_root / run_id})", soft_wrap=True)
        raise typer.Exit(code)
    elif result.status == "diverged":
        err.print(f"run kept as {run_id} (status diverged)")
        raise TrainingDivergedError(result.message)
    elif stored.signal:
        evaluation = "evaluation skipped" if stored.evaluation_skipped else "evaluated"
        err.print(f"interrupted by {stored.signal_name} after the last step: run kept as {run_id} "
                  f"({store_root / run_id}), status completed, {evaluation}", soft_wrap=True)
        raise typer.Exit(code)
    else:
        err.print(f"run stored: {run_id} ({store_root / run_id})", soft_wrap=True)
