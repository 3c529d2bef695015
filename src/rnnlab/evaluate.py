"""Evaluation on the seed task, against the naive "repeat the last value" forecast.

Over every window the seed can draw (for the seed preset: start 0…31, end start+5…37, 560
windows), the context is ``series[start:end-1]`` and the model predicts value ``end-1``:

- ``one_step_mse``: mean over windows of (ŷ_end-1 − y_end-1)²;
- ``rollout_rmse``: for each window, the RMSE of ``steps`` generated values against the true
  periodic continuation sin((end−1+k)·2π/36), k = 0…steps−1; then the mean over windows.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .config import DataConfig
from .data import all_seed_windows, series_values, true_value
from .forecast import forecast_batch
from .model import SequenceModel


def _scores(forecasts: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """forecasts, truth: (windows, steps)."""
    errors = forecasts - truth
    return {
        "one_step_mse": float(np.mean(errors[:, 0] ** 2)),
        "rollout_rmse": float(np.mean(np.sqrt(np.mean(errors**2, axis=1)))),
    }


def evaluate_seed_task(model: SequenceModel, data: DataConfig, steps: int = 10) -> dict:
    """Scores of the model and of the naive forecast over every window of the seed task."""
    series = series_values(data)
    windows = list(all_seed_windows(data))
    by_length: dict[int, list] = defaultdict(list)
    for w in windows:
        by_length[w.length].append(w)
    forecasts, naive, truth = [], [], []
    for length, group in sorted(by_length.items()):
        contexts = np.stack([series[w.start : w.end] for w in group])  # (batch, length)
        forecasts.append(forecast_batch(model, contexts, steps))  # (batch, steps)
        naive.append(np.repeat(contexts[:, -1:], steps, axis=1))
        truth.append(np.array([[true_value(data, w.end + k) for k in range(steps)] for w in group]))
    forecasts, naive, truth = (np.concatenate(a) for a in (forecasts, naive, truth))
    return {
        "windows": len(windows),
        "steps": steps,
        "model": _scores(forecasts, truth),
        "naive": _scores(naive, truth),
        **_scores(forecasts, truth),
    }
