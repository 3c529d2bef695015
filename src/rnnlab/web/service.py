"""What the playground offers and accepts: its limits, its parts, the configs it trains.

Every function takes plain values and returns JSON-ready dicts or raises a one-line
``RnnlabError``; the routes in ``routes/`` only parse requests and call these (and ``views``).
A client never gives a path: runs are named by id and resolved by ``RunStore``, a CSV file by
the id of its upload.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

from .. import config as cfg
from ..config import RunConfig
from ..presets import PRESETS, merge, preset
from ..data.datasets import DATASETS
from ..errors import ConfigError, InputError, MissingDependencyError
from ..optional import require

# Sizes the playground accepts; a request over any of them gets a 400 naming the limit.
LIMITS = {
    "model.hidden_size": 64,
    "model.num_layers": 4,
    "train.steps": 100_000,
    "train.lr": 1000.0,  # larger rates only overflow float32
    "train.batch_size": 4096,
    "train.ensemble": 16,
    "forecast.steps": 200,  # the horizon
    "series_length": 20_000,  # values in the training series
    "upload_bytes": 1_000_000,  # an uploaded CSV file
    "live_trainings": 4,  # trainings running at the same time
    "edits": 256,  # weight edits in one request
    "weight_value": 1000.0,  # |new weight value|
}

CONFIG_LIMITS = ("model.hidden_size", "model.num_layers", "train.steps", "train.lr", "train.batch_size",
                 "train.ensemble", "forecast.steps")

# Config fields that hold a file path: the server sets them (an upload's file), a client never does.
PATH_FIELDS = ("csv",)


def check_limit(key: str, value: int | float, limits: Mapping[str, Any] = LIMITS) -> None:
    """Raise a ConfigError when ``value`` passes ``limits[key]``."""
    limit = limits[key]
    if value > limit:
        raise ConfigError(f"{key} must be <= {limit} in the playground, got {value}")


# -- the playground's parts -----------------------------------------------------------------------

# What the page says when a part is switched off (``feature_status`` reports every part it has).
MISSING = {
    "explain": "The hand calculation needs rnnlab.explain, which this build does not have.",
    "report": "Run reports need rnnlab.report, which this build does not have.",
}


@functools.lru_cache(maxsize=None)
def missing_extra(purpose: str, modules: tuple[str, ...]) -> str:
    """'' when the optional ``modules`` import, else the one-line message naming the extra to install."""
    try:
        for module in modules:
            require(module, purpose)
    except MissingDependencyError as exc:
        return str(exc)
    return ""


def feature_status() -> dict[str, dict[str, Any]]:
    """The parts of the playground and whether they work here; the page says plainly what is missing.

    The hand calculation and the reports are part of rnnlab; CSV series and the bundled datasets
    need the optional ``datasets`` extra (pandas, statsmodels).
    """
    missing = {
        "explain": "",
        "report": "",
        "datasets": missing_extra("Training on a bundled dataset", ("pandas", "statsmodels.datasets")),
        "csv": missing_extra("Reading CSV files", ("pandas",)),
    }
    return {name: {"available": not message, "message": message} for name, message in missing.items()}


def require_feature(name: str) -> None:
    """Raise ``MissingDependencyError`` (HTTP 501) when the part ``name`` does not work here."""
    status = feature_status()[name]
    if not status["available"]:
        raise MissingDependencyError(status["message"])


def report_function() -> Callable[[Any], str]:
    """The report renderer: a loaded run -> its HTML document (``rnnlab.report.build_report``)."""
    from ..report import build_report

    return build_report


def options(limits: Mapping[str, Any] = LIMITS) -> dict[str, Any]:
    """The choices the page offers, the presets' configs, the limits and the parts this server has."""
    return {
        "presets": {name: value.to_dict() for name, value in PRESETS.items()},
        "choices": {
            "data.series": list(cfg.SERIES),
            "model.cell": list(cfg.CELLS),
            "model.nonlinearity": list(cfg.NONLINEARITIES),
            "model.readout": list(cfg.READOUTS),
            "train.optimizer": list(cfg.OPTIMIZERS),
            "train.engine": list(cfg.ENGINES),
        },
        "datasets": list(DATASETS),
        "limits": limits,
        "features": feature_status(),
    }


# -- configs ---------------------------------------------------------------------------------------


def build_config(preset_name: str | None, values: Mapping[str, Any] | None,
                 server_data: Mapping[str, Any] | None = None, limits: Mapping[str, Any] = LIMITS) -> RunConfig:
    """A preset with the client's (nested, partial) values on top, checked against the limits.

    A client never gives a path; ``server_data`` holds the data fields the server sets itself
    (the path of an uploaded file).
    """
    if values is not None and not isinstance(values, Mapping):
        raise ConfigError(f"config must be a table of keys, got {values!r}")
    data = dict(values or {})
    section = data.get("data")
    blocked = [name for name in PATH_FIELDS if isinstance(section, Mapping) and name in section]
    if blocked:
        raise InputError(f"data.{blocked[0]} cannot be set here; upload the file and give its upload id")
    if server_data:
        data["data"] = {**(section if isinstance(section, Mapping) else {}), **server_data}
    config = merge(preset(preset_name or "seed"), {**data, "preset": preset_name or "seed"})
    check_config_limits(config, limits)
    return config


def check_config_limits(config: RunConfig, limits: Mapping[str, Any] = LIMITS) -> None:
    for key in CONFIG_LIMITS:
        section, name = key.split(".")
        check_limit(key, getattr(getattr(config, section), name), limits)
    data = config.data
    check_limit("series_length", data.points_per_period * data.periods + 1, limits)
