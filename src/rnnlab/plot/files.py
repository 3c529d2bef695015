"""Chart files: figures rendered to PNG/SVG bytes and written atomically, a run's set or a comparison's."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

from matplotlib.figure import Figure

from ..errors import InputError, RnnlabError
from .data import ForecastData, run_forecast_data, run_state_walk
from .figures import forecast_figure, loss_figure, states_figure
from .tables import forecast_table, table_csv, table_markdown


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure rendered as PNG or SVG bytes (reproducible: no dates in the metadata)."""
    if fmt not in ("png", "svg"):
        raise InputError(f"format must be png or svg, got {fmt!r}")
    import matplotlib

    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    with matplotlib.rc_context({"svg.hashsalt": "rnnlab", "svg.fonttype": "path"}):
        figure.savefig(buffer, format=fmt, dpi=100, metadata=metadata)
    return buffer.getvalue()


def prepare_dir(out: Path) -> Path:
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RnnlabError(f"output directory {str(out)!r} cannot be created: {exc.strerror or exc}") from None
    if not out.is_dir():
        raise RnnlabError(f"output directory {str(out)!r} is not a directory")
    return out


def write_files(out: Path, files: Mapping[str, bytes | str]) -> list[Path]:
    """Write each file under ``out`` atomically (temporary file + rename); returns their paths."""
    from ..store import write_atomic

    out = prepare_dir(out)
    paths = []
    for name, payload in files.items():
        path = out / name
        try:
            write_atomic(path, payload)
            os.chmod(path, 0o644)  # readable like any other chart, not only by its owner
        except OSError as exc:
            raise RnnlabError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        paths.append(path)
    return paths


def _require_history(run) -> None:
    if not run.history:
        raise InputError(
            f"run {run.id!r} has no loss history (stopped at step 0); train it for at least one step"
        )


def _rendered(figures: Mapping[str, Figure]) -> dict[str, bytes | str]:
    """``NAME.png`` and ``NAME.svg`` for each figure."""
    files: dict[str, bytes | str] = {}
    for name, figure in figures.items():
        files[f"{name}.png"] = figure_bytes(figure, "png")
        files[f"{name}.svg"] = figure_bytes(figure, "svg")
    return files


def run_plot_files(run) -> dict[str, bytes | str]:
    """Chart files of one run: forecast (PNG, SVG, CSV, Markdown), loss and state charts."""
    _require_history(run)
    data = run_forecast_data(run)
    rows = forecast_table(data)
    walk, index, start = run_state_walk(run)
    files = _rendered({
        "forecast": forecast_figure(data, title=f"{data.label}: baseline, input and prediction"),
        "loss": loss_figure({data.label: run.history}),
        "states": states_figure(walk, index, start, title=f"{data.label}: {walk.cell} state over the forecast"),
    })
    files["forecast.csv"] = table_csv(rows)
    files["forecast.md"] = table_markdown(rows)
    return files


def compare_plot_files(runs: Sequence) -> dict[str, bytes | str]:
    """Chart files comparing several runs: forecasts and loss curves on shared axes."""
    for run in runs:
        _require_history(run)
    data = [run_forecast_data(run) for run in runs]
    labels = _unique_labels([d.label for d in data])
    data = [_relabel(d, label) for d, label in zip(data, labels)]
    return _rendered({
        "compare-forecast": forecast_figure(data),
        "compare-loss": loss_figure({label: run.history for label, run in zip(labels, runs)}),
    })


def _unique_labels(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def _relabel(data: ForecastData, label: str) -> ForecastData:
    return data if data.label == label else replace(data, label=label)


def write_plots(runs: Sequence, out: Path | None = None) -> list[Path]:
    """Render every chart, then write them: one run into its directory (or ``out``),
    several runs' comparison into ``out`` (default: the current directory)."""
    if not runs:
        raise InputError("give at least one run to plot")
    if out is None:
        out = runs[0].path if len(runs) == 1 else Path(".")
    prepare_dir(Path(out))  # fail on an unusable place before rendering
    files = run_plot_files(runs[0]) if len(runs) == 1 else compare_plot_files(runs)
    return write_files(Path(out), files)
