"""The transforms of a real series: round trips, seasonal indices, the season from the dates, and a
run that stores its transforms and forecasts the same numbers after reloading."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.config import DataConfig
from rnnlab.data import Scaler, prepare
from rnnlab.data.prepared import season_of_frequency
from rnnlab.data.transforms import Transform, fit_transform, seasonal_indices
from rnnlab.errors import InputError


def monthly_csv(tmp_path, values, start="2000-01-01"):
    import pandas as pd

    dates = pd.date_range(start, periods=len(values), freq="MS")
    path = tmp_path / "monthly.csv"
    path.write_text("month,value\n" + "".join(f"{d.date()},{float(v)!r}\n" for d, v in zip(dates, values)))
    return str(path)


def seasonal_series(n=96, m=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 * np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / m) + 0.02 * rng.normal(size=n))


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("kind", ["none", "standard", "minmax", "changes"])
@pytest.mark.parametrize("start", [0, 5, 17])
def test_transforms_round_trip(log, kind, start):
    from rnnlab.data import fit_scaler

    values = seasonal_series()
    base = fit_transform(values, "log" if log else "none", "classical", 12, recorded=True)
    scaler = fit_scaler(kind, base.transform(values)) if kind != "none" else Scaler()
    transform = Transform(base.log, base.seasonal, scaler)
    window = values[start : start + 30]
    np.testing.assert_allclose(transform.inverse(transform.transform(window, start), start), window, rtol=1e-12)
    # one start per row: the seasonal index of each row's own positions
    rows = np.stack([values[s : s + 6] for s in (3, 40)])
    np.testing.assert_allclose(transform.inverse(transform.transform(rows, np.array([3, 40])), np.array([3, 40])),
                               rows, rtol=1e-12)
    assert Transform.from_dict(transform.to_dict()) == transform


@pytest.mark.parametrize("power", ["none", "log", "boxcox"])
@pytest.mark.parametrize("seasonal", ["none", "classical", "stl"])
@pytest.mark.parametrize("start", [0, 7, 90])  # 90: past the values STL was fitted on
def test_power_and_seasonal_transforms_round_trip(power, seasonal, start):
    from rnnlab.data import fit_scaler

    values = seasonal_series(120)
    base = fit_transform(values[:96], power, seasonal, 12, recorded=True)
    transform = Transform(base.log, base.seasonal, fit_scaler("changes", base.transform(values[:96])), base.boxcox,
                          base.seasonal_path)
    window = values[start : start + 30]
    np.testing.assert_allclose(transform.inverse(transform.transform(window, start), start), window, rtol=1e-12)
    rows = np.stack([values[s : s + 12] for s in (2, 91)])  # one start per row, inside and past the fit
    starts = np.array([2, 91])
    np.testing.assert_allclose(transform.inverse(transform.transform(rows, starts), starts), rows, rtol=1e-12)
    assert Transform.from_dict(transform.to_dict()) == transform
    assert (transform.boxcox is not None) == (power == "boxcox") and transform.log == (power == "log")
    assert bool(transform.seasonal_path) == (seasonal == "stl")


def test_boxcox_is_the_power_law_with_the_likelihood_lambda():
    from scipy import stats

    values = seasonal_series(96)
    transform = fit_transform(values, "boxcox", "none", 12, recorded=True)
    expected = stats.boxcox(values)[1]
    assert transform.boxcox == pytest.approx(float(np.clip(expected, -1, 2)))
    lam = transform.boxcox
    np.testing.assert_allclose(transform.transform(values), (values**lam - 1) / lam, rtol=1e-12)
    assert "Box-Cox" in transform.power
    with pytest.raises(InputError, match=r"'boxcox' needs values > 0; the training part holds -1"):
        fit_transform(np.r_[values, -1.0], "boxcox", "none", 12, recorded=True)


def test_stl_follows_a_changing_season_and_repeats_its_last_one():
    t = np.arange(96)
    amplitude = 1 + t / 48  # the season's swing triples over the series
    values = 50 + amplitude * np.sin(2 * np.pi * t / 12)
    stl = fit_transform(values, "none", "stl", 12, recorded=True)
    classical = fit_transform(values, "none", "classical", 12, recorded=True)
    last = slice(84, 96)
    # STL's component tracks the late, wide swings; fixed classical indices average them away
    stl_error = np.abs(stl.transform(values)[last] - 50).max()
    classical_error = np.abs(classical.transform(values)[last] - 50).max()
    assert stl_error < 0.5 * classical_error
    # after the fitted values: the last season's component, phase by phase
    np.testing.assert_allclose(stl._season(12, 96), np.asarray(stl.seasonal_path[84:96]), atol=0)
    np.testing.assert_allclose(stl._season(24, 96)[12:], np.asarray(stl.seasonal_path[84:96]), atol=0)


def test_a_damaged_stored_transform_is_refused():
    from rnnlab.errors import RunCorruptError

    with pytest.raises(RunCorruptError, match="stored transform"):
        Transform.from_dict({"log": True, "boxcox": 0.5, "seasonal": []})
    with pytest.raises(RunCorruptError, match="stored transform"):
        Transform.from_dict({"log": False, "seasonal": [], "seasonal_path": [1.0, 2.0]})


def test_seasonal_indices_recover_a_pure_season():
    pattern = np.array([3.0, -1.0, 0.5, -2.5])
    values = 10 + np.tile(pattern, 6)
    np.testing.assert_allclose(seasonal_indices(values, 4), pattern - pattern.mean(), atol=1e-12)
    assert seasonal_indices(values[:8], 4) == ()  # fewer than two seasons and one value


@pytest.mark.parametrize("frequency,season", [("MS", 12), ("ME", 12), ("QS-OCT", 4), ("Q-DEC", 4), ("W-SAT", 52),
                                              ("D", 7), ("h", 24), ("YS-JAN", 1), ("A-DEC", 1), (None, None)])
def test_season_from_the_frequency(frequency, season):
    assert season_of_frequency(frequency) == season


def test_prepare_takes_the_season_from_the_dates(tmp_path):
    # white noise: the autocorrelation would find no season, the dates say monthly
    values = list(10 + np.random.default_rng(1).normal(size=60))
    prepared = prepare(DataConfig(series="csv", csv=monthly_csv(tmp_path, values), time_column="month"))
    assert prepared.season == 12


def test_the_log_needs_positive_values(tmp_path):
    values = [1.0 + (i % 5) for i in range(40)] + [-1.0]
    with pytest.raises(InputError, match=r"holds -1 after it: the log transform cannot read it"):
        prepare(DataConfig(series="csv", csv=monthly_csv(tmp_path, values), time_column="month", transform="auto"))


def test_level_last_needs_fixed_contexts(tmp_path):
    values = list(seasonal_series(40))
    with pytest.raises(InputError, match=r"data.level = 'last'.*data.context_length > 0"):
        prepare(DataConfig(series="csv", csv=monthly_csv(tmp_path, values), context_length=0, level="last"))


def test_an_auto_run_refits_stores_its_transforms_and_forecasts_the_same_after_reloading(tmp_path, cli, runs_dir):
    import json

    path = monthly_csv(tmp_path, list(seasonal_series(96)))
    code, out, err = cli("train", "--csv", path, "--column", "value", "--time-column", "month", "--steps", "20",
                         "--ensemble", "2", "--seed", "3", "--quiet", "--json")
    assert code == 0, err
    summary = json.loads(out)
    from rnnlab.store import RunStore

    run = RunStore(runs_dir).load(summary["id"])
    assert run.config.preset == "auto" and run.info["backtest"]["test_fraction"] is None
    data = run.info["data"]
    assert data["split"]["train_end"] == 96  # the stored model trained on every value
    assert data["transform"]["log"] is True and len(data["transform"]["seasonal"]) == 12
    assert data["level"] == "last" and data["scaling"]["kind"] == "changes"
    test = run.metrics["test"]
    assert not {"ets", "arima"} & set(test["methods"]) and test["season"] == 12  # evaluate adds them
    assert test["interval"]["coverage"] is not None and 0 <= test["interval"]["coverage"] <= 1
    code, out, err = cli("forecast", "latest", "--steps", "12", "--json")
    first = json.loads(out)
    code, out, err = cli("forecast", summary["id"], "--steps", "12", "--json")
    again = json.loads(out)
    assert first["forecast"] == again["forecast"] and len(first["forecast"]) == 12
    low, high = np.array(first["interval"]["low"]), np.array(first["interval"]["high"])
    assert np.all(low <= np.array(first["forecast"])) and np.all(np.array(first["forecast"]) <= high)
    assert first["times"][0] == "2008-01-01"
    # the same numbers by hand: the stored transforms and relative contexts around the models' median
    from rnnlab.forecasting import forecast
    from rnnlab.runs import run_scaler

    transform = run_scaler(run)
    values = seasonal_series(96)
    n = data["context_length"]
    fed = transform.transform(values[-n:], 96 - n)
    median = np.median([forecast(m, fed, 12, relative=True) for m in run.members], axis=0)
    np.testing.assert_allclose(transform.inverse(median, 96), first["forecast"], rtol=1e-12)


def test_evaluate_of_a_refitted_run_shows_its_stored_backtest(tmp_path, cli, runs_dir):
    path = monthly_csv(tmp_path, list(seasonal_series(72)))
    code, out, err = cli("train", "--csv", path, "--column", "value", "--time-column", "month", "--steps", "10",
                         "--ensemble", "1", "--seed", "1", "--quiet")
    assert code == 0, err
    code, out, err = cli("evaluate", "latest")
    assert code == 0, err
    assert "ETS (statsmodels)" in out and "ARIMA (statsmodels)" in out and "refitted on every value" in err
    code, out, err = cli("evaluate", "latest", "--stride", "2")
    assert code == 2 and "--no-refit" in err


def test_the_forecaster_api_fits_predicts_and_loads(tmp_path):
    import pandas as pd

    from rnnlab import Forecaster

    values = seasonal_series(72)
    y = pd.Series(values, index=pd.date_range("2001-01-01", periods=72, freq="MS"))
    model = Forecaster(seed=2, runs_dir=tmp_path / "runs", train__steps=10, train__ensemble=1).fit(y)
    frame = model.predict(6)
    assert list(frame.index.strftime("%Y-%m-%d")) == [f"2007-{m:02d}-01" for m in range(1, 7)]
    assert "forecast" in frame and np.isfinite(frame["forecast"]).all()
    again = Forecaster.load(model.save(), runs_dir=tmp_path / "runs").predict(6)
    np.testing.assert_array_equal(again["forecast"].to_numpy(), frame["forecast"].to_numpy())
