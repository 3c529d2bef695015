"""weights, evaluate and datasets: look inside a run and score it."""

from __future__ import annotations

import sys

import typer
from typing_extensions import Annotated

from ..errors import InputError
from .common import (
    Json,
    RunId,
    RunsDir,
    Stride,
    echo_json,
    load_run,
    number,
    stdout_console,
    open_store,
    app,
)


@app.command()
def weights(run_id: RunId, runs_dir: RunsDir = None, as_json: Json = False) -> None:
    """Every parameter of a run with its name and shape."""
    from rich.table import Table

    run = load_run(runs_dir, run_id)
    tensors = run.model.tensors()
    if as_json:
        echo_json({name: {"shape": list(t.shape), "values": t.tolist()} for name, t in tensors.items()})
        return
    table = Table(title=f"parameters of {run.id}", show_lines=True)
    table.add_column("name")
    table.add_column("shape")
    table.add_column("values", no_wrap=True)
    for name, t in tensors.items():
        rows = t.reshape(1, -1) if t.dim() == 1 else t
        text = "\n".join("  ".join(f"{v: .6f}" for v in row.tolist()) for row in rows)
        table.add_row(name, "×".join(map(str, t.shape)), text)
    stdout_console().print(table)


@app.command()
def evaluate(
    run_id: RunId,
    stride: Stride = 1,
    ar_order: Annotated[int, typer.Option("--ar-order", help="Order p of the AR baseline (0: by AIC).")] = 0,
    runs_dir: RunsDir = None,
    as_json: Json = False,
) -> None:
    """Score a run against baselines: the seed task (waveforms) and a rolling-origin backtest over
    the test part (MAE, RMSE, MASE, sMAPE vs naive, seasonal naive and AR(p))."""
    from ..evaluate import evaluate_run
    from .many import evaluate_group, resolve_group

    group = resolve_group(runs_dir, run_id)  # a group of runs (fit-many) when no run has that id
    if group is not None:
        return evaluate_group(runs_dir, run_id, group, as_json)
    store = open_store(runs_dir)
    run = load_run(runs_dir, run_id)
    if run.info.get("backtest"):  # refitted on every value: its own backtest would see the test part
        if stride != 1 or ar_order != 0:
            raise InputError("a refitted run keeps the backtest it was trained with; --stride and --ar-order "
                             "need a run trained with --no-refit")
        from ..runs import with_statistical

        metrics = with_statistical(run)
        if metrics != run.metrics:
            store.update_metrics(run.id, metrics)
        print("note: the stored model was refitted on every value; these are the scores of its backtest "
              "(the same config trained before the test part), stored with the run", file=sys.stderr)
    else:
        metrics = evaluate_run(run.model, run.config, run.info.get("data"), stride, ar_order, run.members or ())
        store.update_metrics(run.id, metrics)
    if as_json:
        echo_json(metrics)
        return
    _print_evaluation(run.id, metrics)


@app.command()
def datasets(as_json: Json = False) -> None:
    """The real series bundled with statsmodels (rnnlab[datasets]): name, length, frequency."""
    from rich.table import Table

    from ..data.datasets import list_datasets

    rows = list_datasets()
    if as_json:
        echo_json(rows)
        return
    table = Table(title="datasets (train with --dataset NAME)")
    for column in ("name", "length", "frequency", "start", "end", "missing", "description"):
        table.add_column(column, justify="right" if column in ("length", "missing") else "left")
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("name", "length", "frequency", "start", "end", "missing", "description")))
    stdout_console().print(table)


def _print_evaluation(run_id: str, metrics: dict) -> None:
    from rich.table import Table

    console = stdout_console()
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
    from ..selection import selection_lines

    for line in selection_lines(metrics.get("selection")):
        print(line)
    k = test["horizon"]
    print(
        f"{test['series']}: rolling-origin backtest over the test part ({test['test_length']} values, "
        f"{test['origins']} origins, stride {test['stride']}), season {test['season']}"
    )
    table = Table()
    for column in ("method", "steps ahead", "MAE", "RMSE", "MASE", "sMAPE %"):
        table.add_column(column, justify="left" if column == "method" else "right")
    names = {"model": "network", "naive": "naive", "seasonal_naive": f"seasonal naive (m={test['season']})",
             "ar": f"AR({test['ar_order']})", "ets": "ETS (statsmodels)", "arima": "ARIMA (statsmodels)"}
    names = {name: title for name, title in names.items() if name in test["methods"]}
    last = list(names)[-1]
    spans = [("one_step", "1")] + ([("all_steps", f"1-{k}")] if k > 1 else [])
    for span, label in spans:
        for name, title in names.items():
            m = test["methods"][name][span]
            table.add_row(title, label, *(number(m[key]) for key in ("mae", "rmse", "mase", "smape")),
                          end_section=name == last)
    console.print(table)
    interval = test.get("interval") or {}
    if interval.get("coverage") is not None:
        print(f"80 % interval (calibrated on the earlier half of the origins): coverage {100 * interval['coverage']:.0f} % "
              f"over the later {interval['measured_on']} origins")
    elif interval:
        print(f"80 % interval: {interval.get('note', 'not calibrated')}")
