"""Windows: the seed's variable-length windows, fixed contexts, and parsing a window or values.

``SeedWindows`` draws a window with the seed program's two ``random.randint`` calls, so that a run
seeded with S draws exactly the windows the seed program draws after ``random.seed(S)``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from ..config import DataConfig
from ..errors import ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from .prepared import Prepared



@dataclass(frozen=True)
class Window:
    """A context ``series[start:end]`` and the ``horizon`` values after it (``series[end:end+horizon]``)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


class RandomWindows:
    """Draws windows exactly as the seed's ``generate_sine_values`` does, over ``series[0:last+1]``::

        start = randint(0, last - min_length - targets)
        stop  = randint(start + min_length + targets, last + 1)     # series[start:stop]

    and the last ``targets`` values of ``series[start:stop]`` are the targets.
    """

    def __init__(self, last: int, min_length: int, targets: int, rng: random.Random):
        self.last, self.min_length, self.targets, self.rng = last, min_length, targets, rng

    def draw(self) -> Window:
        low = self.min_length + self.targets
        start = self.rng.randint(0, self.last - low)
        stop = self.rng.randint(start + low, self.last + 1)
        return Window(start, stop - self.targets)


class SeedWindows(RandomWindows):
    """The seed's windows over the whole waveform (``last`` = points_per_period * periods)."""

    def __init__(self, data: DataConfig, rng: random.Random):
        if not isinstance(data, DataConfig) or not isinstance(rng, random.Random):
            raise ConfigError(f"SeedWindows takes a DataConfig and a random.Random, got {type(data).__name__} "
                              f"and {type(rng).__name__}")
        super().__init__(data.points_per_period * data.periods, data.min_length, data.horizon, rng)
        self.data = data


class FixedWindows:
    """Contexts of ``context_length`` values with ``targets`` values after them, uniformly placed
    inside ``series[0:size]``."""

    def __init__(self, size: int, context_length: int, targets: int, rng: random.Random):
        self.size, self.context_length, self.targets, self.rng = size, context_length, targets, rng

    def draw(self) -> Window:
        start = self.rng.randint(0, self.size - self.context_length - self.targets)
        return Window(start, start + self.context_length)


def all_windows(last: int, min_length: int, targets: int) -> Iterator[Window]:
    """Every window ``RandomWindows(last, min_length, targets)`` can draw, by start then end."""
    low = min_length + targets
    for start in range(0, last - low + 1):
        for stop in range(start + low, last + 2):
            yield Window(start, stop - targets)


def all_seed_windows(data: DataConfig) -> Iterator[Window]:
    """Every window ``SeedWindows`` can draw, in order of start then end."""
    return all_windows(data.points_per_period * data.periods, data.min_length, data.horizon)


def training_windows(prepared: Prepared, min_length: int, rng: random.Random):
    """The window sampler of the training part: the seed's variable windows or fixed contexts."""
    size = prepared.split.train_end
    if prepared.context_length:
        return FixedWindows(size, prepared.context_length, prepared.targets, rng)
    return RandomWindows(size - 1, min_length, prepared.targets, rng)


def every_training_window(prepared: Prepared, min_length: int) -> list[Window]:
    """Every window the training sampler can draw (the full batch)."""
    size = prepared.split.train_end
    if prepared.context_length:
        last_start = size - prepared.context_length - prepared.targets
        return [Window(s, s + prepared.context_length) for s in range(last_start + 1)]
    return list(all_windows(size - 1, min_length, prepared.targets))


# -- parsing values given on the command line -----------------------------------------------------


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
