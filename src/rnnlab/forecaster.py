"""``Forecaster``: the automatic forecaster as a Python object, in the manner of the ecosystem.

    from rnnlab import Forecaster
    model = Forecaster(seed=1).fit(y)       # y: a pandas Series with a DatetimeIndex, or an array
    frame = model.predict(12)              # indexed by the future dates: forecast, low, high
    again = Forecaster.load(model.run_id)  # from the run store

``fit`` writes the series as a CSV file into the run store (``<runs>/inputs/``), so the stored run
can be reopened and forecast by every command, and trains the ``auto`` preset on it through the
same pipeline as ``rnnlab train`` (backtest, then refit on every value).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .optional import require


class Forecaster:
    """Train with ``fit``, forecast with ``predict``; every fit is a stored run (``run_id``)."""

    def __init__(self, preset: str = "auto", seed: int | None = None, runs_dir: str | Path | None = None,
                 **overrides: Any):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InputError(f"seed must be an integer or None, got {type(seed).__name__} {seed!r}")
        self.preset, self.seed, self.runs_dir, self.overrides = preset, seed, runs_dir, overrides
        self.run_id: str | None = None

    def _store(self):
        from .store import RunStore

        return RunStore(self.runs_dir)

    def fit(self, y) -> "Forecaster":
        """Fit on ``y``: a pandas Series (a DatetimeIndex gives dates and the season) or values."""
        pd = require("pandas", "Forecaster")
        from .pipeline import checked, train_and_store
        from .presets import resolve_config
        from .store import write_atomic

        try:
            series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y, dtype=np.float64))
        except (TypeError, ValueError):
            raise InputError(f"y must be a pandas Series or a sequence of numbers, got {type(y).__name__}") from None
        if series.ndim != 1 or len(series) < 3:
            raise InputError(f"y must hold at least 3 values in one dimension, got {len(series)}")
        dated = isinstance(series.index, pd.DatetimeIndex)
        store = self._store()
        inputs = store.root / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        path = inputs / f"{uuid.uuid4().hex[:12]}.csv"
        frame = pd.DataFrame({"time": series.index.strftime("%Y-%m-%d %H:%M:%S") if dated else range(len(series)),
                              "value": np.asarray(series, dtype=np.float64)})
        write_atomic(path, frame.to_csv(index=False))
        overrides = {"seed": self.seed, "data.csv": str(path.resolve()), "data.series": "csv",
                     "data.column": "value", "data.time_column": "time" if dated else "",
                     **{key.replace("__", "."): value for key, value in self.overrides.items()}}
        config = checked(resolve_config(self.preset, None, overrides))
        self.run_id = train_and_store(config, store).run_id
        return self

    def predict(self, h: int):
        """A DataFrame of the next ``h`` values: ``forecast``, and ``low``/``high`` (the 80 %
        interval, or the members' 10–90 % band), indexed by the future dates where known."""
        pd = require("pandas", "Forecaster")
        from .data import future_times
        from .runs import forecast_after_end

        if self.run_id is None:
            raise InputError("fit the Forecaster first (or Forecaster.load(run_id))")
        prepared, _, result = forecast_after_end(self._store().load(self.run_id), int(h))
        times = future_times(prepared.series, int(h))
        index = pd.DatetimeIndex(pd.to_datetime(times)) if times else pd.RangeIndex(len(prepared.series),
                                                                                     len(prepared.series) + int(h))
        columns = {"forecast": result.values}
        if result.low is not None:
            columns.update(low=result.low, high=result.high)
        return pd.DataFrame(columns, index=index)

    def save(self) -> str:
        """The run id under which the fit is stored (a fit is stored when it is made)."""
        if self.run_id is None:
            raise InputError("fit the Forecaster first")
        return self.run_id

    @classmethod
    def load(cls, run_id: str, runs_dir: str | Path | None = None) -> "Forecaster":
        """The Forecaster of a stored run."""
        forecaster = cls(runs_dir=runs_dir)
        store = forecaster._store()
        forecaster.run_id = store.load(store.latest() if run_id == "latest" else run_id).id
        return forecaster
