"""Run store: atomic run directories, the SQLite catalog, loading that never trusts the files."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from rnnlab.errors import InputError, RunCorruptError, RunNotFoundError, StoreError
from rnnlab.forecasting import forecast
from rnnlab.store import RunStore
from rnnlab.training import train

from conftest import tiny


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def save_tiny(store, **overrides):
    result = train(tiny(**overrides))
    return result, store.save(result, {"one_step_mse": 0.5})


def test_save_load_gives_identical_forecasts(store):
    result, run_id = save_tiny(store, **{"model.cell": "lstm", "model.readout": "linear"})
    run = store.load(run_id)
    assert run.config == result.config
    assert run.history == result.history
    assert run.info["status"] == "completed" and run.info["context"] == [result.context.start, result.context.end]
    context = [0.5, 0.6, 0.7, 0.8]
    np.testing.assert_array_equal(forecast(run.model, context, 10), forecast(result.model, context, 10))
    files = sorted(p.name for p in (store.root / run_id).iterdir())
    assert files == ["config.json", "history.json", "metrics.json", "model.safetensors", "run.json"]
    assert set(load_file(str(store.root / run_id / "model.safetensors"))) == {
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "readout.weight", "readout.bias"}


def test_catalog_lists_runs_in_order_and_uses_wal(store):
    _, first = save_tiny(store)
    _, second = save_tiny(store, seed=2)
    rows = store.list()
    assert [r["id"] for r in rows] == [first, second]
    assert rows[1]["config"]["seed"] == 2 and rows[0]["metrics"] == {"one_step_mse": 0.5}
    assert store.latest() == second
    with sqlite3.connect(store.root / "runs.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_remove_deletes_row_and_directory(store):
    _, keep = save_tiny(store)
    _, gone = save_tiny(store, seed=4)
    store.remove(gone)
    assert [r["id"] for r in store.list()] == [keep]
    assert not (store.root / gone).exists() and (store.root / keep).is_dir()
    with pytest.raises(RunNotFoundError, match=f"run '{gone}' does not exist"):
        store.remove(gone)


def test_update_metrics(store):
    _, run_id = save_tiny(store)
    store.update_metrics(run_id, {"rollout_rmse": 0.25})
    assert store.load(run_id).metrics == {"rollout_rmse": 0.25}
    assert store.list()[0]["metrics"] == {"rollout_rmse": 0.25}


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/b", "..", ".hidden", "", "a\\b", "%2e%2e"])
def test_run_ids_are_plain_names(store, bad):
    with pytest.raises((InputError, RunNotFoundError)):
        store.load(bad)


def test_missing_run(store):
    with pytest.raises(RunNotFoundError, match="run 'nope' does not exist"):
        store.load("nope")


def corrupt_cases():
    def missing_weights(path):
        (path / "model.safetensors").unlink()

    def truncated_weights(path):
        data = (path / "model.safetensors").read_bytes()
        (path / "model.safetensors").write_bytes(data[: len(data) // 2])

    def unbuildable_config(path):
        config = json.loads((path / "config.json").read_text())
        config["model"]["cell"] = "transformer"
        (path / "config.json").write_text(json.dumps(config))

    def wrong_shapes(path):
        config = json.loads((path / "config.json").read_text())
        config["model"]["hidden_size"] = 7
        (path / "config.json").write_text(json.dumps(config))

    def garbage_config(path):
        (path / "config.json").write_text("{not json")

    return [
        (missing_weights, "model.safetensors is missing"),
        (truncated_weights, "model.safetensors is not a valid safetensors file"),
        (unbuildable_config, "config.json cannot rebuild the model: model.cell must be one of"),
        (wrong_shapes, "weight_ih_l0 has shape (4, 1), expected (7, 1)"),
        (garbage_config, "is not valid JSON"),
    ]


@pytest.mark.parametrize("damage,message", corrupt_cases(), ids=lambda x: getattr(x, "__name__", ""))
def test_damaged_runs_fail_clearly_and_leave_others_alone(store, damage, message):
    _, good = save_tiny(store)
    _, bad = save_tiny(store, seed=5)
    damage(store.root / bad)
    with pytest.raises(RunCorruptError) as info:
        store.load(bad)
    assert message in str(info.value)
    assert store.load(good).status == "completed"
    assert [r["id"] for r in store.list()] == [good, bad]


@pytest.mark.parametrize("after", [0, 3])
def test_a_full_disk_while_saving_leaves_no_row_no_directory_and_one_line(store, monkeypatch, after):
    import errno

    import rnnlab.runfiles as runfiles

    result = train(tiny())
    real, written = runfiles.write_file, []

    def filling_up(path, payload):  # the disk fills after ``after`` files
        if len(written) >= after:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path.name)
        real(path, payload)

    monkeypatch.setattr(runfiles, "write_file", filling_up)
    with pytest.raises(StoreError, match="could not be stored: no space left on the disk of"):
        store.save(result)
    assert store.list() == [] and len(written) == after
    assert sorted(p.name for p in store.root.iterdir() if not p.name.startswith("runs.db")) == []


def test_weights_file_loads_without_pickle(store):
    _, run_id = save_tiny(store)
    path = store.root / run_id / "model.safetensors"
    tensors = load_file(str(path))
    tensors["weight_ih_l0"] = tensors["weight_ih_l0"] * 0 + 2.0
    save_file(tensors, str(path))
    assert float(store.load(run_id).model.rnn.weight_ih_l0.detach().sum()) == 8.0
