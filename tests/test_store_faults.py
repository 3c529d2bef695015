"""The run store under faults, in real processes: signals at the named moments of a store
(``RNNLAB_FAULT``), SIGKILL, a locked catalog, many writers at once, a read-only and a full disk.

Each command runs in its own process: a child forked from a server that has imported rnnlab and
torch once (so that a case costs a fraction of a second, not a torch import), running
``rnnlab.cli.main`` as ``rnnlab`` does, and signalling itself where ``RNNLAB_FAULT`` says. One
test drives the installed ``rnnlab`` entry point itself.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rnnlab.store import RunStore
from rnnlab.training import train

from conftest import tiny

SERVER = textwrap.dedent(r'''
    import json, os, sys
    import torch, torch.optim
    import rnnlab.cli, rnnlab.pipeline, rnnlab.evaluate
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # the optimizer's lazy imports
    from rnnlab.cli import main

    def child(command, files):
        os.environ.update(command.get("env", {}))
        limit = command.get("fsize")
        if limit:
            import resource, signal
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        for fd, path in zip((1, 2), files):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        try:
            code = main(command["args"])
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)

    for line in sys.stdin:
        job = json.loads(line)
        pids = []
        for command in job:
            pid = os.fork()
            if pid == 0:
                child(command, (command["out"], command["err"]))
            pids.append(pid)
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        sys.stdout.write(json.dumps(statuses) + "\n")
        sys.stdout.flush()
''')


class Server:
    """Runs commands in forked children; ``run`` returns (status, stdout, stderr) per command:
    the exit status, or minus the signal that ended the child."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.count = 0
        env = dict(os.environ, RNNLAB_FAULT="")
        self.process = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)

    def run_all(self, commands: list[dict]) -> list[tuple[int, str, str]]:
        for command in commands:
            self.count += 1
            command["args"] = [str(a) for a in command["args"]]
            command["out"], command["err"] = (str(self.tmp / f"{self.count}.{k}") for k in ("out", "err"))
        self.process.stdin.write(json.dumps(commands) + "\n")
        self.process.stdin.flush()
        statuses = json.loads(self.process.stdout.readline())
        return [(status, Path(c["out"]).read_text(), Path(c["err"]).read_text())
                for status, c in zip(statuses, commands)]

    def run(self, *args, fault: str | None = None, env: dict | None = None, fsize: int | None = None):
        command = {"args": list(args), "env": {**(env or {}), "RNNLAB_FAULT": fault or ""}, "fsize": fsize}
        return self.run_all([command])[0]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("forked"))
    yield server
    server.close()


def train_args(runs: Path, *more) -> list:
    return ["train", "--steps", 5, "--seed", 1, "--quiet", "--runs-dir", runs, *more]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of every run directory, byte for byte."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*")) if p.is_file()
            and not p.parent.name.startswith(".")}


def listed(root: Path) -> list[str]:
    return [row["id"] for row in RunStore(root).list()]


def run_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


# -- Ctrl-C and SIGTERM after the last step --------------------------------------------------------

@pytest.mark.parametrize("moment,signame,evaluated", [
    ("evaluate", "INT", False), ("evaluate", "TERM", False), ("store-write", "INT", True),
    ("store-renamed", "TERM", True), ("store-committed", "INT", True),
])
def test_a_signal_after_the_last_step_keeps_the_finished_run(server, tmp_path, moment, signame, evaluated):
    runs = tmp_path / "runs"
    status, out, err = server.run(*train_args(runs), fault=f"{moment}:{signame}")
    signum = getattr(signal, f"SIG{signame}")
    assert status == 128 + signum, err
    (run_id,) = listed(runs)
    run = RunStore(runs).load(run_id)
    assert run.status == "completed" and len(run.history) == 5
    name = "Ctrl-C" if signame == "INT" else "SIGTERM"
    assert f"interrupted by {name} after the last step: run kept as {run_id}" in err
    assert ("evaluated" if evaluated else "evaluation skipped") in err and "Traceback" not in err
    if evaluated:
        assert "one_step_mse" in run.metrics and "evaluation" not in run.info
    else:
        assert run.metrics == {} and run.info["evaluation"] == f"skipped: {name} came after the last step"
    assert [p.name for p in runs.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_sigterm_during_training_keeps_the_run_as_interrupted(server, tmp_path):
    runs = tmp_path / "runs"
    status, out, err = server.run("train", "--steps", 2_000_000, "--seed", 1, "--quiet", "--runs-dir", runs,
                                  fault="train-step:TERM")
    assert status == 128 + signal.SIGTERM, err
    (run_id,) = listed(runs)
    run = RunStore(runs).load(run_id)
    assert run.status == "interrupted" and 0 < len(run.history) < 2_000_000
    assert f"run kept as {run_id}" in err and "Traceback" not in err


# -- SIGKILL: nothing or a complete run; the next command cleans up ---------------------------------

@pytest.mark.parametrize("moment,kept", [
    ("evaluate", False), ("store-write", False), ("store-renamed", True), ("store-committed", True)])
def test_sigkill_leaves_nothing_or_a_complete_run(server, tmp_path, moment, kept):
    runs = tmp_path / "runs"
    first = RunStore(runs).save(train(tiny(**{"train.steps": 5})))
    before = snapshot(runs)
    status, out, err = server.run(*train_args(runs), fault=f"{moment}:KILL")
    assert status == -signal.SIGKILL
    hidden = [p.name for p in runs.iterdir() if p.name.startswith(".tmp-")]
    assert bool(hidden) == (moment == "store-write")  # a staging directory and its lock, nothing else
    code, out, err = server.run("runs", "list", "--runs-dir", runs, "--json")
    assert code == 0, err
    ids = [row["id"] for row in json.loads(out)]
    assert len(ids) == (2 if kept else 1) and ids == run_dirs(runs)
    assert all(RunStore(runs).load(run_id).status == "completed" for run_id in ids)
    assert [p.name for p in runs.iterdir() if p.name.startswith(".")] == []
    if moment == "store-write":
        assert "left by a write that was killed" in err
    if moment == "store-renamed":
        (new,) = set(ids) - {first}
        assert f"added {new} to the catalog" in err
    assert {k: v for k, v in snapshot(runs).items() if k in before} == before


def test_sigkill_in_the_middle_of_a_removal_keeps_the_run(server, tmp_path):
    runs = tmp_path / "runs"
    run_id = RunStore(runs).save(train(tiny(**{"train.steps": 5})))
    before = snapshot(runs)
    status, _, _ = server.run("runs", "rm", run_id, "--runs-dir", runs, fault="remove-moved:KILL")
    assert status == -signal.SIGKILL
    assert not (runs / run_id).exists() and any(p.name.startswith(".trash-") for p in runs.iterdir())
    code, out, err = server.run("runs", "check", "--repair", "--runs-dir", runs)
    assert code == 0 and "removal" in out and "restored" in out
    assert listed(runs) == [run_id] and snapshot(runs) == before
    assert RunStore(runs).load(run_id).status == "completed"


# -- a locked catalog --------------------------------------------------------------------------

def test_a_locked_catalog_keeps_the_run_on_disk_and_the_next_command_lists_it(server, tmp_path):
    runs = tmp_path / "runs"
    RunStore(runs).save(train(tiny(**{"train.steps": 5})))
    holder = sqlite3.connect(runs / "runs.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process inside a write transaction
    try:
        status, out, err = server.run(*train_args(runs, "--json"), env={"RNNLAB_BUSY_SECONDS": "0.3"})
        assert status == 0, err
        run_id = json.loads(out)["id"]
        assert "stayed locked by another process for 0.3 s" in err
        assert f"the next 'rnnlab runs list' (or 'rnnlab runs check --repair') adds it" in err
        assert (runs / run_id / "run.json").is_file() and "Traceback" not in err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    code, out, err = server.run("runs", "list", "--runs-dir", runs, "--json")
    assert code == 0 and run_id in [row["id"] for row in json.loads(out)]
    assert f"added {run_id} to the catalog" in err


def test_the_busy_time_comes_from_the_environment(monkeypatch):
    from rnnlab.catalog import busy_seconds

    monkeypatch.setenv("RNNLAB_BUSY_SECONDS", "2.5")
    assert busy_seconds() == 2.5
    monkeypatch.setenv("RNNLAB_BUSY_SECONDS", "soon")
    assert busy_seconds() == 60.0


# -- many writers at once -------------------------------------------------------------------------

def test_eight_trainings_at_once_are_all_stored_and_listed(server, tmp_path):
    runs = tmp_path / "runs"
    results = server.run_all([{"args": train_args(runs, "--json"), "env": {"RNNLAB_FAULT": ""}}
                              for _ in range(8)])
    assert [status for status, _, _ in results] == [0] * 8, [err for _, _, err in results]
    ids = sorted(json.loads(out)["id"] for _, out, _ in results)
    assert len(set(ids)) == 8 and sorted(listed(runs)) == ids == run_dirs(runs)


def test_two_removals_of_one_run_at_once_one_removes_one_says_gone(server, tmp_path):
    runs = tmp_path / "runs"
    run_id = RunStore(runs).save(train(tiny(**{"train.steps": 5})))
    command = {"args": ["runs", "rm", run_id, "--runs-dir", runs], "env": {"RNNLAB_FAULT": ""}}
    results = server.run_all([dict(command), dict(command)])
    assert sorted(status for status, _, _ in results) == [0, 1]
    messages = sorted(err.strip() for _, _, err in results)
    assert messages[0].startswith("error: run ") and "does not exist" in messages[0]
    assert messages[1] == f"removed {run_id}"
    assert listed(runs) == [] and run_dirs(runs) == []


# -- the real entry point ---------------------------------------------------------------------------

def test_the_rnnlab_command_keeps_a_run_interrupted_during_its_evaluation(tmp_path):
    runs = tmp_path / "runs"
    env = dict(os.environ, RNNLAB_FAULT="evaluate:INT")
    done = subprocess.run([sys.executable, "-m", "rnnlab", *map(str, train_args(runs))], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr
    (run_id,) = listed(runs)
    assert RunStore(runs).load(run_id).info["evaluation"] == "skipped: Ctrl-C came after the last step"
    assert f"run kept as {run_id}" in done.stderr and "evaluation skipped" in done.stderr


# -- a read-only and a full disk ----------------------------------------------------------------------

@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    """A small tmpfs mounted at ``path`` (root only; the test is skipped where mounting is refused)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip() or 'not permitted'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def read_only(path: Path):
    """Make ``path`` read-only for this process: chmod for a user, a read-only remount for root
    (whom chmod does not stop)."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        return
    done = subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"running as root and cannot remount read-only ({done.stderr.decode().strip()})")


def test_a_read_only_runs_directory_is_read_and_refuses_writes_in_one_line(tmp_path, cli):
    mount = tmp_path / "disk"
    with (tmpfs(mount, "size=8m") if os.geteuid() == 0 else contextlib.nullcontext(mount.mkdir() or mount)):
        runs = mount / "runs"
        run_id = RunStore(runs).save(train(tiny(**{"train.steps": 5})))
        before = snapshot(runs)
        read_only(mount if os.geteuid() == 0 else runs)
        try:
            code, out, err = cli("runs", "list", "--runs-dir", runs, "--json")
            assert code == 0 and [r["id"] for r in json.loads(out)] == [run_id]
            code, out, err = cli("forecast", "latest", "--steps", 3, "--runs-dir", runs)
            assert code == 0 and len(out.split("----------------------------------\n")[1].split()) == 3
            code, out, err = cli(*train_args(runs))
            assert code == 1 and err.startswith("error: runs directory cannot hold a run:") and "read-only" in err
            code, out, err = cli("runs", "rm", run_id, "--runs-dir", runs)
            assert code == 1 and err.startswith(f"error: run {run_id} cannot be removed") and "read-only" in err
            assert all("Traceback" not in e and e.count("\n") == 1 for e in [err])
            assert snapshot(runs) == before
        finally:
            if os.geteuid() != 0:
                runs.chmod(0o755)


def fill_inodes(mount: Path, leave: int) -> None:
    """Create files until the file system has no inode left, then free ``leave`` of them."""
    (mount / "fill").mkdir()
    made = []
    try:
        while True:
            path = mount / "fill" / str(len(made))
            path.touch()
            made.append(path)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    for path in made[:leave]:
        path.unlink()


def test_a_full_disk_while_storing_fails_in_one_line_and_leaves_nothing(tmp_path, cli, server):
    runs = tmp_path / "disk" / "runs"
    if os.geteuid() == 0:
        with tmpfs(tmp_path / "disk", "size=8m,nr_inodes=200") as mount:
            RunStore(runs).save(train(tiny(**{"train.steps": 5})))
            before = snapshot(runs)
            fill_inodes(mount, leave=3)  # the check before training passes; the run's files do not fit
            code, out, err = cli(*train_args(runs))
            assert code == 1, err
            assert err.startswith("error: run ") and "could not be stored: no space left on the disk" in err
            assert err.count("\n") == 1 and "Traceback" not in err
            assert [p.name for p in runs.iterdir() if p.name.startswith(".")] == []  # no staging, no lock
            assert snapshot(runs) == before and len(listed(runs)) == 1
        return
    # without a mount: a file size limit stands in for the full disk (the catalog cannot grow)
    (tmp_path / "disk").mkdir()
    status, out, err = server.run(*train_args(runs), fsize=6000)
    assert status == 0 and "but the catalog could not list it" in err and "Traceback" not in err
