"""A trained model as numpy arrays, forecasting through the compiled engine: no torch needed.

The compiled engine trains in float64 and keeps what a run stores, the float32 parameters under
``SequenceModel``'s names. ``ArrayModel`` holds those arrays and forecasts with the compiled
forward (``fast.loop.forecast_many``: the same cell equations, in float64, from the float32
weights), so that a run trained on the compiled engine is evaluated and stored without importing
torch. ``to_torch()`` gives the ``SequenceModel`` (bit for bit the same weights) for everything
else. Its forecasts equal the torch module's to float32 rounding (about 1e-7 relative), not bit
for bit: torch computes in float32.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .config import ModelConfig
from .errors import InputError


class ArrayModel:
    """A ``SequenceModel``'s parameters as float32 numpy arrays, with a compiled forecast."""

    def __init__(self, config: ModelConfig, arrays: Mapping[str, np.ndarray]):
        from .fast import layout

        self.config = config
        self._arrays = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in arrays.items()}
        self.layout = layout(config)
        self.theta = self.layout.pack(self._arrays)  # (P,) float64 of the float32 values

    def arrays(self) -> dict[str, np.ndarray]:
        """Parameters under their stored names (as ``SequenceModel.tensors()``), float32."""
        return dict(self._arrays)

    def to_torch(self):
        """The ``SequenceModel`` with these weights, in eval mode (imports torch)."""
        import torch

        from .model import SequenceModel

        model = SequenceModel(self.config)
        model.load_tensors({name: torch.from_numpy(value.copy()) for name, value in self._arrays.items()})
        return model.eval()

    def _rollout(self, contexts: np.ndarray, lengths: np.ndarray, steps: int) -> np.ndarray:
        """``steps`` values after contexts[c, :lengths[c]] for each row c: (count, steps)."""
        from .fast import loop

        if steps < 1:
            raise InputError(f"steps must be >= 1, got {steps}")
        # as the torch path: the inputs are float32 values
        contexts = np.ascontiguousarray(contexts, dtype=np.float32).astype(np.float64)
        out = np.zeros((contexts.shape[0], steps))
        loop.forecast_one(self.layout.net, self.theta, contexts, lengths.astype(np.int64), steps, out)
        return out.astype(np.float32).astype(np.float64)  # the float32 values a stored model gives

    def forecast_batch(self, contexts, steps: int, relative: bool = False) -> np.ndarray:
        """``forecasting.forecast_batch`` for this model: contexts (batch, time) -> (batch, steps)."""
        contexts = np.asarray(contexts, dtype=np.float64)
        levels = contexts[:, -1:] if relative else np.zeros((contexts.shape[0], 1))
        lengths = np.full(contexts.shape[0], contexts.shape[1])
        return self._rollout(contexts - levels, lengths, steps) + levels

    def forecast_at(self, values: np.ndarray, origins: Sequence[int], steps: int, context_length: int = 0,
                    relative: bool = False) -> np.ndarray:
        """``forecasting.forecast_at`` for this model: (origins, steps)."""
        origins = [int(o) for o in origins]
        if not origins:
            return np.zeros((0, steps))
        values = np.asarray(values, dtype=np.float64)
        if context_length:
            contexts = np.stack([values[o - context_length : o] for o in origins])  # (batch, N)
            return self.forecast_batch(contexts, steps, relative)
        contexts = np.zeros((len(origins), max(origins)))  # the whole history before each origin
        for row, origin in enumerate(origins):
            contexts[row, :origin] = values[:origin]
        return self._rollout(contexts, np.array(origins), steps)
