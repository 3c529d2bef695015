"""rnnlab: tiny recurrent networks you can train in milliseconds, forecast with, and check by hand.

The public API is imported lazily, so that ``import rnnlab`` (and ``rnnlab --help``) does not pay
for torch. Every name is the function or class itself (``rnnlab.train`` is the function, not the
``training`` package); the functions check their arguments first (``arguments.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "RunConfig": "config",
    "DataConfig": "config",
    "ModelConfig": "config",
    "TrainConfig": "config",
    "ForecastConfig": "config",
    "PRESETS": "presets",
    "resolve_config": "presets",
    "RnnlabError": "errors",
    "series_values": "data",
    "SeedWindows": "data",
    "SequenceModel": "model",
    "train": "training",
    "TrainResult": "training",
    "forecast": "forecasting",
    "forecast_rerun": "forecasting",
    "evaluate_seed_task": "evaluate",
    "evaluate_run": "evaluate",
    "load_series": "data",
    "prepare": "data",
    "explain_forward": "explain",
    "explain_backward": "explain",
    "Forecaster": "forecaster",
    "RunStore": "store",
    "Run": "store",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    """``from rnnlab import train`` binds the function ``train`` (never a module), its arguments
    checked (``arguments.py``): a wrong type or value is a one-line ``RnnlabError``."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        if callable(value) and not isinstance(value, type):
            from .arguments import checked

            value = checked(name, value)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
