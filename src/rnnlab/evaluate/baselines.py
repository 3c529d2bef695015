"""The methods a user would pick instead of the network: naive, seasonal naive and AR(p).

naive: the last value; seasonal naive: ŷ_{t+h} = y_{t+h−m·(⌊(h−1)/m⌋+1)}; AR(p):
y_t = c + Σ a_i·y_{t−i}, fitted by least squares (p chosen by AIC unless given), fed back.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ..errors import InputError


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
