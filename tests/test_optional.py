"""A missing optional dependency is a one-line error naming the extra, for every command that needs it."""

from __future__ import annotations

import sys

import pytest

from rnnlab.cli import main
from rnnlab.errors import MissingDependencyError
from rnnlab.optional import missing_message, require


def _block(monkeypatch, *names):
    """Make ``import NAME`` fail for each name, as when the extra is not installed."""
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)


def test_require_names_the_extra(monkeypatch):
    _block(monkeypatch, "pandas")
    with pytest.raises(MissingDependencyError) as error:
        require("pandas", "reading CSV files")
    assert str(error.value) == "reading CSV files needs pandas: install the 'datasets' extra (pip install 'rnnlab[datasets]')"


def test_a_module_of_no_extra_is_not_ours():
    assert missing_message("torch") is None
    assert missing_message("statsmodels.datasets") .startswith("statsmodels is not installed")


@pytest.mark.parametrize("argv, blocked, extra", [
    (["datasets"], ("pandas", "statsmodels"), "datasets"),
    (["train", "--dataset", "nile", "--steps", "2", "--quiet"], ("pandas", "statsmodels"), "datasets"),
    (["train", "--csv", "{csv}", "--steps", "2", "--quiet"], ("pandas",), "datasets"),
    (["serve", "--port", "0"], ("uvicorn", "fastapi"), "web"),
])
def test_commands_say_which_extra_is_missing(monkeypatch, tmp_path, capsys, argv, blocked, extra):
    csv = tmp_path / "series.csv"
    csv.write_text("value\n" + "\n".join(str(i % 7) for i in range(60)) + "\n")
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(tmp_path / "runs"))
    _block(monkeypatch, *blocked)
    code = main([a.replace("{csv}", str(csv)) for a in argv])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and f"pip install 'rnnlab[{extra}]'" in err
    assert "Traceback" not in err
