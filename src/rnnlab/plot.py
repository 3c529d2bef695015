"""Charts of a run: functions that build matplotlib Figures from plain arrays.

The chart functions take data, not runs, so any series (a waveform, a CSV column, an ensemble's
median and band) draws the same way; ``run_forecast_data`` and ``run_state_walk`` turn a stored
run into that data (the states are the hand calculation of ``rnnlab.explain``, laid out per layer). Figures are created with the Agg canvas directly (no pyplot, no display, no global
state), so the command line, the HTML report and the web page can all reuse them.

- ``forecast_figure``: the true series as the baseline, the known inputs as markers, the generated
  values as a line, a vertical rule where generation starts (several runs: shared axes);
- ``loss_figure``: raw loss per step (faint) and its moving mean, log scale;
- ``states_figure``: the hidden state (and the LSTM/GRU gates) over time, units × time heatmaps.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .data import series_values
from .errors import InputError, RnnlabError
from .runs import Forecast, baseline, forecast_values, is_recorded, prepared_of, series_end, stored_window

COLORS = {"baseline": "#1f77b4", "input": "#ff7f0e", "prediction": "#6b6b6b", "rule": "#999999"}
CYCLE = ("#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e")
# The quantities each cell computes per step, in torch's gate order (h first: always drawn).
CELL_QUANTITIES = {"rnn": ("h",), "lstm": ("h", "c", "i", "f", "g", "o"), "gru": ("h", "r", "z", "n")}


# -- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastData:
    """Everything the forecast chart and its value table show, as index/value arrays."""

    label: str  # the run's name, used in titles and legends
    baseline_index: np.ndarray  # (n,) integer positions of the true series
    baseline: np.ndarray  # (n,) true values
    input_index: np.ndarray  # (k,) positions of the known values fed to the network
    inputs: np.ndarray  # (k,)
    prediction_index: np.ndarray  # (m,) positions of the generated values
    prediction: np.ndarray  # (m,)
    lower: np.ndarray | None = None  # (m,) optional band under the prediction (e.g. 10 % quantile)
    upper: np.ndarray | None = None  # (m,) optional band over the prediction (e.g. 90 % quantile)
    train_end: int | None = None  # last index of the known series; past it the baseline is its continuation

    def __post_init__(self) -> None:
        pairs = (
            ("baseline", self.baseline_index, self.baseline),
            ("inputs", self.input_index, self.inputs),
            ("prediction", self.prediction_index, self.prediction),
        )
        for name, index, values in pairs:
            if np.shape(index) != np.shape(values) or np.ndim(values) != 1:
                raise InputError(
                    f"{name} index and values must be 1-D arrays of equal length, "
                    f"got shapes {np.shape(index)} and {np.shape(values)}"
                )
        if (self.lower is None) != (self.upper is None):
            raise InputError("a band needs both lower and upper arrays, got only one")
        for name, band in (("lower", self.lower), ("upper", self.upper)):
            if band is not None and np.shape(band) != np.shape(self.prediction):
                raise InputError(
                    f"band {name} must have the prediction's shape {np.shape(self.prediction)}, got {np.shape(band)}"
                )

    @property
    def generation_start(self) -> float:
        """Where generation starts: halfway between the last input and the first generated value."""
        if len(self.prediction_index) == 0:
            return float(self.input_index[-1]) + 0.5
        return float(self.prediction_index[0]) - 0.5


def run_context(run) -> tuple[int, int]:
    """The stored forecast context of a run, as (start, end) of the training series."""
    window = stored_window(run)
    return window.start, window.end


@dataclass(frozen=True)
class RunForecast:
    """A run's forecast from its stored context (``runs.Forecast``) and where it sits in the series."""

    start: int
    end: int
    series: np.ndarray  # (length,) the series in data units
    forecast: Forecast

    @property
    def fed(self) -> np.ndarray:
        """(end - start,) the context as the network sees it: scaled, float32-rounded."""
        return self.forecast.fed.astype(np.float32).astype(np.float64)


def run_forecast(run, steps: int | None = None) -> RunForecast:
    """Forecast ``steps`` values (default: the run's) after the run's stored context (a waveform
    run), or after the end of its data (a csv or dataset run), as ``rnnlab forecast`` does."""
    steps = run.config.forecast.steps if steps is None else steps
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    scaler = None
    if is_recorded(run.config.data):  # forecast past the series' end, from its last context
        prepared = prepared_of(run)
        series, window, scaler = np.asarray(prepared.series.values, dtype=np.float64), series_end(prepared), prepared.scaler
    else:
        window = stored_window(run)
        series = np.asarray(series_values(run.config.data), dtype=np.float64)
        if not 0 <= window.start < window.end <= len(series):
            raise InputError(
                f"run {run.id!r} has context series[{window.start}:{window.end}], outside its series of {len(series)} values"
            )
    result = forecast_values(run, series[window.start : window.end], steps, scaler=scaler)
    return RunForecast(window.start, window.end, series, result)


def run_forecast_data(run, steps: int | None = None, band: tuple | None = None) -> ForecastData:
    """The seed chart's data for a run: its stored context, the forecast after it, the true series.

    Inputs are the values the network is fed (float32, as the seed prints them; in the series'
    units when the run scales its values); the prediction is the run's forecast of that context
    (for an ensemble run: the members' median, with their 10–90 % band). ``band`` is an optional
    (lower, upper) pair that replaces the ensemble's.
    """
    walk = run_forecast(run, steps)
    result = walk.forecast
    steps = len(result.values)
    scaled = result.scaler.kind != "none"
    inputs = result.context if scaled else walk.fed
    lower, upper = result.low, result.high
    if band is not None:
        lower, upper = np.asarray(band[0], float), np.asarray(band[1], float)
    last = max(len(walk.series) - 1, walk.end + steps - 1)
    truth = baseline(run.config.data, walk.series, last)
    return ForecastData(
        label=run.info.get("name") or run.id,
        baseline_index=np.arange(len(truth)),
        baseline=truth,
        input_index=np.arange(walk.start, walk.end),
        inputs=np.asarray(inputs, dtype=np.float64),
        prediction_index=np.arange(walk.end, walk.end + steps),
        prediction=np.asarray(result.values, dtype=np.float64),
        lower=lower,
        upper=upper,
        train_end=len(walk.series) - 1,
    )


# -- the value table -------------------------------------------------------------------------------


def forecast_table(data: ForecastData) -> list[dict[str, float | int | None]]:
    """One row per index: ``index, baseline, input, prediction`` (and ``lower, upper`` with a band)."""
    columns = {
        "baseline": dict(zip(data.baseline_index.tolist(), data.baseline.tolist())),
        "input": dict(zip(data.input_index.tolist(), data.inputs.tolist())),
        "prediction": dict(zip(data.prediction_index.tolist(), data.prediction.tolist())),
    }
    if data.lower is not None:
        columns["lower"] = dict(zip(data.prediction_index.tolist(), data.lower.tolist()))
        columns["upper"] = dict(zip(data.prediction_index.tolist(), data.upper.tolist()))
    indices = sorted(set().union(*(c.keys() for c in columns.values())))
    return [{"index": int(i), **{name: values.get(i) for name, values in columns.items()}} for i in indices]


def _cell(value) -> str:
    return "" if value is None else repr(value)


def table_csv(rows: Sequence[Mapping]) -> str:
    """The table as CSV; empty cells where a column has no value; floats at full precision."""
    if not rows:
        return ""
    names = list(rows[0])
    lines = [",".join(names)] + [",".join(_cell(row[n]) for n in names) for row in rows]
    return "\n".join(lines) + "\n"


def table_markdown(rows: Sequence[Mapping]) -> str:
    """The table as a Markdown (GitHub) table."""
    if not rows:
        return ""
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join("---:" for _ in names) + "|"]
    lines += ["| " + " | ".join(_cell(row[n]) for n in names) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# -- figures ---------------------------------------------------------------------------------------


def new_figure(width: float = 9.0, height: float = 5.0) -> Figure:
    """A Figure on the Agg canvas (no pyplot, no display)."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def forecast_figure(data: ForecastData | Sequence[ForecastData], title: str | None = None) -> Figure:
    """The seed's chart: baseline, input markers, prediction line, a rule where generation starts.

    With several ``ForecastData`` all go on shared axes: one baseline per distinct true series,
    each run's inputs and prediction in its own colour. Every line carries a gid
    (``baseline``, ``input``, ``prediction``, ``band``; ``input:LABEL``… for several runs).
    """
    items = [data] if isinstance(data, ForecastData) else list(data)
    if not items:
        raise InputError("forecast_figure needs at least one forecast, got none")
    single = len(items) == 1
    figure = new_figure()
    ax = figure.add_subplot()
    # One baseline per distinct true series: one that agrees with a longer one drawn is not repeated.
    drawn: list[ForecastData] = []
    for item in sorted(items, key=lambda i: -len(i.baseline_index)):
        if any(_covers(other, item) for other in drawn):
            continue
        drawn.append(item)
        ax.plot(item.baseline_index, item.baseline, color=COLORS["baseline"], linewidth=1.8,
                label="Baseline" if len(drawn) == 1 else f"Baseline ({item.label})",
                gid="baseline" if len(drawn) == 1 else f"baseline:{item.label}")
    starts: set[float] = set()
    for n, item in enumerate(items):
        suffix = "" if single else f":{item.label}"
        color_in = COLORS["input"] if single else CYCLE[n % len(CYCLE)]
        color_out = COLORS["prediction"] if single else CYCLE[n % len(CYCLE)]
        ax.plot(item.input_index, item.inputs, linestyle="none", marker="o", markersize=6, color=color_in,
                label="Input" if single else f"{item.label} input", gid=f"input{suffix}")
        if item.lower is not None:
            ax.fill_between(item.prediction_index, item.lower, item.upper, color=color_out, alpha=0.2,
                            linewidth=0, label="10–90 % band" if single else f"{item.label} band",
                            gid=f"band{suffix}")
        ax.plot(item.prediction_index, item.prediction, color=color_out, linewidth=2, marker=".",
                linestyle="--" if single else "-", label="Prediction" if single else f"{item.label} prediction",
                gid=f"prediction{suffix}")
        if item.generation_start not in starts:
            starts.add(item.generation_start)
            ax.axvline(item.generation_start, color=COLORS["rule"] if single else color_out, linestyle=":",
                       linewidth=1.2, gid=f"generation{suffix}",
                       label=None if single or len(starts) > 1 else "generation starts (dotted)")
            if single:
                ax.text(item.generation_start, 0.99, " generation starts", va="top", ha="left", fontsize=8,
                        color="#555555", transform=ax.get_xaxis_transform())
    train_end = items[0].train_end
    if train_end is not None and max(int(i.baseline_index[-1]) for i in items) > train_end:
        ax.axvspan(train_end, max(int(i.baseline_index[-1]) for i in items), color="#000000", alpha=0.05,
                   linewidth=0, label="past the known series", gid="beyond-training")
    ax.set_xlabel("index")
    ax.set_ylabel("value")
    ax.set_title(title or (f"{items[0].label}: forecast" if single else f"forecasts of {len(items)} runs"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return figure


def _covers(longer: ForecastData, other: ForecastData) -> bool:
    """Whether ``longer``'s baseline holds ``other``'s: the same values at each of its indices."""
    values = dict(zip(longer.baseline_index.tolist(), longer.baseline.tolist()))
    return all(i in values and values[i] == v for i, v in zip(other.baseline_index.tolist(), other.baseline.tolist()))


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving mean: point t is the mean of values[max(0, t-window+1) : t+1]."""
    array = np.asarray(values, dtype=np.float64)
    if window < 1:
        raise InputError(f"window must be >= 1, got {window}")
    sums = np.concatenate([[0.0], np.cumsum(array)])
    t = np.arange(len(array))
    first = np.maximum(0, t - window + 1)
    return (sums[t + 1] - sums[first]) / (t + 1 - first)


def smoothing_window(steps: int) -> int:
    """The moving-mean window for a loss curve of ``steps`` points: about 2 % of it."""
    return max(1, round(steps / 50))


def loss_figure(histories: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """Loss per step (faint) and its moving mean on a log scale; several runs share the axes.

    Lines carry gids ``raw:LABEL`` and ``smooth:LABEL``.
    """
    if not histories:
        raise InputError("loss_figure needs at least one loss history, got none")
    figure = new_figure(9.0, 4.5)
    ax = figure.add_subplot()
    single = len(histories) == 1
    for n, (label, history) in enumerate(histories.items()):
        if len(history) == 0:
            raise InputError(f"run {label!r} has no loss history (stopped at step 0); nothing to draw")
        steps = np.arange(1, len(history) + 1)
        color = COLORS["baseline"] if single else CYCLE[n % len(CYCLE)]
        window = smoothing_window(len(history))
        ax.plot(steps, np.asarray(history, dtype=np.float64), color=color, alpha=0.25, linewidth=0.6,
                label="loss per step" if single else None, gid=f"raw:{label}")
        ax.plot(steps, smooth(history, window), color=color, linewidth=1.8,
                label=f"mean of {window} steps" if single else f"{label} (mean of {window})",
                gid=f"smooth:{label}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (MSE)")
    ax.set_title(title or (f"{next(iter(histories))}: training loss" if single else "training loss"))
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize=8)
    return figure


# -- the hidden state over time ------------------------------------------------------------------


@dataclass(frozen=True)
class StateWalk:
    """The cell's values over a sequence, float64, laid out for the heatmaps.

    ``layers[l][name]`` has shape (time, hidden) for name in ``CELL_QUANTITIES[cell]``;
    ``predictions`` (time,) is the readout of the top layer's h at every step.
    """

    cell: str
    inputs: np.ndarray  # (time,)
    layers: list[dict[str, np.ndarray]] = field(default_factory=list)
    predictions: np.ndarray = field(default_factory=lambda: np.zeros(0))


def state_walk(model, inputs: Sequence[float], ahead: int = 0) -> StateWalk:
    """The hand calculation of ``rnnlab.explain`` over ``inputs`` (and ``ahead`` fed-back
    predictions), as (time, hidden) arrays per layer: h, and c and the gates for lstm/gru."""
    from .explain import explain_forward

    fed = np.asarray(inputs, dtype=np.float32).astype(np.float64)  # the values as the network sees them
    walk = explain_forward(model, fed.tolist(), ahead=ahead, check=False)
    layers = []
    for layer in range(walk.num_layers):
        steps = [step.layers[layer] for step in walk.steps]
        record = {"h": np.array([ls.h for ls in steps])}  # (time, hidden)
        if walk.cell == "lstm":
            record["c"] = np.array([ls.c for ls in steps])
        if walk.cell != "rnn":  # the gates, in torch's order (the rnn's one term is h itself)
            for n, term in enumerate(steps[0].terms):
                record[term.name] = np.array([ls.terms[n].value for ls in steps])
        layers.append(record)
    inputs_walked = np.array([step.x for step in walk.steps])
    return StateWalk(walk.cell, inputs_walked, layers, np.array([step.y_hat for step in walk.steps]))


def run_state_walk(run, steps: int | None = None) -> tuple[StateWalk, np.ndarray, float]:
    """The walk over a run's forecast context, continued through its fed-back predictions.

    Returns (walk, series index of each step, where generation starts). The walk covers the
    context and each generated value but the last (in the model's units), so its states are those
    the forecast carries. An ensemble run shows its first member (``run.model``).
    """
    walk = run_forecast(run, steps)
    ahead = len(walk.forecast.scaled) - 1
    states = state_walk(run.model, walk.fed, ahead=ahead)
    index = np.arange(walk.start, walk.start + len(states.inputs))
    return states, index, walk.end - 0.5


def states_figure(walk: StateWalk, index: Sequence[int] | None = None, generation_start: float | None = None,
                  title: str | None = None) -> Figure:
    """Heatmaps (units × time) of h and, for lstm/gru, the cell state and gates of every layer.

    Each panel's image carries the gid ``LAYER:NAME`` (``0:h``, ``0:f``, …).
    """
    time = len(walk.inputs)
    index = np.arange(time) if index is None else np.asarray(index)
    panels = [(layer, name) for layer, record in enumerate(walk.layers) for name in record]
    hidden = walk.layers[0]["h"].shape[1]
    height = min(14.0, 1.0 + len(panels) * (0.45 + 0.22 * hidden))
    figure = new_figure(9.0, height)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    titles = {"h": "hidden state h", "c": "cell state c", "i": "input gate i", "f": "forget gate f",
              "g": "cell candidate g", "o": "output gate o", "r": "reset gate r", "z": "update gate z",
              "n": "new gate n"}
    extent = (index[0] - 0.5, index[-1] + 0.5, hidden - 0.5, -0.5)
    for ax, (layer, name) in zip(axes, panels):
        values = walk.layers[layer][name].T  # (hidden, time)
        limit = max(1.0, float(np.abs(values).max()))
        image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent,
                          interpolation="nearest")
        image.set_gid(f"{layer}:{name}")
        ax.set_yticks(range(hidden))
        ax.set_ylabel("unit", fontsize=8)
        label = titles[name] + (f" (layer {layer})" if len(walk.layers) > 1 else "")
        ax.set_title(label, fontsize=9, loc="left")
        if generation_start is not None:
            ax.axvline(generation_start, color="black", linestyle=":", linewidth=1)
        figure.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
    axes[-1].set_xlabel("index (inputs: the context, then the fed-back predictions)")
    figure.suptitle(title or f"{walk.cell} state over time", fontsize=11)
    return figure


# -- files -----------------------------------------------------------------------------------------


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure rendered as PNG or SVG bytes (reproducible: no dates in the metadata)."""
    if fmt not in ("png", "svg"):
        raise InputError(f"format must be png or svg, got {fmt!r}")
    import matplotlib

    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    with matplotlib.rc_context({"svg.hashsalt": "rnnlab", "svg.fonttype": "path"}):
        figure.savefig(buffer, format=fmt, dpi=100, metadata=metadata)
    return buffer.getvalue()


def prepare_dir(out: Path) -> Path:
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RnnlabError(f"output directory {str(out)!r} cannot be created: {exc.strerror or exc}") from None
    if not out.is_dir():
        raise RnnlabError(f"output directory {str(out)!r} is not a directory")
    return out


def write_files(out: Path, files: Mapping[str, bytes | str]) -> list[Path]:
    """Write each file under ``out`` atomically (temporary file + rename); returns their paths."""
    from .store import write_atomic

    out = prepare_dir(out)
    paths = []
    for name, payload in files.items():
        path = out / name
        try:
            write_atomic(path, payload)
            os.chmod(path, 0o644)  # readable like any other chart, not only by its owner
        except OSError as exc:
            raise RnnlabError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        paths.append(path)
    return paths


def _require_history(run) -> None:
    if not run.history:
        raise InputError(
            f"run {run.id!r} has no loss history (stopped at step 0); train it for at least one step"
        )


def run_plot_files(run) -> dict[str, bytes | str]:
    """Chart files of one run: forecast (PNG, SVG, CSV, Markdown), loss and state charts."""
    _require_history(run)
    data = run_forecast_data(run)
    rows = forecast_table(data)
    walk, index, start = run_state_walk(run)
    figures = {
        "forecast": forecast_figure(data, title=f"{data.label}: baseline, input and prediction"),
        "loss": loss_figure({data.label: run.history}),
        "states": states_figure(walk, index, start, title=f"{data.label}: {walk.cell} state over the forecast"),
    }
    files: dict[str, bytes | str] = {}
    for name, figure in figures.items():
        files[f"{name}.png"] = figure_bytes(figure, "png")
        files[f"{name}.svg"] = figure_bytes(figure, "svg")
    files["forecast.csv"] = table_csv(rows)
    files["forecast.md"] = table_markdown(rows)
    return files


def compare_plot_files(runs: Sequence) -> dict[str, bytes | str]:
    """Chart files comparing several runs: forecasts and loss curves on shared axes."""
    for run in runs:
        _require_history(run)
    data = [run_forecast_data(run) for run in runs]
    labels = _unique_labels([d.label for d in data])
    data = [_relabel(d, label) for d, label in zip(data, labels)]
    forecasts = forecast_figure(data)
    losses = loss_figure({label: run.history for label, run in zip(labels, runs)})
    files: dict[str, bytes | str] = {}
    for name, figure in (("compare-forecast", forecasts), ("compare-loss", losses)):
        files[f"{name}.png"] = figure_bytes(figure, "png")
        files[f"{name}.svg"] = figure_bytes(figure, "svg")
    return files


def _unique_labels(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def _relabel(data: ForecastData, label: str) -> ForecastData:
    from dataclasses import replace

    return data if data.label == label else replace(data, label=label)


def write_plots(runs: Sequence, out: Path | None = None) -> list[Path]:
    """Render every chart, then write them: one run into its directory (or ``out``),
    several runs' comparison into ``out`` (default: the current directory)."""
    if not runs:
        raise InputError("give at least one run to plot")
    if out is None:
        out = runs[0].path if len(runs) == 1 else Path(".")
    prepare_dir(Path(out))  # fail on an unusable place before rendering
    files = run_plot_files(runs[0]) if len(runs) == 1 else compare_plot_files(runs)
    return write_files(Path(out), files)
