"""The README's examples: every ```python block runs as it is, and every ``$ rnnlab …`` command
of the shell blocks parses (its options exist: ``--help`` after them exits 0)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)
PYTHON = [code for kind, code in BLOCKS if kind == "python"]
COMMANDS = [line[2:].split("  #")[0].strip() for kind, code in BLOCKS if kind in ("", "sh", "console")
            for line in code.splitlines() if line.startswith("$ rnnlab ")]


def test_the_readme_has_examples():
    assert len(PYTHON) >= 1 and len(COMMANDS) >= 10


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_blocks_run(code, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_the_import_example_binds_functions_not_modules():
    import inspect

    code = PYTHON[0]
    names = re.search(r"^from rnnlab import (.+)$", code, flags=re.M).group(1).split("#")[0]
    namespace: dict = {}
    exec(f"from rnnlab import {names}", namespace)
    for name in (n.strip() for n in names.split(",")):
        assert not inspect.ismodule(namespace[name]) and callable(namespace[name]), name


@pytest.mark.parametrize("command", COMMANDS)
def test_shell_commands_parse(command, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[1:]
    code, out, err = cli(*args, "--help")
    assert code == 0, err
    assert out.startswith("Usage: rnnlab ")
