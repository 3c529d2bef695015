"""Metrics, baselines and backtests against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.config import DataConfig, ModelConfig
from rnnlab.data import prepare
from rnnlab.evaluate import (
    choose_ar,
    evaluate_seed_task,
    evaluate_test,
    fit_ar,
    mase_scale,
    metrics,
    naive_forecasts,
    seasonal_naive_forecasts,
    backtest_origins,
)
from rnnlab.forecasting import forecast, forecast_at
from rnnlab.model import SequenceModel


def test_metrics_by_hand():
    truth = np.array([[1.0, 2.0], [4.0, 0.0]])
    forecasts = np.array([[2.0, 2.0], [1.0, 0.0]])
    # errors 1, 0, -3, 0
    got = metrics(forecasts, truth, mase_scale=2.0)
    assert got["mae"] == pytest.approx(1.0)
    assert got["rmse"] == pytest.approx(np.sqrt(10 / 4))
    assert got["mase"] == pytest.approx(0.5)
    # sMAPE terms: 2·1/3, 0, 2·3/5, 0/0 -> 0
    assert got["smape"] == pytest.approx(100 * (2 / 3 + 6 / 5) / 4)
    assert metrics(forecasts, truth, mase_scale=0.0)["mase"] is None


def test_mase_scale_is_the_in_sample_seasonal_naive_error():
    train = np.array([1.0, 3.0, 2.0, 6.0, 4.0])
    assert mase_scale(train, 1) == pytest.approx((2 + 1 + 4 + 2) / 4)
    assert mase_scale(train, 2) == pytest.approx((1 + 3 + 2) / 3)


def test_naive_and_seasonal_naive_by_hand():
    values = np.array([10.0, 11, 12, 13, 14, 15, 16, 17])
    np.testing.assert_array_equal(naive_forecasts(values, [5, 6], 3), [[14, 14, 14], [15, 15, 15]])
    # season 3, origin 5 (history 10..14): h=1 -> y[3]=13, h=2 -> y[4]=14, h=3 -> y[2]=12 ... no:
    # ŷ_{t+h} = y_{t+h-m(⌊(h-1)/m⌋+1)}: t+h-1 is the 0-based target position 5+h-1
    # h=1: 5-3=2 -> 12, h=2: 6-3=3 -> 13, h=3: 7-3=4 -> 14, h=4: 8-6=2 -> 12
    np.testing.assert_array_equal(seasonal_naive_forecasts(values, [5], 4, 3), [[12, 13, 14, 12]])


def test_ar_least_squares_recovers_an_exact_recurrence():
    # y_t = 1 + 0.5 y_{t-1} - 0.25 y_{t-2}
    y = [1.0, 2.0]
    for _ in range(30):
        y.append(1 + 0.5 * y[-1] - 0.25 * y[-2])
    y = np.array(y)
    ar, variance = fit_ar(y, 2)
    assert ar.intercept == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(ar.coefficients, [0.5, -0.25], atol=1e-9)
    assert variance < 1e-18
    # the recursive forecast continues the recurrence by hand
    first = 1 + 0.5 * y[9] - 0.25 * y[8]
    second = 1 + 0.5 * first - 0.25 * y[9]
    np.testing.assert_allclose(ar.forecast(y, [10], 2), [[first, second]], atol=1e-9)


def test_ar_order_chosen_by_aic_finds_a_seasonal_signal():
    t = np.arange(200)
    y = np.sin(2 * np.pi * t / 12) + 0.05 * np.random.default_rng(0).normal(size=200)
    ar = choose_ar(y, season=12)
    assert 2 <= ar.order <= 13
    truth = np.sin(2 * np.pi * np.arange(150, 160) / 12)
    assert np.abs(ar.forecast(y, [150], 10)[0] - truth).max() < 0.2


def model(cell="rnn", layers=1, readout="linear", seed=0):
    torch.manual_seed(seed)
    m = SequenceModel(ModelConfig(cell=cell, num_layers=layers, readout=readout))
    return m.eval()


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("lstm", 2), ("gru", 1)])
def test_forecast_at_with_the_whole_history_is_forecast_from_zero_state(cell, layers):
    m = model(cell, layers)
    values = np.sin(np.arange(30) / 3)
    got = forecast_at(m, values, [7, 12, 20], 4)
    want = np.stack([forecast(m, values[:o], 4) for o in (7, 12, 20)])
    np.testing.assert_allclose(got, want, atol=1e-6)
    fixed = forecast_at(m, values, [7, 12, 20], 4, context_length=5)
    np.testing.assert_allclose(fixed, np.stack([forecast(m, values[o - 5 : o], 4) for o in (7, 12, 20)]), atol=1e-6)


def csv_series(tmp_path, values) -> str:
    path = tmp_path / "s.csv"
    path.write_text("v\n" + "\n".join(repr(float(v)) for v in values) + "\n")
    return str(path)


def test_backtest_baselines_equal_hand_computation(tmp_path):
    values = np.array([3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10, 9, 11, 10, 12, 11, 13, 12, 14])
    data = DataConfig(series="csv", csv=csv_series(tmp_path, values), val_fraction=0.0, test_fraction=0.25,
                      horizon=2, season=2, context_length=4, scaling="minmax")
    prepared = prepare(data)
    assert prepared.split.val_end == 15 and backtest_origins(prepared, 2) == [15, 16, 17, 18]
    result = evaluate_test(model(), prepared, horizon=2, ar_order=1)
    naive = result["methods"]["naive"]
    # origins 15..18, last values 10, 12, 11, 13; truth (12, 11), (11, 13), (13, 12), (12, 14)
    errors = np.array([[2, 1], [-1, 1], [2, 1], [-1, 1]], dtype=float)
    scale = np.mean(np.abs(values[2:15] - values[:13]))  # the training part, season 2
    assert naive["all_steps"]["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert naive["one_step"]["rmse"] == pytest.approx(np.sqrt(np.mean(errors[:, 0] ** 2)))
    assert naive["all_steps"]["mase"] == pytest.approx(np.mean(np.abs(errors)) / scale)
    # seasonal naive with m = 2 is exact on this zig-zag with trend +1 per season... off by the trend
    seasonal = result["methods"]["seasonal_naive"]["all_steps"]
    assert seasonal["mae"] == pytest.approx(1.0)
    assert result["origins"] == 4 and result["season"] == 2 and result["ar_order"] == 1


def test_network_forecasts_are_unscaled(tmp_path):
    values = 100 + 10 * np.sin(np.arange(60) / 2)
    data = DataConfig(series="csv", csv=csv_series(tmp_path, values), context_length=6, scaling="standard")
    prepared = prepare(data)
    m = model()
    origins = backtest_origins(prepared, 1)
    scaled = forecast_at(m, prepared.scaled, origins, 1, 6)
    result = evaluate_test(m, prepared, horizon=1)
    unscaled = prepared.scaler.inverse(scaled)[:, 0]
    truth = values[origins]
    assert result["methods"]["model"]["one_step"]["mae"] == pytest.approx(np.mean(np.abs(unscaled - truth)))


def test_the_seed_task_has_560_windows_whatever_the_periods():
    m = model(readout="unit")
    one = evaluate_seed_task(m, DataConfig(), 10)
    three = evaluate_seed_task(m, DataConfig(periods=3), 10)
    assert one["windows"] == three["windows"] == 560
    assert one["rollout_rmse"] == three["rollout_rmse"]
    # the naive forecast by hand: windows start 0..31, context end start+4..36, truth sin((end+k)·2π/36)
    rmses = [
        np.sqrt(np.mean([(np.sin((end - 1) * 2 * np.pi / 36) - np.sin((end + k) * 2 * np.pi / 36)) ** 2 for k in range(10)]))
        for start in range(32)
        for end in range(start + 4, 37)
    ]
    assert len(rmses) == 560
    assert one["naive"]["rollout_rmse"] == pytest.approx(np.mean(rmses), abs=1e-12)


def test_mase_is_undefined_on_an_exactly_repeating_training_part():
    train = np.sin(np.arange(100) * 2 * np.pi / 10)
    assert mase_scale(train, 10) == 0.0
    assert metrics(np.ones((2, 2)), np.zeros((2, 2)), mase_scale(train, 10))["mase"] is None


def test_statistical_scores_of_a_stored_backtest_equal_the_backtest_s_own(tmp_path):
    from rnnlab.evaluate.backtest import statistical_scores

    t = np.arange(60)
    values = 50 + 0.3 * t + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(size=60)
    data = DataConfig(series="csv", csv=csv_series(tmp_path, values), horizon=6, season=12, context_length=12)
    prepared = prepare(data)
    result = evaluate_test(model(), prepared, horizon=6, stride=3)
    assert {"ets", "arima"} <= set(result["methods"])
    from rnnlab.evaluate.statistical import statistical_forecasts

    again = statistical_scores(values, prepared.split.train_end, result)
    origins = [48, 51, 54]  # the test part's origins at stride 3 with 6 values after each
    direct = statistical_forecasts(values, prepared.split.train_end, origins, 6, 12)
    truth = np.array([values[o : o + 6] for o in origins])
    scale = mase_scale(values[: prepared.split.train_end], 12)
    for name in ("ets", "arima"):
        expected = np.mean(np.abs(direct[name] - truth)) / scale
        assert again[name]["all_steps"]["mase"] == pytest.approx(expected, rel=1e-9)
        # the backtest's own fit, earlier in the process, agrees to the optimiser's tolerance
        assert again[name]["all_steps"]["mase"] == pytest.approx(result["methods"][name]["all_steps"]["mase"], rel=1e-2)
    without = evaluate_test(model(), prepared, horizon=6, stride=3, statistical=False)
    assert set(without["methods"]) == {"model", "naive", "seasonal_naive", "ar"}


def test_a_long_test_part_is_sampled_by_a_wider_stride(tmp_path, monkeypatch):
    from rnnlab.evaluate import backtest

    values = 10 + np.sin(np.arange(200) / 3.0)
    data = DataConfig(series="csv", csv=csv_series(tmp_path, values), val_fraction=0.0, test_fraction=0.25,
                      horizon=2, season=2, context_length=4, scaling="minmax")
    prepared = prepare(data)
    every = evaluate_test(model(), prepared, horizon=2, ar_order=1)
    monkeypatch.setattr(backtest, "MAX_ORIGINS", 10)
    sampled = evaluate_test(model(), prepared, horizon=2, ar_order=1)
    assert every["origins"] == 49 and every["stride"] == 1
    assert sampled["stride"] == 5 and sampled["origins"] == 10  # every 5th of the 49 origins
    naive = [values[o - 1] for o in range(150, 199, 5)]  # the naive forecast at the sampled origins
    truth = [values[o] for o in range(150, 199, 5)]
    assert sampled["methods"]["naive"]["one_step"]["mae"] == pytest.approx(np.mean(np.abs(np.subtract(naive, truth))))
