"""One training problem for the compiled loops, as a named tuple numba compiles against.

A ``Problem`` holds everything a compiled loop needs besides the weights, the optimizer state and
the generator state: the model (``net``, ``layout.Net``), the training series, how windows are
drawn and the optimizer's constants. Plain numbers, arrays and the ``Net`` named tuple only:
numba types a named tuple field by field, and every loop reads the fields by name.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .layout import Layout, Net

SGD, ADAM, ADAMW = 0, 1, 2
FLOAT32_MAX = 3.4028234663852886e38  # the model is stored and used in float32


@njit(cache=True, inline="always")
def storable(x):
    """Whether float64 ``x`` is finite in float32 too (NaN is not): a loss or weight beyond it is
    the divergence that the float32 torch engine would see as inf."""
    return abs(x) <= FLOAT32_MAX


class Problem(NamedTuple):
    net: Net  # the model: Layout.net
    series: np.ndarray  # float64 (last + 1,): the (scaled) training series
    last: int  # index of the last training value
    min_length: int  # the shortest context (variable-length windows)
    context: int  # fixed contexts of this many values (0: the seed's variable-length windows)
    relative: int  # 1: each window is read minus its context's last value (data.level "last")
    rollout: int  # R: values after each context the loss covers (fed back R - 1 times)
    low: int  # the shortest window with its targets: min_length + rollout, or context + rollout
    full: int  # 1: every window at every step; 0: ``batch`` sampled windows per step
    batch: int  # windows per sampled step
    optimizer: int  # SGD, ADAM or ADAMW
    momentum: float  # SGD's momentum
    weight_decay: float
    beta1: float  # Adam's betas and eps (torch's defaults)
    beta2: float
    eps: float
    clip: float  # clip the gradient's global norm to this (0: off)

    @classmethod
    def build(cls, lay: Layout, series: np.ndarray, *, min_length: int, rollout: int = 1, batch_size: int = 1,
              optimizer: int = SGD, momentum: float = 0.0, weight_decay: float = 0.0, clip: float = 0.0,
              context: int = 0, relative: bool = False) -> "Problem":
        """The problem of training ``lay``'s model on ``series`` (batch_size 0: the full batch)."""
        series = np.ascontiguousarray(series, dtype=np.float64)
        shortest = int(context) if context else int(min_length)
        return cls(
            lay.net, series, len(series) - 1, int(min_length), int(context), int(bool(relative)), int(rollout),
            shortest + int(rollout), int(batch_size == 0), max(int(batch_size), 1), int(optimizer),
            float(momentum), float(weight_decay), 0.9, 0.999, 1e-8, float(clip),
        )
