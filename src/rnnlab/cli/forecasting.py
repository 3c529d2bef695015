"""forecast and explain: what a stored run predicts, and the hand calculation behind it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from typing_extensions import Annotated

from ..errors import InputError
from .common import (
    DrawSeed,
    ForecastSteps,
    Json,
    RunId,
    RunsDir,
    Values,
    WindowOpt,
    app,
    echo_json,
    load_run,
    stderr_console,
    stdout_console,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Run


def _context(run: "Run", values: str | None, window: str | None, draw_seed: int | None):
    """The forecast context (list of floats) and, when it comes from the series, its window."""
    import random

    from ..data import SeedWindows, Window, parse_values, parse_window, series_values

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
    steps: ForecastSteps = None,
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
    from ..runs import forecast_values, is_recorded
    from .many import forecast_group, resolve_group

    group = resolve_group(runs_dir, run_id)  # a group of runs (fit-many) when no run has that id
    if group is not None:
        return forecast_group(runs_dir, group, steps, out, as_json)
    run = load_run(runs_dir, run_id)
    steps = run.config.forecast.steps if steps is None else steps
    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    if is_recorded(run.config.data) and values is None and window is None and draw_seed is None:
        return _forecast_series(run, steps, out, as_json)
    context, w = _context(run, values, window, draw_seed)
    result = forecast_values(run, context, steps, start=None if w is None else w.start)
    predicted = result.values
    band = None
    if result.low is not None:  # an ensemble: the median over the members, with the 10-90 % band
        band = {"median": result.values, "low": result.low, "high": result.high}
    if out is not None:
        _write_forecast_csv(out, None, predicted)
    if as_json:
        data = {
            "run": run.id,
            "window": None if w is None else [w.start, w.end],
            "context": context,
            "forecast": predicted.tolist(),
        }
        if band is not None and result.calibrated:  # the 80 % interval calibrated on the backtest
            data["interval"] = {"level": 0.8, "low": band["low"].tolist(), "high": band["high"].tolist()}
        elif band is not None:
            data["ensemble"] = {"members": len(run.members), "median": band["median"].tolist(),
                                "p10": band["low"].tolist(), "p90": band["high"].tolist()}
        echo_json(data)
        return
    for value in context:
        print(value)
    print("----------------------------------")
    if band is not None:
        what = ("80 % interval calibrated on the backtest" if result.calibrated
                else f"ensemble of {len(run.members)}: median, 10 % and 90 % of the members")
        stderr_console().print(f"forecast, {what}", highlight=False)
        for median, low, high in zip(band["median"], band["low"], band["high"]):
            print(f"{float(median)}\t{float(low)}\t{float(high)}")
        return
    for value in predicted:
        print(float(value))


def _write_forecast_csv(path: Path, times, values) -> None:
    """step (or time), forecast — written atomically."""
    from ..store import write_atomic

    lines = ["time,forecast" if times else "step,forecast"]
    for i, value in enumerate(values):
        lines.append(f"{times[i] if times else i + 1},{float(value)!r}")
    try:
        write_atomic(Path(path), "\n".join(lines) + "\n")
    except OSError as exc:
        raise InputError(f"--out {str(path)!r} cannot be written: {exc.strerror}") from None


def _forecast_series(run: "Run", steps: int, out: Path | None, as_json: bool) -> None:
    """Forecast past the end of a csv or dataset series, with its timestamps."""
    from ..data import future_times
    from ..runs import forecast_after_end

    prepared, _, result = forecast_after_end(run, steps)
    predicted = result.values
    band = None
    if result.low is not None:
        band = {"median": result.values, "low": result.low, "high": result.high}
    times = future_times(prepared.series, steps)
    if out is not None:
        _write_forecast_csv(out, times, predicted)
    if as_json:
        data = {"run": run.id, "series": prepared.series.name, "times": times, "forecast": predicted.tolist()}
        if band is not None and result.calibrated:
            data["interval"] = {"level": 0.8, "low": band["low"].tolist(), "high": band["high"].tolist()}
        elif band is not None:
            data["ensemble"] = {"members": len(run.members), "p10": band["low"].tolist(), "p90": band["high"].tolist()}
        echo_json(data)
        return
    what = ("forecast, and the 80 % interval calibrated on the backtest" if result.calibrated else
            f"median of {result.members} members, 10 % and 90 % of them" if band is not None else "forecast")
    stderr_console().print(
        f"{prepared.series.name}: {steps} values after the last of {len(prepared.series)}"
        + (f" ({prepared.info()['last_time']})" if times else "") + f"; {what}",
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
    from ..explain.render import FORMATS

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
    from ..explain import explain_backward, explain_forward
    from ..explain.render import print_text, render
    from ..runs import network_view

    run = load_run(runs_dir, run_id)
    context, w = _context(run, values, window, draw_seed)
    view = network_view(run, context, None if w is None else w.start)
    if view.note:
        print(f"note: the network sees transformed values: {view.note}; the walk works on what the network sees",
              file=sys.stderr)
        context = view.fed.tolist()
    if getattr(run, "members", None):
        print(f"note: an ensemble of {len(run.members)}; the walk explains member 0", file=sys.stderr)
    if backward:
        if target is None:
            if w is None:
                raise InputError("--backward needs a target: give --target Y (a --values context has no true next value)")
            from ..config import WAVEFORMS
            from ..data import series_values, true_value

            series = series_values(run.config.data)
            if w.end < len(series):
                target = float(series[w.end])
            elif run.config.data.series in WAVEFORMS:
                target = true_value(run.config.data, w.end)
            else:
                raise InputError(f"--backward needs a target: the window {w.start}:{w.end} ends the series; give --target Y")
        target = float(view.transform.transform([target], view.after)[0]) - view.level
        t = run.config.train
        if t.optimizer != "sgd":
            print(f"note: the run trains with {t.optimizer}; the update shown is plain SGD with lr {t.lr}",
                  file=sys.stderr)
        walk = explain_backward(run.model, context, target, lr=t.lr,
                                weight_decay=t.weight_decay if t.optimizer == "sgd" else 0.0)
    else:
        walk = explain_forward(run.model, context, ahead=ahead, decimals=decimals)
    if view.note:
        predictions = (walk.forward if backward else walk).predictions
        print("note: predictions in the series' units: " + ", ".join(f"{v:.10g}" for v in view.to_series(predictions)),
              file=sys.stderr)
    if out is not None:
        from ..store import write_atomic

        try:
            write_atomic(Path(out), render(walk, fmt))
        except OSError as exc:
            raise InputError(f"--out {str(out)!r} cannot be written: {exc.strerror}") from None
        print(f"wrote {out}", file=sys.stderr)
    elif fmt == "text" and stdout_console().is_terminal:
        print_text(walk, stdout_console())
    else:
        sys.stdout.write(render(walk, fmt))
