"""The automatic forecaster: the choice by validation error, the refit on every value, the
interval's calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.config import DataConfig
from rnnlab.data import prepare
from rnnlab.evaluate.intervals import calibrate_interval
from rnnlab.presets import apply_overrides, preset
from rnnlab.selection import select, selection_lines, validation_score


def yearly_csv(tmp_path, values, name="trend.csv"):
    path = tmp_path / name
    path.write_text("year,value\n" + "".join(f"{2000 + i}-01-01,{float(v)!r}\n" for i, v in enumerate(values)))
    return str(path)


def trend(n=60, seed=0):
    """A steady rise with a little noise: its later values lie above every training value."""
    rng = np.random.default_rng(seed)
    return 10.0 + 0.5 * np.arange(n) + 0.3 * rng.normal(size=n)


def auto_config(path, **overrides):
    base = {"data.series": "csv", "data.csv": path, "data.column": "value", "data.time_column": "year",
            "data.horizon": 6, "data.transform": "none", "seed": 1, "train.steps": 60, "train.ensemble": 1}
    base.update(overrides)
    return apply_overrides(preset("auto"), base)


# a series whose validation part leaves the training range: only windows read relative to their
# last value can follow it, so the choice must fall on them
LEVELS = (("absolute", {"data.level": "none", "data.scaling": "minmax"}),
          ("relative", {"data.level": "last", "data.scaling": "auto"}))


def test_the_choice_keeps_the_candidate_of_lower_validation_error(tmp_path):
    config = auto_config(yearly_csv(tmp_path, trend()))
    chosen = select(config, candidates=LEVELS)
    scores = {c["name"]: c["score"] for c in chosen.candidates}
    assert chosen.chosen == "relative" and scores["relative"] < scores["absolute"]
    assert chosen.config.data.level == "last" and chosen.result.config.data.level == "last"
    # deterministic for a seed: the same scores again
    again = select(config, candidates=LEVELS)
    assert [c["score"] for c in again.candidates] == [c["score"] for c in chosen.candidates]
    lines = selection_lines(chosen.to_dict())
    assert any("relative" in line and "chosen" in line for line in lines)


def test_the_validation_score_by_hand(tmp_path):
    from rnnlab.forecasting import forecast
    from rnnlab.training import train

    values = trend(50)
    config = auto_config(yearly_csv(tmp_path, values), **{"train.steps": 20})
    result = train(config)
    prepared = prepare(config.data, config.train.rollout)
    split, n = prepared.split, prepared.context_length
    errors = []
    for origin in range(split.train_end, split.val_end):  # every origin of the validation part
        fed = prepared.scaler.transform(values[origin - n : origin], origin - n)
        out = prepared.scaler.inverse(forecast(result.model, fed, 6, relative=True), origin)
        steps = min(6, split.val_end - origin)  # scored only where the truth lies inside the part
        errors += list(np.abs(out[:steps] - values[origin : origin + steps]))
    scale = np.mean(np.abs(np.diff(values[: split.train_end])))
    assert validation_score(result, config) == pytest.approx(np.mean(errors) / scale, rel=1e-6)  # float32 models


def test_candidates_that_come_out_the_same_are_trained_once(tmp_path):
    config = auto_config(yearly_csv(tmp_path, trend(40)), **{"train.steps": 10})
    chosen = select(config)  # a yearly series has no season: classical and STL are both nothing
    notes = {c["name"]: c for c in chosen.candidates}
    assert notes["stl"]["score"] is None and "the same as 'classical'" in notes["stl"]["note"]
    assert notes["classical"]["score"] is not None


def test_an_auto_run_records_its_choice_and_refits_on_every_value(tmp_path, cli, runs_dir):
    from rnnlab.store import RunStore

    values = trend(48)
    code, out, err = cli("train", "--csv", yearly_csv(tmp_path, values), "--column", "value", "--time-column",
                         "year", "--steps", "15", "--ensemble", "1", "--seed", "2", "--quiet", "--json")
    assert code == 0, err
    run = RunStore(runs_dir).load(json.loads(out)["id"])
    selection = run.metrics["selection"]
    scored = [c for c in selection["candidates"] if c["score"] is not None]
    best = min(scored, key=lambda c: c["score"])
    assert selection["chosen"] == best["name"]
    assert run.config.train.lr == best["set"]["train.lr"]  # the run's config is the kept candidate's
    assert run.info["data"]["split"] == {"train_end": 48, "val_end": 48, "length": 48}  # refitted on every value
    assert "ets" not in run.metrics["test"]["methods"]  # left to evaluate
    code, out, err = cli("evaluate", "latest")
    assert code == 0, err
    assert "automatic choice" in out and "<- chosen" in out and "ETS (statsmodels)" in out
    assert "ets" in RunStore(runs_dir).load(run.id).metrics["test"]["methods"]  # stored for next time
    code, out, err = cli("explain", "latest", "--window", "30:38")
    assert code == 0, err
    assert "the network sees transformed values" in err and "less the context's last value" in err


def test_the_network_view_inverts_to_the_forecast(tmp_path, cli, runs_dir):
    from rnnlab.predict import forecast_batch
    from rnnlab.runs import network_view
    from rnnlab.store import RunStore

    values = 100 * np.exp(0.01 * np.arange(60))
    code, out, err = cli("train", "--csv", yearly_csv(tmp_path, values), "--column", "value", "--time-column",
                         "year", "--steps", "10", "--ensemble", "1", "--seed", "1", "--quiet", "--json")
    assert code == 0, err
    run = RunStore(runs_dir).load(json.loads(out)["id"])
    view = network_view(run, values[-8:], 52)
    assert view.fed[-1] == 0.0 and "the log of each value" in view.note  # relative to its end, after the log
    outputs = forecast_batch(run.model, [view.fed], 3)[0]
    code, out, err = cli("forecast", "latest", "--steps", "3", "--values", ",".join(repr(float(v)) for v in values[-8:]), "--json")
    assert code == 0, err
    np.testing.assert_allclose(view.to_series(outputs), json.loads(out)["forecast"], rtol=1e-9)


def test_the_interval_is_calibrated_on_backtest_residuals():
    from rnnlab.data.transforms import Transform

    rng = np.random.default_rng(0)
    origins, steps = 400, 4
    growth = np.sqrt(np.arange(1, steps + 1))
    residuals = rng.normal(size=(origins, steps)) * growth  # errors that grow as √h
    scaled = np.zeros((origins, steps))
    truth = scaled + residuals
    result = calibrate_interval(residuals, scaled, truth, Transform(), np.zeros(origins, dtype=int))
    assert result["measured_on"] == origins // 2
    low, high = np.quantile((residuals / growth).ravel(), [0.1, 0.9])
    assert result["low"] == pytest.approx(low) and result["high"] == pytest.approx(high)
    assert 0.75 <= result["coverage"] <= 0.85  # Gaussian errors: the band holds about 80 % of them
    # too narrow a band: the coverage counted says so
    narrow = calibrate_interval(residuals, scaled, scaled + 3 * residuals, Transform(), np.zeros(origins, dtype=int))
    assert narrow["coverage"] < 0.5
    # two origins: the interval from every step's residual, its coverage not measured
    few = calibrate_interval(residuals[:2], scaled[:2], truth[:2], Transform(), np.zeros(2, dtype=int))
    low, high = np.quantile((residuals[:2] / growth).ravel(), [0.1, 0.9])
    assert few["low"] == pytest.approx(low) and few["high"] == pytest.approx(high) and few["coverage"] is None
    assert "too few to measure its coverage" in few["note"]


def test_a_series_too_short_for_one_window_names_the_minimum(tmp_path):
    from rnnlab.errors import InputError

    with pytest.raises(InputError, match=r"training part holds 1 values of 3; it needs at least 3"):
        prepare(DataConfig(series="csv", csv=yearly_csv(tmp_path, [1.0, 2.0, 3.0]), column="value"))
