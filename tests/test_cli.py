"""The command line, in-process: each command, --json, and every bad input as a one-line error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from rnnlab.store import RunStore


def test_train_stores_a_run_and_reports_json(runs_dir, cli):
    code, out, err = cli("train", "--seed", 4, "--steps", 25, "--hidden-size", 3, "--cell", "gru",
                         "--readout", "linear", "--lr", 0.05, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "completed" and summary["steps"] == 25 and summary["seed"] == 4
    run = RunStore(runs_dir).load(summary["id"])
    assert (run.config.model.cell, run.config.model.hidden_size, run.config.train.lr) == ("gru", 3, 0.05)
    assert len(run.history) == 25 and summary["final_loss"] == run.history[-1]
    assert "Epoch: 20/25, Loss:" in err  # loss lines are progress: stderr
    assert summary["metrics"]["one_step_mse"] == run.metrics["one_step_mse"]


def test_train_with_config_file_and_rnn_relu(runs_dir, cli, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = 12\nlog_every = 4\n[model]\nnum_layers = 2\n")
    code, out, err = cli("train", "--config", path, "--cell", "rnn_relu", "--seed", 1, "--quiet", "--json")
    assert code == 0, err
    config = RunStore(runs_dir).load(json.loads(out)["id"]).config
    assert (config.train.steps, config.model.num_layers, config.model.nonlinearity) == (12, 2, "relu")
    assert err.strip().startswith("run stored")  # --quiet: no loss lines, no bar


def test_train_without_seed_draws_and_stores_one(runs_dir, cli):
    code, out, _ = cli("train", "--steps", 3, "--quiet", "--json")
    assert code == 0
    seed = json.loads(out)["seed"]
    assert isinstance(seed, int) and RunStore(runs_dir).load(json.loads(out)["id"]).config.seed == seed


def test_forecast_from_stored_context_values_window_and_draw(stored_run, runs_dir, cli):
    run = RunStore(runs_dir).load(stored_run)
    from rnnlab.forecasting import forecast

    code, out, _ = cli("forecast", stored_run, "--json")
    data = json.loads(out)
    assert code == 0 and data["window"] == run.info["context"] and len(data["forecast"]) == 10
    np.testing.assert_array_equal(data["forecast"], forecast(run.model, data["context"], 10))

    code, out, _ = cli("forecast", stored_run, "--values", "0.34, 0.17,0", "--steps", 3, "--json")
    data = json.loads(out)
    assert data["context"] == [0.34, 0.17, 0.0]
    np.testing.assert_array_equal(data["forecast"], forecast(run.model, [0.34, 0.17, 0.0], 3))

    code, out, _ = cli("forecast", stored_run, "--window", "3:9", "--json")
    assert json.loads(out)["window"] == [3, 9] and len(json.loads(out)["context"]) == 6

    code, out, _ = cli("forecast", stored_run, "--draw-seed", 11, "--json")
    import random

    from rnnlab.data import SeedWindows

    w = SeedWindows(run.config.data, random.Random(11)).draw()
    assert json.loads(out)["window"] == [w.start, w.end]

    code, out, _ = cli("forecast", "latest", "--values", "0.5", "--steps", 2)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "0.5" and lines[1].startswith("---") and len(lines) == 4


def test_weights_table_and_json(stored_run, runs_dir, cli):
    code, out, _ = cli("weights", stored_run, "--json")
    data = json.loads(out)
    tensors = RunStore(runs_dir).load(stored_run).model.tensors()
    assert code == 0 and list(data) == list(tensors)
    for name, t in tensors.items():
        assert data[name]["shape"] == list(t.shape)
        np.testing.assert_array_equal(data[name]["values"], t.numpy())
    code, out, _ = cli("weights", stored_run)
    assert code == 0 and "weight_hh_l0" in out and "4×4" in out


def test_evaluate_counts_560_windows_and_compares_with_naive(stored_run, runs_dir, cli):
    code, out, _ = cli("evaluate", stored_run, "--json")
    metrics = json.loads(out)
    assert code == 0 and metrics["windows"] == 560 and metrics["steps"] == 10
    assert set(metrics) >= {"one_step_mse", "rollout_rmse", "naive", "model"}
    assert RunStore(runs_dir).load(stored_run).metrics["rollout_rmse"] == metrics["rollout_rmse"]
    code, out, _ = cli("evaluate", stored_run)
    assert "naive" in out and "one-step MSE" in out


def test_runs_list_show_rm(stored_run, runs_dir, cli):
    code, out, _ = cli("runs", "list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [stored_run]
    code, out, _ = cli("runs", "list")
    assert stored_run[:10] in out
    code, out, _ = cli("runs", "show", stored_run, "--json")
    assert json.loads(out)["info"]["id"] == stored_run
    code, _, err = cli("runs", "rm", stored_run)
    assert code == 0 and "removed" in err
    assert json.loads(cli("runs", "list", "--json")[1]) == []


BAD_TRAIN = [
    (["--hidden-size", "0"], 2, "model.hidden_size must be >= 1, got 0"),
    (["--hidden-size", "-2"], 2, "model.hidden_size must be >= 1, got -2"),
    (["--lr", "0"], 2, "train.lr must be a finite number > 0, got 0.0"),
    (["--lr", "-1"], 2, "train.lr must be a finite number > 0, got -1.0"),
    (["--lr", "nan"], 2, "train.lr must be a finite number > 0, got nan"),
    (["--steps", "0"], 2, "train.steps must be >= 1, got 0"),
    (["--preset", "nope"], 2, "preset must be one of"),
    (["--cell", "transformer"], 2, "model.cell must be one of rnn, lstm, gru; got 'transformer'"),
    (["--hidden-size", "four"], 2, "Input should be a valid integer"),
]


@pytest.mark.parametrize("args,code,message", BAD_TRAIN)
def test_bad_train_flags(stored_run, runs_dir, cli, args, code, message):
    before = RunStore(runs_dir).list()
    got, out, err = cli("train", *args)
    assert got == code
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and out == ""
    assert RunStore(runs_dir).list() == before


@pytest.mark.parametrize(
    "text,message",
    [
        ("[data]\nmin_length = 0\n", "data.min_length must be >= 1, got 0"),
        ("[model]\nsize = 3\n", "unknown config key model.size"),
        ("steps = = 3", "is not valid TOML"),
    ],
)
def test_bad_config_file(runs_dir, cli, tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    code, _, err = cli("train", "--config", path)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["--values", "0.1,abc"], 2, "values must be numbers, got 'abc'"),
        (["--values", ""], 2, "got an empty list"),
        (["--values", "0.1,nan"], 2, "values must be finite numbers, got 'nan'"),
        (["--values", "inf"], 2, "values must be finite numbers, got 'inf'"),
        (["--window", "30:40"], 2, "window must satisfy 0 <= START < END <= 37"),
        (["--window", "5:5"], 2, "window must satisfy"),
        (["--window", "a:b"], 2, "window must be START:END with integers"),
        (["--values", "1", "--window", "1:3"], 2, "give the context one way only"),
        (["--steps", "0"], 2, "--steps must be >= 1, got 0"),
    ],
)
def test_bad_forecast_input(stored_run, cli, args, code, message):
    got, out, err = cli("forecast", stored_run, *args)
    assert got == code and message in err and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["forecast", "weights", "evaluate"])
def test_unknown_run(runs_dir, cli, command):
    code, _, err = cli(command, "no-such-run")
    assert code == 1 and "error: run 'no-such-run' does not exist" in err


def test_damaged_run_is_reported_and_the_catalog_kept(stored_run, runs_dir, cli):
    (runs_dir / stored_run / "model.safetensors").write_bytes(b"\x08\x00")
    code, _, err = cli("forecast", stored_run)
    assert code == 1 and "model.safetensors is not a valid safetensors file" in err and "Traceback" not in err
    assert [r["id"] for r in RunStore(runs_dir).list()] == [stored_run]


def test_diverging_training_stops_and_keeps_finite_weights(runs_dir, cli):
    code, out, err = cli("train", "--seed", 1, "--steps", 200, "--cell", "rnn_relu", "--readout", "linear",
                         "--lr", 5, "--quiet", "--json")
    assert code == 1 and "error: loss became" in err and "kept the last finite weights" in err
    run = RunStore(runs_dir).load(json.loads(out)["id"])
    assert run.status == "diverged" and 0 < len(run.history) < 200
    assert all(np.isfinite(t.numpy()).all() for t in run.model.tensors().values())
    assert all(np.isfinite(run.history))


def test_seed_command_prints_the_seed_session(runs_dir, cli):
    code, out, err = cli("seed", "--seed", 1, "--steps", 20, "--quiet")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("Epoch: 10/20, Loss: ") and lines[2] == "-" * 34
    assert "weight_ih_l0,  Parameter containing:" in out and "bias_hh_l0, " in out
    assert out.count("-" * 34 + "\n") == 3 and len(lines[lines.index("-" * 34, 3) + 1 :]) > 10
    assert "run stored" in err


def test_ctrl_c_stops_cleanly_and_keeps_the_run(runs_dir):
    env = dict(os.environ, RNNLAB_RUNS_DIR=str(runs_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnlab", "train", "--seed", "2", "--steps", "10000000", "--log-every", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    for line in proc.stderr:  # wait until training is under way
        if line.startswith("Epoch: 20/"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    rows = RunStore(runs_dir).list()
    assert len(rows) == 1 and rows[0]["status"] == "interrupted" and rows[0]["steps"] >= 20
    run = RunStore(runs_dir).load(rows[0]["id"])
    assert len(run.history) == rows[0]["steps"] and run.status == "interrupted"


def test_a_csv_run_forecasts_from_another_directory(runs_dir, cli, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    values = [f"2020-01-{d:02d},{np.sin(d / 3):.6f}" for d in range(1, 31)]
    (data / "s.csv").write_text("date,value\n" + "\n".join(values) + "\n")
    monkeypatch.chdir(data)
    code, out, err = cli("train", "--preset", "forecast", "--csv", "s.csv", "--column", "value",
                         "--time-column", "date", "--horizon", 3, "--context-length", 4, "--steps", 5, "--seed", 1,
                         "--quiet", "--json")
    assert code == 0, err
    run_id = json.loads(out)["id"]
    run = RunStore(runs_dir).load(run_id)
    assert run.trained_config.data.csv == str(data / "s.csv")  # the original, for reference
    assert run.config.data.csv == str(runs_dir / run_id / "series.csv")  # the run's own copy
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("forecast", run_id, "--steps", 3, "--json")
    assert code == 0, err
    assert json.loads(out)["times"] == ["2020-01-31", "2020-02-01", "2020-02-02"]
    (data / "s.csv").write_text("date,value\n2020-01-01,5\n2020-01-02,6\n2020-01-03,7\n")  # shortened
    assert cli("forecast", run_id, "--steps", 3, "--json")[1] == out
    (data / "s.csv").unlink()  # gone
    assert cli("forecast", run_id, "--steps", 3, "--json")[1] == out
    code, shown, _ = cli("runs", "show", run_id, "--json")
    assert json.loads(shown)["config"]["data"]["csv"] == str(data / "s.csv")
