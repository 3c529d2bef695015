"""fit-many: panels read from wide and long CSV files, bad input, failing series, resume, Ctrl-C,
and a real Dask scheduler with two workers (the same forecasts as a local fit; a killed worker).

Tiny panels (5–8 series of 48–80 values) and tiny training settings keep it fast."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pandas")
distributed = pytest.importorskip("distributed")

from rnnlab.cli import main  # noqa: E402
from rnnlab.many.panel import read_panel  # noqa: E402

TINY = ["--steps", "20", "--ensemble", "1", "--horizon", "5", "--seed", "3"]
BIN = Path(sys.executable).parent


def _panel(count: int = 5, length: int = 60, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return {f"s{i}": 10 + 3 * np.sin(2 * np.pi * t / 12 + i) + 0.05 * (i + 1) * t + rng.normal(0, 0.3, length)
            for i in range(count)}


def _months(length: int) -> list[str]:
    return [f"{2000 + m // 12}-{m % 12 + 1:02d}-01" for m in range(length)]


def write_wide(path: Path, panel: dict[str, np.ndarray], extra: dict[str, list[str]] | None = None) -> Path:
    length = max(len(v) for v in panel.values())
    columns = {k: [repr(float(x)) for x in v] for k, v in panel.items()} | (extra or {})
    lines = ["month," + ",".join(columns)]
    for row, month in enumerate(_months(length)):
        lines.append(",".join([month, *(c[row] if row < len(c) else "" for c in columns.values())]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_long(path: Path, panel: dict[str, np.ndarray], shuffle: bool = False) -> Path:
    rows = [(k, m, repr(float(x))) for k, v in panel.items() for m, x in zip(_months(len(v)), v)]
    if shuffle:
        rows = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    path.write_text("item,month,sales\n" + "".join(f"{k},{m},{x}\n" for k, m, x in rows))
    return path


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def group_rows(runs: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(runs / "runs.db") as db:
        return db.execute("SELECT g.run_id, g.grp, g.series_id FROM groups g JOIN runs r ON r.id = g.run_id").fetchall()


def forecasts(capsys, runs: Path, group: str, steps: int = 6) -> dict[tuple[str, str], tuple[float, ...]]:
    out = runs / "forecast.csv"
    code, _, err = run_cli(capsys, "forecast", group, "--steps", steps, "--out", out, "--runs-dir", runs)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["id", "month", "forecast", "lower", "upper"]
    return {(r["id"], r["month"]): tuple(float(r[k] or "nan") for k in ("forecast", "lower", "upper")) for r in rows}


def assert_consistent(capsys, runs: Path, group: str, expected: set[str]) -> None:
    """Every series of the group stored once, none twice, and the catalog agrees with the run directories."""
    rows = group_rows(runs)
    assert sorted(r[2] for r in rows) == sorted(expected)  # each series once
    with sqlite3.connect(runs / "runs.db") as db:
        ids = {r[0] for r in db.execute("SELECT id FROM runs")}
    dirs = {p.name for p in runs.iterdir() if p.is_dir() and (p / "run.json").exists()}
    assert ids == dirs == {r[0] for r in rows}
    code, _, err = run_cli(capsys, "runs", "check", "--runs-dir", runs)
    assert code == 0, err


# -- reading a panel ----------------------------------------------------------------------------------

def test_wide_and_long_files_read_as_the_same_panel(tmp_path):
    panel = _panel(4, 50)
    panel["s3"] = panel["s3"][:40]  # a shorter series: its last cells empty in the wide file
    wide = read_panel(write_wide(tmp_path / "wide.csv", panel), "month")
    long = read_panel(write_long(tmp_path / "long.csv", panel, shuffle=True), "month", "item", "sales")
    assert [s.id for s in wide] == list(panel)  # in the file's order: columns, or ids as they first appear
    assert [s.id for s in long] == list(dict.fromkeys(line.split(",")[0] for line in
                                                      (tmp_path / "long.csv").read_text().splitlines()[1:]))
    by_id = {s.id: s for s in long}
    for w in wide:
        lg = by_id[w.id]
        np.testing.assert_array_equal(w.values, panel[w.id])
        np.testing.assert_array_equal(lg.values, panel[w.id])  # sorted back into time order
        assert w.times == lg.times == tuple(_months(len(panel[w.id])))
        assert w.digest() == lg.digest()
    assert by_id["s0"].source == {"series": "csv", "csv": str(tmp_path / "long.csv"), "column": "s0",
                              "time_column": "month"}


@pytest.mark.parametrize("case, args, expected", [
    ("missing id column", ["--id-column", "sku", "--value-column", "sales"], "id column 'sku' is not in"),
    ("duplicate row", ["--id-column", "item", "--value-column", "sales"], "series 's1' of"),
    ("text in a series", ["--id-column", "item", "--value-column", "sales"], "series 's2' (column 'sales' of"),
    ("text in a wide column", [], "column 'bad' of"),
])
def test_bad_input_is_one_line_naming_it(tmp_path, capsys, case, args, expected):
    panel = _panel(3, 24)
    if case == "text in a wide column":
        path = write_wide(tmp_path / "p.csv", panel, {"bad": ["1.0"] * 5 + ["twelve"] + ["2.0"] * 18})
    else:
        path = write_long(tmp_path / "p.csv", panel)
        lines = path.read_text().splitlines()
        if case == "duplicate row":
            lines.append(lines[30])  # s1 at its 6th month again
        if case == "text in a series":
            lines[55] = lines[55].rsplit(",", 1)[0] + ",n/a?"
        path.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, "fit-many", path, "--time-column", "month", *args, "--workers", 0,
                             "--runs-dir", tmp_path / "runs", *TINY)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err, err
    if case == "duplicate row":
        assert "lines 31 and 74" in err and "'2000-06-01'" in err
    if case == "text in a series":
        assert "line 56" in err
    assert not (tmp_path / "runs" / "runs.db").exists()  # nothing trained or stored


# -- fitting in this process: failures, resume, wide = long ------------------------------------------------

def test_failing_series_reported_others_stored_and_resume_skips(tmp_path, capsys):
    panel = _panel(4, 60)
    path = write_wide(tmp_path / "shop.csv", panel, {"empty": [""] * 60, "short": ["1.5", "2.5"] + [""] * 58})
    runs = tmp_path / "runs"
    args = ["fit-many", path, "--time-column", "month", "--workers", 0, "--runs-dir", runs, "--json", "-q", *TINY]
    code, out, err = run_cli(capsys, *args)
    import json

    summary = json.loads(out)
    assert code == 1
    assert summary["stored"] == 4 and summary["skipped"] == 0
    failed = {f["id"]: f["reason"] for f in summary["failed"]}
    assert set(failed) == {"empty", "short"}
    assert "no numeric values" in failed["empty"] and "at least 3" in failed["short"]
    assert "failed: empty: " in err and "failed: short: " in err
    assert_consistent(capsys, runs, "shop", set(panel))

    # the same command again: nothing fitted twice, the failures tried and reported again
    code, out, _ = run_cli(capsys, *args)
    again = json.loads(out)
    assert code == 1 and again["stored"] == 0 and again["skipped"] == 4 and again["runs"] == summary["runs"]
    # a changed setting fits every series again; the group answers with the new runs
    code, out, _ = run_cli(capsys, *args, "--steps", "21")
    changed = json.loads(out)
    assert changed["stored"] == 4 and set(changed["runs"].values()).isdisjoint(summary["runs"].values())
    code, out, _ = run_cli(capsys, "runs", "list", "--group", "shop", "--runs-dir", runs, "--json")
    assert {r["id"] for r in json.loads(out)} == set(changed["runs"].values())

    # a single-series run of the same column with the same settings is the same model
    code, _, err = run_cli(capsys, "train", "--csv", path, "--column", "s1", "--time-column", "month", "-q",
                           "--runs-dir", tmp_path / "single", *TINY)
    assert code == 0, err
    from rnnlab.store import RunStore

    single = RunStore(tmp_path / "single").load("latest")
    many = RunStore(runs).load(summary["runs"]["s1"])
    for name, tensor in single.model.tensors().items():
        np.testing.assert_array_equal(tensor.numpy(), many.model.tensors()[name].numpy())
    assert (many.trained_config.data.csv, many.trained_config.data.column) == (str(path), "s1")
    assert many.trained_config.to_dict() == single.trained_config.to_dict()


def test_long_file_gives_the_wide_files_forecasts_and_evaluation(tmp_path, capsys):
    panel = _panel(3, 48)
    wide, long = tmp_path / "wide", tmp_path / "long"
    for runs, path, extra in ((wide, write_wide(tmp_path / "w.csv", panel), []),
                              (long, write_long(tmp_path / "l.csv", panel, shuffle=True),
                               ["--id-column", "item", "--value-column", "sales"])):
        code, _, err = run_cli(capsys, "fit-many", path, "--time-column", "month", *extra, "--group", "p",
                               "--workers", 0, "--runs-dir", runs, "-q", *TINY)
        assert code == 0, err
    a, b = forecasts(capsys, wide, "p"), forecasts(capsys, long, "p")
    assert len(a) == 3 * 6 and a.keys() == b.keys()
    assert ("s0", "2004-01-01") in a  # the six months after December 2003
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-12)  # an interval, or none, in both
        assert np.isfinite(a[key][0]) and not a[key][1] >= a[key][2]  # lower < upper where there is one
    import json

    code, out, _ = run_cli(capsys, "evaluate", "p", "--runs-dir", wide, "--json")
    data = json.loads(out)
    ratios = [s["mase"] / s["seasonal_naive_mase"] for s in data["series"]]
    assert [s["ratio"] for s in data["series"]] == pytest.approx(ratios)
    assert data["summary"]["geometric_mean_ratio_to_seasonal_naive"] == pytest.approx(
        float(np.exp(np.mean(np.log(ratios)))))
    code, out, _ = run_cli(capsys, "evaluate", "p", "--runs-dir", wide)
    assert code == 0 and "geometric mean of MASE / seasonal-naive MASE" in out


def test_bundled_datasets_fit_as_a_group_like_single_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    code, out, err = run_cli(capsys, "fit-many", "--dataset", "nile", "--dataset", "sunspots", "--workers", 0,
                             "--runs-dir", runs, "--json", "-q", *TINY)
    assert code == 0, err
    import json

    summary = json.loads(out)
    assert summary["group"] == "nile-sunspots" and summary["stored"] == 2
    code, _, err = run_cli(capsys, "train", "--dataset", "nile", "-q", "--runs-dir", tmp_path / "single", *TINY)
    assert code == 0, err
    from rnnlab.store import RunStore

    many = RunStore(runs).load(summary["runs"]["nile"])
    single = RunStore(tmp_path / "single").load("latest")
    assert many.trained_config.to_dict() == single.trained_config.to_dict()
    for name, tensor in single.model.tensors().items():
        np.testing.assert_array_equal(tensor.numpy(), many.model.tensors()[name].numpy())
    code, out, err = run_cli(capsys, "fit-many", "--dataset", "nile", "--dataset", "nope", "--runs-dir", runs)
    assert code == 2 and "dataset must be one of" in err and "'nope'" in err


# -- Ctrl-C -------------------------------------------------------------------------------------------

def _stored(runs: Path) -> int:
    try:
        return len(group_rows(runs))
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("workers", ["0", "2"])  # in this process; the local default's worker processes
def test_ctrl_c_keeps_finished_series_and_the_same_command_resumes(tmp_path, capsys, workers):
    panel = _panel(6, 72)
    path = write_wide(tmp_path / "p.csv", panel)
    runs = tmp_path / "runs"
    args = ["fit-many", str(path), "--time-column", "month", "--workers", workers, "--runs-dir", str(runs), "-q",
            "--chunk-size", "1", "--steps", "40", "--ensemble", "1", "--horizon", "5", "--seed", "3"]
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 180
    while _stored(runs) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group, workers too
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT" in err and "Traceback" not in err
    kept = _stored(runs)
    assert 1 <= kept < 6
    assert_consistent(capsys, runs, "p", {r[2] for r in group_rows(runs)})
    import json

    resume = args[:4] + ["--workers", "0"] + args[6:] + ["--json"]  # where it runs is not part of the config
    code, out, err = run_cli(capsys, *resume)
    assert code == 0, err
    assert json.loads(out)["skipped"] == kept and json.loads(out)["stored"] == 6 - kept
    assert_consistent(capsys, runs, "p", set(panel))


# -- a real Dask cluster on 127.0.0.1 -----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A ``dask scheduler`` and two ``dask worker`` processes (one thread each, no nanny); the
    last test kills one of them."""
    tmp_path = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    logs = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=logs, stderr=logs, env=env)]
    for i in range(2):
        procs.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                                       "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{i}"],
                                      stdout=logs, stderr=logs, env=env))
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, procs[1:]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logs.close()


def test_cluster_gives_the_local_forecasts(tmp_path, capsys, cluster):
    address, _ = cluster
    panel = _panel(5, 60)
    path = write_wide(tmp_path / "p.csv", panel)
    here, there = tmp_path / "here", tmp_path / "there"
    code, _, err = run_cli(capsys, "fit-many", path, "--time-column", "month", "--runs-dir", here, "-q",
                           "--workers", 2, *TINY)
    assert code == 0, err
    code, out, err = run_cli(capsys, "fit-many", path, "--time-column", "month", "--runs-dir", there, "-q",
                             "--cluster", address, "--chunk-size", 2, "--json", *TINY)
    assert code == 0, err
    import json

    summary = json.loads(out)
    assert summary["workers"] == 2 and summary["chunk_size"] == 2 and summary["stored"] == 5
    a, b = forecasts(capsys, here, "p"), forecasts(capsys, there, "p")
    assert a.keys() == b.keys() and len(a) == 5 * 6
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-12)
    assert_consistent(capsys, there, "p", set(panel))


def test_killed_worker_loses_nothing_and_stores_nothing_twice(tmp_path, capsys, cluster):
    address, workers = cluster
    panel = _panel(6, 72)
    path = write_wide(tmp_path / "p.csv", panel)
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", "fit-many", str(path), "--time-column", "month",
                             "--runs-dir", str(runs), "-q", "--cluster", address, "--chunk-size", "1",
                             "--steps", "40", "--ensemble", "1", "--horizon", "5", "--seed", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _stored(runs) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    workers[0].kill()  # mid-way: the other worker has its tasks to do as well
    workers[0].wait()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _stored(runs) == 6
    assert_consistent(capsys, runs, "p", set(panel))
