"""train and seed: train a model and store it as a run."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from .common import (
    BatchSizeOpt,
    Cell,
    ClipGradOpt,
    ColumnOpt,
    ConfigFile,
    ContextLengthOpt,
    CsvOpt,
    DatasetOpt,
    DropoutOpt,
    EngineOpt,
    EnsembleOpt,
    HiddenSize,
    HorizonOpt,
    InterpolateOpt,
    Json,
    LogEvery,
    Lr,
    NoiseOpt,
    NumLayers,
    OptimizerOpt,
    PatienceOpt,
    PeriodsOpt,
    Preset,
    Quiet,
    Readout,
    RolloutOpt,
    RunsDir,
    ScalingOpt,
    ScheduleOpt,
    SeasonOpt,
    SeasonalOpt,
    TransformOpt,
    LevelOpt,
    RefitOpt,
    Seed,
    SeriesOpt,
    Steps,
    TestFractionOpt,
    TimeColumnOpt,
    ValFractionOpt,
    build_config,
    data_overrides,
    echo_json,
    finish,
    number,
    open_store,
    train_and_store,
    app,
)


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
    transform: TransformOpt = None,
    seasonal: SeasonalOpt = None,
    level: LevelOpt = None,
    refit: RefitOpt = None,
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
    (--dataset); see 'rnnlab datasets'. A CSV column or a dataset without --preset or --config
    trains the automatic forecaster (preset auto).
    """
    extra = data_overrides(
        series, csv, column, time_column, dataset, interpolate, periods, noise, context_length, horizon,
        val_fraction, test_fraction, scaling, season, transform, seasonal, level, refit,
    )
    if preset is None and config is None and extra["data.series"] in ("csv", "dataset"):
        preset = "auto"
    extra.update({
        "train.optimizer": optimizer, "train.batch_size": batch_size, "train.clip_grad": clip_grad,
        "train.schedule": schedule, "train.patience": patience, "train.rollout": rollout, "model.dropout": dropout,
        "train.engine": engine, "train.ensemble": ensemble,
    })
    cfg = build_config(preset, config, seed, steps, lr, hidden_size, cell, num_layers, readout, log_every, extra)
    stored = train_and_store(cfg, runs_dir, quiet, name=name)
    result, run_id, metrics = stored.result, stored.run_id, stored.metrics
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
        echo_json(summary)
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
                f"test MASE ({k} steps, {test['origins']} origins)  model {number(mase['model'])}   naive "
                f"{number(mase['naive'])}   seasonal naive {number(mase['seasonal_naive'])}   AR {number(mase['ar'])}"
            )
    finish(stored, open_store(runs_dir).root)


@app.command()
def seed(
    seed: Seed = None,
    steps: Steps = None,
    runs_dir: RunsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """The seed program's whole session, printed in its own format, and stored as a run."""
    from ..data import series_values
    from ..forecasting import forecast

    cfg = build_config("seed", None, seed, steps)
    stored = train_and_store(cfg, runs_dir, quiet, log=print)
    result, run_id = stored.result, stored.run_id
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
    finish(stored, open_store(runs_dir).root)


@app.command("compile")
def compile_command(as_json: Json = False) -> None:
    """Compile the compiled engine into numba's on-disk cache, so that no later command compiles
    (make run does this once; pip users run it after installing)."""
    import time

    from ..warmup import compile_engine
    from .common import stderr_console

    console = stderr_console()
    started = time.perf_counter()
    cases = compile_engine(lambda what, seconds: console.print(f"compiled {what} in {seconds:.1f} s", highlight=False))
    total = time.perf_counter() - started
    if as_json:
        echo_json({"seconds": total, "cases": [{"what": what, "seconds": s} for what, s in cases]})
    else:
        print(f"compiled engine ready in {total:.1f} s ({len(cases)} code paths)")
