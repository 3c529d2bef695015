"""Series from a CSV file or a bundled dataset: the ``Series`` record, the checks both sources
share (too few values, missing ones reported or interpolated, the frequency inferred) and the
timestamps of forecasts."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..optional import require


@dataclass(frozen=True)
class Series:
    """A univariate series: values (float64, NaN where missing), optional timestamps."""

    name: str
    values: np.ndarray  # (length,)
    times: np.ndarray | None = None  # (length,) datetime64[ns], or None
    frequency: str | None = None  # pandas offset alias ("MS", "W-SAT", "YS-JAN"), or None
    missing: tuple[int, ...] = ()  # positions that were missing and were interpolated

    def __len__(self) -> int:
        return len(self.values)


def future_times(series: Series, steps: int) -> list[str] | None:
    """Timestamps of the ``steps`` values after the series (ISO dates), or None without a frequency."""
    if series.times is None or series.frequency is None:
        return None
    pd = require("pandas", "dates and times of a series")

    stamps = pd.date_range(start=pd.Timestamp(series.times[-1]), periods=steps + 1, freq=series.frequency)[1:]
    return [iso_time(t) for t in stamps]


def iso_time(stamp) -> str:
    pd = require("pandas", "dates and times of a series")

    stamp = pd.Timestamp(stamp)
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


def _rows(positions, label) -> str:
    shown = ", ".join(str(label(p)) for p in positions[:8])
    return shown + (f" and {len(positions) - 8} more" if len(positions) > 8 else "")


def finish_series(name: str, values: np.ndarray, times, interpolate: bool, label=lambda p: p + 1) -> Series:
    """Refuse an unusable column, report or fill missing values, infer the frequency.

    ``label(position)`` names a position in messages (for a CSV: its line in the file).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        raise InputError(f"{name} has no numeric values (all {len(values)} are missing)")
    if finite.sum() < 3:
        raise InputError(f"{name} has {int(finite.sum())} numeric value(s); a series needs at least 3")
    missing = np.flatnonzero(~finite)
    if len(missing):
        if not interpolate:
            raise InputError(
                f"{name} has {len(missing)} missing value(s), row {_rows(missing.tolist(), label)}; "
                f"fill them with --interpolate (data.interpolate = true)"
            )
        positions = np.arange(len(values))
        values = values.copy()
        values[missing] = np.interp(missing, positions[finite], values[finite])
    frequency = None
    if times is not None:
        pd = require("pandas", "dates and times of a series")

        index = pd.DatetimeIndex(times)
        if len(index) >= 3:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas 3 announces an offset object instead of a string
                inferred = pd.infer_freq(index)
            frequency = getattr(inferred, "freqstr", inferred)
            if frequency is None:  # gaps in time: the most common step, if pandas knows its name
                step = pd.Series(index[1:] - index[:-1]).mode()[0]
                try:
                    frequency = pd.tseries.frequencies.to_offset(step).freqstr
                except ValueError:
                    frequency = None
        times = index.values.astype("datetime64[ns]")
    return Series(name, values, times, frequency, tuple(int(p) for p in missing))
