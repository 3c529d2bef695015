"""The seed task (waveforms), for one model and for an ensemble's members.

Over every window the seed can draw from one period (for the seed preset: start 0…31, end
start+5…37, 560 windows), the context is ``series[start:end-1]`` and the model predicts value
``end-1``:

- ``one_step_mse``: mean over windows of (ŷ_end-1 − y_end-1)²;
- ``rollout_rmse``: for each window, the RMSE of ``steps`` generated values against the true
  periodic continuation sin((end−1+k)·2π/36), k = 0…steps−1; then the mean over windows.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..config import WAVEFORMS, DataConfig, RunConfig
from ..data import Scaler, all_seed_windows, prepare, series_values, true_value
from ..errors import InputError
from ..predict import forecast_batch  # torch's SequenceModel or the compiled engine's ArrayModel
from .metrics import rollout_scores

if TYPE_CHECKING:
    from ..model import SequenceModel

BAND = (10.0, 90.0)  # percentiles of an ensemble's spread


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
        "model": rollout_scores(forecasts, truth),
        "naive": rollout_scores(naive, truth),
        **rollout_scores(forecasts, truth),
    }


def _spread(values: np.ndarray) -> dict[str, float]:
    low, median, high = np.percentile(values, [BAND[0], 50.0, BAND[1]])
    return {
        "min": float(values.min()), "p10": float(low), "median": float(median),
        "p90": float(high), "max": float(values.max()),
    }


def evaluate_ensemble(config: RunConfig, members: Sequence[SequenceModel], steps: int = 10) -> dict:
    """Seed-task scores of the ensemble's median forecast, and their spread over the members.

    Like ``evaluate_seed_task`` (every window of one period of the waveform, ``steps``-step
    rollouts) but for all members at once, with the compiled forward pass (float64). Returns
    ``one_step_mse`` / ``rollout_rmse`` of the median forecast at the top level (as a single
    run's metrics), ``naive``, and ``members``: min / p10 / median / p90 / max of each score.
    """
    from ..fast import layout, loop

    if config.data.series not in WAVEFORMS:
        return {"members": {"count": len(members)}}
    one = seed_task_data(config.data)
    scaler = prepare(config.data, config.train.rollout).scaler
    series = series_values(one)
    windows = list(all_seed_windows(one))
    longest = max(w.length for w in windows)
    contexts = np.zeros((len(windows), longest))  # (windows, longest), zero-padded
    for i, w in enumerate(windows):
        contexts[i, : w.length] = scaler.transform(series[w.start : w.end])
    lengths = np.array([w.length for w in windows], dtype=np.int64)
    lay = layout(config.model)
    thetas = np.stack([lay.pack(m.arrays() if hasattr(m, "arrays") else m.tensors()) for m in members])  # (members, P)
    out = np.zeros((len(members), len(windows), steps))
    loop.forecast_many(lay.net, thetas, contexts, lengths, steps, out)
    out = scaler.inverse(out)  # (members, windows, steps)
    truth = np.array([[true_value(one, w.end + k) for k in range(steps)] for w in windows])
    naive = np.repeat(np.array([series[w.end - 1] for w in windows])[:, None], steps, axis=1)
    errors = out - truth  # (members, windows, steps)
    member_mse = np.mean(errors[:, :, 0] ** 2, axis=1)
    member_rmse = np.mean(np.sqrt(np.mean(errors**2, axis=2)), axis=1)
    median = rollout_scores(np.median(out, axis=0), truth)
    return {
        "windows": len(windows),
        "steps": steps,
        "model": median,
        "naive": rollout_scores(naive, truth),
        **median,
        "members": {
            "count": len(members),
            "one_step_mse": _spread(member_mse),
            "rollout_rmse": _spread(member_rmse),
        },
    }
