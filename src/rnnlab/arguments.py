"""The arguments of the public functions, checked where a caller's values come in.

``rnnlab.train``, ``rnnlab.forecast`` and the other functions of ``rnnlab.__all__`` are the
functions of their modules, each behind ``checked``: a wrong type or value is a one-line
``ConfigError`` or ``InputError`` naming the argument, the value and what was expected, never a
bare ``TypeError`` or ``AttributeError`` from deep inside. The library's own callers (the
command line, the web page) use the unwrapped functions, whose inputs are checked already.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Any, Callable

from . import limits
from .errors import ConfigError, InputError


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _instance(kind: str) -> Callable[[str, Any], None]:
    """A check that the argument is an instance of ``rnnlab.<module>.<class>`` (imported when
    the check runs, so that importing rnnlab stays cheap)."""
    module, _, name = kind.rpartition(".")

    def check(argument: str, value: Any) -> None:
        import importlib

        cls = getattr(importlib.import_module(f"rnnlab.{module}"), name)
        if not isinstance(value, cls):
            error = ConfigError if name.endswith("Config") else InputError
            raise error(f"{argument} must be a {name}, got {type(value).__name__} {_short(value)}")

    return check


def _integer(low: int, high: int) -> Callable[[str, Any], None]:
    def check(argument: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputError(f"{argument} must be an integer, got {type(value).__name__} {_short(value)}")
        if not low <= value <= high:
            raise InputError(f"{argument} must be between {low} and {high:,}, got {value}")

    return check


def _number(argument: str, value: Any) -> None:
    """A finite real number within float32, where the model computes."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{argument} must be a number, got {type(value).__name__} {_short(value)}")
    if not math.isfinite(float(value)) or abs(float(value)) > limits.FLOAT32_MAX:
        raise InputError(f"{argument} must be a finite number within float32 (|x| <= 3.4e38), got {value!r}")


def _context(argument: str, value: Any) -> None:
    """1..CONTEXT_LENGTH finite numbers within float32: a list, a tuple or a 1-d array."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        raise InputError(f"{argument} must be a sequence of numbers, got {type(value).__name__} {_short(value)}")
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) != 1:
        raise InputError(f"{argument} must be one-dimensional, got shape {tuple(shape)}")
    if not 1 <= len(value) <= limits.CONTEXT_LENGTH:
        raise InputError(f"{argument} must hold 1 to {limits.CONTEXT_LENGTH:,} values, got {len(value):,}")
    for position, item in enumerate(value):
        try:
            _number(f"{argument}[{position}]", item)
        except InputError as exc:  # numpy scalars are numbers.Real; a None or a string is not
            raise InputError(str(exc)) from None


def _callable_or_none(argument: str, value: Any) -> None:
    if value is not None and not callable(value):
        raise InputError(f"{argument} must be a function or None, got {type(value).__name__} {_short(value)}")


def _models(argument: str, value: Any) -> None:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InputError(f"{argument} must be a sequence of SequenceModel, got {type(value).__name__}")
    model = _instance("model.SequenceModel")
    for position, item in enumerate(value):
        model(f"{argument}[{position}]", item)


def _mapping_or_none(argument: str, value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise InputError(f"{argument} must be a dict or None, got {type(value).__name__} {_short(value)}")


_MODEL, _DATA, _CONFIG = _instance("model.SequenceModel"), _instance("config.DataConfig"), _instance("config.RunConfig")
_STEPS = _integer(1, limits.FORECAST_STEPS)

# function name -> {parameter: check}; a parameter left out is checked by the function itself
CHECKS: dict[str, dict[str, Callable[[str, Any], None]]] = {
    "train": {"config": _CONFIG, "on_step": _callable_or_none, "should_stop": _callable_or_none},
    "forecast": {"model": _MODEL, "context": _context, "steps": _STEPS},
    "forecast_rerun": {"model": _MODEL, "context": _context, "steps": _integer(1, 10_000)},
    "evaluate_seed_task": {"model": _MODEL, "data": _DATA, "steps": _STEPS},
    "evaluate_run": {"model": _MODEL, "config": _CONFIG, "stored": _mapping_or_none,
                     "stride": _integer(1, limits.STRIDE), "ar_order": _integer(0, 100), "members": _models},
    "series_values": {"data": _DATA},
    "load_series": {"data": _DATA},
    "prepare": {"data": _DATA, "targets": _integer(1, limits.ROLLOUT)},
    "explain_forward": {"model": _MODEL, "context": _context, "ahead": _integer(0, 10_000)},
    "explain_backward": {"model": _MODEL, "context": _context, "target": _number, "lr": _number,
                         "weight_decay": _number},
}


def checked(name: str, function: Callable) -> Callable:
    """``function`` with its arguments checked by ``CHECKS[name]`` first (the same signature,
    docstring and name; ``__wrapped__`` is the function itself)."""
    checks = CHECKS.get(name)
    if not checks:
        return function
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InputError(f"{name}(): {exc}") from None
        for argument, check in checks.items():
            if argument in bound.arguments:
                check(argument, bound.arguments[argument])
        return function(*args, **kwargs)

    return wrapper
