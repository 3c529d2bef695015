"""Run configuration: frozen dataclasses that round-trip through JSON.

A run is rebuilt from its ``RunConfig`` alone; ``presets.py`` holds the presets, config files and
overrides (``resolve_config``). ``RunConfig.from_dict`` refuses an unknown key or a wrong type,
naming it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import limits
from .errors import ConfigError

CELLS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")
READOUTS = ("unit", "linear")
OPTIMIZERS = ("sgd", "adam", "adamw")
LOSSES = ("mse",)
ENGINES = ("auto", "torch", "fast")
SCHEDULES = ("constant", "cosine", "step")
WAVEFORMS = ("sine", "cosine", "square", "sawtooth", "triangle", "damped_sine", "sines")
SERIES = WAVEFORMS + ("csv", "dataset")
DATASETS = ("sunspots", "nile", "co2", "elnino")
SCALINGS = ("auto", "none", "standard", "minmax", "changes")
TRANSFORMS = ("auto", "none", "log", "boxcox")
SEASONALS = ("auto", "none", "classical", "stl")
LEVELS = ("auto", "none", "last")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    _require(value in allowed, f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _at_least(name: str, value: int, low: int) -> None:
    _require(value >= low, f"{name} must be >= {low}, got {value}")


def _between(name: str, value: int, low: int, high: int) -> None:
    """``low <= value <= high``: every size has an upper limit too (``limits.py``)."""
    _at_least(name, value, low)
    _require(value <= high, f"{name} must be <= {high}, got {value}")


def _float32(name: str, value: float) -> None:
    """A finite number the model can compute with in float32 (|x| <= 3.4e38)."""
    _require(math.isfinite(value) and abs(value) <= limits.FLOAT32_MAX,
             f"{name} must be a finite number within float32 range (|x| <= 3.4e38), got {value}")


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strings(prefix: str, config: Any) -> None:
    """Every field of the type it is declared with (a dataclass built in Python gets no from_dict
    checks), and no string longer than ``limits.STRING``."""
    hints = _hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            _require(isinstance(value, hints[f.name]),
                     f"{prefix}{f.name} must be a {hints[f.name].__name__}, got {type(value).__name__}")
            continue
        _check_value(f"{prefix}{f.name}", value, hints[f.name])
        if isinstance(value, str):
            _require(len(value) <= limits.STRING,
                     f"{prefix}{f.name} must be at most {limits.STRING} characters, got {len(value)}")


@dataclass(frozen=True)
class DataConfig:
    """The series (a waveform, a CSV column or a bundled dataset), its split, scaling and windows."""

    # source of the series: a waveform (sine, cosine, square, sawtooth, triangle, damped_sine,
    # sines), "csv" (data.csv / data.column) or "dataset" (data.dataset, shipped with statsmodels)
    series: str = "sine"
    # samples per period: the seed's num_points (waveforms)
    points_per_period: int = 36
    # periods in the training series; it holds points_per_period * periods + 1 values (both ends)
    periods: int = 1
    # shortest context a window can have: the seed's min_sequence_length
    min_length: int = 4
    # values scored after each forecast origin (K steps ahead in the held-out evaluation); the
    # seed's prediction_length
    horizon: int = 1
    # waveform phase in radians, added to the angle i·2π/points_per_period
    phase: float = 0.0
    # waveform amplitude
    amplitude: float = 1.0
    # damped_sine: the amplitude shrinks by this factor every period (1: no damping)
    damping: float = 0.5
    # sines: "multiple:amplitude" pairs summed, e.g. "1:1,3:0.3" is sin(x) + 0.3·sin(3x)
    components: str = "1:1,3:0.3"
    # standard deviation of Gaussian noise added to a waveform (0: none)
    noise: float = 0.0
    # seed of the noise generator (independent of the run's seed)
    noise_seed: int = 0
    # series "csv": path of the CSV file
    csv: str = ""
    # series "csv": the column holding the values ("" : the only numeric column)
    column: str = ""
    # series "csv": a column of dates/times, parsed so forecasts carry timestamps ("" : none)
    time_column: str = ""
    # series "csv"/"dataset": fill missing values by linear interpolation instead of refusing them
    interpolate: bool = False
    # series "dataset": one of sunspots, nile, co2, elnino
    dataset: str = ""
    # fixed context length of every window (0: variable-length windows drawn as the seed does;
    # None: 0 for waveforms, 2 seasons (at least 8) for csv and dataset series)
    context_length: int | None = None
    # fraction of the series held out for validation, after the training part (None: 0 for
    # waveforms, 0.1 for csv and dataset series)
    val_fraction: float | None = None
    # fraction at the end held out for testing (None: 0 for waveforms, 0.2 for csv and dataset)
    test_fraction: float | None = None
    # "none", "standard" (mean 0, std 1), "minmax" (to [-1, 1]) or "changes" (one-step changes of
    # std 1), fitted on the training part; "auto": none for waveforms, changes for csv and dataset
    scaling: str = "auto"
    # season length (0: from the dates' frequency, else detected from the training part)
    season: int = 0
    # "log", "boxcox" (λ by maximum likelihood) or "none" before anything else; "auto": log for a
    # csv or dataset series of positive values
    transform: str = "none"
    # "classical" (minus seasonal indices of a classical decomposition of the training part),
    # "stl" (minus the STL seasonal component, its last season repeated after the training part)
    # or "none"; "auto": classical for csv and dataset series with a season
    seasonal: str = "none"
    # "last": each fixed context is read relative to its last value, so a trend extrapolates;
    # "none": absolute values; "auto": last for csv and dataset series, none for waveforms
    level: str = "none"
    # after the backtest on the held-out parts, train the model that forecasts on every value
    # (csv and dataset series)
    refit: bool = False

    def __post_init__(self) -> None:
        _strings("data.", self)
        _one_of("data.series", self.series, SERIES)
        _between("data.points_per_period", self.points_per_period, 2, limits.POINTS_PER_PERIOD)
        _between("data.periods", self.periods, 1, limits.PERIODS)
        length = self.points_per_period * self.periods + 1
        _require(length <= limits.SERIES_LENGTH,
                 f"data.points_per_period * data.periods + 1 must be <= {limits.SERIES_LENGTH} values, got {length}")
        _between("data.min_length", self.min_length, 1, limits.CONTEXT_LENGTH)
        _between("data.horizon", self.horizon, 1, limits.HORIZON)
        for name in ("phase", "amplitude", "damping", "noise"):
            value = getattr(self, name)
            _require(math.isfinite(value), f"data.{name} must be a finite number, got {value}")
            _float32(f"data.{name}", value)
        _require(self.amplitude > 0, f"data.amplitude must be > 0, got {self.amplitude}")
        _require(0 < self.damping <= 1, f"data.damping must be in (0, 1], got {self.damping}")
        _require(self.noise >= 0, f"data.noise must be >= 0, got {self.noise}")
        _at_least("data.noise_seed", self.noise_seed, 0)
        _require(
            bool(re.fullmatch(r"\s*[0-9.]+\s*:\s*-?[0-9.]+\s*(,\s*[0-9.]+\s*:\s*-?[0-9.]+\s*)*", self.components)),
            f"data.components must be 'multiple:amplitude' pairs such as '1:1,3:0.3', got {self.components[:40]!r}",
        )
        pairs = self.components.count(":")
        _require(pairs <= limits.COMPONENTS, f"data.components must hold at most {limits.COMPONENTS} pairs, got {pairs}")
        for pair in self.components.split(","):
            for number in pair.split(":"):
                try:
                    _float32("data.components", float(number))
                except ValueError:
                    raise ConfigError(f"data.components must be 'multiple:amplitude' pairs of numbers, got {number.strip()!r}") from None
        if self.context_length is not None:
            _between("data.context_length", self.context_length, 0, limits.CONTEXT_LENGTH)
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if value is not None:
                _require(0 <= value < 0.9, f"data.{name} must be in [0, 0.9), got {value}")
        if self.val_fraction is not None and self.test_fraction is not None:
            total = self.val_fraction + self.test_fraction
            _require(total < 0.9, f"data.val_fraction + data.test_fraction must be < 0.9, got {total}")
        for name, allowed in (("scaling", SCALINGS), ("transform", TRANSFORMS), ("seasonal", SEASONALS), ("level", LEVELS)):
            _one_of(f"data.{name}", getattr(self, name), allowed)
        _between("data.season", self.season, 0, limits.SEASON)
        if self.series == "csv":
            _require(bool(self.csv), "data.csv must name a CSV file when data.series is 'csv'")
        if self.series == "dataset":
            _one_of("data.dataset", self.dataset, DATASETS)
        if self.series in WAVEFORMS:
            length = self.points_per_period * self.periods + 1
            _require(
                self.min_length + self.horizon <= length - 1,
                f"data.min_length + data.horizon must be <= {length - 1} (series of {length} values), "
                f"got {self.min_length + self.horizon}",
            )


@dataclass(frozen=True)
class ModelConfig:
    """The recurrent cell and its readout; names follow torch.nn.RNN's arguments."""

    # recurrent cell: "rnn" (Elman), "lstm" or "gru"
    cell: str = "rnn"
    # activation of the "rnn" cell: "tanh" or "relu" (ignored by lstm and gru)
    nonlinearity: str = "tanh"
    # features per time step; a univariate series has 1
    input_size: int = 1
    # units in each recurrent layer
    hidden_size: int = 4
    # stacked recurrent layers
    num_layers: int = 1
    # "unit": the prediction is the last hidden unit of the top layer (the seed's output[-1, :][-1]);
    # "linear": a Linear(hidden_size, 1) head on the top layer's hidden state
    readout: str = "unit"
    # dropout on the outputs of each recurrent layer but the last (torch's dropout; 0: none)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _strings("model.", self)
        _one_of("model.cell", self.cell, CELLS)
        _require(0 <= self.dropout < 1, f"model.dropout must be in [0, 1), got {self.dropout}")
        _one_of("model.nonlinearity", self.nonlinearity, NONLINEARITIES)
        _require(self.input_size == 1, f"model.input_size must be 1 (univariate series), got {self.input_size}")
        _between("model.hidden_size", self.hidden_size, 1, limits.HIDDEN_SIZE)
        _between("model.num_layers", self.num_layers, 1, limits.NUM_LAYERS)
        _one_of("model.readout", self.readout, READOUTS)


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop."""

    # optimizer steps; the seed draws one window per step (its num_epochs)
    steps: int = 20000
    # learning rate
    lr: float = 0.1
    # optimizer: "sgd" (plain, as the seed, or with momentum), "adam" or "adamw"
    optimizer: str = "sgd"
    # momentum of "sgd" (0: plain SGD, as the seed)
    momentum: float = 0.0
    # L2 penalty ("adamw": decoupled weight decay)
    weight_decay: float = 0.0
    # windows per optimizer step (the seed: 1); 0: every window of the training part at every step
    batch_size: int = 1
    # clip the gradient's global norm to this value (0: no clipping)
    clip_grad: float = 0.0
    # learning-rate schedule over the steps: "constant", "cosine" or "step"
    schedule: str = "constant"
    # early stopping: stop after this many evaluations without a better validation loss (0: off)
    patience: int = 0
    # steps between two validation losses (when the series has a validation part)
    val_every: int = 10
    # rollout training: the loss covers this many fed-back predictions (1: one step, as the seed)
    rollout: int = 1
    # loss between prediction and target: "mse"
    loss: str = "mse"
    # print a loss line every this many steps (the seed prints every 10)
    log_every: int = 10
    # training engine: "auto" (the compiled engine wherever it supports the config, except the
    # seed's own loop), "torch" (the reference) or "fast" (compiled with numba, CPU, float64)
    engine: str = "auto"
    # models trained from seeds seed, seed+1, ...; forecasts give their median and a 10-90 % band
    ensemble: int = 1
    # csv and dataset series: train the candidates of rnnlab.selection on the training part and
    # keep the one of least validation error (recorded with the run's metrics)
    select: bool = False

    def __post_init__(self) -> None:
        _strings("train.", self)
        _between("train.steps", self.steps, 1, limits.STEPS)
        _require(
            math.isfinite(self.lr) and self.lr > 0,
            f"train.lr must be a finite number > 0, got {self.lr}",
        )
        for name in ("lr", "weight_decay", "clip_grad"):
            _float32(f"train.{name}", getattr(self, name))
        _one_of("train.optimizer", self.optimizer, OPTIMIZERS)
        _require(0 <= self.momentum < 1, f"train.momentum must be in [0, 1), got {self.momentum}")
        _require(self.weight_decay >= 0, f"train.weight_decay must be >= 0, got {self.weight_decay}")
        _between("train.batch_size", self.batch_size, 0, limits.BATCH_SIZE)
        _require(self.clip_grad >= 0, f"train.clip_grad must be >= 0 (0: off), got {self.clip_grad}")
        _one_of("train.schedule", self.schedule, SCHEDULES)
        _at_least("train.patience", self.patience, 0)
        _at_least("train.val_every", self.val_every, 1)
        _between("train.rollout", self.rollout, 1, limits.ROLLOUT)
        _one_of("train.loss", self.loss, LOSSES)
        _at_least("train.log_every", self.log_every, 1)
        _one_of("train.engine", self.engine, ENGINES)
        _between("train.ensemble", self.ensemble, 1, limits.ENSEMBLE)


@dataclass(frozen=True)
class ForecastConfig:
    """What is generated after training."""

    # values generated by feeding each prediction back: the seed's num_to_be_generated
    steps: int = 10

    def __post_init__(self) -> None:
        _strings("forecast.", self)
        _between("forecast.steps", self.steps, 1, limits.FORECAST_STEPS)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run is rebuilt from."""

    # name of the preset this config started from
    preset: str = "seed"
    # seeds Python's random and torch once at the start; None draws one when training starts
    seed: int | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)

    def __post_init__(self) -> None:
        _strings("", self)
        if self.seed is not None:
            _require(0 <= self.seed < 2**63, f"seed must be in 0..2**63-1, got {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunConfig":
        return _build(cls, data, "")


# --- building dataclasses from plain data, with errors that name the key ----------------------


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}.get(
            tp.__name__, tp.__name__
        )
    return str(tp)


def _check_value(key: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        inner = [t for t in options if t is not type(None)]
        return _check_value(key, value, inner[0])
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - internal invariant: every field has a plain type
        raise AssertionError(f"unsupported config type {tp!r}")
    raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]!s}; expected one of {', '.join(sorted(names))}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _check_value(f"{prefix}{name}", value, tp)
    return cls(**kwargs)
