"""The values behind the forecast chart as a table: rows of dicts, written as CSV or Markdown."""

from __future__ import annotations

from typing import Mapping, Sequence

from .data import ForecastData


def forecast_table(data: ForecastData) -> list[dict[str, float | int | None]]:
    """One row per index: ``index, baseline, input, prediction`` (and ``lower, upper`` with a band)."""
    columns = {
        "baseline": dict(zip(data.baseline_index.tolist(), data.baseline.tolist())),
        "input": dict(zip(data.input_index.tolist(), data.inputs.tolist())),
        "prediction": dict(zip(data.prediction_index.tolist(), data.prediction.tolist())),
    }
    if data.lower is not None:
        columns["lower"] = dict(zip(data.prediction_index.tolist(), data.lower.tolist()))
        columns["upper"] = dict(zip(data.prediction_index.tolist(), data.upper.tolist()))
    indices = sorted(set().union(*(c.keys() for c in columns.values())))
    return [{"index": int(i), **{name: values.get(i) for name, values in columns.items()}} for i in indices]


def table_cell(value) -> str:
    """A table cell as text: empty where the column has no value, else the value at full precision."""
    return "" if value is None else repr(value)


def table_csv(rows: Sequence[Mapping]) -> str:
    """The table as CSV; empty cells where a column has no value; floats at full precision."""
    if not rows:
        return ""
    names = list(rows[0])
    lines = [",".join(names)] + [",".join(table_cell(row[n]) for n in names) for row in rows]
    return "\n".join(lines) + "\n"


def table_markdown(rows: Sequence[Mapping]) -> str:
    """The table as a Markdown (GitHub) table."""
    if not rows:
        return ""
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join("---:" for _ in names) + "|"]
    lines += ["| " + " | ".join(table_cell(row[n]) for n in names) + " |" for row in rows]
    return "\n".join(lines) + "\n"
