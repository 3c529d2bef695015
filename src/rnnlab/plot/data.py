"""What the charts draw, from a stored run: its forecast as index/value arrays, its state walk.

``run_forecast`` forecasts a run as ``rnnlab forecast`` does (through ``rnnlab.runs``) and says
where the context sits in the series; ``run_forecast_data`` lays that out for the forecast chart
and its value table; ``run_state_walk`` is the hand calculation of ``rnnlab.explain`` over the
same forecast, laid out per layer for the state heatmaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..data import series_values
from ..errors import InputError
from ..runs import Forecast, baseline, forecast_after_end, forecast_values, is_recorded, stored_window

# The quantities each cell computes per step, in torch's gate order (h first: always drawn).
CELL_QUANTITIES = {"rnn": ("h",), "lstm": ("h", "c", "i", "f", "g", "o"), "gru": ("h", "r", "z", "n")}


def run_label(run) -> str:
    """The name a run goes by in titles and legends: its name, else its id."""
    return run.info.get("name") or run.id


# -- the forecast ----------------------------------------------------------------------------------


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
    if is_recorded(run.config.data):  # forecast past the series' end, from its last context
        prepared, window, result = forecast_after_end(run, steps)
        return RunForecast(window.start, window.end, np.asarray(prepared.series.values, dtype=np.float64), result)
    window = stored_window(run)
    series = np.asarray(series_values(run.config.data), dtype=np.float64)
    if not 0 <= window.start < window.end <= len(series):
        raise InputError(
            f"run {run.id!r} has context series[{window.start}:{window.end}], outside its series of {len(series)} values"
        )
    result = forecast_values(run, series[window.start : window.end], steps, start=window.start)
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
        label=run_label(run),
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
    from ..explain import explain_forward

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
