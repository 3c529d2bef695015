"""Series and the windows drawn from them.

A series comes from one of three sources behind one function, ``load_series``: a waveform
computed from its formula, a column of a CSV file (``csvfile.py``), or a dataset shipped with
statsmodels (``datasets.py``). ``prepare`` then splits it by time into train / validation / test
parts, fits the scaling on the training part only, and settles the window shape.

The seed program's ``generate_sine_values`` is split in two: ``series_values`` samples the wave
once, and ``SeedWindows`` draws a window with the same two ``random.randint`` calls, so that a run
seeded with S draws exactly the windows the seed program draws after ``random.seed(S)``.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .config import WAVEFORMS, DataConfig
from .errors import InputError
from .scaling import Scaler, fit_scaler
from .sources import Series, _iso, future_times  # noqa: F401 - part of this module's API


# -- waveforms -------------------------------------------------------------------------------------


def _components(text: str) -> list[tuple[float, float]]:
    """``"1:1,3:0.3"`` -> [(1.0, 1.0), (3.0, 0.3)]: (multiple of the base frequency, amplitude)."""
    pairs = []
    for part in text.split(","):
        multiple, amplitude = part.split(":")
        pairs.append((float(multiple), float(amplitude)))
    return pairs


def wave_value(data: DataConfig, index: int) -> float:
    """The noiseless waveform at any integer index (also past the end: its continuation).

    With x = index·2π/points_per_period + phase (the seed's ``i * math.pi * 2 / num_points``) and
    f = (x mod 2π) / 2π, the fraction of the period:

    sine A·sin x · cosine A·cos x · square A for f < 1/2, −A after · sawtooth A·(2f − 1) ·
    triangle A·(1 − 4·|f − 1/2|) · damped_sine A·d^(index/points_per_period)·sin x ·
    sines A·Σ a_k·sin(m_k·x).
    """
    x = index * math.pi * 2 / data.points_per_period
    if data.phase:
        x = x + data.phase
    a = data.amplitude
    kind = data.series
    if kind == "sine":
        value = math.sin(x)
    elif kind == "cosine":
        value = math.cos(x)
    elif kind == "damped_sine":
        value = data.damping ** (index / data.points_per_period) * math.sin(x)
    elif kind == "sines":
        value = sum(amp * math.sin(mult * x) for mult, amp in _components(data.components))
    else:
        fraction = (x % (2 * math.pi)) / (2 * math.pi)
        if kind == "square":
            value = 1.0 if fraction < 0.5 else -1.0
        elif kind == "sawtooth":
            value = 2 * fraction - 1
        elif kind == "triangle":
            value = 1 - 4 * abs(fraction - 0.5)
        else:  # pragma: no cover - the config only allows the kinds above
            raise AssertionError(kind)
    return value if a == 1.0 else a * value


def true_value(data: DataConfig, index: int) -> float:
    """The wave at any integer index, also past the training range (the noiseless continuation)."""
    return wave_value(data, index)


def series_values(data: DataConfig) -> np.ndarray:
    """The series, float64, shape (length,).

    For waveforms: points_per_period * periods + 1 values, each computed as the seed computes it,
    ``math.sin(i * math.pi * 2 / num_points)``, so the float32 tensors made from it hold the seed's
    bits; then the noise, if any. For csv and dataset series: the loaded values.
    """
    if data.series not in WAVEFORMS:
        return load_series(data).values
    count = data.points_per_period * data.periods + 1
    values = np.array([wave_value(data, i) for i in range(count)], dtype=np.float64)
    if data.noise > 0:
        values = values + np.random.default_rng(data.noise_seed).normal(0.0, data.noise, count)
    return values


# -- any series ------------------------------------------------------------------------------------


def load_series(data: DataConfig) -> Series:
    """The series the config names, checked: at least 3 finite values, no missing ones left."""
    if data.series == "csv":
        from .csvfile import read_csv_series

        series = read_csv_series(data.csv, data.column, data.time_column, data.interpolate)
    elif data.series == "dataset":
        from .datasets import load_dataset

        series = load_dataset(data.dataset, data.interpolate)
    else:
        return Series(data.series, series_values(data))
    return series


# -- split, scaling, window shape -----------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Positions of the parts, in time order: train [0, train_end), val [train_end, val_end),
    test [val_end, length). Never shuffled across the boundaries."""

    train_end: int
    val_end: int
    length: int

    @property
    def val_size(self) -> int:
        return self.val_end - self.train_end

    @property
    def test_size(self) -> int:
        return self.length - self.val_end

    def to_dict(self) -> dict:
        return {"train_end": self.train_end, "val_end": self.val_end, "length": self.length}


def split_series(length: int, val_fraction: float, test_fraction: float) -> Split:
    """Split ``length`` values by time; each held-out part gets round(fraction·length) values."""
    test = int(round(length * test_fraction))
    val = int(round(length * val_fraction))
    if test_fraction > 0:
        test = max(test, 1)
    if val_fraction > 0:
        val = max(val, 1)
    return Split(length - val - test, length - test, length)


@dataclass(frozen=True)
class Prepared:
    """A series ready for training and evaluation: split, scaled, with its concrete settings."""

    series: Series
    scaled: np.ndarray  # (length,) float64: scaler.transform(series.values)
    scaler: Scaler
    split: Split
    context_length: int  # 0: variable-length windows (the seed's)
    season: int  # season of the seasonal-naive baseline (1: none found)
    targets: int  # values after each training context the loss covers (train.rollout)
    warnings: tuple[str, ...] = ()

    @property
    def train(self) -> np.ndarray:
        return self.scaled[: self.split.train_end]

    def info(self) -> dict:
        """What is stored with a run to invert its outputs and place its forecasts in time."""
        return {
            "series": self.series.name,
            "length": len(self.series),
            "split": self.split.to_dict(),
            "scaling": self.scaler.to_dict(),
            "context_length": self.context_length,
            "season": self.season,
            "frequency": self.series.frequency,
            "last_time": None if self.series.times is None else _iso(self.series.times[-1]),
            "interpolated": list(self.series.missing),
        }


def detect_season(values: np.ndarray, max_lag: int | None = None) -> int:
    """The season of a series: the first local peak (lag >= 2) of the autocorrelation of the
    detrended values that reaches 90 % of the highest peak (peaks below 0.2 do not count); 1 if
    there is none."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < 8:
        return 1
    t = np.arange(n)
    x = x - np.polyval(np.polyfit(t, x, 1), t)  # remove a linear trend
    x = x - x.mean()
    denominator = float(x @ x)
    if denominator == 0:
        return 1
    max_lag = min(max_lag or n // 2, n // 2)
    acf = np.array([float(x[: n - k] @ x[k:]) / denominator for k in range(max_lag + 1)])
    peaks = [k for k in range(2, max_lag) if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1] and acf[k] > 0.2]
    if not peaks:
        return 1
    highest = max(acf[k] for k in peaks)
    return next(k for k in peaks if acf[k] >= 0.9 * highest)  # the first of the near-highest peaks


def prepare(data: DataConfig, targets: int = 1) -> Prepared:
    """Load, split, scale and settle the window shape; refuse settings the series cannot hold.

    ``targets``: values after each training context (1, or train.rollout).
    """
    series = load_series(data)
    waveform = data.series in WAVEFORMS
    length = len(series)
    val_fraction = data.val_fraction if data.val_fraction is not None else (0.0 if waveform else 0.1)
    test_fraction = data.test_fraction if data.test_fraction is not None else (0.0 if waveform else 0.2)
    split = split_series(length, val_fraction, test_fraction)
    train_values = series.values[: split.train_end]
    if split.train_end < 3:
        raise InputError(f"the training part holds {split.train_end} values of {length}; it needs at least 3")

    if data.season:
        season = data.season
    elif waveform:
        season = data.points_per_period
    else:
        season = detect_season(train_values)

    if data.context_length is not None:
        context_length = data.context_length
    elif waveform:
        context_length = 0
    else:
        context_length = min(max(2 * season, 8), max(1, split.train_end - targets - 1))
    if context_length and context_length + targets > split.train_end:
        raise InputError(
            f"data.context_length ({context_length}) + {targets} target value(s) must fit in the training "
            f"part ({split.train_end} of {length} values); give a shorter data.context_length"
        )
    if not context_length and data.min_length + targets > split.train_end - 1:
        raise InputError(
            f"data.min_length ({data.min_length}) + {targets} target value(s) must be <= "
            f"{split.train_end - 1} (training part of {split.train_end} values)"
        )
    if split.test_size and data.horizon > split.test_size:
        raise InputError(
            f"data.horizon ({data.horizon}) is longer than the test part ({split.test_size} values); "
            f"give a smaller data.horizon or a larger data.test_fraction"
        )

    kind = data.scaling if data.scaling != "auto" else ("none" if waveform else "minmax")
    scaler = fit_scaler(kind, train_values, what=f"series {series.name!r}")
    scaled = scaler.transform(series.values)
    return Prepared(series, scaled, scaler, split, context_length, season, targets)


def prepare_stored(data: DataConfig, targets: int, stored: dict | None) -> Prepared:
    """``prepare`` for a stored run: the split and scaling stored with it (run.json "data")."""
    prepared = prepare(data, targets)
    if not stored:
        return prepared
    length = len(prepared.series)
    if stored.get("length") not in (None, length):
        raise InputError(
            f"series {prepared.series.name!r} holds {length} values, but the run was trained on "
            f"{stored['length']}; train a new run on the changed series"
        )
    scaler = Scaler.from_dict(stored.get("scaling"))
    split = Split(**stored["split"]) if stored.get("split") else prepared.split
    return dataclasses.replace(prepared, scaler=scaler, scaled=scaler.transform(prepared.series.values), split=split)


def readout_warning(prepared: Prepared, readout: str) -> str | None:
    """The ``unit`` readout is a tanh unit: values beyond ±1 are out of its reach."""
    if readout != "unit":
        return None
    peak = float(np.max(np.abs(prepared.scaled)))
    if peak <= 1.0:
        return None
    return (
        f"the scaled series reaches {peak:.3g}, beyond the (-1, 1) range of the 'unit' readout (a tanh unit); "
        f"use model.readout = 'linear' or data.scaling = 'minmax'"
    )


# -- windows ---------------------------------------------------------------------------------------


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
