"""Run store: atomic run directories, the SQLite catalog, loading that never trusts the files."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

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


# -- a broken catalog: one line pointing at 'runs check', and --repair rebuilds it -------------------

def break_truncated(db):
    db.write_bytes(db.read_bytes()[:100])


def break_garbage(db):
    db.write_bytes(bytes(range(256)) * 20)


def break_directory(db):
    db.unlink()
    db.mkdir()


def break_row(db):
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("UPDATE runs SET config = '{not json'")


@pytest.mark.parametrize("damage,problem", [
    (break_truncated, "is damaged"), (break_garbage, "is damaged (file is not a database)"),
    (break_directory, "is a directory, not a SQLite file"), (break_row, "holds a damaged row"),
], ids=["truncated", "garbage", "directory", "row"])
def test_a_broken_catalog_is_one_line_and_repair_rebuilds_it(runs_dir, cli, damage, problem):
    store = RunStore(runs_dir)
    _, first = save_tiny(store)
    _, second = save_tiny(store, seed=2)
    with closing(sqlite3.connect(runs_dir / "runs.db")) as connection, connection:  # another part's table
        connection.execute("CREATE TABLE groups (name TEXT PRIMARY KEY, size INTEGER)")
        connection.execute("INSERT INTO groups VALUES ('shops', 2)")
    for suffix in ("-wal", "-shm"):
        assert not (runs_dir / f"runs.db{suffix}").exists()  # checkpointed when the last connection closed
    damage(runs_dir / "runs.db")
    writes = [] if damage is break_row else [["train", "--steps", "3", "--quiet"]]  # rows are not read there
    for args in [["runs", "list"], ["runs", "show", "latest"], ["forecast", "latest", "--steps", "2"], *writes]:
        code, out, err = cli(*args)
        assert code == 1 and out == "", args
        assert err.startswith("error: the catalog ") and problem in err and err.count("\n") == 1
        assert "rnnlab runs check --repair" in err and "Traceback" not in err
    code, out, err = cli("runs", "check")
    assert code == 1 and "catalog" in out and "--repair" in err
    code, out, err = cli("runs", "check", "--repair")
    assert code == 0, out + err
    assert f"rebuilt from 2 run directories" in out
    assert [r["id"] for r in store.list()] == [first, second]
    assert store.list()[0]["metrics"] == {"one_step_mse": 0.5}
    if damage is break_row:  # a readable catalog keeps its other tables
        assert "kept the tables groups" in out
        with closing(sqlite3.connect(runs_dir / "runs.db")) as connection:
            assert connection.execute("SELECT * FROM groups").fetchall() == [("shops", 2)]
    assert any(p.name.startswith("runs.db.broken-") for p in runs_dir.iterdir())
    assert cli("runs", "check")[0] == 0


def test_a_deleted_catalog_is_rebuilt_by_the_next_command(runs_dir, cli):
    store = RunStore(runs_dir)
    _, first = save_tiny(store)
    _, second = save_tiny(store, seed=2)
    for path in runs_dir.glob("runs.db*"):
        path.unlink()
    code, out, err = cli("runs", "list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [first, second]
    assert err.count("to the catalog (its directory was not listed)") == 2
    assert store.latest() == second and cli("runs", "check")[0] == 0


def test_runs_check_finds_and_repairs_rows_without_directories_and_stray_staging(runs_dir, cli):
    import shutil

    store = RunStore(runs_dir)
    _, gone = save_tiny(store)
    _, kept = save_tiny(store, seed=2)
    shutil.rmtree(runs_dir / gone)
    (runs_dir / ".tmp-x-1234").mkdir()  # a killed write's staging directory, its lock gone
    code, out, err = cli("runs", "check", "--json")
    findings = {(f["kind"], f["target"]) for f in json.loads(out)["findings"]}
    assert code == 1 and findings == {("missing", gone), ("staging", ".tmp-x-1234")}
    code, out, err = cli("runs", "check", "--repair")
    assert code == 0 and out.count("repaired") == 2
    assert [r["id"] for r in store.list()] == [kept] and not (runs_dir / ".tmp-x-1234").exists()


# -- tampered run files --------------------------------------------------------------------------

def tamper_json(name, value):
    def damage(path):
        (path / name).write_text(json.dumps(value))
    damage.__name__ = f"{name}={json.dumps(value)[:20]}"
    return damage


def tamper_weights(change):
    def damage(path):
        tensors = load_file(str(path / "model.safetensors"))
        save_file({k: change(v) for k, v in tensors.items()}, str(path / "model.safetensors"))
    return damage


def _nan(tensor):
    tensor = tensor.clone()
    tensor.view(-1)[0] = float("nan")
    return tensor


@pytest.mark.parametrize("damage,message", [
    (tamper_json("run.json", [1, 2]), "must hold a JSON dict (run info), got list"),
    (tamper_json("run.json", {"status": 3}), "'status' has the wrong type (int)"),
    (tamper_json("run.json", {"context": [5, 2]}), "context must be [start, end] with 0 <= start < end"),
    (tamper_json("history.json", {"loss": "low"}), "must hold {\"loss\": [numbers]}"),
    (tamper_json("history.json", [0.1]), "must hold a JSON dict (history), got list"),
    (tamper_json("metrics.json", "good"), "must hold a JSON dict (metrics), got str"),
    (tamper_weights(lambda t: t.half()), "is float16; weights must be float32"),
    (tamper_weights(lambda t: t.to(torch_int64())), "is int64; weights must be float32"),
    (tamper_weights(_nan), "holds NaN or infinite values"),
    (tamper_weights(lambda t: t.double() * 1e300), "holds values beyond float32"),
], ids=lambda x: getattr(x, "__name__", None) if callable(x) else None)
def test_tampered_run_files_are_refused_in_one_line(runs_dir, cli, damage, message):
    store = RunStore(runs_dir)
    _, good = save_tiny(store)
    _, bad = save_tiny(store, seed=2)
    damage(runs_dir / bad)
    with pytest.raises(RunCorruptError) as info:
        store.load(bad)
    assert message in str(info.value)
    code, out, err = cli("runs", "show", bad)
    assert code == 1 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert store.load(good).status == "completed"
    code, out, err = cli("runs", "check")
    assert code == 1 and f"unreadable  {bad}" in out


def torch_int64():
    import torch

    return torch.int64


def test_float64_weights_are_read_as_float32(store):
    _, run_id = save_tiny(store)
    path = store.root / run_id / "model.safetensors"
    save_file({k: v.double() for k, v in load_file(str(path)).items()}, str(path))
    assert store.load(run_id).model.rnn.weight_ih_l0.dtype.is_floating_point


# -- odds and ends ----------------------------------------------------------------------------------

def test_runs_rm_latest_removes_the_newest_once(runs_dir, cli):
    store = RunStore(runs_dir)
    _, first = save_tiny(store)
    _, second = save_tiny(store, seed=2)
    code, out, err = cli("runs", "rm", "latest", "latest")
    assert code == 0 and err.strip() == f"removed {second}"
    assert [r["id"] for r in store.list()] == [first]


def test_a_regular_file_as_runs_dir_is_an_error(tmp_path, cli):
    path = tmp_path / "a-file"
    path.write_text("x")
    for args in (["runs", "list"], ["runs", "show", "latest"], ["runs", "check"], ["train", "--steps", "2"]):
        code, out, err = cli(*args, "--runs-dir", path)
        assert code == 1 and err == f"error: runs directory {str(path)!r} is not a directory\n", args


def test_names_and_paths_print_as_they_are(tmp_path, cli):
    runs = tmp_path / ":v: [bold]x[/bold]"
    code, out, err = cli("train", "--steps", "3", "--quiet", "--runs-dir", runs, "--name", ":thumbsup:")
    assert code == 0 and f"({runs}/" in err and "✌" not in err
    code, out, err = cli("runs", "show", "latest", "--runs-dir", runs)
    assert code == 0 and "':thumbsup:'" in out and "👍" not in out


def test_a_csv_run_owns_its_series(tmp_path, runs_dir, cli):
    csv = tmp_path / "sales.csv"
    lines = ["month,sales"] + [f"2020-{1 + i % 12:02d}-01,{10 + (i % 12) + i / 10}" for i in range(0)]
    values = [10 + 3 * ((i % 12) in (5, 6, 7)) + i / 10 for i in range(60)]
    dates = [f"{2015 + i // 12}-{1 + i % 12:02d}-01" for i in range(60)]
    csv.write_text("\n".join(["month,sales", *(f"{d},{v}" for d, v in zip(dates, values))]) + "\n")
    code, out, err = cli("train", "--csv", csv, "--column", "sales", "--time-column", "month", "--preset", "forecast",
                         "--steps", "5", "--seed", "1", "--quiet", "--json")
    assert code == 0, err
    run_id = json.loads(out)["id"]
    code, before, err = cli("forecast", run_id, "--steps", "3")
    assert code == 0, err
    stored = (runs_dir / run_id / "series.csv").read_text().splitlines()
    assert stored[0] == "time,value" and stored[1] == "2015-01-01,10.0" and len(stored) == 61
    csv.write_text("month,sales\n2020-01-01,1\n")  # shortened, then gone: the run does not notice
    assert cli("forecast", run_id, "--steps", "3")[1] == before
    csv.unlink()
    assert cli("forecast", run_id, "--steps", "3")[1] == before
    run = RunStore(runs_dir).load(run_id)
    assert run.trained_config.data.csv == str(csv) and run.config.data.csv == str(runs_dir / run_id / "series.csv")


def test_training_sweeps_what_a_killed_write_left_first(runs_dir, cli):
    store = RunStore(runs_dir)
    _, run_id = save_tiny(store)
    with closing(sqlite3.connect(runs_dir / "runs.db")) as connection, connection:
        connection.execute("DELETE FROM runs")  # as if killed between the rename and the row
    (runs_dir / ".tmp-gone-0000").mkdir()  # and a staging directory whose writer is gone
    code, out, err = cli("train", "--steps", "3", "--seed", "1", "--quiet", "--json")
    assert code == 0, err
    assert "note: removed .tmp-gone-0000, left by a write that was killed" in err
    assert f"note: added {run_id} to the catalog" in err
    assert {r["id"] for r in store.list()} == {run_id, json.loads(out)["id"]}


def test_a_dataset_run_stores_its_series_with_its_dates(runs_dir, cli):
    pytest.importorskip("statsmodels")
    code, out, err = cli("train", "--dataset", "nile", "--preset", "forecast", "--no-refit", "--steps", "3",
                         "--seed", "1", "--engine", "torch", "--quiet", "--json")
    assert code == 0, err
    run_id = json.loads(out)["id"]
    lines = (runs_dir / run_id / "series.csv").read_text().splitlines()
    assert lines[0] == "time,value" and lines[1] == "1871-01-01,1120.0" and len(lines) == 101
    run = RunStore(runs_dir).load(run_id)
    assert run.config.data.series == "csv" and run.trained_config.data.dataset == "nile"
    code, out, err = cli("forecast", run_id, "--steps", "2")
    assert code == 0 and out.startswith("1971-01-01"), err
