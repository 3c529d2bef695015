"""Autoregressive forecasting: feed each prediction back as the next input.

``forecast`` carries the recurrent state forward, so K values cost K cell steps after the
context (O(K)). ``forecast_rerun`` is the seed program's way — re-run the whole, growing sequence
from a zero state for every new value (O(K²)); it gives the same numbers and is kept as the
reference the tests compare against.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .errors import InputError
from .model import SequenceModel


def _contexts(contexts: Sequence[Sequence[float]] | np.ndarray) -> torch.Tensor:
    array = np.asarray(contexts, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 1:
        raise InputError(f"context must hold at least 1 value, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError("context values must be finite numbers")
    return torch.tensor(array, dtype=torch.float32).unsqueeze(-1)  # (batch, time, 1)


@torch.no_grad()
def forecast_batch(model: SequenceModel, contexts, steps: int) -> np.ndarray:
    """Forecast ``steps`` values after each of several equally long contexts.

    contexts: (batch, time) -> forecasts (batch, steps), float64 holding the model's float32 values.
    """
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    x = _contexts(contexts)  # (batch, time, 1)
    prediction, state = model(x)  # (batch, time)
    value = prediction[:, -1:]  # (batch, 1)
    out = [value]
    for _ in range(steps - 1):
        prediction, state = model(value.unsqueeze(-1), state)  # one step: (batch, 1, 1) in
        value = prediction[:, -1:]
        out.append(value)
    return torch.cat(out, dim=1).double().numpy()  # (batch, steps)


def forecast(model: SequenceModel, context: Sequence[float], steps: int) -> np.ndarray:
    """Forecast ``steps`` values after ``context`` by carrying the state forward: shape (steps,)."""
    return forecast_batch(model, [list(context)], steps)[0]


def forecast_ensemble(members: Sequence[SequenceModel], context: Sequence[float], steps: int) -> dict[str, np.ndarray]:
    """An ensemble's forecast: every member's (members, steps), and over the members the
    ``median`` and the 10–90 % band ``low`` / ``high`` (``numpy.percentile``), each (steps,)."""
    values = np.stack([forecast(model, context, steps) for model in members])  # (members, steps)
    low, median, high = np.percentile(values, [10.0, 50.0, 90.0], axis=0)
    return {"members": values, "median": median, "low": low, "high": high}


@torch.no_grad()
def forecast_rerun(model: SequenceModel, context: Sequence[float], steps: int) -> np.ndarray:
    """The seed's O(K²) generation: re-run the whole sequence from a zero state for each value."""
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    sequence = _contexts([list(context)])  # (1, time, 1)
    out = []
    for _ in range(steps):
        prediction, _ = model(sequence)  # fresh zero state every time, as the seed
        value = prediction[:, -1:]  # (1, 1)
        sequence = torch.cat([sequence, value.unsqueeze(-1)], dim=1)
        out.append(float(value))
    return np.array(out, dtype=np.float64)
