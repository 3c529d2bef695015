"""The command line: parse, call the library, render.

Results go to stdout (``--json`` for scripts), progress and messages to stderr. Errors raised by
the library are caught in ``main`` and printed as one line, ``error: …``, with exit status 2 for
usage errors and 1 otherwise. torch is imported only by the commands that need it, so ``--help``
stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from typing_extensions import Annotated

from .errors import ConfigError, InputError, RnnlabError

if TYPE_CHECKING:  # pragma: no cover
    from .store import Run, RunStore

app = typer.Typer(
    name="rnnlab",
    help="Tiny recurrent networks you can train in milliseconds, forecast with, and check by hand.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's Markdown renderer costs ~100 ms at start-up
)
runs_app = typer.Typer(
    help="The run catalog: list, show and remove stored runs.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(runs_app, name="runs")

# -- shared options -------------------------------------------------------------------------------
Preset = Annotated[Optional[str], typer.Option("--preset", help="Start from this preset (default: seed).")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seed Python's random and torch once at the start.")]
Steps = Annotated[Optional[int], typer.Option("--steps", help="Training steps (one window each for the seed loop).")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")]
HiddenSize = Annotated[Optional[int], typer.Option("--hidden-size", help="Units per recurrent layer.")]
Cell = Annotated[Optional[str], typer.Option("--cell", help="rnn, rnn_relu, lstm or gru.")]
NumLayers = Annotated[Optional[int], typer.Option("--num-layers", help="Stacked recurrent layers.")]
Readout = Annotated[Optional[str], typer.Option("--readout", help="unit (last hidden unit, as the seed) or linear.")]
LogEvery = Annotated[Optional[int], typer.Option("--log-every", help="Print a loss line every N steps.")]
ConfigFile = Annotated[Optional[Path], typer.Option("--config", help="TOML or JSON config file.")]
RunsDir = Annotated[
    Optional[Path], typer.Option("--runs-dir", help="Runs directory (default: $RNNLAB_RUNS_DIR or ./runs).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no loss lines.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
RunId = Annotated[str, typer.Argument(help="Run id (a directory under the runs dir), or 'latest'.")]
Values = Annotated[Optional[str], typer.Option("--values", help='Context values, e.g. "0.34,0.17,0".')]
WindowOpt = Annotated[Optional[str], typer.Option("--window", help="Context = training series[START:END].")]
DrawSeed = Annotated[
    Optional[int], typer.Option("--draw-seed", help="Draw a random context window as the seed does, with this seed.")
]


# -- series and training options (train, evaluate) ----------------------------------------------------
SeriesOpt = Annotated[Optional[str], typer.Option(
    "--series", help="Waveform (sine, cosine, square, sawtooth, triangle, damped_sine, sines), csv or dataset.")]
CsvOpt = Annotated[Optional[str], typer.Option("--csv", help="Train on a column of this CSV file.")]
ColumnOpt = Annotated[Optional[str], typer.Option("--column", help="CSV column holding the values.")]
TimeColumnOpt = Annotated[Optional[str], typer.Option("--time-column", help="CSV column of dates/times.")]
DatasetOpt = Annotated[Optional[str], typer.Option("--dataset", help="Bundled dataset: sunspots, nile, co2, elnino.")]
InterpolateOpt = Annotated[Optional[bool], typer.Option(
    "--interpolate/--no-interpolate", help="Fill missing values linearly (default: refuse them).")]
PeriodsOpt = Annotated[Optional[int], typer.Option("--periods", help="Periods of the waveform.")]
NoiseOpt = Annotated[Optional[float], typer.Option("--noise", help="Std of Gaussian noise added to the waveform.")]
ContextLengthOpt = Annotated[Optional[int], typer.Option(
    "--context-length", help="Fixed context length (0: the seed's variable-length windows).")]
HorizonOpt = Annotated[Optional[int], typer.Option("--horizon", help="K: values scored after each test origin.")]
ValFractionOpt = Annotated[Optional[float], typer.Option("--val-fraction", help="Fraction held out for validation.")]
TestFractionOpt = Annotated[Optional[float], typer.Option("--test-fraction", help="Fraction held out for testing.")]
ScalingOpt = Annotated[Optional[str], typer.Option("--scaling", help="auto, none, standard or minmax.")]
SeasonOpt = Annotated[Optional[int], typer.Option("--season", help="Season length (0: detected).")]
OptimizerOpt = Annotated[Optional[str], typer.Option("--optimizer", help="sgd, adam or adamw.")]
BatchSizeOpt = Annotated[Optional[int], typer.Option("--batch-size", help="Windows per step (0: all of them).")]
ClipGradOpt = Annotated[Optional[float], typer.Option("--clip-grad", help="Clip the gradient norm (0: off).")]
ScheduleOpt = Annotated[Optional[str], typer.Option("--schedule", help="constant, cosine or step.")]
PatienceOpt = Annotated[Optional[int], typer.Option("--patience", help="Early stopping patience (0: off).")]
RolloutOpt = Annotated[Optional[int], typer.Option("--rollout", help="Loss over this many fed-back predictions.")]
DropoutOpt = Annotated[Optional[float], typer.Option("--dropout", help="Dropout between recurrent layers.")]
EngineOpt = Annotated[Optional[str], typer.Option(
    "--engine", help="torch (the reference, default) or fast (compiled, CPU, small models).")]
EnsembleOpt = Annotated[Optional[int], typer.Option(
    "--ensemble", help="Train N models from seeds S…S+N-1 as one run; forecasts give median and 10-90 % band.")]


def _data_overrides(series=None, csv=None, column=None, time_column=None, dataset=None, interpolate=None,
                    periods=None, noise=None, context_length=None, horizon=None, val_fraction=None,
                    test_fraction=None, scaling=None, season=None) -> dict:
    """Dotted config keys of the series flags; --csv and --dataset imply their series kind."""
    if csv is not None and dataset is not None:
        raise InputError("give one series source, got --csv and --dataset")
    if csv is not None and series is None:
        series = "csv"
    if dataset is not None and series is None:
        series = "dataset"
    return {
        "data.series": series, "data.csv": csv, "data.column": column, "data.time_column": time_column,
        "data.dataset": dataset, "data.interpolate": interpolate, "data.periods": periods, "data.noise": noise,
        "data.context_length": context_length, "data.horizon": horizon, "data.val_fraction": val_fraction,
        "data.test_fraction": test_fraction, "data.scaling": scaling, "data.season": season,
    }


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


def _stdout():
    """Console for results: a terminal's width, or wide enough not to fold tables in a pipe."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200)


def _echo_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _store(runs_dir: Path | None) -> "RunStore":
    from .store import RunStore

    return RunStore(runs_dir)


def _load(runs_dir: Path | None, run_id: str) -> "Run":
    store = _store(runs_dir)
    return store.load(store.latest() if run_id == "latest" else run_id)


def _config(
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
    from .config import resolve_config

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


class _Progress:
    """A rich progress bar on stderr (step, loss, speed) and loss lines every ``log_every`` steps."""

    def __init__(self, total: int, log_every: int, quiet: bool, log=None):
        self.total, self.log_every, self.quiet = total, log_every, quiet
        self.log = log  # where loss lines go: a callable taking a line, or None for stderr
        self.progress = None
        if not quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                TextColumn("step {task.completed}/{task.total}"),
                TextColumn("loss {task.fields[loss]:.4f}"),
                TextColumn("{task.fields[speed]:,.0f} steps/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=_stderr(),
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


def _train_and_store(config, runs_dir, quiet, log=None, name=None):
    """Train, evaluate (seed task, test part) and store; returns (result, run_id, metrics)."""
    from .evaluate import evaluate_run
    from .train import check_config, resolve_seed, train

    drawn = config.seed is None
    config = resolve_seed(config)
    check_config(config)  # a bad series or setting fails here, before any output
    if config.data.series in ("csv", "dataset") and config.preset == "seed" and config.train.batch_size == 1 and not quiet:
        _stderr().print("hint: the seed preset trains one window per step; --preset forecast suits real series",
                        highlight=False)
    store = _store(runs_dir)
    store._connect().close()  # fail on an unusable runs dir before training, not after
    if drawn and not quiet:
        _stderr().print(f"seed {config.seed} (drawn; pass --seed {config.seed} to repeat this run)", highlight=False)
    with _Progress(config.train.steps, config.train.log_every, quiet, log) as progress:
        result = train(config, on_step=progress)
    for warning in result.extra.get("warnings", []):
        _stderr().print(f"warning: {warning}", highlight=False, soft_wrap=True)
    if result.message and result.status == "completed" and not quiet:
        _stderr().print(result.message, highlight=False, soft_wrap=True)
    metrics = evaluate_run(result.model, result.config, result.extra.get("data")) if result.history else {}
    if len(getattr(result, "members", None) or ()) > 1 and result.history:
        from .ensemble import evaluate_ensemble

        metrics = {**metrics, "ensemble": evaluate_ensemble(result.config, result.members, config.forecast.steps)}
    run_id = store.save(result, metrics, name=name)
    return result, run_id, metrics


def _finish(result, run_id: str, store_root: Path) -> None:
    err = _stderr()
    if result.status == "interrupted":
        err.print(f"[yellow]interrupted[/]: {result.message}; run kept as {run_id}", highlight=False)
        raise typer.Exit(130)
    elif result.status == "diverged":
        err.print(f"run kept as {run_id} (status diverged)", highlight=False)
        raise _Diverged(result.message)
    else:
        err.print(f"run stored: {run_id} ({store_root / run_id})", highlight=False, soft_wrap=True)


class _Diverged(RnnlabError):
    pass


# -- commands -------------------------------------------------------------------------------------


@app.command()
def train(
    preset: Preset = None,
    seed: Seed = None,
    steps: Steps = None,
    lr: Lr = None,
    hidden_size: HiddenSize = None,
    cell: Cell = None,
    num_layers: NumLayers = None,
    readout: Readout = None,
    log_every: LogEvery = None,
    config: ConfigFile = None,
    name: Annotated[Optional[str], typer.Option("--name", help="A name for the run.")] = None,
    runs_dir: RunsDir = None,
    quiet: Quiet = False,
    as_json: Json = False,
    series: SeriesOpt = None,
    csv: CsvOpt = None,
    column: ColumnOpt = None,
    time_column: TimeColumnOpt = None,
    dataset: DatasetOpt = None,
    interpolate: InterpolateOpt = None,
    periods: PeriodsOpt = None,
    noise: NoiseOpt = None,
    context_length: ContextLengthOpt = None,
    horizon: HorizonOpt = None,
    val_fraction: ValFractionOpt = None,
    test_fraction: TestFractionOpt = None,
    scaling: ScalingOpt = None,
    season: SeasonOpt = None,
    optimizer: OptimizerOpt = None,
    batch_size: BatchSizeOpt = None,
    clip_grad: ClipGradOpt = None,
    schedule: ScheduleOpt = None,
    patience: PatienceOpt = None,
    rollout: RolloutOpt = None,
    dropout: DropoutOpt = None,
    engine: EngineOpt = None,
    ensemble: EnsembleOpt = None,
) -> None:
    """Train a model and store it as a run (Ctrl-C stops cleanly and keeps the run).

    The series is a waveform (--series), a CSV column (--csv, --column) or a bundled dataset
    (--dataset); see 'rnnlab datasets'.
    """
    extra = _data_overrides(
        series, csv, column, time_column, dataset, interpolate, periods, noise, context_length, horizon,
        val_fraction, test_fraction, scaling, season,
    )
    extra.update({
        "train.optimizer": optimizer, "train.batch_size": batch_size, "train.clip_grad": clip_grad,
        "train.schedule": schedule, "train.patience": patience, "train.rollout": rollout, "model.dropout": dropout,
        "train.engine": engine, "train.ensemble": ensemble,
    })
    cfg = _config(preset, config, seed, steps, lr, hidden_size, cell, num_layers, readout, log_every, extra)
    result, run_id, metrics = _train_and_store(cfg, runs_dir, quiet, name=name)
    summary = {
        "id": run_id,
        "status": result.status,
        "steps": result.steps_done,
        "seed": result.config.seed,
        "seconds": round(result.seconds, 3),
        "final_loss": result.history[-1] if result.history else None,
        "metrics": metrics,
    }
    if as_json:
        _echo_json(summary)
    else:
        print(f"run      {run_id}")
        print(f"status   {result.status} after {result.steps_done} steps in {result.seconds:.2f} s")
        if metrics and "one_step_mse" in metrics:
            print(f"one-step MSE  {metrics['one_step_mse']:.6f}   (naive {metrics['naive']['one_step_mse']:.6f})")
            print(f"rollout RMSE  {metrics['rollout_rmse']:.6f}   (naive {metrics['naive']['rollout_rmse']:.6f})")
        if metrics and "one_step_mse" in metrics.get("ensemble", {}):
            ens, spread = metrics["ensemble"], metrics["ensemble"]["members"]
            print(
                f"ensemble of {spread['count']}: median forecast one-step MSE {ens['one_step_mse']:.6f}, rollout RMSE "
                f"{ens['rollout_rmse']:.6f}; members' one-step MSE p10-p90 {spread['one_step_mse']['p10']:.6f}-"
                f"{spread['one_step_mse']['p90']:.6f}, rollout RMSE {spread['rollout_rmse']['p10']:.4f}-"
                f"{spread['rollout_rmse']['p90']:.4f}"
            )
        if metrics and "test" in metrics:
            test, k = metrics["test"], metrics["test"]["horizon"]
            mase = {n: m["all_steps"]["mase"] for n, m in test["methods"].items()}
            print(
                f"test MASE ({k} steps, {test['origins']} origins)  model {_num(mase['model'])}   naive "
                f"{_num(mase['naive'])}   seasonal naive {_num(mase['seasonal_naive'])}   AR {_num(mase['ar'])}"
            )
    _finish(result, run_id, _store(runs_dir).root)


@app.command()
def seed(
    seed: Seed = None,
    steps: Steps = None,
    runs_dir: RunsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """The seed program's whole session, printed in its own format, and stored as a run."""
    from .data import series_values
    from .forecast import forecast

    cfg = _config("seed", None, seed, steps)
    result, run_id, _ = _train_and_store(cfg, runs_dir, quiet, log=print)
    model = result.model
    if result.history:
        rule = "----------------------------------"
        print(rule)
        for name in ("weight_ih_l0", "bias_ih_l0", "weight_hh_l0", "bias_hh_l0"):
            print(f"{name}, ", getattr(model.rnn, name))
        print(rule)
        series = series_values(cfg.data)
        context = series[result.context.start : result.context.end]
        import torch

        known = torch.tensor(context.tolist(), dtype=torch.float32)  # as the seed: float32 values
        for value in known:
            print(value.item())
        print(rule)
        for value in forecast(model, context, cfg.forecast.steps):
            print(float(value))
    _finish(result, run_id, _store(runs_dir).root)


def _context(run: "Run", values: str | None, window: str | None, draw_seed: int | None):
    """The forecast context (list of floats) and, when it comes from the series, its window."""
    import random

    from .data import SeedWindows, Window, parse_values, parse_window, series_values

    given = [name for name, v in (("--values", values), ("--window", window), ("--draw-seed", draw_seed)) if v is not None]
    if len(given) > 1:
        raise InputError(f"give the context one way only, got {' and '.join(given)}")
    series = series_values(run.config.data)
    if values is not None:
        return parse_values(values), None
    if window is not None:
        w = parse_window(window, len(series))
    elif draw_seed is not None:
        w = SeedWindows(run.config.data, random.Random(draw_seed)).draw()
    elif run.info.get("context"):
        w = Window(*run.info["context"])
    else:
        raise InputError(f"run {run.id!r} has no stored context; give --values, --window or --draw-seed")
    return series[w.start : w.end].tolist(), w


@app.command()
def forecast(
    run_id: RunId,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Values to generate (default: the run's).")] = None,
    values: Values = None,
    window: WindowOpt = None,
    draw_seed: DrawSeed = None,
    runs_dir: RunsDir = None,
    as_json: Json = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write the forecast to this CSV file.")] = None,
) -> None:
    """Generate values after a context by feeding each prediction back (state carried, O(K)).

    The context is --values, a --window of the training series, a window drawn with
    --draw-seed, or by default the window the run drew after training (as the seed program).
    A run trained on a CSV file or a dataset forecasts past the end of its series, with timestamps.
    """
    from .forecast import forecast as run_forecast

    run = _load(runs_dir, run_id)
    steps = run.config.forecast.steps if steps is None else steps
    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    if run.config.data.series in ("csv", "dataset") and values is None and window is None and draw_seed is None:
        return _forecast_series(run, steps, out, as_json)
    from .scaling import Scaler

    scaler = Scaler.from_dict((run.info.get("data") or {}).get("scaling"))
    context, w = _context(run, values, window, draw_seed)
    predicted = scaler.inverse(run_forecast(run.model, scaler.transform(context), steps))
    band = None
    if run.members:  # an ensemble: the median over the members, with the 10-90 % band
        from .forecast import forecast_ensemble

        raw = forecast_ensemble(run.members, scaler.transform(context), steps)
        band = {key: scaler.inverse(value) for key, value in raw.items()}
        predicted = band["median"]
    if out is not None:
        _write_forecast_csv(out, None, predicted)
    if as_json:
        data = {
            "run": run.id,
            "window": None if w is None else [w.start, w.end],
            "context": context,
            "forecast": predicted.tolist(),
        }
        if band is not None:
            data["ensemble"] = {"members": len(run.members), "median": band["median"].tolist(),
                                "p10": band["low"].tolist(), "p90": band["high"].tolist()}
        _echo_json(data)
        return
    for value in context:
        print(value)
    print("----------------------------------")
    if band is not None:
        _stderr().print(f"ensemble of {len(run.members)}: median, 10 % and 90 % of the members", highlight=False)
        for median, low, high in zip(band["median"], band["low"], band["high"]):
            print(f"{float(median)}\t{float(low)}\t{float(high)}")
        return
    for value in predicted:
        print(float(value))


def _write_forecast_csv(path: Path, times, values) -> None:
    """step (or time), forecast — written atomically."""
    from .store import write_atomic

    lines = ["time,forecast" if times else "step,forecast"]
    for i, value in enumerate(values):
        lines.append(f"{times[i] if times else i + 1},{float(value)!r}")
    try:
        write_atomic(Path(path), "\n".join(lines) + "\n")
    except OSError as exc:
        raise InputError(f"--out {str(path)!r} cannot be written: {exc.strerror}") from None


def _forecast_series(run: "Run", steps: int, out: Path | None, as_json: bool) -> None:
    """Forecast past the end of a csv or dataset series, with its timestamps."""
    from .data import future_times, prepare_stored
    from .forecast import forecast as run_forecast
    from .forecast import forecast_ensemble

    prepared = prepare_stored(run.config.data, run.config.train.rollout, run.info.get("data"))
    n = prepared.context_length
    context = prepared.scaled[-n:] if n else prepared.scaled  # scaled values
    predicted = prepared.scaler.inverse(run_forecast(run.model, context, steps))
    band = None
    if run.members:
        band = {k: prepared.scaler.inverse(v) for k, v in forecast_ensemble(run.members, context, steps).items()}
        predicted = band["median"]
    times = future_times(prepared.series, steps)
    if out is not None:
        _write_forecast_csv(out, times, predicted)
    if as_json:
        data = {"run": run.id, "series": prepared.series.name, "times": times, "forecast": predicted.tolist()}
        if band is not None:
            data["ensemble"] = {"members": len(run.members), "p10": band["low"].tolist(), "p90": band["high"].tolist()}
        _echo_json(data)
        return
    _stderr().print(
        f"{prepared.series.name}: {steps} values after the last of {len(prepared.series)}"
        + (f" ({prepared.info()['last_time']})" if times else ""),
        highlight=False,
    )
    for i, value in enumerate(predicted):
        label = times[i] if times else str(i + 1)
        extra = f"\t{float(band['low'][i])}\t{float(band['high'][i])}" if band is not None else ""
        print(f"{label}\t{float(value)}{extra}")


@app.command()
def explain(
    run_id: RunId,
    values: Values = None,
    window: WindowOpt = None,
    draw_seed: DrawSeed = None,
    ahead: Annotated[int, typer.Option("--ahead", help="Continue K steps past the context, feeding each prediction back.")] = 0,
    decimals: Annotated[
        Optional[int], typer.Option("--decimals", help="Round every weight to K decimals first, as copied from a printout.")
    ] = None,
    backward: Annotated[
        bool, typer.Option("--backward", help="Walk backpropagation through time for one training sample.")
    ] = False,
    target: Annotated[
        Optional[float], typer.Option("--target", help="Target of --backward (default: the true next value of the window).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, markdown, latex, wolfram, json or html.")] = "text",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    runs_dir: RunsDir = None,
    as_json: Json = False,
) -> None:
    """The hand calculation of a run, every step, checked against torch.

    The context is given as in forecast. The forward walk shows each term of the cell's
    equation, the new state and the prediction; --backward walks backpropagation through
    time for the sample (context, target) and checks the gradients and the SGD update.
    """
    from .explain.render import FORMATS

    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if ahead < 0:
        raise InputError(f"--ahead must be >= 0, got {ahead}")
    if decimals is not None and decimals < 0:
        raise InputError(f"--decimals must be >= 0, got {decimals}")
    if backward and (ahead or decimals is not None):
        raise InputError("--backward walks one training sample: leave out --ahead and --decimals")
    if target is not None and not backward:
        raise InputError("--target is the target of --backward; give --backward too")
    from .explain import explain_backward, explain_forward
    from .explain.render import print_text, render
    from .scaling import Scaler

    run = _load(runs_dir, run_id)
    context, w = _context(run, values, window, draw_seed)
    scaler = Scaler.from_dict((run.info.get("data") or {}).get("scaling"))
    if scaler.kind != "none":
        print(f"note: the run scales its values ({scaler.kind}: (x - {scaler.offset:.6g}) / {scaler.scale:.6g}); "
              "the walk works on the scaled values the network sees", file=sys.stderr)
        context = scaler.transform(context).tolist()
    if getattr(run, "members", None):
        print(f"note: an ensemble of {len(run.members)}; the walk explains member 0", file=sys.stderr)
    if backward:
        if target is None:
            if w is None:
                raise InputError("--backward needs a target: give --target Y (a --values context has no true next value)")
            from .config import WAVEFORMS
            from .data import series_values, true_value

            series = series_values(run.config.data)
            if w.end < len(series):
                target = float(series[w.end])
            elif run.config.data.series in WAVEFORMS:
                target = true_value(run.config.data, w.end)
            else:
                raise InputError(f"--backward needs a target: the window {w.start}:{w.end} ends the series; give --target Y")
        target = float(scaler.transform([target])[0])
        t = run.config.train
        if t.optimizer != "sgd":
            print(f"note: the run trains with {t.optimizer}; the update shown is plain SGD with lr {t.lr}",
                  file=sys.stderr)
        walk = explain_backward(run.model, context, target, lr=t.lr,
                                weight_decay=t.weight_decay if t.optimizer == "sgd" else 0.0)
    else:
        walk = explain_forward(run.model, context, ahead=ahead, decimals=decimals)
    if scaler.kind != "none":
        print("note: predictions in the series' units: "
              + ", ".join(f"{v:.10g}" for v in scaler.inverse((walk.forward if backward else walk).predictions)),
              file=sys.stderr)
    if out is not None:
        from .store import write_atomic

        try:
            write_atomic(Path(out), render(walk, fmt))
        except OSError as exc:
            raise InputError(f"--out {str(out)!r} cannot be written: {exc.strerror}") from None
        print(f"wrote {out}", file=sys.stderr)
    elif fmt == "text" and _stdout().is_terminal:
        print_text(walk, _stdout())
    else:
        sys.stdout.write(render(walk, fmt))


@app.command()
def weights(run_id: RunId, runs_dir: RunsDir = None, as_json: Json = False) -> None:
    """Every parameter of a run with its name and shape."""
    from rich.table import Table

    run = _load(runs_dir, run_id)
    tensors = run.model.tensors()
    if as_json:
        _echo_json({name: {"shape": list(t.shape), "values": t.tolist()} for name, t in tensors.items()})
        return
    table = Table(title=f"parameters of {run.id}", show_lines=True)
    table.add_column("name")
    table.add_column("shape")
    table.add_column("values", no_wrap=True)
    for name, t in tensors.items():
        rows = t.reshape(1, -1) if t.dim() == 1 else t
        text = "\n".join("  ".join(f"{v: .6f}" for v in row.tolist()) for row in rows)
        table.add_row(name, "×".join(map(str, t.shape)), text)
    _stdout().print(table)


@app.command()
def evaluate(
    run_id: RunId,
    stride: Annotated[int, typer.Option("--stride", help="Backtest: a forecast origin every N values.")] = 1,
    ar_order: Annotated[int, typer.Option("--ar-order", help="Order p of the AR baseline (0: by AIC).")] = 0,
    runs_dir: RunsDir = None,
    as_json: Json = False,
) -> None:
    """Score a run against baselines: the seed task (waveforms) and a rolling-origin backtest over
    the test part (MAE, RMSE, MASE, sMAPE vs naive, seasonal naive and AR(p))."""
    from .evaluate import evaluate_run

    store = _store(runs_dir)
    run = _load(runs_dir, run_id)
    metrics = evaluate_run(run.model, run.config, run.info.get("data"), stride, ar_order)
    store.update_metrics(run.id, metrics)
    if as_json:
        _echo_json(metrics)
        return
    _print_evaluation(run.id, metrics)


@app.command()
def datasets(as_json: Json = False) -> None:
    """The real series bundled with statsmodels (rnnlab[datasets]): name, length, frequency."""
    from rich.table import Table

    from .datasets import list_datasets

    rows = list_datasets()
    if as_json:
        _echo_json(rows)
        return
    table = Table(title="datasets (train with --dataset NAME)")
    for column in ("name", "length", "frequency", "start", "end", "missing", "description"):
        table.add_column(column, justify="right" if column in ("length", "missing") else "left")
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("name", "length", "frequency", "start", "end", "missing", "description")))
    _stdout().print(table)


def _print_evaluation(run_id: str, metrics: dict) -> None:
    from rich.table import Table

    console = _stdout()
    if "one_step_mse" in metrics:
        table = Table(title=f"{run_id}: {metrics['windows']} windows, {metrics['steps']}-step rollouts")
        table.add_column("metric")
        table.add_column("model", justify="right")
        table.add_column("naive (last value)", justify="right")
        for key, label in (("one_step_mse", "one-step MSE"), ("rollout_rmse", f"{metrics['steps']}-step rollout RMSE")):
            table.add_row(label, f"{metrics['model'][key]:.6f}", f"{metrics['naive'][key]:.6f}")
        console.print(table)
    test = metrics.get("test")
    if not test:
        return
    k = test["horizon"]
    print(
        f"{test['series']}: rolling-origin backtest over the test part ({test['test_length']} values, "
        f"{test['origins']} origins, stride {test['stride']}), season {test['season']}"
    )
    table = Table()
    for column in ("method", "steps ahead", "MAE", "RMSE", "MASE", "sMAPE %"):
        table.add_column(column, justify="left" if column == "method" else "right")
    names = {"model": "network", "naive": "naive", "seasonal_naive": f"seasonal naive (m={test['season']})",
             "ar": f"AR({test['ar_order']})"}
    spans = [("one_step", "1")] + ([("all_steps", f"1-{k}")] if k > 1 else [])
    for span, label in spans:
        for name, title in names.items():
            m = test["methods"][name][span]
            table.add_row(title, label, *(_num(m[key]) for key in ("mae", "rmse", "mase", "smape")),
                          end_section=name == "ar")
    console.print(table)


@runs_app.command("list")
def runs_list(runs_dir: RunsDir = None, as_json: Json = False) -> None:
    """List the runs in the catalog, oldest first."""
    from rich.table import Table

    rows = _store(runs_dir).list()
    if as_json:
        _echo_json(rows)
        return
    table = Table()
    for column in ("id", "status", "steps", "model", "one-step MSE", "rollout RMSE"):
        table.add_column(column, no_wrap=column == "id")
    for row in rows:
        model = row["config"]["model"]
        metrics = row["metrics"]
        table.add_row(
            row["id"],
            row["status"],
            str(row["steps"]),
            f"{model['cell']} {model['hidden_size']}×{model['num_layers']} {model['readout']}",
            f"{metrics['one_step_mse']:.6f}" if "one_step_mse" in metrics else "",
            f"{metrics['rollout_rmse']:.4f}" if "rollout_rmse" in metrics else "",
        )
    _stdout().print(table)


@runs_app.command("show")
def runs_show(run_id: RunId, runs_dir: RunsDir = None, as_json: Json = False) -> None:
    """A run's config, status and metrics."""
    run = _load(runs_dir, run_id)
    data = {"info": run.info, "config": run.config.to_dict(), "metrics": run.metrics}
    if as_json:
        _echo_json(data)
        return
    from rich.pretty import Pretty

    _stdout().print(Pretty(data))


@runs_app.command("rm")
def runs_rm(run_ids: Annotated[list[str], typer.Argument(help="Run ids to delete.")], runs_dir: RunsDir = None) -> None:
    """Delete runs: catalog row and directory."""
    store = _store(runs_dir)
    for run_id in run_ids:
        store.remove(run_id)
        _stderr().print(f"removed {run_id}", highlight=False)


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

        from .web import create_app
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
    from .plot import write_plots

    runs = [_load(runs_dir, run_id) for run_id in run_ids]
    paths = write_plots(runs, out)
    if as_json:
        _echo_json({"runs": [run.id for run in runs], "files": [str(p) for p in paths]})
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
    from .report import write_report

    run = _load(runs_dir, run_id)
    path = write_report(run, out)
    if as_json:
        _echo_json({"run": run.id, "report": str(path)})
        return
    print(path)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turn errors into one line on stderr and an exit status."""
    try:
        result = app(args=argv, prog_name="rnnlab", standalone_mode=False)
    except RnnlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors found by the parser
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
