"""The statisticians' methods in the backtest: ETS and ARIMA, from statsmodels.

Each is fitted once on the training part (by maximum likelihood, in statsmodels' state-space
form), then filtered with the same parameters over the series and forecast dynamically from every
origin of the test part (from the values before the origin only), as the network is. A positive series is modelled in logs (so the
seasonality and trend may be multiplicative). The form is chosen by AIC from a small set:

- ETS: additive errors, a damped trend, with and without an additive season;
- ARIMA: (0,1,1)(0,1,1)_m (the airline model) and (1,1,1)(0,1,1)_m for a seasonal series,
  (0,1,1) and (1,1,1) with a drift otherwise.

statsmodels comes with the ``datasets`` extra; without it these two methods are left out.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np


def _candidates(kind: str, season: int, length: int):
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    seasonal = season > 1 and length >= 3 * season
    if kind == "ets":
        yield lambda y: ExponentialSmoothing(y, trend=True, damped_trend=True)
        if seasonal:
            yield lambda y: ExponentialSmoothing(y, trend=True, damped_trend=True, seasonal=season)
        return
    if seasonal:
        for order in ((0, 1, 1), (1, 1, 1)):
            yield lambda y, order=order: SARIMAX(y, order=order, seasonal_order=(0, 1, 1, season))
    else:
        for order in ((0, 1, 1), (1, 1, 1)):
            yield lambda y, order=order: SARIMAX(y, order=order, trend="t")


def fit_best(kind: str, train: np.ndarray, season: int):
    """The candidate of least AIC fitted on ``train``, or None when none fits."""
    best = None
    for make in _candidates(kind, season, len(train)):
        try:
            result = make(train).fit(disp=False)
        except Exception:  # noqa: BLE001 - a candidate that cannot be fitted is skipped
            continue
        if np.isfinite(result.aic) and (best is None or result.aic < best.aic):
            best = result
    return best


def _forecasts_from(fitted, y: np.ndarray, origins: Sequence[int], horizon: int) -> np.ndarray:
    """(origins, horizon): from each origin, the forecast given the values before it only. One
    filter over ``y`` with the fitted parameters, then a dynamic prediction from every origin (the
    observations from the origin on are not used), the same as re-filtering y[:origin]."""
    applied = fitted.apply(y)
    rows = []
    for origin in origins:
        predicted = applied.get_prediction(start=origin, end=origin + horizon - 1, dynamic=True)
        rows.append(np.asarray(predicted.predicted_mean, dtype=np.float64))
    return np.array(rows)


def statistical_forecasts(values: np.ndarray, train_end: int, origins: Sequence[int], horizon: int,
                          season: int) -> dict[str, np.ndarray]:
    """Forecasts (origins, horizon) of ETS and ARIMA fitted on ``values[:train_end]``; {} without
    statsmodels, and a method left out where no candidate fits."""
    try:  # imported before the warnings are silenced: statsmodels sets its own filters on import
        import statsmodels.tsa.statespace.exponential_smoothing  # noqa: F401
        import statsmodels.tsa.statespace.sarimax  # noqa: F401
    except ImportError:
        return {}
    values = np.asarray(values, dtype=np.float64)
    log = bool(np.all(values > 0))
    y = np.log(values) if log else values
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in ("ets", "arima"):
            fitted = fit_best(kind, y[:train_end], season)
            if fitted is None:
                continue
            forecast = _forecasts_from(fitted, y[: max(origins) + horizon], origins, horizon)
            out[kind] = np.exp(forecast) if log else forecast
    return out
