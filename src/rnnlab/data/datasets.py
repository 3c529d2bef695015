"""Real series that ship inside statsmodels, read offline from the installed package.

They need the optional extra ``rnnlab[datasets]`` (statsmodels and pandas).
"""

from __future__ import annotations

import numpy as np

from .sources import Series, finish_series
from ..errors import InputError
from ..optional import require

# name -> (description, frequency)
DATASETS = {
    "sunspots": ("yearly sunspot numbers, 1700-2008", "YS"),
    "nile": ("yearly flow of the Nile at Aswan (10^8 m^3), 1871-1970", "YS"),
    "co2": ("weekly atmospheric CO2 at Mauna Loa (ppm), 1958-2001, with gaps", "W-SAT"),
    "elnino": ("monthly sea surface temperature of the El Nino region (deg C), 1950-2010", "MS"),
}


def _raw(name: str):
    """(values with NaN, timestamps) of a dataset."""
    pd = require("pandas", "the bundled datasets")
    datasets = require("statsmodels.datasets", "the bundled datasets")
    if name == "sunspots":
        frame = datasets.sunspots.load_pandas().data
        times = pd.DatetimeIndex(pd.to_datetime(frame["YEAR"].astype(int).astype(str), format="%Y"))
        return frame["SUNACTIVITY"].to_numpy(float), times
    if name == "nile":
        frame = datasets.nile.load_pandas().data
        times = pd.DatetimeIndex(pd.to_datetime(frame["year"].astype(int).astype(str), format="%Y"))
        return frame["volume"].to_numpy(float), times
    if name == "co2":
        frame = datasets.co2.load_pandas().data
        return frame["co2"].to_numpy(float), pd.DatetimeIndex(frame.index)
    if name == "elnino":
        frame = datasets.elnino.load_pandas().data
        months = frame.drop(columns="YEAR").to_numpy(float)  # (years, 12)
        start = f"{int(frame['YEAR'].iloc[0])}-01-01"
        return months.reshape(-1), pd.date_range(start, periods=months.size, freq="MS")
    raise InputError(f"dataset must be one of {', '.join(DATASETS)}; got {str(name)[:40]!r}")


def load_dataset(name: str, interpolate: bool = False) -> Series:
    """A bundled dataset as a Series (timestamps, frequency); missing values need ``interpolate``."""
    if not isinstance(name, str) or name not in DATASETS:
        raise InputError(f"dataset must be one of {', '.join(DATASETS)}; got {str(name)[:40]!r}")
    values, times = _raw(name)
    import dataclasses

    series = finish_series(f"dataset {name!r}", np.asarray(values, dtype=np.float64), times, interpolate)
    return dataclasses.replace(series, name=name)


def list_datasets() -> list[dict]:
    """Name, length, frequency, first and last date, missing values and description of each dataset."""
    rows = []
    for name, (description, _) in DATASETS.items():
        values, times = _raw(name)
        series = finish_series(name, values, times, interpolate=True)
        rows.append(
            {
                "name": name,
                "length": len(values),
                "frequency": series.frequency,
                "start": str(times[0].date()),
                "end": str(times[-1].date()),
                "missing": int(np.isnan(values).sum()),
                "description": description,
            }
        )
    return rows
