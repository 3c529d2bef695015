"""Series and the windows drawn from them.

``waveforms`` computes the seed's sine and its relatives, ``csvfile`` reads a column of a CSV file,
``datasets`` loads a series shipped with statsmodels; ``sources`` holds the ``Series`` they all
return. ``prepared`` splits a series by time, scales it (``scaling``) and settles the window shape;
``windows`` draws the training windows.
"""

from __future__ import annotations

from .prepared import (
    Prepared,
    Split,
    detect_season,
    load_series,
    prepare,
    prepare_stored,
    readout_warning,
    series_values,
    split_series,
)
from .scaling import Scaler, fit_scaler
from .sources import Series, future_times, iso_time
from .waveforms import true_value, wave_value, waveform_values
from .windows import (
    FixedWindows,
    RandomWindows,
    SeedWindows,
    Window,
    all_seed_windows,
    all_windows,
    every_training_window,
    parse_values,
    parse_window,
    training_windows,
)

__all__ = [
    "FixedWindows", "Prepared", "RandomWindows", "Scaler", "SeedWindows", "Series", "Split", "Window",
    "all_seed_windows", "all_windows", "detect_season", "every_training_window", "fit_scaler",
    "future_times", "iso_time", "load_series", "parse_values", "parse_window", "prepare",
    "prepare_stored", "readout_warning", "series_values", "split_series", "training_windows",
    "true_value", "wave_value", "waveform_values",
]
