"""Limits on every input: sizes no real use reaches, refused early with a one-line error.

Each limit names what it bounds; ``--help`` and docs/run-store.md quote them. A value past one is
a ``ConfigError`` (a config field) or an ``InputError`` (a file, a flag of one command) whose
message names the value and the limit, e.g. ``"model.hidden_size must be <= 1024, got 100000"``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import InputError

HIDDEN_SIZE = 1024  # units per recurrent layer
NUM_LAYERS = 4  # stacked recurrent layers
ENSEMBLE = 10_000  # members of one run (the benchmark trains 1,024; a member of the seed size is 25 weights)
STEPS = 10_000_000  # training steps
BATCH_SIZE = 1_000_000  # windows per step
ROLLOUT = 10_000  # fed-back predictions in the loss
POINTS_PER_PERIOD = 1_000_000  # samples per waveform period
PERIODS = 1_000_000  # waveform periods
SERIES_LENGTH = 10_000_000  # values of a waveform series (points_per_period * periods + 1)
CONTEXT_LENGTH = 100_000  # values of a fixed context
HORIZON = 100_000  # values scored after each test origin
SEASON = 100_000  # season length
FORECAST_STEPS = 100_000  # values one forecast generates
CSV_BYTES = 200_000_000  # bytes of a CSV file
CSV_ROWS = 5_000_000  # rows of a CSV file
CONFIG_BYTES = 1_000_000  # bytes of a config file
STRING = 4096  # characters of a string in a config (paths, column names, components)
COMPONENTS = 64  # "multiple:amplitude" pairs of the sines waveform
NAME = 200  # characters of a run's name
FLOAT32_MAX = 3.4028234663852886e38  # the largest float32: the model computes in float32
STRIDE = 1_000_000  # backtest stride

LIMITS = {
    "model.hidden_size": HIDDEN_SIZE, "model.num_layers": NUM_LAYERS, "train.ensemble": ENSEMBLE,
    "train.steps": STEPS, "train.batch_size": BATCH_SIZE, "train.rollout": ROLLOUT,
    "data.points_per_period": POINTS_PER_PERIOD, "data.periods": PERIODS, "series length": SERIES_LENGTH,
    "data.context_length": CONTEXT_LENGTH, "data.horizon": HORIZON, "data.season": SEASON,
    "forecast.steps": FORECAST_STEPS, "CSV bytes": CSV_BYTES, "CSV rows": CSV_ROWS,
    "config file bytes": CONFIG_BYTES, "string characters": STRING, "data.components pairs": COMPONENTS,
    "run name characters": NAME, "evaluate --stride": STRIDE, "numbers (float32)": FLOAT32_MAX,
}


def regular_file(path: str | Path, what: str, max_bytes: int) -> Path:
    """``path`` when it is a regular file of at most ``max_bytes``; a FIFO, a device or a directory
    is refused at once (reading one would block or never end)."""
    file = Path(path)
    try:
        info = os.stat(file)
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{what} {str(path)!r} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{what} {str(path)!r} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{what} {str(path)!r} is not a regular file (a pipe, socket or device); give a file")
    if info.st_size > max_bytes:
        raise InputError(f"{what} {str(path)!r} holds {info.st_size} bytes; the limit is {max_bytes}")
    return file


def read_limited(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see ``regular_file``); opened without
    blocking and checked again once open, so a file swapped for a FIFO meanwhile is refused too."""
    file = regular_file(path, what, max_bytes)
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"{what} {str(path)!r} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{what} {str(path)!r} is not a regular file (a pipe, socket or device); give a file")
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"{what} {str(path)!r} cannot be read: {exc.strerror}") from None
    if len(data) > max_bytes:  # it grew since the check
        raise InputError(f"{what} {str(path)!r} holds more than {max_bytes} bytes; the limit is {max_bytes}")
    return data
