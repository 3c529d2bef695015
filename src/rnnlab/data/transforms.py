"""What the network sees of a real series: log, deseasonalised, scaled; and the way back.

A recorded series is rarely what a tanh cell should read directly. ``Transform`` chains, in this
order, each fitted on the values the model trains on:

1. ``log``: y -> log y, for a positive series whose swings grow with its level (multiplicative
   seasonality and trend become additive); or ``boxcox`` λ: y -> (y^λ − 1)/λ (λ by maximum
   likelihood, ``scipy.stats.boxcox``), the log at λ = 0;
2. ``seasonal``: minus the seasonal index of the position, s[t mod m], from a classical
   decomposition (centred moving average of one season, the mean detrended value of each phase,
   indices summing to 0); or from STL (``statsmodels.tsa.seasonal.STL``, robust): the fitted
   seasonal component itself over the values it was fitted on (``seasonal_path``, a pattern that
   may change from year to year) and its last season repeated after them;
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

TRANSFORMS = ("auto", "none", "log", "boxcox")
SEASONAL = ("auto", "none", "classical", "stl")


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


def stl_seasonal(values: np.ndarray, season: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """STL (robust) of ``values``: (the seasonal component at every position, the index of each
    phase k = position mod season taken from the last season). ((), ()) when the season is 1 or
    fewer than two seasons (+1) are given."""
    from statsmodels.tsa.seasonal import STL

    x = np.asarray(values, dtype=np.float64)
    m = int(season)
    if m <= 1 or len(x) < 2 * m + 1:
        return (), ()
    component = np.asarray(STL(x, period=m, robust=True).fit().seasonal, dtype=np.float64)
    n = len(x)
    indices = np.empty(m)
    indices[np.arange(n - m, n) % m] = component[n - m :]  # the last season, by phase
    return tuple(float(v) for v in component), tuple(float(v) for v in indices)


def boxcox_lambda(values: np.ndarray) -> float:
    """λ of the Box–Cox transform by maximum likelihood (``scipy.stats.boxcox``), kept in [−1, 2]."""
    from scipy import stats

    return float(np.clip(stats.boxcox(np.asarray(values, dtype=np.float64))[1], -1.0, 2.0))


@dataclass(frozen=True)
class Transform:
    """log (or Box–Cox), then minus the seasonal index, then the scaler; see the module docstring."""

    log: bool = False
    seasonal: tuple[float, ...] = ()  # additive seasonal indices by position mod len (after the log)
    scaler: Scaler = Scaler()
    boxcox: float | None = None  # λ of a Box–Cox transform (instead of the log), or None
    seasonal_path: tuple[float, ...] = ()  # STL: the seasonal component at positions 0, 1, … it was fitted on

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
        return not self.log and self.boxcox is None and not self.seasonal and self.scaler.kind == "none"

    @property
    def power(self) -> str:
        """The power transform in words: "log", "Box-Cox λ=…" or "none"."""
        return "log" if self.log else "none" if self.boxcox is None else f"Box-Cox λ={self.boxcox:.3g}"

    def _season(self, count: int, start) -> np.ndarray:
        """The seasonal index of ``count`` positions from ``start`` (an int, or one per row): the
        STL component where it was fitted, the index of the phase elsewhere."""
        m = len(self.seasonal)
        start = np.asarray(start)
        positions = (start[..., None] if start.ndim else start) + np.arange(count)
        out = np.asarray(self.seasonal)[positions % m]
        if self.seasonal_path:
            path = np.asarray(self.seasonal_path)
            fitted = (positions >= 0) & (positions < len(path))
            out = np.where(fitted, path[np.clip(positions, 0, len(path) - 1)], out)
        return out

    def _power(self, x: np.ndarray) -> np.ndarray:
        if self.log or self.boxcox is not None:
            if np.any(x <= 0):
                raise InputError(f"the run takes the {self.power} of its values; got a value <= 0 ({float(np.min(x)):g})")
        if self.log or self.boxcox == 0:
            return np.log(x)
        if self.boxcox is not None:
            return (x**self.boxcox - 1) / self.boxcox
        return x

    def _unpower(self, x: np.ndarray) -> np.ndarray:
        if self.log or self.boxcox == 0:
            return np.exp(x)
        if self.boxcox is not None:  # a value below the transform's range maps to its lower end, 0
            base = np.maximum(self.boxcox * x + 1, 0.0)
            return base ** (1 / self.boxcox) if self.boxcox > 0 else np.where(base > 0, base, np.inf) ** (1 / self.boxcox)
        return x

    def transform(self, values, start: int = 0) -> np.ndarray:
        """Series units -> what the network reads; values[..., 0] sits at position ``start``."""
        x = self._power(np.asarray(values, dtype=np.float64))
        if self.seasonal:
            x = x - self._season(x.shape[-1], start)
        return self.scaler.transform(x)

    def inverse(self, values, start: int = 0) -> np.ndarray:
        """What the network outputs -> series units; values[..., 0] sits at position ``start``."""
        x = self.scaler.inverse(values)
        if self.seasonal:
            x = x + self._season(x.shape[-1], start)
        return self._unpower(x)

    def to_dict(self) -> dict[str, Any]:
        out = {"log": self.log, "seasonal": list(self.seasonal), "scaling": self.scaler.to_dict()}
        if self.boxcox is not None:
            out["boxcox"] = self.boxcox
        if self.seasonal_path:
            out["seasonal_path"] = list(self.seasonal_path)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, scaling: Mapping[str, Any] | None = None) -> "Transform":
        """From ``to_dict``'s output; a run stored before transforms existed has only its scaling."""
        if not data:
            return cls(scaler=Scaler.from_dict(scaling))
        try:
            seasonal = tuple(float(v) for v in data.get("seasonal", ()))
            path = tuple(float(v) for v in data.get("seasonal_path", ()))
            log = data.get("log", False)
            boxcox = None if data.get("boxcox") is None else float(data["boxcox"])
        except (TypeError, ValueError, AttributeError) as exc:
            raise RunCorruptError(f"stored transform {str(data)[:200]} is not valid: {exc}") from None
        if (not isinstance(log, bool) or not all(np.isfinite(seasonal + path)) or (path and not seasonal)
                or (boxcox is not None and (log or not np.isfinite(boxcox)))):
            raise RunCorruptError(f"stored transform {str(dict(data))[:200]} is not valid")
        return cls(log, seasonal, Scaler.from_dict(data.get("scaling", scaling)), boxcox, path)


def fit_transform(values: np.ndarray, transform: str, seasonal: str, season: int, recorded: bool) -> Transform:
    """The power and seasonal parts fitted on ``values`` (the training values; the scaler comes
    after, fitted on what these leave). ``auto``: the log for a positive recorded series, the
    classical seasonal indices for a recorded series with a season and two of them to fit on."""
    x = np.asarray(values, dtype=np.float64)
    log = transform == "log" or (transform == "auto" and recorded and bool(np.all(x > 0)))
    if (log or transform == "boxcox") and np.any(x <= 0):
        raise InputError(f"data.transform = {transform!r} needs values > 0; the training part holds {float(np.min(x)):g}")
    boxcox = boxcox_lambda(x) if transform == "boxcox" else None
    power = Transform(log=log, boxcox=boxcox)
    x = power.transform(x)
    if seasonal == "stl":
        path, indices = stl_seasonal(x, season)
        return Transform(log, indices, boxcox=boxcox, seasonal_path=path)
    indices: tuple[float, ...] = ()
    if seasonal == "classical" or (seasonal == "auto" and recorded):
        indices = seasonal_indices(x, season)
    return Transform(log, indices, boxcox=boxcox)
