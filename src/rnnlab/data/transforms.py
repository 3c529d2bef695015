"""What the network sees of a real series: log, deseasonalised, scaled; and the way back.

A recorded series is rarely what a tanh cell should read directly. ``Transform`` chains, in this
order, each fitted on the values the model trains on:

1. ``log``: y -> log y, for a positive series whose swings grow with its level (multiplicative
   seasonality and trend become additive);
2. ``seasonal``: minus the seasonal index of the position, s[t mod m], from a classical
   decomposition (centred moving average of one season, the mean detrended value of each phase,
   indices summing to 0);
3. ``scaler``: the affine ``Scaler`` (none, standard, minmax, or ``changes``: divided by the
   standard deviation of one-step changes, for windows read relative to their last value).

``forward(values, start)`` and ``inverse(values, start)`` take the absolute position of
``values[0]`` in the series, so the seasonal index of every value is the right one, also for
forecasts past the series' end. ``inverse(forward(x, s), s) == x`` to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import InputError, RunCorruptError
from .scaling import Scaler

TRANSFORMS = ("auto", "none", "log")
SEASONAL = ("auto", "none", "classical")


def seasonal_indices(values: np.ndarray, season: int) -> tuple[float, ...]:
    """Classical additive decomposition: for each phase k of the season, the mean of
    (value − centred moving average of one season) over the positions t ≡ k (mod season),
    centred to sum to 0. () when the season is 1 or fewer than two seasons (+1) are given."""
    x = np.asarray(values, dtype=np.float64)
    m = int(season)
    if m <= 1 or len(x) < 2 * m + 1:
        return ()
    # a 2×m moving average for an even season (half weights at both ends), m for an odd one
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.convolve(x, weights, mode="valid")  # centred at positions half .. half + len - 1
    half = (len(weights) - 1) // 2
    detrended = x[half : half + len(trend)] - trend
    phase = (np.arange(len(detrended)) + half) % m
    indices = np.array([detrended[phase == k].mean() for k in range(m)])
    return tuple(float(v) for v in indices - indices.mean())


@dataclass(frozen=True)
class Transform:
    """log, then minus the seasonal index, then the scaler; see the module docstring."""

    log: bool = False
    seasonal: tuple[float, ...] = ()  # additive seasonal indices by position mod len (after the log)
    scaler: Scaler = Scaler()

    # the Scaler's fields, so a Transform stands wherever a Scaler did
    @property
    def kind(self) -> str:
        return self.scaler.kind

    @property
    def offset(self) -> float:
        return self.scaler.offset

    @property
    def scale(self) -> float:
        return self.scaler.scale

    @property
    def identity(self) -> bool:
        return not self.log and not self.seasonal and self.scaler.kind == "none"

    def _season(self, count: int, start) -> np.ndarray:
        """The seasonal index of ``count`` positions from ``start`` (an int, or one per row)."""
        m = len(self.seasonal)
        start = np.asarray(start)
        positions = (start[..., None] if start.ndim else start) + np.arange(count)
        return np.asarray(self.seasonal)[positions % m]

    def transform(self, values, start: int = 0) -> np.ndarray:
        """Series units -> what the network reads; values[..., 0] sits at position ``start``."""
        x = np.asarray(values, dtype=np.float64)
        if self.log:
            if np.any(x <= 0):
                raise InputError(f"the run takes the log of its values; got a value <= 0 ({float(np.min(x)):g})")
            x = np.log(x)
        if self.seasonal:
            x = x - self._season(x.shape[-1], start)
        return self.scaler.transform(x)

    def inverse(self, values, start: int = 0) -> np.ndarray:
        """What the network outputs -> series units; values[..., 0] sits at position ``start``."""
        x = self.scaler.inverse(values)
        if self.seasonal:
            x = x + self._season(x.shape[-1], start)
        return np.exp(x) if self.log else x

    def to_dict(self) -> dict[str, Any]:
        return {"log": self.log, "seasonal": list(self.seasonal), "scaling": self.scaler.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, scaling: Mapping[str, Any] | None = None) -> "Transform":
        """From ``to_dict``'s output; a run stored before transforms existed has only its scaling."""
        if not data:
            return cls(scaler=Scaler.from_dict(scaling))
        try:
            seasonal = tuple(float(v) for v in data.get("seasonal", ()))
            log = data.get("log", False)
        except (TypeError, ValueError, AttributeError) as exc:
            raise RunCorruptError(f"stored transform {data!r} is not valid: {exc}") from None
        if not isinstance(log, bool) or not all(np.isfinite(seasonal)):
            raise RunCorruptError(f"stored transform {dict(data)!r} is not valid")
        return cls(log, seasonal, Scaler.from_dict(data.get("scaling", scaling)))


def fit_transform(values: np.ndarray, transform: str, seasonal: str, season: int, recorded: bool) -> Transform:
    """The log and seasonal parts fitted on ``values`` (the training values; the scaler comes
    after, fitted on what these leave). ``auto``: the log for a positive recorded series, the
    classical seasonal indices for a recorded series with a season and two of them to fit on."""
    x = np.asarray(values, dtype=np.float64)
    log = transform == "log" or (transform == "auto" and recorded and bool(np.all(x > 0)))
    if log and np.any(x <= 0):
        raise InputError(f"data.transform = 'log' needs values > 0; the training part holds {float(np.min(x)):g}")
    if log:
        x = np.log(x)
    indices: tuple[float, ...] = ()
    if seasonal == "classical" or (seasonal == "auto" and recorded):
        indices = seasonal_indices(x, season)
    return Transform(log, indices)
