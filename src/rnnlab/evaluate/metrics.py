"""Forecast errors: MAE, RMSE, MASE, sMAPE, and the seed task's one-step MSE and rollout RMSE.

- MAE = mean |e|, RMSE = √mean e², sMAPE = 100 · mean 2|e| / (|y| + |ŷ|) (0 where both are 0);
- MASE = MAE / mean |y_t − y_{t−m}| over the training part (m the season; 1 without one).
"""

from __future__ import annotations

import numpy as np


def rollout_scores(forecasts: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``one_step_mse`` (first value) and ``rollout_rmse`` (mean over windows of the RMSE over the steps);
    forecasts, truth: (windows, steps)."""
    errors = forecasts - truth
    return {
        "one_step_mse": float(np.mean(errors[:, 0] ** 2)),
        "rollout_rmse": float(np.mean(np.sqrt(np.mean(errors**2, axis=1)))),
    }


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
