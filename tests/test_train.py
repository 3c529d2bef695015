"""The windowed training loop: cells, readouts, minibatches, optimizers, early stopping, rollout;
and the command line over csv and dataset series."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import tiny
from rnnlab.training.windowed import rollout_predictions, validation_loss
from rnnlab.presets import preset
from rnnlab.data import every_training_window, prepare, prepare_stored
from rnnlab.errors import ConfigError
from rnnlab.forecasting import forecast
from rnnlab.model import SequenceModel
from rnnlab.training import is_seed_loop, train


def test_the_seed_preset_runs_the_seed_loop_and_the_rest_the_windowed_loop():
    assert is_seed_loop(preset("seed"))
    for key, value in [("train.batch_size", 8), ("train.rollout", 3), ("train.schedule", "cosine"),
                       ("data.context_length", 8), ("data.scaling", "standard")]:
        assert not is_seed_loop(tiny(**{key: value}))


@pytest.mark.parametrize(
    "cell,nonlinearity,layers,readout",
    [("rnn", "tanh", 1, "unit"), ("rnn", "relu", 2, "linear"), ("lstm", "tanh", 2, "unit"),
     ("gru", "tanh", 3, "linear"), ("lstm", "tanh", 4, "linear")],
)
def test_every_cell_and_readout_trains_and_forecasts(cell, nonlinearity, layers, readout):
    config = tiny(**{"model.cell": cell, "model.nonlinearity": nonlinearity, "model.num_layers": layers,
                     "model.readout": readout, "model.dropout": 0.1 if layers > 1 else 0.0,
                     "train.batch_size": 8, "train.rollout": 2, "train.optimizer": "adam", "train.lr": 0.01,
                     "train.steps": 15})
    torch.manual_seed(config.seed)
    initial = SequenceModel(config.model).tensors()
    result = train(config)
    assert result.status == "completed" and len(result.history) == 15
    assert all(np.isfinite(result.history))
    changed = [not torch.equal(initial[k], v) for k, v in result.model.tensors().items()]
    assert all(changed)
    values = forecast(result.model, [0.0, 0.17, 0.34, 0.5], 5)
    assert values.shape == (5,) and np.isfinite(values).all()


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("gru", 2), ("lstm", 1)])
def test_minibatches_of_variable_windows_equal_one_window_at_a_time(cell, layers):
    config = tiny(**{"model.cell": cell, "model.num_layers": layers, "model.readout": "linear"})
    prepared = prepare(config.data, 3)
    windows = every_training_window(prepared, 4)[::23]
    assert len({w.length for w in windows}) > 3
    torch.manual_seed(0)
    model = SequenceModel(config.model).eval()
    series = torch.tensor(prepared.scaled, dtype=torch.float32)
    with torch.no_grad():
        batched = rollout_predictions(model, series, windows, 3).numpy()
    one_by_one = np.stack([forecast(model, prepared.scaled[w.start : w.end], 3) for w in windows])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)


@pytest.mark.parametrize("optimizer,momentum,decay", [("sgd", 0.9, 0.0), ("adam", 0.0, 0.01), ("adamw", 0.0, 0.1)])
def test_optimizers_lower_the_loss(optimizer, momentum, decay):
    config = tiny(**{"train.optimizer": optimizer, "train.momentum": momentum, "train.weight_decay": decay,
                     "train.lr": 0.01 if optimizer != "sgd" else 0.05, "train.batch_size": 0,
                     "model.readout": "linear", "train.steps": 40, "train.clip_grad": 1.0})
    result = train(config)
    assert result.history[-1] < 0.5 * result.history[0]


def test_the_cosine_schedule_ends_near_zero_and_step_divides_by_ten():
    from rnnlab.training.common import make_schedule as _schedule

    for schedule, final in (("cosine", 0.0), ("step", 0.001)):
        config = tiny(**{"train.schedule": schedule, "train.steps": 20, "train.lr": 0.1})
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        scheduler = _schedule(config, optimizer)
        for _ in range(20):
            optimizer.step()
            scheduler.step()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(final, abs=1e-12)


def test_same_config_same_result():
    config = tiny(**{"train.batch_size": 4, "train.rollout": 2, "train.steps": 10})
    a, b = train(config), train(config)
    assert a.history == b.history


def sales_csv(tmp_path, n=120, constant=False):
    months = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in range(n)]
    rng = np.random.default_rng(0)
    values = [5.0] * n if constant else (20 + 5 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 0.3, n)).tolist()
    path = tmp_path / "sales.csv"
    path.write_text("month,sales\n" + "\n".join(f"{m},{v}" for m, v in zip(months, values)) + "\n")
    return path


def test_early_stopping_restores_the_best_weights(tmp_path):
    config = tiny(**{"data.series": "csv", "data.csv": str(sales_csv(tmp_path)), "model.readout": "linear",
                     "train.optimizer": "adam", "train.lr": 0.3, "train.batch_size": 8, "train.steps": 60,
                     "train.val_every": 2, "train.patience": 3})
    result = train(config)
    recorded = [loss for _, loss in result.validation]
    assert "restored" in result.message
    best = min(recorded)
    assert result.best_step == result.validation[recorded.index(best)][0]
    prepared = prepare_stored(config.data, 1, result.data)
    assert validation_loss(result.model, prepared, 1) == pytest.approx(best, rel=1e-6)
    if recorded[-1] > best:  # the weights at the end were worse: the best ones are back
        assert validation_loss(result.model, prepared, 1) < recorded[-1]


def test_patience_without_a_validation_part_is_refused():
    with pytest.raises(ConfigError, match="train.patience = 2 needs a validation part"):
        train(tiny(**{"train.patience": 2}))


def test_the_scaled_target_beyond_the_unit_readout_is_warned(tmp_path):
    config = tiny(**{"data.series": "csv", "data.csv": str(sales_csv(tmp_path)), "data.scaling": "standard",
                     "train.steps": 2, "train.batch_size": 2})
    assert "beyond the (-1, 1) range of the 'unit' readout" in train(config).warnings[0]


# -- command line ------------------------------------------------------------------------------


def test_cli_trains_evaluates_and_forecasts_a_csv_series(tmp_path, runs_dir, cli):
    path = sales_csv(tmp_path)
    code, out, err = cli("train", "--csv", path, "--column", "sales", "--time-column", "month", "--horizon", "3",
                         "--readout", "linear", "--optimizer", "adam", "--lr", "0.02", "--batch-size", "16",
                         "--rollout", "3", "--steps", "30", "--seed", "1", "--quiet", "--json")
    assert code == 0, err
    summary = json.loads(out)
    test = summary["metrics"]["test"]
    assert test["horizon"] == 3 and test["season"] == 12 and set(test["methods"]) == {"model", "naive", "seasonal_naive", "ar"}  # ETS, ARIMA: evaluate

    code, out, err = cli("evaluate", "latest")
    assert code == 0, err
    assert "seasonal naive (m=12)" in out and "1-3" in out and "MASE" in out

    target = tmp_path / "forecast.csv"
    code, out, err = cli("forecast", "latest", "--steps", "4", "--out", target)
    assert code == 0, err
    lines = target.read_text().splitlines()
    assert lines[0] == "time,forecast" and [line.split(",")[0] for line in lines[1:]] == [
        "2010-01-01", "2010-02-01", "2010-03-01", "2010-04-01"]
    assert out.splitlines()[0].startswith("2010-01-01\t")
    forecast_values = [float(line.split(",")[1]) for line in lines[1:]]
    assert all(10 < v < 30 for v in forecast_values)  # unscaled: in the units of the series


def test_cli_lists_the_datasets(cli):
    code, out, err = cli("datasets", "--json")
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["co2"]["length"] == 2284 and rows["co2"]["missing"] == 59 and rows["elnino"]["frequency"] == "MS"


def test_cli_trains_on_a_bundled_dataset(runs_dir, cli):
    code, out, err = cli("train", "--dataset", "nile", "--steps", "5", "--batch-size", "4", "--seed", "2", "--quiet", "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["test"]["series"] == "nile"


@pytest.mark.parametrize(
    "make,flags,message",
    [
        (lambda p: p.write_text(""), ["--column", "v"], "is empty"),
        (lambda p: p.write_text("v\n4\n"), ["--column", "v"], "has 1 numeric value"),
        (lambda p: p.write_text("a,b\n1,2\n3,4\n5,6\n"), ["--column", "v"], "column 'v' is not in .* its columns are: a, b"),
        (lambda p: p.write_text("v\nNA\n\nnan\n"), ["--column", "v"], "no numeric values"),
        (lambda p: p.write_text("v\n" + "5\n" * 40), ["--column", "v"], "constant over its training part"),
        (lambda p: p.write_text("v\n1\n2\n3\n4\n"), ["--column", "v"], r"it needs at least 3"),
        (lambda p: p.write_text("v\n" + "".join(f"{i % 5}\n" for i in range(40))), ["--context-length", "45"],
         r"data.context_length \(45\)"),
    ],
)
def test_bad_input_gives_one_line_and_writes_nothing(tmp_path, runs_dir, cli, make, flags, message):
    path = tmp_path / "bad.csv"
    make(path)
    code, out, err = cli("train", "--csv", path, "--steps", "3", "--quiet", *flags)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    import re

    assert re.search(message, err), err
    assert not runs_dir.exists() or not [p for p in runs_dir.iterdir() if p.is_dir()]


def test_variable_windows_with_a_validation_part_train_and_evaluate(tmp_path):
    from rnnlab.evaluate import evaluate_run

    config = tiny(**{"data.series": "csv", "data.csv": str(sales_csv(tmp_path, n=60)), "data.context_length": 0,
                     "data.horizon": 2, "train.rollout": 2, "train.batch_size": 4, "train.steps": 6,
                     "train.val_every": 3, "model.readout": "linear"})
    result = train(config)
    assert [step for step, _ in result.validation] == [3, 6]
    test = evaluate_run(result.model, result.config, result.data)["test"]
    assert test["origins"] == 12 - 2 + 1 and np.isfinite(test["methods"]["model"]["all_steps"]["rmse"])


@pytest.mark.parametrize("batch_size", [1, 4])
def test_a_diverging_run_stops_with_the_last_finite_weights(batch_size):
    config = tiny(**{"model.nonlinearity": "relu", "model.readout": "linear", "train.lr": 5.0,
                     "train.steps": 200, "train.batch_size": batch_size})
    result = train(config)
    assert result.status == "diverged" and 0 < len(result.history) < 200
    assert "kept the last finite weights" in result.message
    assert all(torch.isfinite(t).all() for t in result.model.tensors().values())
    assert all(np.isfinite(result.history))
