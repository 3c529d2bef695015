"""A series ready to train on: loaded, split by time, scaled, its window shape settled.

A series comes from one of three sources behind one function, ``load_series``: a waveform
computed from its formula (``waveforms.py``), a column of a CSV file (``csvfile.py``), or a dataset
shipped with statsmodels (``datasets.py``). ``prepare`` then splits it by time into train /
validation / test parts, fits the scaling on the training part only, and settles the window shape.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..config import WAVEFORMS, DataConfig
from ..errors import InputError, RunCorruptError
from .scaling import fit_scaler
from .transforms import Transform, fit_transform
from .sources import Series, iso_time
from .waveforms import waveform_values


def series_values(data: DataConfig) -> np.ndarray:
    """The series, float64, shape (length,): the waveform (``waveform_values``) or the loaded values."""
    if data.series not in WAVEFORMS:
        return load_series(data).values
    return waveform_values(data)


# -- any series ------------------------------------------------------------------------------------


_pins = threading.local()  # source key -> Series, while ``pinned`` holds it in this thread


def source_key(data: DataConfig) -> tuple:
    """The fields that say where a recorded series comes from."""
    return (data.series, data.csv, data.column, data.time_column, data.dataset, data.interpolate)


@contextlib.contextmanager
def pinned(data: DataConfig) -> Iterator[Series | None]:
    """Read a recorded series once: while the block runs (in this thread), ``load_series`` of the
    same source returns this one ``Series``, so checking, training, evaluating and storing a run
    all see the same values, read once. Yields the series (None for a waveform)."""
    if data.series in WAVEFORMS:
        yield None
        return
    pins = _pins.__dict__
    key = source_key(data)
    if key in pins:
        yield pins[key]
        return
    pins[key] = series = load_series(data)
    try:
        yield series
    finally:
        pins.pop(key, None)


def load_series(data: DataConfig) -> Series:
    """The series the config names, checked: at least 3 finite values, no missing ones left."""
    pin = _pins.__dict__.get(source_key(data)) if data.series not in WAVEFORMS else None
    if pin is not None:
        return pin
    if data.series == "csv":
        from .csvfile import read_csv_series

        series = read_csv_series(data.csv, data.column, data.time_column, data.interpolate)
    elif data.series == "dataset":
        from .datasets import load_dataset

        series = load_dataset(data.dataset, data.interpolate)
    else:
        return Series(data.series, waveform_values(data))
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
    scaled: np.ndarray  # (length,) float64: scaler.transform(series.values), what the network reads
    scaler: Transform  # log, seasonal indices and scaling (a plain Scaler's fields for waveforms)
    split: Split
    context_length: int  # 0: variable-length windows (the seed's)
    season: int  # season of the seasonal-naive baseline (1: none found)
    targets: int  # values after each training context the loss covers (train.rollout)
    warnings: tuple[str, ...] = ()
    relative: bool = False  # windows read relative to their context's last value (data.level "last")

    @property
    def train(self) -> np.ndarray:
        return self.scaled[: self.split.train_end]

    def info(self) -> dict:
        """What is stored with a run to invert its outputs and place its forecasts in time."""
        return {
            "series": self.series.name,
            "length": len(self.series),
            "split": self.split.to_dict(),
            "scaling": self.scaler.scaler.to_dict(),
            "transform": self.scaler.to_dict(),
            "level": "last" if self.relative else "none",
            "context_length": self.context_length,
            "season": self.season,
            "frequency": self.series.frequency,
            "last_time": None if self.series.times is None else iso_time(self.series.times[-1]),
            "interpolated": list(self.series.missing),
        }


_seasons: dict[tuple, int] = {}  # digest of the values -> season, so that it is computed once


def detect_season(values: np.ndarray, max_lag: int | None = None) -> int:
    """The season of a series: the first local peak (lag >= 2) of the autocorrelation of the
    detrended values that reaches 90 % of the highest peak (peaks below 0.2 do not count); 1 if
    there is none. The autocorrelation comes from one FFT, O(n log n); the result is remembered
    for the same values."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < 8:
        return 1
    key = (hashlib.blake2b(x.tobytes(), digest_size=16).digest(), n, max_lag)
    if key not in _seasons:
        if len(_seasons) > 64:
            _seasons.clear()
        _seasons[key] = _season_of_acf(autocorrelation(x), n, max_lag)
    return _seasons[key]


def autocorrelation(values: np.ndarray) -> np.ndarray:
    """acf[k] = sum_i x[i]·x[i+k] / sum_i x[i]² of the values less their linear trend and mean,
    for k = 0..n-1: one real FFT of the series padded to twice its length (no wrap-around)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    t = np.arange(n)
    x = x - np.polyval(np.polyfit(t, x, 1), t)  # remove a linear trend
    x = x - x.mean()
    denominator = float(x @ x)
    if denominator == 0:
        return np.zeros(n)
    size = 1 << int(2 * n - 1).bit_length()  # a power of two >= 2n - 1
    spectrum = np.fft.rfft(x, size)
    return np.fft.irfft(spectrum * np.conj(spectrum), size)[:n] / denominator


def _season_of_acf(acf: np.ndarray, n: int, max_lag: int | None) -> int:
    max_lag = min(max_lag or n // 2, n // 2)
    if not acf.any() or max_lag < 3:
        return 1
    k = np.arange(2, max_lag)
    peaks = k[(acf[k] > acf[k - 1]) & (acf[k] >= acf[k + 1]) & (acf[k] > 0.2)]
    if len(peaks) == 0:
        return 1
    highest = acf[peaks].max()
    return int(peaks[np.argmax(acf[peaks] >= 0.9 * highest)])  # the first of the near-highest peaks


# season of a series by the frequency of its dates (pandas offset aliases, anchor removed)
SEASON_OF_FREQUENCY = {
    **dict.fromkeys(("Q", "QS", "QE", "BQ", "BQS", "BQE"), 4),
    **dict.fromkeys(("M", "MS", "ME", "BM", "BMS", "BME"), 12),
    **dict.fromkeys(("W",), 52), "D": 7, "B": 5, "h": 24, "H": 24,
    **dict.fromkeys(("Y", "YS", "YE", "A", "AS", "BY", "BYS", "BA", "BAS"), 1),
}


def season_of_frequency(frequency: str | None) -> int | None:
    """monthly 12, quarterly 4, weekly 52, daily 7 (business days 5), hourly 24, yearly 1; None
    for another or no frequency."""
    if not frequency:
        return None
    return SEASON_OF_FREQUENCY.get(frequency.split("-")[0].lstrip("0123456789"))


def prepare(data: DataConfig, targets: int = 1, *, refit: bool = False) -> Prepared:
    """Load, split, transform, scale and settle the window shape; refuse settings the series cannot hold.

    ``targets``: values after each training context (1, or train.rollout); for a recorded series
    it shrinks to what the training part holds. ``refit``: train on every value (no held-out parts).
    """
    series = load_series(data)
    waveform = data.series in WAVEFORMS
    length = len(series)
    if refit:
        split = Split(length, length, length)
    else:
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
    else:  # from the dates where they have a frequency; from the autocorrelation otherwise
        season = season_of_frequency(series.frequency) or detect_season(train_values)

    if not waveform and data.context_length is None:  # the window shape shrinks to a short series
        targets = max(1, min(targets, (split.train_end - 2) // 3))
    if data.context_length is not None:
        context_length = data.context_length
    elif waveform:
        context_length = 0
    else:
        context_length = min(max(2 * season, 8), max(2, split.train_end - targets - 1))
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

    transform = Transform()
    if not waveform:
        transform = fit_transform(train_values, data.transform, data.seasonal, season, recorded=True)
        if transform.log and np.any(series.values <= 0):
            raise InputError(
                f"series {series.name!r} is positive over its training part but holds {float(np.min(series.values)):g} "
                "after it: the log transform cannot read it; give data.transform = 'none' (--transform none)"
            )
    if data.level == "last" and not context_length:
        raise InputError("data.level = 'last' reads fixed contexts relative to their last value: give data.context_length > 0")
    relative = bool(context_length) and (data.level == "last" or (data.level == "auto" and not waveform))
    kind = data.scaling if data.scaling != "auto" else ("none" if waveform else "changes" if relative else "minmax")
    scaler = fit_scaler(kind, transform.transform(train_values), what=f"series {series.name!r}")
    transform = dataclasses.replace(transform, scaler=scaler)
    scaled = transform.transform(series.values)
    return Prepared(series, scaled, transform, split, context_length, season, targets, relative=relative)


def prepare_stored(data: DataConfig, targets: int, stored: dict | None) -> Prepared:
    """``prepare`` for a stored run: the split and transforms stored with it (run.json "data")."""
    prepared = prepare(data, targets)
    if not stored:
        return prepared
    length = len(prepared.series)
    if stored.get("length") not in (None, length):
        raise InputError(
            f"series {prepared.series.name!r} holds {length} values, but the run was trained on "
            f"{stored['length']}; train a new run on the changed series"
        )
    try:
        transform = Transform.from_dict(stored.get("transform"), stored.get("scaling"))
        split = Split(**stored["split"]) if stored.get("split") else prepared.split
        relative = stored.get("level", "none") == "last"
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise RunCorruptError(f"the run's run.json holds damaged series info (\"data\"): {exc}") from None
    if not 0 < split.train_end <= split.val_end <= split.length == length:
        raise RunCorruptError(f"the run's run.json holds a split that does not fit {length} values: {split}")
    series = prepared.series
    if stored.get("stored_series") and isinstance(stored.get("series"), str):  # the copy keeps the original's name
        series = dataclasses.replace(series, name=stored["series"])
    return dataclasses.replace(prepared, series=series, scaler=transform, scaled=transform.transform(series.values),
                               split=split, relative=relative)


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


