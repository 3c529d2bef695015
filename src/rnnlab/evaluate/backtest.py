"""The held-out test part: a rolling-origin backtest of the network against the baselines.

At every origin t of the test part (every ``stride``-th, as long as K values follow), each method
sees the values before t and forecasts the next K = ``data.horizon`` values. Scored one step ahead
(the first value) and over all K steps, in the series' own units (``metrics.py``).

The methods: the network (context: the last ``context_length`` values, or the whole history
for variable-length windows; fed back K−1 times; outputs unscaled), naive, seasonal naive and
AR(p) (``baselines.py``), and ETS and ARIMA (``statistical.py``) when ``rnnlab evaluate`` asks.

A long series is scored on a sample, so that its evaluation takes seconds, not minutes: at most
``MAX_ORIGINS`` origins (the stride is widened to every k-th origin, and the stored ``stride``
says so), and AR(p) fitted on the last ``AR_FIT_VALUES`` values of the training part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..config import WAVEFORMS, RunConfig
from ..data import Prepared, prepare_stored
from ..errors import InputError
from ..predict import forecast_at  # torch's SequenceModel or the compiled engine's ArrayModel
from .baselines import choose_ar, naive_forecasts, seasonal_naive_forecasts
from .metrics import mase_scale, metrics
from .intervals import calibrate_interval
from .seedtask import evaluate_ensemble, evaluate_seed_task
from .statistical import statistical_forecasts

if TYPE_CHECKING:
    from ..model import SequenceModel

MAX_ORIGINS = 2000  # origins of one backtest; more are sampled by a wider stride
AR_FIT_VALUES = 20_000  # the most recent training values AR(p) is fitted on


def backtest_origins(prepared: Prepared, horizon: int, stride: int = 1) -> list[int]:
    """Origins of the backtest: every ``stride``-th position of the test part with ``horizon`` values after it."""
    split = prepared.split
    if not split.test_size:
        raise InputError("the series has no test part; train with data.test_fraction > 0 (--test-fraction)")
    if stride < 1:
        raise InputError(f"stride must be >= 1, got {stride}")
    return list(range(split.val_end, split.length - horizon + 1, stride))


def evaluate_test(
    model: SequenceModel,
    prepared: Prepared,
    horizon: int,
    stride: int = 1,
    ar_order: int = 0,
    members: Sequence[SequenceModel] = (),
    statistical: bool = True,
) -> dict:
    """The rolling-origin backtest of the module docstring: every method, one step and K steps.
    A horizon longer than the test part is shortened to it (and reported so). ``members``: an
    ensemble's models, whose median is the network's forecast. ``statistical``: ETS and ARIMA
    too (their maximum-likelihood fits take seconds, so training leaves them to ``evaluate``)."""
    values = prepared.series.values
    horizon = min(horizon, prepared.split.test_size) if prepared.split.test_size else horizon
    train = values[: prepared.split.train_end]
    origins = backtest_origins(prepared, horizon, stride)
    if len(origins) > MAX_ORIGINS:  # a long test part: every k-th origin, at most MAX_ORIGINS of them
        stride *= -(-len(origins) // MAX_ORIGINS)
        origins = backtest_origins(prepared, horizon, stride)
    if prepared.context_length and origins[0] < prepared.context_length:
        raise InputError(f"data.context_length ({prepared.context_length}) is longer than the history at the test part")
    season = prepared.season
    ar = choose_ar(train[-AR_FIT_VALUES:], season, ar_order)
    models = list(members) if len(members) > 1 else [model]
    for m in models:
        if hasattr(m, "eval"):  # a torch module: no dropout while forecasting
            m.eval()
    scaled = np.median([forecast_at(m, prepared.scaled, origins, horizon, prepared.context_length, prepared.relative)
                        for m in models], axis=0)  # (origins, horizon), the model's units
    starts = np.asarray(origins)
    forecasts = {
        "model": prepared.scaler.inverse(scaled, start=starts),
        "naive": naive_forecasts(values, origins, horizon),
        "seasonal_naive": seasonal_naive_forecasts(values, origins, horizon, season),
        "ar": ar.forecast(values, origins, horizon),
    }
    if statistical:
        forecasts.update(statistical_forecasts(values, prepared.split.train_end, origins, horizon, season))
    truth = np.array([values[o : o + horizon] for o in origins])  # (origins, horizon)
    interval = calibrate_interval(prepared.scaler.transform(truth, start=starts) - scaled, scaled, truth,
                                  prepared.scaler, starts)
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
        "interval": interval,
    }


def statistical_scores(values: np.ndarray, train_end: int, test: dict) -> dict:
    """ETS and ARIMA (fitted on ``values[:train_end]``) scored at the origins of a stored backtest
    ``test`` (its test_start, stride, horizon and season): {method: {"one_step", "all_steps"}}."""
    horizon, season = int(test["horizon"]), int(test["season"])
    origins = list(range(int(test["test_start"]), len(values) - horizon + 1, int(test.get("stride", 1))))
    if not origins:
        return {}
    truth = np.array([values[o : o + horizon] for o in origins])  # (origins, horizon)
    scale = mase_scale(values[:train_end], season)
    return {name: {"one_step": metrics(f[:, :1], truth[:, :1], scale), "all_steps": metrics(f, truth, scale)}
            for name, f in statistical_forecasts(values, train_end, origins, horizon, season).items()}


def evaluate_run(
    model: SequenceModel, config: RunConfig, stored: dict | None = None, stride: int = 1, ar_order: int = 0,
    members: Sequence[SequenceModel] = (), statistical: bool = True,
) -> dict:
    """The evaluation a run gets: the test-part backtest when the series has a test part, and the
    seed task for waveforms. ``stored``: the split and scaling stored with the run; ``statistical``:
    ETS and ARIMA in the backtest too."""
    prepared = prepare_stored(config.data, config.train.rollout, stored)
    result: dict = {}
    if config.data.series in WAVEFORMS:
        result = evaluate_seed_task(model, config.data, config.forecast.steps, prepared.scaler)
    if prepared.split.test_size:
        result["test"] = evaluate_test(model, prepared, config.data.horizon, stride, ar_order, members, statistical)
    return result


def evaluate_result(result) -> dict:
    """The metrics stored with a freshly trained run (``TrainResult``): ``evaluate_run`` without
    ETS and ARIMA (``rnnlab evaluate`` adds them), plus the spread of the members for an
    ensemble; ``{}`` when no step finished."""
    if not result.history:
        return {}
    config = result.config
    # the compiled engine's members as ArrayModels (no torch), else the torch modules
    members = getattr(result, "member_weights", None) or getattr(result, "members", None) or ()
    model = getattr(result, "weights", None) or result.model  # the compiled engine's ArrayModel: no torch
    metrics = evaluate_run(model, config, result.data, members=members, statistical=False)
    if len(members) > 1:
        metrics = {**metrics, "ensemble": evaluate_ensemble(config, members, config.forecast.steps)}
    return metrics
