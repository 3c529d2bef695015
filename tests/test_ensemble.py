"""Ensembles: members equal single runs, one stored run, median and 10-90 % band forecasts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import tiny
from rnnlab.evaluate import evaluate_ensemble
from rnnlab.training.ensemble import EnsembleResult, train_ensemble
from rnnlab.evaluate import evaluate_seed_task
from rnnlab.forecasting import forecast, forecast_ensemble
from rnnlab.store import RunStore
from rnnlab.training import train


def _same(a, b) -> bool:
    ta, tb = a.tensors(), b.tensors()
    return list(ta) == list(tb) and all(torch.equal(ta[k], tb[k]) for k in ta)


@pytest.mark.parametrize("engine", ["fast", "torch"])
def test_members_equal_single_runs(engine):
    config = tiny(**{"seed": 10, "train.steps": 60, "train.engine": engine, "train.ensemble": 3})
    result = train(config)
    assert isinstance(result, EnsembleResult)
    assert result.seeds == [10, 11, 12] and len(result.members) == 3
    assert result.model is result.members[0]
    assert result.status == "completed" and result.steps_done == 60
    for i in (0, 2):
        single = train(tiny(**{"seed": 10 + i, "train.steps": 60, "train.engine": engine}))
        assert _same(result.members[i], single.model)
        if i == 0:
            assert result.context == single.context
    assert not _same(result.members[0], result.members[1])


def test_history_is_the_median_member_loss():
    config = tiny(**{"seed": 3, "train.steps": 50, "train.engine": "fast", "train.ensemble": 5})
    result = train(config)
    singles = [train(tiny(**{"seed": 3 + i, "train.steps": 50, "train.engine": "fast"})).history for i in range(5)]
    np.testing.assert_allclose(result.history, np.median(np.array(singles), axis=0), rtol=0, atol=1e-15)


def test_progress_reports_every_step():
    seen = []
    config = tiny(**{"seed": 1, "train.steps": 120, "train.engine": "fast", "train.ensemble": 4})
    train_ensemble(config, on_step=lambda step, total, loss: seen.append((step, total)))
    assert seen == [(s, 120) for s in range(1, 121)]


def test_forecast_band_is_median_and_percentiles():
    config = tiny(**{"seed": 2, "train.steps": 200, "train.engine": "fast", "train.ensemble": 7})
    result = train(config)
    context = [0.34, 0.17, 0.0, -0.17, -0.34]
    band = forecast_ensemble(result.members, context, 6)
    each = np.stack([forecast(m, context, 6) for m in result.members])
    np.testing.assert_array_equal(band["members"], each)
    np.testing.assert_allclose(band["median"], np.sort(each, axis=0)[3])  # 7 members: the 4th value
    np.testing.assert_allclose(band["low"], np.percentile(each, 10, axis=0))
    assert np.all(band["low"] <= band["median"]) and np.all(band["median"] <= band["high"])
    assert np.any(band["high"] - band["low"] > 1e-4)  # members differ


def test_evaluate_ensemble_of_one_matches_evaluate_seed_task():
    config = tiny(**{"seed": 6, "train.steps": 300, "train.engine": "fast"})
    model = train(config).model
    one = evaluate_ensemble(config, [model], 10)
    reference = evaluate_seed_task(model, config.data, 10)
    assert one["windows"] == reference["windows"] == 560
    assert one["one_step_mse"] == pytest.approx(reference["one_step_mse"], rel=1e-4)
    assert one["rollout_rmse"] == pytest.approx(reference["rollout_rmse"], rel=1e-4)
    assert one["members"]["one_step_mse"]["median"] == pytest.approx(one["one_step_mse"])


def test_store_round_trip(tmp_path):
    config = tiny(**{"seed": 4, "train.steps": 30, "train.engine": "fast", "train.ensemble": 4})
    result = train(config)
    store = RunStore(tmp_path / "runs")
    run_id = store.save(result, {})
    run = store.load(run_id)
    assert run.config.train.ensemble == 4
    assert len(run.members) == 4
    assert _same(run.model, result.members[0])
    assert all(_same(a, b) for a, b in zip(run.members, result.members))
    single = train(tiny(**{"seed": 4, "train.steps": 30}))
    run_id = store.save(single, {})
    assert store.load(run_id).members is None  # a single run has no ensemble file
    assert not (store.path(run_id) / "ensemble.safetensors").exists()


def test_cli_ensemble_train_and_forecast(runs_dir, cli):
    code, out, err = cli("train", "--seed", "5", "--steps", "200", "--engine", "fast", "--ensemble", "5", "--quiet", "--json")
    assert code == 0, err
    summary = json.loads(out)
    spread = summary["metrics"]["ensemble"]["members"]
    assert spread["count"] == 5
    assert spread["one_step_mse"]["min"] <= spread["one_step_mse"]["median"] <= spread["one_step_mse"]["max"]
    code, out, err = cli("forecast", summary["id"], "--steps", "4", "--json")
    assert code == 0, err
    data = json.loads(out)
    ens = data["ensemble"]
    assert ens["members"] == 5 and data["forecast"] == ens["median"]
    assert all(lo <= m <= hi for lo, m, hi in zip(ens["p10"], ens["median"], ens["p90"]))
    code, out, err = cli("forecast", summary["id"], "--steps", "3")
    assert code == 0 and len(out.strip().splitlines()[-1].split("\t")) == 3


@pytest.mark.parametrize("count", ["0", "-2"])
def test_cli_rejects_bad_ensemble_sizes(runs_dir, cli, count):
    code, out, err = cli("train", "--ensemble", count, "--steps", "5", "--quiet")
    assert code == 2
    assert err.strip() == f"error: train.ensemble must be >= 1, got {count}"
    assert not runs_dir.exists() or not [p for p in runs_dir.iterdir() if p.is_dir()]  # nothing stored


def test_rollout_ensemble_draws_member_0s_context():
    overrides = {"seed": 4, "train.steps": 20, "train.engine": "fast", "train.rollout": 3,
                 "train.batch_size": 4, "train.optimizer": "adam", "train.lr": 0.01, "model.readout": "linear"}
    result = train(tiny(**overrides, **{"train.ensemble": 2}))
    single = train(tiny(**overrides))
    assert result.context == single.context
    assert _same(result.members[0], single.model)
