"""Charts of a run: matplotlib Figures built from plain arrays, their value tables and files.

- ``data``: a stored run as chart data (``run_forecast_data``, ``run_state_walk``) through ``rnnlab.runs``;
- ``figures``: the forecast, loss and state charts, from data (no runs, no pyplot);
- ``tables``: the forecast's values as rows, CSV and Markdown;
- ``files``: figures as PNG/SVG bytes, written atomically (``write_plots``).

The modules import downward (files → figures, tables → data) and never this package.
"""

from __future__ import annotations

from .data import (
    CELL_QUANTITIES,
    ForecastData,
    RunForecast,
    StateWalk,
    run_context,
    run_forecast,
    run_forecast_data,
    run_label,
    run_state_walk,
    state_walk,
)
from .figures import COLORS, CYCLE, forecast_figure, loss_figure, new_figure, smooth, smoothing_window, states_figure
from .files import compare_plot_files, figure_bytes, prepare_dir, run_plot_files, write_files, write_plots
from .tables import forecast_table, table_cell, table_csv, table_markdown

__all__ = [
    "CELL_QUANTITIES",
    "COLORS",
    "CYCLE",
    "ForecastData",
    "RunForecast",
    "StateWalk",
    "compare_plot_files",
    "figure_bytes",
    "forecast_figure",
    "forecast_table",
    "loss_figure",
    "new_figure",
    "prepare_dir",
    "run_context",
    "run_forecast",
    "run_forecast_data",
    "run_label",
    "run_plot_files",
    "run_state_walk",
    "smooth",
    "smoothing_window",
    "state_walk",
    "states_figure",
    "table_cell",
    "table_csv",
    "table_markdown",
    "write_files",
    "write_plots",
]
