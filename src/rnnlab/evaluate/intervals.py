"""Prediction intervals calibrated on the backtest (split conformal).

The network's residuals on the test part are taken in its own units (after the log, the seasonal
indices and the scaling: a log series' residuals are relative), divided by √h at step h (errors
of a forecast fed back grow roughly so) and pooled over the steps. The 10 % and 90 % quantiles of
the pooled residuals, times √h, added to the forecast and mapped back, give the 80 % interval.

Its coverage is measured honestly: the quantiles are fitted on the earlier half of the origins
and the coverage counted on the later half; the interval stored for forecasting is then fitted
on every origin. With fewer than 4 origins the interval is fitted on all of them (every step's
residual counts) and its coverage is not measured; without any origin there is none (an
ensemble's forecast then carries its members' 10–90 % spread).
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.8
QUANTILES = (0.1, 0.9)


def _quantiles(residuals: np.ndarray) -> tuple[float, float]:
    """10 % and 90 % quantiles of residuals (origins, steps) divided by √h, pooled."""
    steps = residuals.shape[1]
    pooled = (residuals / np.sqrt(np.arange(1, steps + 1))).ravel()
    low, high = np.quantile(pooled, QUANTILES)
    return float(low), float(high)


def interval_band(scaled: np.ndarray, low: float, high: float, transform, start) -> tuple[np.ndarray, np.ndarray]:
    """The interval's bounds in the series' units around forecasts ``scaled`` (..., steps)."""
    root = np.sqrt(np.arange(1, np.shape(scaled)[-1] + 1))
    return transform.inverse(scaled + low * root, start), transform.inverse(scaled + high * root, start)


def calibrate_interval(residuals: np.ndarray, scaled: np.ndarray, truth: np.ndarray, transform, starts) -> dict:
    """The 80 % interval from backtest residuals (origins, steps) in the model's units, with its
    coverage on the later half of the origins; see the module docstring."""
    count = len(residuals)
    result: dict = {"level": LEVEL, "origins": count}
    if count < 1:
        result.update(low=None, high=None, coverage=None, note="no backtest origin to calibrate an interval")
        return result
    if count < 4:  # the residuals of every step still give the interval; too few origins to count its coverage
        low, high = _quantiles(residuals)
        result.update(low=low, high=high, coverage=None,
                      note=f"calibrated on {count} backtest origin(s); too few to measure its coverage")
        return result
    half = count // 2
    low, high = _quantiles(residuals[:half])
    lower, upper = interval_band(scaled[half:], low, high, transform, starts[half:])
    inside = (truth[half:] >= np.minimum(lower, upper)) & (truth[half:] <= np.maximum(lower, upper))
    low, high = _quantiles(residuals)
    result.update(low=low, high=high, coverage=float(np.mean(inside)), measured_on=count - half)
    return result
