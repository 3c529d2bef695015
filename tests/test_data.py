"""Series sources, splits, windows and scaling."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from rnnlab.config import DataConfig
from rnnlab.data.csvfile import read_csv_series
from rnnlab.data import (
    FixedWindows,
    RandomWindows,
    SeedWindows,
    detect_season,
    every_training_window,
    future_times,
    prepare,
    series_values,
    split_series,
    training_windows,
    true_value,
)
from rnnlab.data.datasets import DATASETS, load_dataset
from rnnlab.errors import InputError
from rnnlab.data.scaling import Scaler, fit_scaler

# -- waveforms ---------------------------------------------------------------------------------


def test_the_seed_sine_is_the_seed_programs_values_to_the_bit():
    values = series_values(DataConfig())
    assert values.shape == (37,)
    assert values.tolist() == [math.sin(i * math.pi * 2 / 36) for i in range(37)]


N, PHASE, AMP = 24, 0.3, 2.5
X = np.arange(3 * N + 1) * np.pi * 2 / N + PHASE


@pytest.mark.parametrize(
    "series,expected",
    [
        ("sine", AMP * np.sin(X)),
        ("cosine", AMP * np.cos(X)),
        ("square", AMP * signal.square(X)),
        ("sawtooth", AMP * signal.sawtooth(X)),
        ("triangle", AMP * signal.sawtooth(X, width=0.5)),
        ("damped_sine", AMP * 0.5 ** (np.arange(3 * N + 1) / N) * np.sin(X)),
        ("sines", AMP * (np.sin(X) + 0.3 * np.sin(3 * X))),
    ],
)
def test_waveforms_equal_their_formulas(series, expected):
    data = DataConfig(series=series, points_per_period=N, periods=3, phase=PHASE, amplitude=AMP)
    np.testing.assert_allclose(series_values(data), expected, rtol=0, atol=1e-12)
    # the continuation past the end follows the same formula
    assert true_value(data, 3 * N) == pytest.approx(expected[-1], abs=1e-12)


def test_noise_is_added_with_its_own_seed():
    clean = series_values(DataConfig())
    noisy = series_values(DataConfig(noise=0.1, noise_seed=5))
    np.testing.assert_allclose(noisy - clean, np.random.default_rng(5).normal(0, 0.1, 37), atol=1e-15)
    assert not np.allclose(noisy, series_values(DataConfig(noise=0.1, noise_seed=6)))


def test_sum_of_sines_components_are_configurable():
    data = DataConfig(series="sines", components="2:0.5,5:-1")
    x = np.arange(37) * np.pi * 2 / 36
    np.testing.assert_allclose(series_values(data), 0.5 * np.sin(2 * x) - np.sin(5 * x), atol=1e-12)


# -- CSV files -----------------------------------------------------------------------------------


def write(tmp_path, text: str, name="data.csv", encoding="utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_csv_with_bom_semicolons_decimal_commas_and_dates(tmp_path):
    text = "\ufeffmonth;sales;note\n2024-01-01;1,5;a\n2024-02-01;2,25;b\n2024-03-01;-3;c\n2024-04-01;4,0;d\n"
    series = read_csv_series(write(tmp_path, text), "sales", "month")
    assert series.values.tolist() == [1.5, 2.25, -3.0, 4.0]
    assert series.frequency == "MS"
    assert future_times(series, 2) == ["2024-05-01", "2024-06-01"]


def test_csv_picks_the_only_numeric_column(tmp_path):
    series = read_csv_series(write(tmp_path, "day,temp\n2024-01-01,3\n2024-01-02,4.5\n2024-01-03,5\n"), "", "day")
    assert series.values.tolist() == [3.0, 4.5, 5.0] and series.frequency == "D"


def test_csv_gaps_are_reported_with_their_lines_or_interpolated(tmp_path):
    path = write(tmp_path, "t,v\n1,1\n2,\n3,3\n4,NA\n5,7\n")
    with pytest.raises(InputError, match=r"2 missing value\(s\), row 3, 5; fill them with --interpolate"):
        read_csv_series(path, "v")
    series = read_csv_series(path, "v", interpolate=True)
    assert series.values.tolist() == [1.0, 2.0, 3.0, 5.0, 7.0]
    assert series.missing == (1, 3)


def test_csv_text_cells_are_reported_with_line_and_column(tmp_path):
    path = write(tmp_path, "t,v\n1,1\n2,2\n3,abc\n4,4\n")
    with pytest.raises(InputError, match=r"column 'v' of .* holds text .*line 4: 'abc'"):
        read_csv_series(path, "v")


@pytest.mark.parametrize(
    "text,column,time_column,message",
    [
        ("", "v", "", "is empty"),
        ("t,v\n", "v", "", "has a header but no rows"),
        ("t,v\n1,5\n", "v", "", "has 1 numeric value"),
        ("t,v\n1,2\n2,3\n", "w", "", r"column 'w' is not in .*; its columns are: t, v"),
        ("t,v\n1,\n2,\n3,\n", "v", "", "has no numeric values"),
        ("t,v\nmonday,1\n2024-01-02,2\n2024-01-03,3\n", "v", "t", r"line 2 holds 'monday', not a date"),
        ("t,v\n2024-01-02,1\n2024-01-01,2\n2024-01-03,3\n", "v", "t", r"must increase: line 3"),
    ],
)
def test_bad_csv_files_give_one_line_errors(tmp_path, text, column, time_column, message):
    with pytest.raises(InputError, match=message) as info:
        read_csv_series(write(tmp_path, text), column, time_column)
    assert "\n" not in str(info.value)


def test_a_missing_csv_file_is_named(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_csv_series(str(tmp_path / "nope.csv"), "v")


# -- bundled datasets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,length,frequency", [("sunspots", 309, "YS-JAN"), ("nile", 100, "YS-JAN"), ("co2", 2284, "W-SAT"), ("elnino", 732, "MS")]
)
def test_each_bundled_dataset_loads_offline(name, length, frequency):
    series = load_dataset(name, interpolate=True)
    assert len(series) == length and series.frequency == frequency
    assert np.isfinite(series.values).all()
    assert set(DATASETS) == {"sunspots", "nile", "co2", "elnino"}


def test_co2_gaps_are_refused_unless_interpolated():
    with pytest.raises(InputError, match="59 missing value"):
        load_dataset("co2")
    assert len(load_dataset("co2", interpolate=True).missing) == 59


def test_elnino_is_monthly_and_starts_in_january_1950():
    series = load_dataset("elnino")
    assert str(series.times[0])[:10] == "1950-01-01" and str(series.times[13])[:10] == "1951-02-01"
    assert series.values[0] == pytest.approx(23.11)


# -- scaling -------------------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=3, max_size=40).filter(lambda v: max(v) - min(v) > 1e-3), st.sampled_from(["standard", "minmax", "none"]))
def test_scaling_round_trip(values, kind):
    scaler = fit_scaler(kind, values)
    back = scaler.inverse(scaler.transform(values))
    np.testing.assert_allclose(back, values, rtol=1e-12, atol=1e-9 * max(1.0, max(abs(v) for v in values)))
    assert Scaler.from_dict(scaler.to_dict()) == scaler
    if kind == "minmax":
        scaled = scaler.transform(values)
        assert scaled.min() == pytest.approx(-1) and scaled.max() == pytest.approx(1)
    if kind == "standard":
        scaled = scaler.transform(values)
        assert abs(scaled.mean()) < 1e-6 and scaled.std() == pytest.approx(1, abs=1e-6)


def test_a_constant_series_cannot_be_scaled():
    with pytest.raises(InputError, match="constant over its training part .* divide by zero"):
        fit_scaler("standard", [3.0, 3.0, 3.0])


# -- splits and windows --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(30, 400),
    val=st.floats(0, 0.3),
    test=st.floats(0.05, 0.3),
    context=st.integers(0, 12),
    min_length=st.integers(1, 6),
    targets=st.integers(1, 5),
    seed=st.integers(0, 1000),
)
def test_splits_never_leak(tmp_path_factory, length, val, test, context, min_length, targets, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=length).cumsum()
    path = tmp_path_factory.mktemp("csv") / "s.csv"
    path.write_text("v\n" + "\n".join(map(repr, values.tolist())) + "\n")
    data = DataConfig(series="csv", csv=str(path), val_fraction=val, test_fraction=test,
                      context_length=context, min_length=min_length, scaling="standard")
    try:
        prepared = prepare(data, targets)
    except InputError:
        return  # a split too small for these windows is refused, not used
    split = prepared.split
    assert 0 < split.train_end <= split.val_end <= split.length == length
    # training windows: context and targets inside the training part
    sampler = training_windows(prepared, min_length, random.Random(seed))
    windows = [sampler.draw() for _ in range(50)] + every_training_window(prepared, min_length)
    assert all(0 <= w.start < w.end and w.end + targets <= split.train_end for w in windows)
    # the scaler saw the training part only: changing everything after it changes nothing
    values2 = values.copy()
    values2[split.train_end:] += 1000.0
    path.write_text("v\n" + "\n".join(map(repr, values2.tolist())) + "\n")
    assert prepare(data, targets).scaler == prepared.scaler


def test_split_sizes_are_rounded_fractions():
    assert split_series(100, 0.1, 0.2).to_dict() == {"train_end": 70, "val_end": 80, "length": 100}
    assert split_series(37, 0.0, 0.0).to_dict() == {"train_end": 37, "val_end": 37, "length": 37}


def test_seed_windows_are_random_windows_over_the_whole_wave():
    a, b = SeedWindows(DataConfig(), random.Random(4)), RandomWindows(36, 4, 1, random.Random(4))
    assert [a.draw() for _ in range(20)] == [b.draw() for _ in range(20)]


def test_fixed_windows_have_the_fixed_length():
    sampler = FixedWindows(50, 8, 3, random.Random(0))
    windows = [sampler.draw() for _ in range(100)]
    assert {w.length for w in windows} == {8} and max(w.end for w in windows) == 47


def test_a_horizon_longer_than_the_test_part_does_not_block_training(tmp_path):
    # the horizon only sizes the backtest: it is shortened to the test part, never refused
    from rnnlab.evaluate import evaluate_test
    from rnnlab.model import SequenceModel
    from rnnlab.config import ModelConfig

    path = write(tmp_path, "v\n" + "\n".join(str(1 + i % 7) for i in range(40)) + "\n")
    prepared = prepare(DataConfig(series="csv", csv=path, horizon=12, season=7), 3)
    assert prepared.split.test_size == 8
    result = evaluate_test(SequenceModel(ModelConfig(readout="linear")), prepared, horizon=12)
    assert result["horizon"] == 8 and result["origins"] == 1


def test_a_series_too_short_for_one_window_names_the_minimum(tmp_path):
    path = write(tmp_path, "v\n1\n2\n3\n4\n")
    with pytest.raises(InputError, match=r"the training part holds 2 values of 4; it needs at least 3"):
        prepare(DataConfig(series="csv", csv=path))


def test_context_longer_than_the_series_is_refused(tmp_path):
    path = write(tmp_path, "v\n" + "\n".join(str(i % 7) for i in range(40)) + "\n")
    with pytest.raises(InputError, match=r"data.context_length \(50\) .* must fit in the training part"):
        prepare(DataConfig(series="csv", csv=path, context_length=50))


def test_season_is_detected():
    t = np.arange(240)
    values = np.sin(2 * np.pi * t / 12) + 0.01 * t + 0.1 * np.random.default_rng(0).normal(size=240)
    assert detect_season(values) == 12
    assert detect_season(np.random.default_rng(1).normal(size=200)) == 1


def test_seed_preset_prepares_to_the_whole_wave_unscaled():
    prepared = prepare(DataConfig())
    assert prepared.split.train_end == 37 and prepared.scaler.kind == "none"
    assert prepared.context_length == 0 and prepared.season == 36
    assert prepared.scaled.tolist() == series_values(DataConfig()).tolist()


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-1e4, 1e4, allow_nan=False).map(lambda v: round(v, 3)), min_size=3, max_size=30),
    style=st.sampled_from([(",", "."), (";", "."), (";", ","), ("\t", "."), ("|", ".")]),
    bom=st.booleans(),
)
def test_csv_values_round_trip_whatever_the_dialect(tmp_path_factory, values, style, bom):
    delimiter, decimal = style
    cells = [repr(v).replace(".", decimal) if decimal == "," else repr(v) for v in values]
    text = ("\ufeff" if bom else "") + f"n{delimiter}value\n" + "".join(
        f"{i}{delimiter}{c}\n" for i, c in enumerate(cells))
    path = tmp_path_factory.mktemp("dialect") / "d.csv"
    path.write_bytes(text.encode("utf-8"))
    assert read_csv_series(str(path), "value").values.tolist() == values
