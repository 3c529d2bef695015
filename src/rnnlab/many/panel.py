"""A panel of series: every column of a wide CSV, every id of a long one, or bundled datasets.

A wide file holds a time column and one column per series (a shorter series leaves its first or
last cells empty); a long file holds an id column, the time column and a value column, one row
per (id, time). The whole file is checked before anything is trained: a column that is not
there, a value cell holding text, or two rows for the same (id, time) is a one-line
``InputError`` naming it and its line (the header is line 1). What is checked per series when it
is fitted (too few values, missing ones without ``--interpolate``, times that do not increase)
fails that series only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import InputError
from ..limits import read_limited
from ..optional import require

MISSING = {"", "na", "nan", "n/a", "null", "none", "-", "?"}  # as a single-series CSV reads them
COMMA_DECIMAL = re.compile(r"^[-+]?\d+,\d+$")


@dataclass(frozen=True)
class PanelSeries:
    """One series of the panel, as the client sends it to a worker."""

    id: str  # the column (wide), the id (long) or the dataset name
    values: np.ndarray | None  # (length,) float64, NaN where missing; None: a dataset, read where it is fitted
    times: tuple[str, ...] | None  # the time cells (ISO text), one per value; None without a time column
    source: dict  # data config keys naming where it comes from: series, csv, column, time_column, dataset

    def digest(self) -> str:
        """A fingerprint of the values and times (a changed file fits again on resume)."""
        h = hashlib.sha256()
        if self.values is not None:
            h.update(np.ascontiguousarray(self.values, dtype=np.float64).tobytes())
        h.update("\n".join(self.times or ()).encode())
        return h.hexdigest()[:16]


def read_panel(path: str | Path, time_column: str = "", id_column: str = "", value_column: str = "") -> list[PanelSeries]:
    """The series of a wide CSV file (no ``id_column``) or a long one (``id_column`` and
    ``value_column``), in the order they first appear."""
    if bool(id_column) != bool(value_column):
        raise InputError("a long CSV file needs both --id-column and --value-column; a wide one neither")
    path = str(Path(path).resolve())
    frame, decimal = _frame(path)
    names = list(frame.columns)
    for label, name in (("time column", time_column), ("id column", id_column), ("value column", value_column)):
        if name and name not in names:
            raise InputError(f"{label} {name!r} is not in {path!r}; its columns are: {', '.join(names)}")
    times = _times(frame[time_column], path, time_column) if time_column else None
    if id_column:
        return _long(frame, path, decimal, times, time_column, id_column, value_column)
    columns = [n for n in names if n != time_column]
    if not columns:
        raise InputError(f"CSV file {path!r} has no series columns besides the time column {time_column!r}")
    panel = []
    for column in columns:
        values = _numbers(frame[column].tolist(), decimal, f"column {column!r} of {path!r}")
        first, last = _edges(values)
        panel.append(PanelSeries(column, values[first:last], None if times is None else tuple(times[first:last]),
                                 _source(path, column, time_column)))
    return panel


def dataset_panel(names: list[str]) -> list[PanelSeries]:
    """Bundled datasets, each a series fitted from the dataset itself (as ``--dataset NAME``)."""
    from ..data.datasets import DATASETS

    panel = []
    for name in names:
        if name not in DATASETS:
            raise InputError(f"dataset must be one of {', '.join(DATASETS)}; got {str(name)[:40]!r}")
        if any(s.id == name for s in panel):
            raise InputError(f"dataset {name!r} is given twice")
        panel.append(PanelSeries(name, None, None, {"series": "dataset", "dataset": name}))
    return panel


def _source(path: str, column: str, time_column: str) -> dict:
    return {"series": "csv", "csv": path, "column": column, "time_column": time_column}


def _frame(path: str):
    """The file's cells as text, and its decimal mark."""
    pd = require("pandas", "reading CSV files")
    raw = read_limited(path, "CSV file", limits.CSV_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if not text.strip():
        raise InputError(f"CSV file {path!r} is empty")
    sample = "\n".join(text.splitlines()[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    cells = [c.strip() for line in sample.splitlines()[1:] for c in line.split(delimiter)]
    decimal = "," if delimiter != "," and any(COMMA_DECIMAL.match(c) for c in cells) else "."
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"CSV file {path!r} cannot be parsed: {str(exc).strip()}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputError(f"CSV file {path!r} has a header but no rows")
    if len(frame) > limits.CSV_ROWS:
        raise InputError(f"CSV file {path!r} holds {len(frame)} rows; the limit is {limits.CSV_ROWS}")
    return frame, decimal


def _numbers(cells: list[str], decimal: str, where: str, lines: list[int] | None = None) -> np.ndarray:
    """Float64 values of the cells (NaN where missing); a text cell is an InputError naming its
    line (``lines``: the file line of each cell; by default cell i is on line i + 2)."""
    values = np.empty(len(cells))
    for position, cell in enumerate(cells):
        text = str(cell).strip()
        if text.lower() in MISSING:
            values[position] = np.nan
            continue
        if decimal == ",":
            text = text.replace(".", "").replace(",", ".") if "," in text else text
        try:
            value = float(text)
        except ValueError:
            value = np.nan
            text = None
        if text is None or not np.isfinite(value):
            line = lines[position] if lines is not None else position + 2
            raise InputError(f"{where} holds text where numbers were expected (line {line}: {cell!r})")
        values[position] = value
    return values


def _times(cells, path: str, time_column: str) -> list[str]:
    """Each time cell as ISO text (dates without a time of day as dates)."""
    pd = require("pandas", "dates and times of a series")
    out = []
    for position, cell in enumerate(cells.tolist()):
        try:
            stamp = pd.Timestamp(str(cell).strip())
        except (ValueError, TypeError):
            stamp = None
        if stamp is None or pd.isna(stamp):
            raise InputError(f"time column {time_column!r} of {path!r}: line {position + 2} holds {cell!r}, "
                             "not a date or time")
        stamp = stamp.tz_localize(None) if stamp.tzinfo else stamp
        out.append(stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat())
    return out


def _edges(values: np.ndarray) -> tuple[int, int]:
    """The span from the first to the last present value (all of it when none is present)."""
    present = np.flatnonzero(np.isfinite(values))
    return (0, len(values)) if not len(present) else (int(present[0]), int(present[-1]) + 1)


def _long(frame, path: str, decimal: str, times, time_column: str, id_column: str, value_column: str):
    """Series of a long file: rows grouped by id, in time order."""
    ids = [str(c).strip() for c in frame[id_column].tolist()]
    for position, key in enumerate(ids):
        if not key:
            raise InputError(f"id column {id_column!r} of {path!r}: line {position + 2} has no id")
    rows: dict[str, list[int]] = {}
    for position, key in enumerate(ids):
        rows.setdefault(key, []).append(position)
    cells = frame[value_column].tolist()
    panel = []
    for key, positions in rows.items():
        if times is not None:
            seen: dict[str, int] = {}
            for p in positions:
                if times[p] in seen:
                    raise InputError(f"series {key!r} of {path!r} has two rows for time {times[p]!r} "
                                     f"(lines {seen[times[p]] + 2} and {p + 2}); each (id, time) must appear once")
                seen[times[p]] = p
            positions = sorted(positions, key=lambda p: np.datetime64(times[p]))
        values = _numbers([cells[p] for p in positions], decimal,
                          f"series {key!r} (column {value_column!r} of {path!r})", [p + 2 for p in positions])
        first, last = _edges(values)
        stamps = None if times is None else tuple(times[p] for p in positions[first:last])
        panel.append(PanelSeries(key, values[first:last], stamps, _source(path, key, time_column)))
    return panel
