"""A group's results: every series' forecast in one long table, and the panel's evaluation.

The forecast of each run is the one ``rnnlab forecast RUN`` gives (``runs.forecast_after_end``:
past the end of its stored series, with its timestamps and its calibrated interval or members'
band). The evaluation reads the backtest each run stored when it was fitted: per series the
model's MASE over the test origins and seasonal naive's, their ratio, and over the series the
geometric mean of that ratio (below 1 beats seasonal naive), as the forecasting panel measures it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..store import RunStore
from . import groups


def group_runs(store: RunStore, name: str) -> dict[str, str] | None:
    """{series id: run id} when ``name`` names a group and no run; None otherwise."""
    if name == "latest" or not groups.NAME.match(name or "") or store.exists(name):
        return None
    groups.reconcile(store)
    found = groups.members(store, name)
    return {sid: entry["run_id"] for sid, entry in found.items()} or None


def forecast_rows(store: RunStore, runs: dict[str, str], steps: int) -> tuple[str, list[dict]]:
    """(time column name, rows of id, time, forecast, lower, upper) of every series' forecast."""
    from ..data import future_times
    from ..runs import forecast_after_end

    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    rows, time_name = [], None
    for sid, run_id in runs.items():
        run = store.load(run_id)
        name = (run.trained_config or run.config).data.time_column
        time_name = time_name or name
        prepared, _, result = forecast_after_end(run, steps)
        times = future_times(prepared.series, steps)
        for i, value in enumerate(result.values):
            low = None if result.low is None else float(result.low[i])
            high = None if result.high is None else float(result.high[i])
            rows.append({"id": sid, "time": times[i] if times else str(i + 1), "forecast": float(value),
                         "lower": low, "upper": high})
    return time_name or "step", rows


def forecast_csv(time_name: str, rows: list[dict]) -> str:
    """The long table as CSV text: id, the time column, forecast, lower, upper (empty without a band)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", time_name, "forecast", "lower", "upper"])
    for r in rows:
        writer.writerow([r["id"], r["time"], repr(r["forecast"]),
                         "" if r["lower"] is None else repr(r["lower"]), "" if r["upper"] is None else repr(r["upper"])])
    return out.getvalue()


def write_forecasts(path: Path, text: str) -> None:
    from ..store import write_atomic

    try:
        write_atomic(Path(path), text)
    except OSError as exc:
        raise InputError(f"--out {str(path)!r} cannot be written: {exc.strerror}") from None


def _mase(metrics: dict, method: str) -> float | None:
    try:
        value = metrics["test"]["methods"][method]["all_steps"]["mase"]
    except (KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def evaluation(store: RunStore, runs: dict[str, str]) -> dict:
    """Each series' stored backtest and the panel summary; see the module docstring."""
    rows = {row["id"]: row for row in store.list()}
    series, ratios = [], []
    for sid, run_id in runs.items():
        metrics = rows.get(run_id, {}).get("metrics") or {}
        model, seasonal = _mase(metrics, "model"), _mase(metrics, "seasonal_naive")
        naive = _mase(metrics, "naive")
        ratio = model / seasonal if model is not None and seasonal else None
        if ratio is not None and ratio > 0:
            ratios.append(ratio)
        test = metrics.get("test") if isinstance(metrics.get("test"), dict) else {}
        series.append({"id": sid, "run": run_id, "origins": test.get("origins"), "horizon": test.get("horizon"),
                       "mase": model, "naive_mase": naive, "seasonal_naive_mase": seasonal, "ratio": ratio})
    gm = float(np.exp(np.mean(np.log(ratios)))) if ratios else None
    return {"series": series, "summary": {"series": len(series), "scored": len(ratios),
                                          "geometric_mean_ratio_to_seasonal_naive": gm,
                                          "beats_seasonal_naive": sum(r < 1 for r in ratios)}}
