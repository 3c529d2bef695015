"""rnnlab: tiny recurrent networks you can train in milliseconds, forecast with, and check by hand.

The public API is imported lazily, so that ``import rnnlab`` (and ``rnnlab --help``) does not pay
for torch.
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
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
