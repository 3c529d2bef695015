"""Presets, config files and overrides: where a ``RunConfig`` comes from.

``resolve_config`` takes a preset, then a TOML/JSON config file, then dotted flag overrides such
as ``{"model.hidden_size": 8}``, each on top of the one before. ``PRESETS["seed"]`` holds the seed
program's values exactly.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .errors import ConfigError

PRESETS: dict[str, RunConfig] = {
    # the seed program: nn.RNN(1, 4) tanh on one sine period, one window per SGD step, lr 0.1
    "seed": RunConfig(),
    # the seed's task at the seed's size (nn.RNN, 4 units) done better: a relu cell with a linear
    # readout, Adam on every window of two periods at every step, the loss over 10 fed-back steps
    "seed-better": RunConfig(
        preset="seed-better",
        data=DataConfig(periods=2),
        model=ModelConfig(nonlinearity="relu", readout="linear"),
        train=TrainConfig(steps=3000, lr=0.003, optimizer="adam", batch_size=0, rollout=10, log_every=100),
    ),
    # real series (with --csv or --dataset): a linear readout, 8 units, Adam on minibatches of 32
    # fixed-length contexts, the loss over 12 fed-back steps, scored 12 steps ahead
    "forecast": RunConfig(
        preset="forecast",
        data=DataConfig(horizon=12),
        model=ModelConfig(hidden_size=8, readout="linear"),
        train=TrainConfig(steps=100, lr=0.02, optimizer="adam", batch_size=32, rollout=12),
    ),
    # the default for csv and dataset series: log and seasonal indices where they fit, fixed
    # contexts read relative to their last value, a GRU of 8 units trained for 12 fed-back steps,
    # a median of 3 members; the candidates of rnnlab.selection chosen by validation error,
    # backtested on the held-out parts and then refitted on every value
    "auto": RunConfig(
        preset="auto",
        data=DataConfig(horizon=12, transform="auto", seasonal="auto", level="auto", refit=True),
        model=ModelConfig(cell="gru", hidden_size=8, readout="linear"),
        train=TrainConfig(steps=200, lr=0.01, optimizer="adam", batch_size=32, rollout=12, schedule="cosine",
                          ensemble=3, log_every=50, select=True),
    ),
}


def preset(name: str) -> RunConfig:
    """The preset called ``name``."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}; got {str(name)[:40]!r}")
    return PRESETS[name]


def merge(config: RunConfig, data: Mapping[str, Any]) -> RunConfig:
    """``config`` with the (possibly partial, nested) values of ``data`` on top."""
    base = config.to_dict()
    if not isinstance(data, Mapping):
        raise ConfigError(f"config must be a table of keys, got {data!r}")
    for key, value in data.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            section = dict(base[key])
            section.update(value)
            base[key] = section
        else:
            base[key] = value
    return RunConfig.from_dict(base)


def apply_overrides(config: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """Apply dotted overrides, e.g. ``{"model.hidden_size": 8, "seed": 3}``; None values are skipped."""
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a mapping of dotted keys to values, got {type(overrides).__name__}")
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        if not isinstance(dotted, str):
            raise ConfigError(f"override keys must be dotted strings such as 'model.hidden_size', got {dotted!r}")
        *sections, leaf = dotted.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[leaf] = value
    return merge(config, nested) if nested else config


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML or JSON config file into plain data (not validated yet)."""
    import tomllib

    from .limits import CONFIG_BYTES, read_limited

    if not isinstance(path, (str, Path)):
        raise ConfigError(f"config file must be a path, got {type(path).__name__}")
    path = Path(path)
    try:  # a regular file of at most 1 MB: a FIFO or a device is refused at once
        text = read_limited(path, "config file", CONFIG_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid JSON: {exc}") from None
    elif path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    else:
        raise ConfigError(f"config file {str(path)!r} must end in .toml or .json")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a table of keys, got {type(data).__name__}")
    return data


def resolve_config(
    preset_name: str | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Preset, then config file, then flag overrides — each on top of the one before."""
    file_data = load_config_file(config_file) if config_file is not None else {}
    name = preset_name or file_data.get("preset") or "seed"
    if not isinstance(name, str):
        raise ConfigError(f"preset must be a string, got {name!r}")
    config = preset(name)
    if file_data:
        config = merge(config, {**file_data, "preset": name})
    elif preset_name:
        config = dataclasses.replace(config, preset=name)
    return apply_overrides(config, overrides or {})
