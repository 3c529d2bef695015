"""Evaluation: the seed task, and the held-out test part against baselines.

The seed task (waveforms). Over every window the seed can draw from one period (for the seed
preset: start 0…31, end start+5…37, 560 windows), the context is ``series[start:end-1]`` and the
model predicts value ``end-1``:

- ``one_step_mse``: mean over windows of (ŷ_end-1 − y_end-1)²;
- ``rollout_rmse``: for each window, the RMSE of ``steps`` generated values against the true
  periodic continuation sin((end−1+k)·2π/36), k = 0…steps−1; then the mean over windows.

The test part (any series with one). A rolling-origin backtest: at every origin t of the test
part (every ``stride``-th, as long as K values follow), each method sees the values before t and
forecasts the next K = ``data.horizon`` values. Scored one step ahead (the first value) and over
all K steps, in the series' own units:

- MAE = mean |e|, RMSE = √mean e², sMAPE = 100 · mean 2|e| / (|y| + |ŷ|) (0 where both are 0);
- MASE = MAE / mean |y_t − y_{t−m}| over the training part (m the season; 1 without one).

The methods: the network (context: the last ``context_length`` values, or the whole history
for variable-length windows; fed back K−1 times; outputs unscaled), naive (the last value),
seasonal naive (ŷ_{t+h} = y_{t+h−m·(⌊(h−1)/m⌋+1)}) and AR(p), y_t = c + Σ a_i·y_{t−i}, fitted by
least squares on the training part (p chosen by AIC unless given), fed back like the network.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Sequence

import numpy as np
import torch

from .config import WAVEFORMS, DataConfig, RunConfig
from .data import Prepared, Scaler, all_seed_windows, prepare_stored, series_values, true_value
from .errors import InputError
from .forecast import forecast_batch
from .model import SequenceModel

# -- the seed task ---------------------------------------------------------------------------------


def _scores(forecasts: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """forecasts, truth: (windows, steps)."""
    errors = forecasts - truth
    return {
        "one_step_mse": float(np.mean(errors[:, 0] ** 2)),
        "rollout_rmse": float(np.mean(np.sqrt(np.mean(errors**2, axis=1)))),
    }


def seed_task_data(data: DataConfig) -> DataConfig:
    """The seed task of a waveform: one noiseless period, one target per window."""
    return dataclasses.replace(data, periods=1, noise=0.0, horizon=1)


def evaluate_seed_task(model: SequenceModel, data: DataConfig, steps: int = 10, scaler: Scaler | None = None) -> dict:
    """Scores of the model and of the naive forecast over every window of one period of the wave.

    ``scaler``: the run's scaling (the model sees scaled values, its outputs are unscaled).
    """
    if data.series not in WAVEFORMS:
        raise InputError(f"the seed task needs a waveform series, got data.series = {data.series!r}")
    one = seed_task_data(data)
    scaler = scaler or Scaler()
    series = series_values(one)
    windows = list(all_seed_windows(one))
    by_length: dict[int, list] = defaultdict(list)
    for w in windows:
        by_length[w.length].append(w)
    forecasts, naive, truth = [], [], []
    for length, group in sorted(by_length.items()):
        contexts = np.stack([series[w.start : w.end] for w in group])  # (batch, length)
        predicted = forecast_batch(model, scaler.transform(contexts), steps)  # (batch, steps)
        forecasts.append(scaler.inverse(predicted))
        naive.append(np.repeat(contexts[:, -1:], steps, axis=1))
        truth.append(np.array([[true_value(one, w.end + k) for k in range(steps)] for w in group]))
    forecasts, naive, truth = (np.concatenate(a) for a in (forecasts, naive, truth))
    return {
        "windows": len(windows),
        "steps": steps,
        "model": _scores(forecasts, truth),
        "naive": _scores(naive, truth),
        **_scores(forecasts, truth),
    }


# -- forecasting from many origins -----------------------------------------------------------------


def _cat_states(states: list):
    if isinstance(states[0], tuple):  # lstm: (h, c), each (layers, 1, hidden)
        return tuple(torch.cat(parts, dim=1) for parts in zip(*states))
    return torch.cat(states, dim=1)  # (layers, batch, hidden)


@torch.no_grad()
def forecast_at(
    model: SequenceModel, values: np.ndarray, origins: Sequence[int], steps: int, context_length: int = 0
) -> np.ndarray:
    """Forecasts of ``steps`` values after each origin t (from ``values[:t]``): (origins, steps).

    ``context_length`` N > 0: the context is ``values[t-N:t]``; 0: the whole history
    ``values[:t]``, run once through the cell, its state kept at each origin.
    ``values`` are in the model's (scaled) units.
    """
    origins = [int(o) for o in origins]
    if not origins:
        return np.zeros((0, steps))
    if context_length:
        contexts = np.stack([values[o - context_length : o] for o in origins])  # (batch, N)
        return forecast_batch(model, contexts, steps)
    x = torch.tensor(np.asarray(values, dtype=np.float64), dtype=torch.float32).view(1, -1, 1)  # (1, time, 1)
    first = min(origins)
    prediction, state = model(x[:, :first])  # (1, first)
    value = prediction[:, -1]  # (1,)
    wanted = set(origins)
    firsts, states = {}, {}
    for t in range(first, max(origins) + 1):
        if t in wanted:
            firsts[t], states[t] = value, state
        if t < max(origins):
            prediction, state = model(x[:, t : t + 1], state)  # one step: (1, 1, 1) in
            value = prediction[:, -1]
    value = torch.cat([firsts[o] for o in origins]).view(-1, 1)  # (batch, 1)
    state = _cat_states([states[o] for o in origins])
    out = [value]
    for _ in range(steps - 1):
        prediction, state = model(value.unsqueeze(-1), state)  # (batch, 1, 1) in
        value = prediction[:, -1:]
        out.append(value)
    return torch.cat(out, dim=1).double().numpy()  # (batch, steps)


# -- metrics and baselines -------------------------------------------------------------------------


def metrics(forecasts: np.ndarray, truth: np.ndarray, mase_scale: float) -> dict[str, float | None]:
    """MAE, RMSE, MASE and sMAPE (%) of forecasts against truth (same shape)."""
    errors = np.asarray(forecasts, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    mae = float(np.mean(np.abs(errors)))
    denominator = np.abs(truth) + np.abs(forecasts)
    ratio = np.divide(2 * np.abs(errors), denominator, out=np.zeros_like(errors), where=denominator > 0)
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mase": mae / mase_scale if mase_scale > 0 else None,
        "smape": float(100 * np.mean(ratio)),
    }


def mase_scale(train: np.ndarray, season: int) -> float:
    """Mean absolute error of the in-sample seasonal-naive forecast over the training part
    (0 when the training part repeats itself exactly: MASE is then undefined)."""
    m = season if len(train) > season else 1
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    # an exactly repeating training part has no error to scale by (rounding aside): MASE is undefined
    return scale if scale > 1e-9 * float(np.mean(np.abs(train))) else 0.0


def naive_forecasts(values: np.ndarray, origins: Sequence[int], steps: int) -> np.ndarray:
    """The last value before each origin, repeated: (origins, steps)."""
    return np.array([[values[o - 1]] * steps for o in origins], dtype=np.float64)


def seasonal_naive_forecasts(values: np.ndarray, origins: Sequence[int], steps: int, season: int) -> np.ndarray:
    """ŷ_{t+h} = y_{t+h−m·(⌊(h−1)/m⌋+1)}, h = 1…steps: the value one season before, (origins, steps)."""
    m = season
    return np.array(
        [[values[o + h - 1 - m * ((h - 1) // m + 1)] for h in range(1, steps + 1)] for o in origins],
        dtype=np.float64,
    )


@dataclasses.dataclass(frozen=True)
class AutoRegression:
    """y_t = intercept + Σ_i coefficients[i-1]·y_{t−i}, fitted by least squares."""

    intercept: float
    coefficients: np.ndarray  # (p,)

    @property
    def order(self) -> int:
        return len(self.coefficients)

    def forecast(self, values: np.ndarray, origins: Sequence[int], steps: int) -> np.ndarray:
        """Recursive forecasts from each origin: (origins, steps)."""
        p = self.order
        out = np.zeros((len(origins), steps))
        for row, o in enumerate(origins):
            history = list(values[o - p : o])
            for k in range(steps):
                lags = np.array(history[::-1][:p])  # y_{t-1}, …, y_{t-p}
                value = self.intercept + float(self.coefficients @ lags)
                out[row, k] = value
                history.append(value)
        return out


def fit_ar(train: np.ndarray, order: int) -> tuple[AutoRegression, float]:
    """Least-squares AR(order) on ``train``; returns the model and its residual variance."""
    train = np.asarray(train, dtype=np.float64)
    n = len(train)
    if order < 1 or n - order < order + 2:
        raise InputError(f"AR order must be in 1..{max(1, (n - 2) // 2)} for {n} training values, got {order}")
    rows = n - order
    design = np.ones((rows, order + 1))
    for i in range(1, order + 1):
        design[:, i] = train[order - i : n - i]  # column i: y_{t-i}
    target = train[order:]
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ solution
    return AutoRegression(float(solution[0]), solution[1:]), float(np.mean(residual**2))


def choose_ar(train: np.ndarray, season: int, order: int = 0) -> AutoRegression:
    """AR(order), or with order 0 the AR(p), p = 1…max(8, season+1), of least AIC on a common sample."""
    if order:
        return fit_ar(train, order)[0]
    n = len(train)
    highest = min(max(8, season + 1), max(1, (n - 2) // 3))
    best, best_aic = None, np.inf
    for p in range(1, highest + 1):
        model, variance = fit_ar(train[highest - p :], p)  # the same targets for every p
        aic = (n - highest) * np.log(max(variance, 1e-300)) + 2 * (p + 1)
        if aic < best_aic:
            best, best_aic = model, aic
    return best


# -- the test part ---------------------------------------------------------------------------------


def backtest_origins(prepared: Prepared, horizon: int, stride: int = 1) -> list[int]:
    """Origins of the backtest: every ``stride``-th position of the test part with ``horizon`` values after it."""
    split = prepared.split
    if not split.test_size:
        raise InputError("the series has no test part; train with data.test_fraction > 0 (--test-fraction)")
    if horizon > split.test_size:
        raise InputError(f"horizon ({horizon}) is longer than the test part ({split.test_size} values)")
    if stride < 1:
        raise InputError(f"stride must be >= 1, got {stride}")
    return list(range(split.val_end, split.length - horizon + 1, stride))


def evaluate_test(
    model: SequenceModel,
    prepared: Prepared,
    horizon: int,
    stride: int = 1,
    ar_order: int = 0,
) -> dict:
    """The rolling-origin backtest of the module docstring: every method, one step and K steps."""
    values = prepared.series.values
    train = values[: prepared.split.train_end]
    origins = backtest_origins(prepared, horizon, stride)
    if prepared.context_length and origins[0] < prepared.context_length:
        raise InputError(f"data.context_length ({prepared.context_length}) is longer than the history at the test part")
    season = prepared.season
    ar = choose_ar(train, season, ar_order)
    model.eval()
    scaled = forecast_at(model, prepared.scaled, origins, horizon, prepared.context_length)
    forecasts = {
        "model": prepared.scaler.inverse(scaled),
        "naive": naive_forecasts(values, origins, horizon),
        "seasonal_naive": seasonal_naive_forecasts(values, origins, horizon, season),
        "ar": ar.forecast(values, origins, horizon),
    }
    truth = np.array([values[o : o + horizon] for o in origins])  # (origins, horizon)
    scale = mase_scale(train, season)
    methods = {
        name: {
            "one_step": metrics(f[:, :1], truth[:, :1], scale),
            "all_steps": metrics(f, truth, scale),
        }
        for name, f in forecasts.items()
    }
    return {
        "series": prepared.series.name,
        "test_start": prepared.split.val_end,
        "test_length": prepared.split.test_size,
        "origins": len(origins),
        "stride": stride,
        "horizon": horizon,
        "season": season,
        "ar_order": ar.order,
        "methods": methods,
    }


def evaluate_run(
    model: SequenceModel, config: RunConfig, stored: dict | None = None, stride: int = 1, ar_order: int = 0
) -> dict:
    """The evaluation a run gets: the test-part backtest when the series has a test part, and the
    seed task for waveforms. ``stored``: the split and scaling stored with the run."""
    prepared = prepare_stored(config.data, config.train.rollout, stored)
    result: dict = {}
    if config.data.series in WAVEFORMS:
        result = evaluate_seed_task(model, config.data, config.forecast.steps, prepared.scaler)
    if prepared.split.test_size:
        result["test"] = evaluate_test(model, prepared, config.data.horizon, stride, ar_order)
    return result


def evaluate_result(result) -> dict:
    """The metrics stored with a freshly trained run (``TrainResult``): ``evaluate_run``, plus the
    spread of the members for an ensemble; ``{}`` when no step finished."""
    if not result.history:
        return {}
    config = result.config
    metrics = evaluate_run(result.model, config, result.extra.get("data"))
    members = getattr(result, "members", None) or ()
    if len(members) > 1:
        from .ensemble import evaluate_ensemble

        metrics = {**metrics, "ensemble": evaluate_ensemble(config, members, config.forecast.steps)}
    return metrics
