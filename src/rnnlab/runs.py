"""A stored run as a forecaster: its scaling, its series and contexts, its forecast and band.

Every consumer of a stored run (the ``forecast`` command, charts and the report, the web page)
forecasts through ``forecast_values``: the context in the series' units is scaled as in training,
fed to the model (or to every member of an ensemble: their median and 10–90 % band), and the
outputs are unscaled. A run of a csv or dataset series forecasts past the end of its series
(``series_end``); a waveform run from the window it drew after training (``stored_window``) or
any other context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .config import WAVEFORMS, DataConfig
from .data import Prepared, Window, prepare_stored, true_value
from .data.transforms import Transform
from .errors import InputError
from .evaluate.intervals import interval_band
from .forecasting import forecast, forecast_ensemble
from .store import Run


def _data_info(run: Run) -> Mapping:
    info = run.info if isinstance(run.info, Mapping) else {}
    return info.get("data") if isinstance(info.get("data"), Mapping) else {}


def run_scaler(run: Run) -> Transform:
    """The transforms a run's model works in (log, seasonal indices, scaling, stored with its
    data info); the identity for the seed's runs."""
    data = _data_info(run)
    return Transform.from_dict(data.get("transform"), data.get("scaling"))


def is_relative(run: Run) -> bool:
    """Whether the run's network reads its contexts relative to their last value (data.level)."""
    return _data_info(run).get("level") == "last"


def is_recorded(data: DataConfig) -> bool:
    """Whether the series was read from data (a csv file or a dataset) rather than computed."""
    return data.series not in WAVEFORMS


def stored_window(run: Run) -> Window:
    """The context the run drew after training, as a window of its training series."""
    context = run.info.get("context")
    if not context:
        raise InputError(f"run {run.id!r} has no stored forecast context (it was stopped before drawing one)")
    start, end = (int(v) for v in context)
    return Window(start, end)


def prepared_of(run: Run) -> Prepared:
    """The run's series prepared as in training: the split and scaling stored with it."""
    return prepare_stored(run.config.data, run.config.train.rollout, run.info.get("data"))


def series_end(prepared: Prepared) -> Window:
    """The context a recorded series forecasts from: its last ``context_length`` values (or all)."""
    length = len(prepared.series)
    return Window(length - prepared.context_length if prepared.context_length else 0, length)


def baseline(data: DataConfig, series: np.ndarray, last_index: int) -> np.ndarray:
    """The true series at 0..last_index: the known series, then, for a waveform, its noiseless
    continuation (a series read from data ends with the data)."""
    values = list(series[: last_index + 1])
    if not is_recorded(data):
        values += [true_value(data, index) for index in range(len(series), last_index + 1)]
    return np.array(values, dtype=np.float64)


@dataclass(frozen=True)
class Forecast:
    """A forecast after one context, in the model's (scaled) units and in the series' units."""

    context: np.ndarray  # (time,) the context in the series' units
    fed: np.ndarray  # (time,) the context as the model reads it (scaled)
    scaled: np.ndarray  # (steps,) the model's values (an ensemble's median), scaled
    values: np.ndarray  # (steps,) the same in the series' units
    low: np.ndarray | None  # (steps,) an ensemble's 10 % band in the series' units, else None
    high: np.ndarray | None  # (steps,) its 90 % band
    members: int  # models behind the forecast (1: a single model)
    scaler: Transform
    relative: bool = False  # the network read the context relative to its last value
    calibrated: bool = False  # low/high: the 80 % interval calibrated on the backtest (else the members' spread)


def forecast_values(
    run: Run, context: Sequence[float], steps: int, *, start: int | None = None, model=None,
    members: Sequence | None = None, scaler: Transform | None = None,
) -> Forecast:
    """Forecast ``steps`` values after ``context`` (series' units) with the run's model (or
    ``model``, an edited copy), or the median of its members (``members`` defaults to the run's).

    ``start``: the position of ``context[0]`` in the run's series, for its seasonal indices
    (default: the context ends where the series ends)."""
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    scaler = run_scaler(run) if scaler is None else scaler
    context = np.asarray(context, dtype=np.float64)
    if start is None:
        start = int(_data_info(run).get("length") or len(context)) - len(context)
    fed = scaler.transform(context, start)
    after = start + len(context)  # position of the first forecast value
    relative = is_relative(run)
    members = run.members if members is None and model is None else members
    low = high = None
    if members and len(members) > 1:
        spread = forecast_ensemble(members, fed.tolist(), steps, relative)
        scaled = spread["median"]
        low, high = scaler.inverse(spread["low"], after), scaler.inverse(spread["high"], after)
    else:
        scaled = forecast(run.model if model is None else model, fed.tolist(), steps, relative)
        members = ()
    scaled = np.asarray(scaled, dtype=np.float64)
    interval = stored_interval(run)
    if interval is not None:  # the 80 % interval calibrated on the backtest replaces the members' spread
        low, high = interval_band(scaled, interval[0], interval[1], scaler, after)
    return Forecast(context, fed, scaled, scaler.inverse(scaled, after), low, high, max(1, len(members)), scaler,
                    relative, interval is not None)


def describe_transforms(transform: Transform, relative: bool) -> str:
    """What the network sees of the series, in words (for ``explain``): each transform in order."""
    parts = []
    if transform.power != "none":
        parts.append(f"the {transform.power} of each value")
    if transform.seasonal_path:
        parts.append(f"minus its STL seasonal component (season {len(transform.seasonal)}, the last season repeated "
                     "after the values it was fitted on)")
    elif transform.seasonal:
        parts.append(f"minus the classical seasonal index of its position (season {len(transform.seasonal)})")
    if transform.kind != "none":
        parts.append(f"scaled ({transform.kind}: (x - {transform.offset:.6g}) / {transform.scale:.6g})")
    if relative:
        parts.append("less the context's last value (the window read relative to its end)")
    return "; ".join(parts)


@dataclass(frozen=True)
class NetworkView:
    """A context as the run's network reads it, and the way back for its outputs."""

    fed: np.ndarray  # (time,) what the network reads
    level: float  # subtracted from every value (a relative run: the context's last transformed value; else 0)
    after: int  # position in the series of the first value after the context
    transform: Transform
    note: str  # describe_transforms of the run ("" : the values as they are)

    def to_series(self, outputs) -> np.ndarray:
        """The network's outputs (fed back after the context) in the series' units."""
        return self.transform.inverse(np.asarray(outputs, dtype=np.float64) + self.level, self.after)


def network_view(run: Run, context: Sequence[float], start: int | None = None) -> NetworkView:
    """``context`` (series' units; ``context[0]`` at position ``start``, by default where the
    context ends the series) transformed as the run's network reads it."""
    transform = run_scaler(run)
    context = np.asarray(context, dtype=np.float64)
    if start is None:
        start = int(_data_info(run).get("length") or len(context)) - len(context)
    fed = transform.transform(context, start)
    relative = is_relative(run)
    level = float(fed[-1]) if relative and len(fed) else 0.0
    return NetworkView(fed - level, level, start + len(context), transform, describe_transforms(transform, relative))


def stored_interval(run: Run) -> tuple[float, float] | None:
    """The (low, high) residual quantiles of the run's calibrated 80 % interval, or None."""
    test = (run.metrics or {}).get("test") if isinstance(run.metrics, Mapping) else None
    interval = test.get("interval") if isinstance(test, Mapping) else None
    if not isinstance(interval, Mapping) or interval.get("low") is None or interval.get("high") is None:
        return None
    return float(interval["low"]), float(interval["high"])


def with_statistical(run: Run) -> dict:
    """A refitted run's stored metrics with ETS and ARIMA added to its backtest where they are not
    there yet (training leaves them out: their fits take seconds), fitted on the values before its
    validation part, as the backtested network was (the held-out fractions stored with the run)."""
    from .data.prepared import split_series
    from .evaluate.backtest import statistical_scores

    metrics = dict(run.metrics or {})
    test = metrics.get("test")
    if not isinstance(test, Mapping) or {"ets", "arima"} & set(test.get("methods", {})):
        return metrics
    values = prepared_of(run).series.values
    held_out = run.info.get("backtest") if isinstance(run.info.get("backtest"), Mapping) else {}
    fractions = [0.1 if held_out.get(k) is None else float(held_out[k]) for k in ("val_fraction", "test_fraction")]
    train_end = split_series(len(values), *fractions).train_end
    methods = {**test.get("methods", {}), **statistical_scores(values, train_end, dict(test))}
    metrics["test"] = {**test, "methods": methods}
    return metrics


def forecast_after_end(run: Run, steps: int) -> tuple[Prepared, Window, Forecast]:
    """A recorded series' forecast past its end, from its last context (its stored transforms)."""
    prepared = prepared_of(run)
    window = series_end(prepared)
    result = forecast_values(run, prepared.series.values[window.start : window.end], steps,
                             start=window.start, scaler=prepared.scaler)
    return prepared, window, result
