"""Forecasts from either kind of trained model: torch's ``SequenceModel`` or an ``ArrayModel``.

The evaluation calls these, so that a run trained on the compiled engine (an ``ArrayModel``) is
scored without importing torch; a ``SequenceModel`` goes to ``forecasting``, imported on first use.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .arraymodel import ArrayModel


def forecast_batch(model, contexts, steps: int, relative: bool = False) -> np.ndarray:
    """``forecasting.forecast_batch``: ``steps`` values after each of equally long contexts."""
    if isinstance(model, ArrayModel):
        return model.forecast_batch(contexts, steps, relative)
    from .forecasting import forecast_batch as torch_forecast_batch

    return torch_forecast_batch(model, contexts, steps, relative)


def forecast_at(model, values: np.ndarray, origins: Sequence[int], steps: int, context_length: int = 0,
                relative: bool = False) -> np.ndarray:
    """``forecasting.forecast_at``: forecasts of ``steps`` values after each origin."""
    if isinstance(model, ArrayModel):
        return model.forecast_at(values, origins, steps, context_length, relative)
    from .forecasting import forecast_at as torch_forecast_at

    return torch_forecast_at(model, values, origins, steps, context_length, relative)
