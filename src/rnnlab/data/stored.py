"""The series a csv or dataset run trained on, stored in its run directory as ``series.csv``.

A run owns its data: it forecasts, explains and evaluates from this copy after the original file
is changed or gone. The copy holds ``time`` (ISO dates, when the series has them) and ``value``
(each float as Python writes it, so it reads back bit for bit); a value that was missing and
interpolated is stored empty again, so that reading the copy with the run's ``data.interpolate``
gives the very series it trained on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..config import DataConfig
from .sources import Series, iso_time


def series_csv(series: Series) -> bytes:
    """``time,value`` (or ``value``) lines of the series."""
    values = np.asarray(series.values, dtype=np.float64)
    missing = set(series.missing)
    cells = ["" if i in missing else repr(float(v)) for i, v in enumerate(values)]
    if series.times is None:
        lines = ["value", *cells]
    else:
        lines = ["time,value", *(f"{iso_time(t)},{c}" for t, c in zip(series.times, cells))]
    return ("\n".join(lines) + "\n").encode("utf-8")


def stored_source(data: DataConfig, path: Path) -> DataConfig:
    """``data`` reading the stored copy at ``path`` instead of its original file or dataset."""
    with open(path, encoding="utf-8") as handle:
        dated = handle.readline().startswith("time,")
    return dataclasses.replace(data, series="csv", csv=str(path), column="value",
                               time_column="time" if dated else "", dataset="")
