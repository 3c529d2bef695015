"""A series from one column of a CSV file, read with pandas.

The delimiter (``,`` ``;`` tab ``|``) and the decimal mark (``.`` or ``,``) are detected, a
UTF-8 byte-order mark is ignored. Every cell of the value column must be a number or empty
(missing): a text cell is reported with its line and column, missing values with their lines
(``interpolate`` fills them linearly). A time column is parsed and its frequency inferred, so
forecasts carry timestamps. Lines are counted as in the file: the header is line 1.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import numpy as np

from .sources import Series, finish_series
from .. import limits
from ..errors import InputError
from ..limits import read_limited
from ..optional import require

MISSING = {"", "na", "nan", "n/a", "null", "none", "-", "?"}
_COMMA_DECIMAL = re.compile(r"^[-+]?\d+,\d+$")


def _pandas():
    return require("pandas", "reading CSV files")


def _read_text(path: str) -> str:
    """The text of a regular file of at most ``limits.CSV_BYTES`` and ``limits.CSV_ROWS`` rows."""
    raw = read_limited(path, "CSV file", limits.CSV_BYTES)
    rows = raw.count(b"\n") + (not raw.endswith(b"\n")) - 1  # lines less the header
    if rows > limits.CSV_ROWS:
        raise InputError(f"CSV file {path!r} holds {rows} rows; the limit is {limits.CSV_ROWS}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _dialect(text: str) -> tuple[str, str]:
    """(delimiter, decimal mark) of the first lines."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    decimal = "."
    if delimiter != ",":
        cells = [c.strip() for line in sample.splitlines()[1:] for c in line.split(delimiter)]
        if any(_COMMA_DECIMAL.match(c) for c in cells):
            decimal = ","
    return delimiter, decimal


def _number(cell: str, decimal: str) -> float | None:
    """The cell as a float, NaN when missing, None when it is not a number."""
    text = cell.strip()
    if text.lower() in MISSING:
        return float("nan")
    if decimal == ",":
        text = text.replace(".", "").replace(",", ".") if "," in text else text
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def read_csv_series(path: str, column: str = "", time_column: str = "", interpolate: bool = False) -> Series:
    """The series in ``column`` of the CSV file at ``path``; see the module docstring."""
    for name, value in (("column", column), ("time column", time_column)):
        if not isinstance(value, str):
            raise InputError(f"{name} must be a string, got {type(value).__name__}")
    if not isinstance(path, (str, Path)):
        raise InputError(f"CSV file must be a path, got {type(path).__name__}")
    path = str(path)
    pd = _pandas()
    text = _read_text(path)
    if not text.strip():
        raise InputError(f"CSV file {path!r} is empty")
    delimiter, decimal = _dialect(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"CSV file {path!r} cannot be parsed: {str(exc).strip()}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputError(f"CSV file {path!r} has a header but no rows")
    line = lambda position: position + 2  # noqa: E731 - the header is line 1
    names = list(frame.columns)
    if time_column and time_column not in names:
        raise InputError(f"time column {time_column!r} is not in {path!r}; its columns are: {', '.join(names)}")
    if column:
        if column not in names:
            raise InputError(f"column {column!r} is not in {path!r}; its columns are: {', '.join(names)}")
    else:
        candidates = [n for n in names if n != time_column and _mostly_numeric(frame[n], decimal)]
        if len(candidates) != 1:
            raise InputError(
                f"CSV file {path!r} has {len(candidates)} numeric columns besides the time column; "
                f"name one with --column (columns: {', '.join(names)})"
            )
        column = candidates[0]

    values, bad = _numbers(pd, frame[column], decimal)
    if bad:
        shown = "; ".join(f"line {line(p)}: {c!r}" for p, c in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise InputError(f"column {column!r} of {path!r} holds text where numbers were expected ({shown}{more})")

    times = None
    if time_column:
        times = _parse_times(pd, frame[time_column], path, time_column, line)
    name = f"{Path(path).name}:{column}"
    series = finish_series(f"column {column!r} of {path!r}", np.array(values), times, interpolate, line)
    return dataclasses.replace(series, name=name)


def _numbers(pd, cells, decimal: str) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The cells as floats (NaN where missing) and the (position, cell) of those that are not
    finite numbers; one vectorised pass (a million rows in well under a second), the cells it
    cannot read checked one by one as ``_number`` reads them."""
    text = cells.str.strip()
    missing = text.str.lower().isin(MISSING).to_numpy()
    if decimal == ",":
        text = text.where(~text.str.contains(",", regex=False), text.str.replace(".", "", regex=False)
                          .str.replace(",", ".", regex=False))
    values = pd.to_numeric(text.where(~missing, "nan"), errors="coerce").to_numpy(dtype=np.float64, copy=True)
    unread = np.flatnonzero(~np.isfinite(values) & ~missing)
    bad = []
    for position in unread.tolist():  # what pandas does not read, Python's float may (e.g. "1_000")
        number = _number(cells.iloc[position], decimal)
        if number is None:
            bad.append((position, cells.iloc[position]))
        else:
            values[position] = number
    values[missing] = np.nan
    return values, bad


def _mostly_numeric(cells, decimal: str) -> bool:
    parsed = [_number(c, decimal) for c in cells.tolist()]
    numbers = [v for v in parsed if v is not None and np.isfinite(v)]
    return len(numbers) > 0 and len(numbers) >= 0.5 * len(parsed)


def _parse_times(pd, cells, path: str, time_column: str, line):
    fast = _parse_times_at_once(pd, cells)
    if fast is not None:
        return fast
    stamps = []
    for position, cell in enumerate(cells.tolist()):
        try:
            stamp = pd.Timestamp(cell.strip())
        except (ValueError, TypeError):
            stamp = None
        if stamp is None or pd.isna(stamp):
            raise InputError(
                f"time column {time_column!r} of {path!r}: line {line(position)} holds {cell!r}, not a date or time"
            )
        stamps.append(stamp.tz_localize(None) if stamp.tzinfo else stamp)
    index = pd.DatetimeIndex(stamps)
    for position in range(1, len(index)):
        if index[position] <= index[position - 1]:
            raise InputError(
                f"time column {time_column!r} of {path!r} must increase: line {line(position)} "
                f"({cells.iloc[position]!r}) does not come after line {line(position - 1)}"
            )
    return index


def _parse_times_at_once(pd, cells):
    """The dates in one pass, where every cell reads and they increase; None sends the column to
    the cell-by-cell reading, which names the offending line."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": the cell-by-cell reading decides
            index = pd.DatetimeIndex(pd.to_datetime(cells.str.strip(), errors="coerce"))
    except (ValueError, TypeError, OverflowError):
        return None
    if index.tz is not None or index.hasnans or not (index.is_monotonic_increasing and index.is_unique):
        return None
    return index
