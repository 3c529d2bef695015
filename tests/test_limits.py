"""Limits on every input (``limits.py``): each refused with one line naming the value and the
limit, through the config, the command line, files and the library; the table in
docs/run-store.md is the one in ``limits.LIMITS``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from rnnlab import limits
from rnnlab.config import RunConfig
from rnnlab.errors import ConfigError, InputError, RunCorruptError
from rnnlab.presets import apply_overrides, preset, resolve_config
from rnnlab.store import RunStore

from conftest import deadline, tiny

DOC = Path(__file__).resolve().parents[1] / "docs" / "run-store.md"


# every sized config field, one past its limit -> the message
CONFIG_LIMITS = [
    ("model.hidden_size", limits.HIDDEN_SIZE), ("model.num_layers", limits.NUM_LAYERS),
    ("train.ensemble", limits.ENSEMBLE), ("train.steps", limits.STEPS), ("train.batch_size", limits.BATCH_SIZE),
    ("train.rollout", limits.ROLLOUT), ("data.points_per_period", limits.POINTS_PER_PERIOD),
    ("data.periods", limits.PERIODS), ("data.context_length", limits.CONTEXT_LENGTH),
    ("data.horizon", limits.HORIZON), ("data.season", limits.SEASON), ("forecast.steps", limits.FORECAST_STEPS),
]


@pytest.mark.parametrize("key,limit", CONFIG_LIMITS, ids=[k for k, _ in CONFIG_LIMITS])
def test_each_size_has_an_upper_limit(key, limit):
    assert limits.LIMITS[key] == limit
    room = {"data.points_per_period": {"data.periods": 1}, "data.periods": {"data.points_per_period": 2},
            "data.horizon": {"data.periods": 3000}}.get(key, {})
    assert getattr(getattr(apply_overrides(preset("seed"), {key: limit, **room}), key.split(".")[0]),
                   key.split(".")[1]) == limit  # at the limit: fine
    with pytest.raises(ConfigError) as info:
        apply_overrides(preset("seed"), {key: limit + 1})
    assert str(info.value) == f"{key} must be <= {limit}, got {limit + 1}"


@pytest.mark.parametrize("value", [10**26, 2**63, 10**400])
def test_huge_integers_are_refused_not_overflowed(value):
    with pytest.raises(ConfigError, match=f"model.hidden_size must be <= {limits.HIDDEN_SIZE}, got {value}"):
        RunConfig.from_dict({"model": {"hidden_size": value}})


def test_the_series_length_limit_covers_points_times_periods():
    with pytest.raises(ConfigError, match=r"data.points_per_period \* data.periods \+ 1 must be <= 10000000 values, "
                                          r"got 100000001"):
        apply_overrides(preset("seed"), {"data.points_per_period": 100, "data.periods": 1_000_000})


@pytest.mark.parametrize("key,value", [("train.lr", 1e39), ("train.lr", 1e308), ("data.amplitude", -1e39),
                                       ("data.noise", 3.5e38)])
def test_numbers_beyond_float32_are_refused(key, value):
    with pytest.raises(ConfigError, match=f"{key} must be a finite number within float32 range"):
        apply_overrides(preset("seed"), {key: value})


def test_strings_and_components_have_limits():
    with pytest.raises(ConfigError, match=f"data.csv must be at most {limits.STRING} characters, got 5000"):
        apply_overrides(preset("seed"), {"data.csv": "x" * 5000})
    long = ",".join(f"{i + 1}:0.1" for i in range(limits.COMPONENTS + 1))
    with pytest.raises(ConfigError, match=f"data.components must hold at most {limits.COMPONENTS} pairs, got 65"):
        apply_overrides(preset("seed"), {"data.series": "sines", "data.components": long})
    with pytest.raises(ConfigError, match="at most 4096 characters"):  # 50 MB never reaches the parser
        apply_overrides(preset("seed"), {"data.components": "1:1," * 12_500_000})


def test_a_stored_config_past_a_limit_is_a_corrupt_run(runs_dir):
    from rnnlab.training import train

    store = RunStore(runs_dir)
    run_id = store.save(train(tiny(**{"train.steps": 3})))
    path = runs_dir / run_id / "config.json"
    config = json.loads(path.read_text())
    config["data"]["periods"] = 10**9
    path.write_text(json.dumps(config))
    with pytest.raises(RunCorruptError, match=r"config.json cannot rebuild the model: data.periods must be <= 1000000"):
        store.load(run_id)


# -- the command line --------------------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["train", "--hidden-size", "100000"], "model.hidden_size must be <= 1024, got 100000"),
    (["train", "--num-layers", "50"], "model.num_layers must be <= 4, got 50"),
    (["train", "--ensemble", "100000"], "train.ensemble must be <= 10000, got 100000"),
    (["train", "--steps", "100000000000"], "train.steps must be <= 10000000, got 100000000000"),
    (["train", "--periods", "100000000"], "data.periods must be <= 1000000, got 100000000"),
    (["train", "--lr", "1e39"], "train.lr must be a finite number within float32 range (|x| <= 3.4e38), got 1e+39"),
    (["train", "--lr", "1e308"], "within float32 range"),
    (["train", "--steps", "abc"], "Invalid value for '--steps'"),
    (["forecast", "latest", "--steps", "1000000000"], "--steps must be <= 100,000, got 1000000000"),
    (["forecast", "latest", "--steps", "0"], "--steps must be >= 1, got 0"),
    (["forecast", "latest", "--values", "1e308,1"], "values must lie within float32 (|x| <= 3.4e38), got 1e+308"),
    (["forecast", "latest", "--values", "1,inf"], "values must be finite numbers, got 'inf'"),
    (["evaluate", "latest", "--stride", "0"], "--stride must be >= 1, got 0"),
    (["evaluate", "latest", "--stride", "10000000"], "--stride must be <= 1,000,000, got 10000000"),
])
def test_flags_past_a_limit_are_one_line_usage_errors(stored_run, cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_parse_errors_name_the_value(cli):
    code, out, err = cli("train", "--hidden-size", "four")
    assert code == 2 and "'--hidden-size'" in err and "(got 'four')" in err
    code, out, err = cli("train", "--lr=fast")
    assert code == 2 and "(got 'fast')" in err


@pytest.mark.parametrize("flag", ["--config", "--csv"])
def test_a_fifo_or_a_device_is_refused_at_once(tmp_path, cli, flag):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with deadline(30):
            code, out, err = cli("train", flag, path, "--steps", "2")
        assert code == 2 and "is not a regular file (a pipe, socket or device); give a file" in err, err
    code, out, err = cli("train", flag, tmp_path, "--steps", "2")
    assert code == 2 and "is a directory, not a file" in err


def test_file_sizes_and_rows_have_limits(tmp_path, cli, monkeypatch):
    monkeypatch.setattr(limits, "CSV_BYTES", 1000)
    monkeypatch.setattr(limits, "CSV_ROWS", 50)
    monkeypatch.setattr(limits, "CONFIG_BYTES", 100)
    big = tmp_path / "big.csv"
    big.write_text("v\n" + "1.5\n" * 400)
    code, out, err = cli("train", "--csv", big, "--column", "v", "--steps", "2")
    assert code == 2 and f"holds {big.stat().st_size} bytes; the limit is 1000" in err
    rows = tmp_path / "rows.csv"
    rows.write_text("v\n" + "1\n" * 60)
    code, out, err = cli("train", "--csv", rows, "--column", "v", "--steps", "2")
    assert code == 2 and "holds 60 rows; the limit is 50" in err
    config = tmp_path / "c.toml"
    config.write_text("[train]\nsteps = 3\n" + "# padding\n" * 20)
    code, out, err = cli("train", "--config", config)
    assert code == 2 and f"config file {str(config)!r} holds {config.stat().st_size} bytes; the limit is 100" in err


def test_help_quotes_the_limits(cli):
    code, out, err = cli("train", "--help")
    text = " ".join(out.split())
    for quoted in ("1..1024", "1..4", "1..10,000,000", "1..10,000)", "1,000,000 bytes", "200,000,000 bytes",
                   "5,000,000 rows"):
        assert quoted in text, quoted
    code, out, err = cli("forecast", "--help")
    assert "1..100,000" in " ".join(out.split())


# -- the library ---------------------------------------------------------------------------------------

def test_public_functions_raise_rnnlab_errors_for_wrong_types_and_values():
    import rnnlab
    from rnnlab import ModelConfig, evaluate_seed_task, forecast, train

    model = train(tiny(**{"train.steps": 2})).model
    data = tiny().data
    cases = [
        (lambda: train("seed"), ConfigError, "config must be a RunConfig, got str 'seed'"),
        (lambda: forecast("model", [0.1], steps=3), InputError, "model must be a SequenceModel, got str"),
        (lambda: forecast(model, "abc", steps=3), InputError, "context must be a sequence of numbers, got str"),
        (lambda: forecast(model, [0.1, None], steps=3), InputError, "context[1] must be a number, got NoneType"),
        (lambda: forecast(model, [1e308], steps=3), InputError, "context[0] must be a finite number within float32"),
        (lambda: forecast(model, [0.1], steps="3"), InputError, "steps must be an integer, got str '3'"),
        (lambda: forecast(model, [0.1], steps=10**12), InputError, "steps must be between 1 and 100,000"),
        (lambda: forecast(model, [0.1], 3, 4, 5), InputError, "forecast(): too many positional arguments"),
        (lambda: resolve_config(5), ConfigError, "preset must be a string, got 5"),
        (lambda: resolve_config("seed", overrides=[1]), ConfigError, "overrides must be a mapping"),
        (lambda: ModelConfig(hidden_size="4"), ConfigError, "model.hidden_size must be an integer, got '4'"),
        (lambda: ModelConfig(hidden_size=10**26), ConfigError, "model.hidden_size must be <= 1024"),
        (lambda: evaluate_seed_task("x", data), InputError, "model must be a SequenceModel"),
        (lambda: evaluate_seed_task(model, "x"), ConfigError, "data must be a DataConfig, got str"),
        (lambda: rnnlab.evaluate_run(model, "x"), ConfigError, "config must be a RunConfig"),
        (lambda: rnnlab.load_series(5), ConfigError, "data must be a DataConfig, got int"),
        (lambda: rnnlab.SequenceModel("x"), ConfigError, "config must be a ModelConfig, got str"),
        (lambda: rnnlab.SeedWindows("x", None), ConfigError, "SeedWindows takes a DataConfig"),
        (lambda: rnnlab.RunStore(5), InputError, "runs directory must be a path, got int"),
        (lambda: rnnlab.explain_forward(model, []), InputError, "context must hold 1 to 100,000 values, got 0"),
        (lambda: rnnlab.Forecaster(seed="x"), InputError, "seed must be an integer or None"),
    ]
    for call, error, message in cases:
        with pytest.raises(error) as info:
            call()
        assert message in str(info.value)
        assert "\n" not in str(info.value)
    assert forecast(model, [0.1, 0.2], steps=3).shape == (3,)  # the right arguments still work


def test_the_limits_table_in_the_docs_is_limits_LIMITS():
    rows = re.findall(r"^\| `([^`]+)` \| ([\d,.e+]+) \|", DOC.read_text(encoding="utf-8"), flags=re.M)
    assert rows, "docs/run-store.md has no limits table"
    documented = {name: float(value.replace(",", "")) for name, value in rows}
    assert documented == {name: float(value) for name, value in limits.LIMITS.items()}


def test_resolve_config_refuses_a_big_config_file(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "CONFIG_BYTES", 10)
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"seed": 1, "train": {"steps": 3}}))
    with pytest.raises(InputError, match="the limit is 10"):
        resolve_config("seed", path)


def test_a_large_csv_is_read_in_one_pass_as_cell_by_cell(tmp_path):
    import numpy as np

    from rnnlab.data.csvfile import _number, read_csv_series

    cells = [" 1.5 ", "1_000", "NA", "2e3", "-0", "", "7", "?", "3.25", "1e-300"]
    path = tmp_path / "cells.csv"
    path.write_text("t,v\n" + "".join(f"2020-01-{i + 1:02d},{c}\n" for i, c in enumerate(cells)))
    series = read_csv_series(str(path), "v", "t", interpolate=True)
    expected = [_number(c, ".") for c in cells]
    known = [i for i, v in enumerate(expected) if not np.isnan(v)]
    np.testing.assert_array_equal(series.values[known], [expected[i] for i in known])
    assert sorted(series.missing) == [2, 5, 7] and series.frequency == "D"
    path.write_text("v;w\n" + "".join(f"{c};1\n" for c in ["1,5", "2.000,25", "3"] * 3))  # decimal commas
    np.testing.assert_array_equal(read_csv_series(str(path), "v").values, [1.5, 2000.25, 3.0] * 3)
    path.write_text("v\n1\n2\ninf\nx\n5\n")
    with pytest.raises(InputError, match=r"holds text where numbers were expected \(line 4: 'inf'; line 5: 'x'\)"):
        read_csv_series(str(path), "v")
    path.write_text("t,v\n2020-01-02,1\n2020-01-01,2\n2020-01-03,3\n")
    with pytest.raises(InputError, match="must increase: line 3"):
        read_csv_series(str(path), "v", "t")


def test_the_season_is_detected_once_per_run(tmp_path, runs_dir, cli, monkeypatch):
    import numpy as np

    from rnnlab.data import prepared

    calls = []
    real = prepared.autocorrelation
    monkeypatch.setattr(prepared, "autocorrelation", lambda x: calls.append(len(x)) or real(x))
    prepared._seasons.clear()
    path = tmp_path / "s.csv"
    values = 5 + np.sin(np.arange(120) * 2 * np.pi / 7) + np.random.default_rng(0).normal(0, 0.05, 120)
    path.write_text("v\n" + "".join(f"{float(v)!r}\n" for v in values))
    code, out, err = cli("train", "--csv", path, "--column", "v", "--preset", "forecast", "--no-refit",
                         "--steps", "3", "--seed", "1", "--engine", "torch", "--quiet", "--json")
    assert code == 0, err
    assert calls == [120 - 12 - 24]  # the training part (less validation and test), once: the check, the training and the evaluation share it
    assert json.loads((runs_dir / json.loads(out)["id"] / "run.json").read_text())["data"]["season"] == 7


def test_a_long_run_name_is_refused_before_training(runs_dir, cli):
    code, out, err = cli("train", "--name", "n" * (limits.NAME + 1), "--steps", "3")
    assert code == 2 and f"run name must be a string of at most {limits.NAME} characters, got 201" in err
    assert "Epoch" not in err and not runs_dir.exists()  # nothing trained, nothing stored
