"""Tiny configs and a temporary runs directory shared by the tests."""

from __future__ import annotations

import contextlib
import signal

import pytest

from rnnlab.config import RunConfig
from rnnlab.presets import apply_overrides, preset


def tiny(**overrides) -> RunConfig:
    """The seed preset, a few dozen steps, with dotted overrides (``tiny(**{"model.cell": "gru"})``)."""
    base = {"seed": 1, "train.steps": 30}
    base.update(overrides)
    return apply_overrides(preset("seed"), base)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """An empty runs directory, also set as $RNNLAB_RUNS_DIR."""
    path = tmp_path / "runs"
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(path))
    return path


@pytest.fixture
def cli(capsys):
    """Run the command line in-process: cli("train", "--steps", "5") -> (exit_code, stdout, stderr)."""
    from rnnlab.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def stored_run(runs_dir, cli):
    """Id of a small trained run in ``runs_dir``."""
    code, out, err = cli("train", "--seed", "3", "--steps", "40", "--quiet", "--json")
    assert code == 0, err
    import json

    return json.loads(out)["id"]


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (a FIFO that is opened blocks until a writer comes)."""
    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
