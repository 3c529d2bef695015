"""Charts: what is drawn equals the run's numbers (baseline, inputs, forecast, loss, states)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import tiny
from rnnlab.config import ModelConfig
from rnnlab.data import series_values, true_value
from rnnlab.evaluate import evaluate_seed_task
from rnnlab.forecasting import forecast, forecast_rerun
from rnnlab.model import SequenceModel
from rnnlab.plot import (
    ForecastData,
    forecast_figure,
    forecast_table,
    loss_figure,
    run_forecast_data,
    smooth,
    smoothing_window,
    state_walk,
    states_figure,
    table_csv,
    table_markdown,
)
from rnnlab.store import RunStore
from rnnlab.training import train

PNG = b"\x89PNG\r\n\x1a\n"


def _save(store: RunStore, config, stop_at_once: bool = False) -> str:
    result = train(config, should_stop=(lambda: True) if stop_at_once else None)
    metrics = evaluate_seed_task(result.model, config.data, config.forecast.steps) if result.history else {}
    return store.save(result, metrics)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("plot") / "runs")


@pytest.fixture(scope="module")
def run(store):
    return store.load(_save(store, tiny(seed=3, **{"train.steps": 40})))


def _line(ax, gid):
    lines = [line for line in ax.get_lines() if line.get_gid() == gid]
    assert len(lines) == 1, f"expected one line with gid {gid!r}, got {[l.get_gid() for l in ax.get_lines()]}"
    return lines[0]


def test_forecast_chart_draws_baseline_inputs_and_forecast(run):
    data = run_forecast_data(run)
    figure = forecast_figure(data)
    ax = figure.axes[0]
    start, end = run.info["context"]
    steps = run.config.forecast.steps
    series = series_values(run.config.data)
    context = series[start:end]

    baseline = _line(ax, "baseline")
    last = max(len(series) - 1, end + steps - 1)
    np.testing.assert_array_equal(baseline.get_xdata(), np.arange(last + 1))
    np.testing.assert_array_equal(baseline.get_ydata(), [true_value(run.config.data, i) for i in range(last + 1)])

    inputs = _line(ax, "input")
    np.testing.assert_array_equal(inputs.get_xdata(), np.arange(start, end))
    np.testing.assert_array_equal(inputs.get_ydata(), torch.tensor(context.tolist()).double().numpy())
    assert inputs.get_linestyle() == "None" and inputs.get_marker() == "o"  # markers only

    prediction = _line(ax, "prediction")
    np.testing.assert_array_equal(prediction.get_xdata(), np.arange(end, end + steps))
    np.testing.assert_array_equal(prediction.get_ydata(), forecast(run.model, context.tolist(), steps))
    # the seed's way of generating gives the same values
    np.testing.assert_allclose(prediction.get_ydata(), forecast_rerun(run.model, context.tolist(), steps), atol=1e-6)

    rule = _line(ax, "generation")
    assert list(rule.get_xdata()) == [end - 0.5, end - 0.5]
    assert run.id in ax.get_title()
    assert ax.get_xlabel() and ax.get_ylabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"Baseline", "Input", "Prediction"}


def test_baseline_continues_past_the_training_series(run):
    last_window = dataclasses.replace(run, info={**run.info, "context": [30, 37]})
    data = run_forecast_data(last_window, steps=10)
    assert data.train_end == 36
    np.testing.assert_array_equal(data.baseline_index, np.arange(47))  # 37 + 10 values
    np.testing.assert_array_equal(data.baseline[37:], [true_value(run.config.data, i) for i in range(37, 47)])
    ax = forecast_figure(data).axes[0]
    assert [p.get_gid() for p in ax.patches] == ["beyond-training"]
    np.testing.assert_array_equal(_line(ax, "prediction").get_xdata(), np.arange(37, 47))


def test_forecast_chart_draws_a_band(run):
    data = run_forecast_data(run)
    lower, upper = data.prediction - 0.1, data.prediction + 0.25
    banded = dataclasses.replace(data, lower=lower, upper=upper)
    ax = forecast_figure(banded).axes[0]
    (band,) = [c for c in ax.collections if c.get_gid() == "band"]
    vertices = band.get_paths()[0].vertices
    for x, lo, hi in zip(data.prediction_index, lower, upper):
        ys = vertices[vertices[:, 0] == x][:, 1]
        assert np.isclose(ys.min(), lo) and np.isclose(ys.max(), hi)
    rows = forecast_table(banded)
    by_index = {row["index"]: row for row in rows}
    assert by_index[int(data.prediction_index[0])]["upper"] == upper[0]


def test_a_band_needs_both_sides(run):
    data = run_forecast_data(run)
    with pytest.raises(Exception, match="both lower and upper"):
        dataclasses.replace(data, lower=data.prediction)


def test_several_forecasts_share_the_axes(store, run):
    other = store.load(_save(store, tiny(seed=5, **{"train.steps": 20})))
    first, second = run_forecast_data(run), run_forecast_data(other)
    ax = forecast_figure([first, second]).axes[0]
    for data in (first, second):
        np.testing.assert_array_equal(_line(ax, f"prediction:{data.label}").get_ydata(), data.prediction)
        np.testing.assert_array_equal(_line(ax, f"input:{data.label}").get_ydata(), data.inputs)
    # both runs share one sine: a single baseline, the longest
    baselines = [line for line in ax.get_lines() if str(line.get_gid()).startswith("baseline")]
    assert len(baselines) == 1
    assert len(baselines[0].get_xdata()) == max(len(first.baseline), len(second.baseline))


def test_table_holds_the_charted_numbers_as_csv_and_markdown(run):
    data = run_forecast_data(run)
    rows = forecast_table(data)
    assert [row["index"] for row in rows] == list(range(len(data.baseline)))
    parsed = list(csv.DictReader(io.StringIO(table_csv(rows))))
    assert list(parsed[0]) == ["index", "baseline", "input", "prediction"]
    for row in parsed:
        i = int(row["index"])
        assert float(row["baseline"]) == data.baseline[i]
        if i in data.input_index:
            assert float(row["input"]) == data.inputs[i - data.input_index[0]]
        else:
            assert row["input"] == ""
        if i in data.prediction_index:
            assert float(row["prediction"]) == data.prediction[i - data.prediction_index[0]]
        else:
            assert row["prediction"] == ""
    lines = table_markdown(rows).splitlines()
    assert lines[0] == "| index | baseline | input | prediction |" and len(lines) == len(rows) + 2
    cells = [c.strip() for c in lines[2 + int(data.prediction_index[0])].strip("|").split("|")]
    assert float(cells[3]) == data.prediction[0]


def test_loss_chart_draws_raw_and_smoothed_loss_on_a_log_scale(run):
    ax = loss_figure({"r": run.history}).axes[0]
    raw, smoothed = _line(ax, "raw:r"), _line(ax, "smooth:r")
    np.testing.assert_array_equal(raw.get_xdata(), np.arange(1, len(run.history) + 1))
    np.testing.assert_array_equal(raw.get_ydata(), run.history)
    window = smoothing_window(len(run.history))
    expected = [np.mean(run.history[max(0, t - window + 1) : t + 1]) for t in range(len(run.history))]
    np.testing.assert_allclose(smoothed.get_ydata(), expected, rtol=1e-12)
    assert ax.get_yscale() == "log"
    assert raw.get_alpha() < smoothed.get_alpha() if smoothed.get_alpha() else raw.get_alpha() < 1


def test_loss_chart_of_several_runs_and_of_none():
    ax = loss_figure({"a": [1.0, 0.5, 0.25], "b": [2.0, 1.0]}).axes[0]
    np.testing.assert_array_equal(_line(ax, "raw:b").get_ydata(), [2.0, 1.0])
    np.testing.assert_array_equal(_line(ax, "raw:a").get_ydata(), [1.0, 0.5, 0.25])
    with pytest.raises(Exception, match="no loss history"):
        loss_figure({"empty": []})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1e3), min_size=1, max_size=60), st.integers(1, 70))
def test_smooth_is_the_trailing_moving_mean(values, window):
    expected = [sum(values[max(0, t - window + 1) : t + 1]) / len(values[max(0, t - window + 1) : t + 1])
                for t in range(len(values))]
    np.testing.assert_allclose(smooth(values, window), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "cell, layers, readout",
    [("rnn", 1, "unit"), ("lstm", 1, "unit"), ("gru", 1, "linear"), ("lstm", 2, "linear"), ("gru", 2, "unit")],
)
def test_state_walk_matches_torch(cell, layers, readout):
    torch.manual_seed(0)
    model = SequenceModel(ModelConfig(cell=cell, hidden_size=3, num_layers=layers, readout=readout)).eval()
    inputs = [0.3, -0.2, 0.9, 0.1, -0.7]
    walk = state_walk(model, inputs)
    x = torch.tensor(inputs).view(1, -1, 1)
    with torch.no_grad():
        out, state = model.rnn(x)  # (1, time, hidden)
        predictions, _ = model(x)
    np.testing.assert_allclose(walk.layers[-1]["h"], out[0].double().numpy(), atol=1e-6)
    np.testing.assert_allclose(walk.predictions, predictions[0].double().numpy(), atol=1e-6)
    h_n = state[0] if cell == "lstm" else state  # (layers, 1, hidden)
    for layer in range(layers):
        np.testing.assert_allclose(walk.layers[layer]["h"][-1], h_n[layer, 0].double().numpy(), atol=1e-6)
    if cell == "lstm":
        np.testing.assert_allclose(walk.layers[-1]["c"][-1], state[1][-1, 0].double().numpy(), atol=1e-6)

    figure = states_figure(walk, index=np.arange(10, 15), generation_start=13.5)
    images = {image.get_gid(): image for ax in figure.axes for image in ax.images}
    expected = {f"{l}:{name}" for l in range(layers) for name in walk.layers[l]}
    assert set(images) == expected
    assert {"0:h", "0:f"} <= expected if cell == "lstm" else {"0:h"} <= expected
    for gid, image in images.items():
        layer, name = gid.split(":")
        np.testing.assert_array_equal(image.get_array(), walk.layers[int(layer)][name].T)  # units × time
        assert image.get_extent()[:2] == [9.5, 14.5]


# -- the command line -----------------------------------------------------------------------------


def test_plot_command_writes_charts_and_table(runs_dir, stored_run, cli):
    code, out, err = cli("plot", stored_run, "--json")
    assert code == 0, err
    files = json.loads(out)["files"]
    run_dir = runs_dir / stored_run
    names = {f.split("/")[-1] for f in files}
    assert names == {f"{n}.{ext}" for n in ("forecast", "loss", "states") for ext in ("png", "svg")} | {
        "forecast.csv", "forecast.md"}
    for name in names:
        path = run_dir / name
        assert path.is_file() and path.stat().st_size > 0
        if name.endswith(".png"):
            assert path.read_bytes().startswith(PNG)
        if name.endswith(".svg"):
            assert ET.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    run = RunStore(runs_dir).load(stored_run)
    data = run_forecast_data(run)
    assert (run_dir / "forecast.csv").read_text() == table_csv(forecast_table(data))
    rows = list(csv.DictReader(io.StringIO((run_dir / "forecast.csv").read_text())))
    predicted = [float(r["prediction"]) for r in rows if r["prediction"]]
    start, end = run.info["context"]
    context = series_values(run.config.data)[start:end].tolist()
    assert predicted == forecast(run.model, context, run.config.forecast.steps).tolist()


def test_plot_command_compares_runs_into_out(runs_dir, stored_run, cli, tmp_path):
    code, out, err = cli("train", "--seed", "4", "--steps", "10", "--quiet", "--json")
    assert code == 0, err
    other = json.loads(out)["id"]
    code, out, err = cli("plot", stored_run, other, "--out", tmp_path / "cmp")
    assert code == 0, err
    listed = out.split()
    assert sorted(p.split("/")[-1] for p in listed) == sorted(
        f"compare-{n}.{e}" for n in ("forecast", "loss") for e in ("png", "svg"))
    assert (tmp_path / "cmp" / "compare-forecast.png").read_bytes().startswith(PNG)


def test_plot_latest(runs_dir, stored_run, cli):
    code, out, err = cli("plot", "latest")
    assert code == 0, err
    assert f"{stored_run}/forecast.png" in out


def test_plot_errors_are_one_line(runs_dir, stored_run, cli, tmp_path):
    code, out, err = cli("plot", "no-such-run")
    assert code == 1 and err.startswith("error: ") and "no-such-run" in err and "Traceback" not in err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, out, err = cli("plot", stored_run, "--out", blocker / "charts")
    assert code == 1 and err.startswith("error: ") and str(blocker / "charts") in err
    assert out == ""


def test_plot_of_a_run_without_history_is_a_clear_error_and_writes_nothing(runs_dir, cli):
    store = RunStore(runs_dir)
    run_id = _save(store, tiny(seed=2), stop_at_once=True)
    assert store.load(run_id).history == []
    before = sorted(p.name for p in (runs_dir / run_id).iterdir())
    code, out, err = cli("plot", run_id)
    assert code == 2 and err.startswith("error: ") and "no loss history" in err and run_id in err
    assert sorted(p.name for p in (runs_dir / run_id).iterdir()) == before


def test_forecast_data_checks_its_arrays():
    with pytest.raises(Exception, match="equal length"):
        ForecastData("x", np.arange(3), np.zeros(2), np.arange(1), np.zeros(1), np.arange(1), np.zeros(1))


def test_an_ensemble_run_draws_its_median_and_band(store):
    from rnnlab.training.ensemble import train_ensemble
    from rnnlab.forecasting import forecast_ensemble

    config = tiny(seed=6, **{"train.steps": 10, "train.ensemble": 3})
    ensemble = store.load(store.save(train_ensemble(config), {}))
    assert len(ensemble.members) == 3
    start, end = ensemble.info["context"]
    context = series_values(config.data)[start:end].tolist()
    expected = forecast_ensemble(ensemble.members, context, config.forecast.steps)
    data = run_forecast_data(ensemble)
    np.testing.assert_array_equal(data.prediction, expected["median"])
    np.testing.assert_array_equal(data.lower, expected["low"])
    np.testing.assert_array_equal(data.upper, expected["high"])
    ax = forecast_figure(data).axes[0]
    np.testing.assert_array_equal(_line(ax, "prediction").get_ydata(), expected["median"])
    assert [c.get_gid() for c in ax.collections if c.get_gid() == "band"] == ["band"]


def test_a_dataset_run_forecasts_past_the_end_of_its_series(runs_dir, cli):
    code, out, err = cli("train", "--series", "dataset", "--dataset", "nile", "--steps", "20",
                         "--readout", "linear", "--seed", "1", "--quiet", "--json")
    assert code == 0, err
    run = RunStore(runs_dir).load(json.loads(out)["id"])
    code, out, err = cli("forecast", run.id, "--json")
    assert code == 0, err
    expected = json.loads(out)["forecast"]
    data = run_forecast_data(run)
    series = series_values(run.config.data)
    np.testing.assert_allclose(data.prediction, expected, rtol=1e-12)
    np.testing.assert_array_equal(data.prediction_index, np.arange(len(series), len(series) + len(expected)))
    np.testing.assert_array_equal(data.baseline, series)  # no continuation is made up for data
    assert data.input_index[-1] == len(series) - 1
    np.testing.assert_array_equal(data.inputs, series[data.input_index])
