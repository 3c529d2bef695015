"""Series and the windows drawn from them.

The seed program's ``generate_sine_values`` is split in two: ``series_values`` samples the wave
once, and ``SeedWindows`` draws a window with the same two ``random.randint`` calls, so that a run
seeded with S draws exactly the windows the seed program draws after ``random.seed(S)``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .config import DataConfig
from .errors import InputError


def series_values(data: DataConfig) -> np.ndarray:
    """The training series, float64, shape (points_per_period * periods + 1,).

    Each value is computed as the seed computes it, ``math.sin(i * math.pi * 2 / num_points)``,
    so the float32 tensors made from it hold the seed's bits.
    """
    n = data.points_per_period
    count = n * data.periods + 1
    return np.array([math.sin(i * math.pi * 2 / n) for i in range(count)], dtype=np.float64)


def true_value(data: DataConfig, index: int) -> float:
    """The wave at any integer index, also past the training range (the periodic continuation)."""
    return math.sin(index * math.pi * 2 / data.points_per_period)


@dataclass(frozen=True)
class Window:
    """A context ``series[start:end]`` and the ``horizon`` values after it (``series[end:end+horizon]``)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


class SeedWindows:
    """Draws windows exactly as the seed's ``generate_sine_values`` does.

    With ``last = len(series) - 1`` (the seed's ``num_points``)::

        start = randint(0, last - min_length - horizon)
        stop  = randint(start + min_length + horizon, last + 1)     # series[start:stop]

    and the last ``horizon`` values of ``series[start:stop]`` are the targets.
    """

    def __init__(self, data: DataConfig, rng: random.Random):
        self.data = data
        self.rng = rng
        self.last = data.points_per_period * data.periods

    def draw(self) -> Window:
        low = self.data.min_length + self.data.horizon
        start = self.rng.randint(0, self.last - low)
        stop = self.rng.randint(start + low, self.last + 1)
        return Window(start, stop - self.data.horizon)


def all_seed_windows(data: DataConfig) -> Iterator[Window]:
    """Every window ``SeedWindows`` can draw, in order of start then end."""
    last = data.points_per_period * data.periods
    low = data.min_length + data.horizon
    for start in range(0, last - low + 1):
        for stop in range(start + low, last + 2):
            yield Window(start, stop - data.horizon)


def parse_values(text: str) -> list[float]:
    """Parse ``"0.34, 0.17, 0"`` into floats; every value must be a finite number."""
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    if not text.strip() or all(not p for p in parts):
        raise InputError("values must be a comma-separated list of numbers, got an empty list")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"values must be numbers, got {part!r}") from None
        if not math.isfinite(value):
            raise InputError(f"values must be finite numbers, got {part!r}")
        values.append(value)
    return values


def parse_window(text: str, length: int) -> Window:
    """Parse ``"START:END"`` (a Python slice of the training series, END exclusive)."""
    try:
        start_text, end_text = text.split(":")
        start, end = int(start_text), int(end_text)
    except ValueError:
        raise InputError(f"window must be START:END with integers, got {text!r}") from None
    if not (0 <= start < end <= length):
        raise InputError(
            f"window must satisfy 0 <= START < END <= {length} (series of {length} values), got {text!r}"
        )
    return Window(start, end)
