"""The audit: bad inputs of every kind through the command line. Each is one line, ``error: …``,
exit status 1 or 2 and no traceback; after each, the runs stored before it are byte-identical
and still load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rnnlab.pipeline import train_and_store
from rnnlab.presets import resolve_config
from rnnlab.store import RunStore

from conftest import deadline, tiny


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A runs directory holding a waveform run and a csv run, and the files the cases use."""
    root = tmp_path_factory.mktemp("audit")
    runs = root / "runs"
    store = RunStore(runs)
    store.save(__import__("rnnlab.training", fromlist=["train"]).train(tiny(**{"train.steps": 5})))
    csv = root / "sales.csv"
    csv.write_text("month,sales\n" + "".join(f"{2015 + i // 12}-{1 + i % 12:02d}-01,{10 + i % 12 + i / 7}\n"
                                             for i in range(60)))
    config = resolve_config("forecast", None, {"seed": 1, "train.steps": 5, "data.series": "csv",
                                                 "data.csv": str(csv), "data.column": "sales",
                                                 "data.time_column": "month", "train.engine": "torch"})
    train_and_store(config, store)
    files = {
        "fifo": root / "pipe", "dir": root / "a-dir", "file": root / "a-file", "csv": csv,
        "huge.toml": root / "huge.toml", "long.json": root / "long.json", "bad.toml": root / "bad.toml",
        "unknown.json": root / "unknown.json", "list.json": root / "list.json", "big.toml": root / "big.toml",
        "garbage.csv": root / "garbage.csv", "empty.csv": root / "empty.csv", "nan.csv": root / "nan.csv",
        "two.csv": root / "two.csv", "text.csv": root / "text.csv",
    }
    os.mkfifo(files["fifo"])
    files["dir"].mkdir()
    files["file"].write_text("x")
    files["huge.toml"].write_text("[model]\nhidden_size = 100000000000000000000000000\n")
    files["long.json"].write_text(json.dumps({"data": {"series": "sines", "components": "1:1," * 2000}}))
    files["bad.toml"].write_text("[model\nhidden_size = 4\n")
    files["unknown.json"].write_text(json.dumps({"model": {"hiden_size": 4}}))
    files["list.json"].write_text("[1, 2]")
    files["big.toml"].write_text("# x\n" * 300_000)
    files["garbage.csv"].write_bytes(bytes(range(256)) * 40)
    files["empty.csv"].write_text("")
    files["nan.csv"].write_text("v\nnan\nnan\nnan\nnan\n")
    files["two.csv"].write_text("v\n1\n2\n")
    files["text.csv"].write_text("v\na\nb\nc\nd\ne\n")
    return runs, files


def snapshot(runs: Path) -> dict[str, bytes]:
    return {str(p.relative_to(runs)): p.read_bytes() for p in sorted(runs.glob("*/*")) if p.is_file()}


F = "@%s"  # a placeholder for a file of the fixture: F % "fifo"

CASES = [
    # sizes past their limits
    ("train", "--hidden-size", "100000"), ("train", "--num-layers", "50"), ("train", "--periods", "100000000"),
    ("train", "--ensemble", "100000"), ("train", "--steps", "100000000000"), ("train", "--rollout", "100000"),
    ("train", "--batch-size", "10000000"), ("train", "--context-length", "1000000"), ("train", "--season", "1000000"),
    ("train", "--config", F % "huge.toml"), ("train", "--config", F % "long.json"), ("train", "--config", F % "big.toml"),
    ("train", "--name", "n" * 300),
    # numbers
    ("train", "--lr", "1e308"), ("train", "--lr", "1e39"), ("train", "--lr", "nan"), ("train", "--lr", "-1"),
    ("train", "--noise", "inf"), ("train", "--noise", "-1"), ("train", "--val-fraction", "2"),
    ("forecast", "latest", "--values", "1e308,1"), ("forecast", "latest", "--values", "nan,1"),
    ("forecast", "latest", "--values", ""), ("forecast", "latest", "--values", "1,,2"),
    # the parser
    ("train", "--steps", "abc"), ("train", "--steps", "1.5"), ("train", "--bogus"), ("train", "--cell", "transformer"),
    ("train", "--preset", "nope"), ("train", "--series", "noise"), ("train", "--csv", F % "csv", "--dataset", "nile"),
    ("nonsense",), ("runs", "nonsense"),
    # files
    ("train", "--config", F % "fifo"), ("train", "--csv", F % "fifo"), ("train", "--csv", "/dev/zero"),
    ("train", "--config", "/dev/null"), ("train", "--config", "missing.toml"), ("train", "--config", F % "dir"),
    ("train", "--csv", F % "dir"), ("train", "--config", F % "bad.toml"), ("train", "--config", F % "unknown.json"),
    ("train", "--config", F % "list.json"), ("train", "--config", F % "file"),
    ("train", "--csv", F % "csv", "--column", "nope"), ("train", "--csv", F % "garbage.csv"),
    ("train", "--csv", F % "empty.csv"), ("train", "--csv", F % "nan.csv"), ("train", "--csv", F % "two.csv"),
    ("train", "--csv", F % "text.csv"), ("train", "--csv", "missing.csv"),
    # runs and their commands
    ("runs", "show", "nope"), ("runs", "show", "../x"), ("runs", "show", "/etc"), ("runs", "rm", "nope"),
    ("runs", "rm", ".."), ("forecast", "nope"), ("weights", "nope"), ("explain", "nope"), ("evaluate", "nope"),
    ("runs", "list", "--runs-dir", F % "file"), ("train", "--steps", "2", "--runs-dir", F % "file"),
    ("evaluate", "latest", "--stride", "0"), ("evaluate", "latest", "--stride", "-3"),
    ("forecast", "latest", "--steps", "0"), ("forecast", "latest", "--steps", "1000000000"),
    ("forecast", "latest", "--window", "5:2"), ("forecast", "latest", "--window", "abc"),
    ("forecast", "latest", "--window", "0:100000"), ("forecast", "latest", "--values", "1", "--window", "0:3"),
    ("explain", "latest", "--values", "x"), ("report", "latest", "--out", "/nonexistent/a/b.html"),
    ("report", "latest", "--out", F % "dir"), ("plot", "latest", "--out", F % "file"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: " ".join(case)[:60])
def test_a_bad_input_is_one_line_and_the_store_is_untouched(place, cli, monkeypatch, tmp_path, case):
    runs, files = place
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(runs))
    monkeypatch.chdir(tmp_path)
    args = [str(files[a[1:]]) if a.startswith("@") else a for a in case]
    if args[0] == "train" and "--steps" not in args:  # a case that is wrongly accepted stays short
        args += ["--steps", "3", "--quiet"]
    before = snapshot(runs)
    with deadline(60):
        code, out, err = cli(*args)
    assert code in (1, 2), (code, err)
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert snapshot(runs) == before
    assert not Path("/nonexistent").exists()
    store = RunStore(runs)
    assert all(store.load(row["id"]).status == "completed" for row in store.list())
